import * as fs from 'node:fs';
import { diffDirTar } from '../archive/diff-tar.js';
import { measureLayer } from '../archive/layer-measure.js';
import { treeSize } from '../archive/layer-apply.js';
import { type ChainID, type DiffID, chainIDs, hexOf, isDigest, isHex64 } from '../core/digest.js';
import { corrupt, notFound } from '../core/errors.js';
import { type ApplyResult, applyLayer } from '../archive/layer-apply.js';
import { parseTarSplit } from '../archive/tarsplit.js';
import * as native from '../native/index.js';
import { mkdirp, randomHex, readOptional, removeAll } from './fsutil.js';
import { isLinkName, lowerFor, newLinkName } from './overlay2.js';
import type { StorePaths } from './paths.js';
import type { Txn } from './txn.js';
import { rebuildTar } from './tar-rebuild.js';
import type { BlockPool } from '../archive/block-pool.js';

/** One registered layer: layerdb metadata joined with its overlay2 directory. */
export interface Layer {
  chainID: ChainID;
  diffID: DiffID;
  parent?: ChainID;
  cacheId: string;
  size: number;
  link: string;
  /** "l/A:l/B" uppermost first; absent for a base layer. */
  lower?: string;
}

export interface PreparedLayer {
  cacheId: string;
  link: string;
  diffRoot: string;
}

export type LockFn = <T>(fn: () => T) => Promise<T>;

export interface RegisterOptions {
  /** The diffID the content must have (from an image config); a mismatch rejects the layer. */
  expectDiffID?: DiffID;
  what?: string;
  maxBytes?: number;
  /** Stops an extraction (register) between chunks; the caller's journal removes what was staged. */
  signal?: AbortSignal;
}

/**
 * Layers in Docker's layout: layerdb/sha256/<chainID>/{diff,size,cache-id,parent,
 * tar-split.json.gz} and overlay2/<cache-id>/{diff,link,lower,work}, l/<link>.
 * A layer is registered by one rename of a staged write-set, so it either is
 * fully there or not at all; everything created before that is in the journal.
 */
export class LayerStore {
  constructor(readonly paths: StorePaths) {}

  init(): void {
    mkdirp(`${this.paths.layerdb}/sha256`, 0o700);
    mkdirp(this.paths.layerdbTmp, 0o700);
    mkdirp(this.paths.mounts, 0o700);
    mkdirp(this.paths.overlay, 0o710);
    mkdirp(this.paths.links, 0o700);
  }

  has(chainID: ChainID): boolean {
    return fs.existsSync(`${this.paths.layerDir(hexOf(chainID))}/cache-id`);
  }

  list(): ChainID[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(`${this.paths.layerdb}/sha256`);
    } catch {
      /* empty store */
    }
    return names.filter(isHex64).map((h) => `sha256:${h}` as ChainID);
  }

  /** Read a layer's metadata; undefined if not registered; Corrupt if its files are malformed. */
  get(chainID: ChainID): Layer | undefined {
    const dir = this.paths.layerDir(hexOf(chainID));
    const diff = readOptional(`${dir}/diff`);
    if (diff === undefined) return undefined;
    const what = `layer ${chainID}`;
    const cacheId = readOptional(`${dir}/cache-id`) ?? '';
    const sizeText = readOptional(`${dir}/size`) ?? '';
    const parentText = readOptional(`${dir}/parent`);
    if (!isDigest(diff)) throw corrupt('layer_corrupt', `${what}: diff file ${JSON.stringify(diff)} is not a digest`);
    if (!isHex64(cacheId))
      throw corrupt('layer_corrupt', `${what}: cache-id ${JSON.stringify(cacheId)} is not 64 hex characters`);
    if (!/^\d+$/.test(sizeText))
      throw corrupt('layer_corrupt', `${what}: size ${JSON.stringify(sizeText)} is not a decimal number`);
    if (parentText !== undefined && !isDigest(parentText))
      throw corrupt('layer_corrupt', `${what}: parent ${JSON.stringify(parentText)} is not a digest`);
    const cdir = this.paths.cacheDir(cacheId);
    const link = readOptional(`${cdir}/link`) ?? '';
    const lower = readOptional(`${cdir}/lower`);
    return {
      chainID,
      diffID: diff as DiffID,
      cacheId,
      size: Number(sizeText),
      link,
      ...(parentText ? { parent: parentText as ChainID } : {}),
      ...(lower !== undefined ? { lower } : {}),
    };
  }

  require(chainID: ChainID): Layer {
    const l = this.get(chainID);
    if (!l) throw notFound('layer_not_found', `layer ${chainID} not found`);
    return l;
  }

  /**
   * A registered layer's size (its `size` file) without reading the rest of it: what listing images sums. A missing
   * layer or a size that is not a number fails as `require` does.
   */
  size(chainID: ChainID): number {
    const text = readOptional(`${this.paths.layerDir(hexOf(chainID))}/size`);
    return text !== undefined && /^\d+$/.test(text) ? Number(text) : this.require(chainID).size;
  }

  /** The layers from the base up to `top`. */
  chain(top: ChainID): Layer[] {
    const out: Layer[] = [];
    let cur: ChainID | undefined = top;
    while (cur) {
      const l = this.require(cur);
      out.unshift(l);
      cur = l.parent;
      if (out.length > 125) throw corrupt('layer_corrupt', `layer ${top}: parent chain deeper than 125`);
    }
    return out;
  }

  /**
   * Create the overlay2 dir for a new layer (journaled first), ready for
   * extraction into `<dir>/diff`. `parent` gives the link/lower of the layer below,
   * registered or itself only prepared.
   */
  prepare(txn: Txn, parent: { link: string; lower?: string } | undefined): PreparedLayer {
    const cacheId = randomHex();
    const link = newLinkName();
    txn.add({ op: 'layer-dir', cacheId, link });
    const cdir = this.paths.cacheDir(cacheId);
    spreadLayers(this.paths.overlay);
    fs.mkdirSync(cdir, 0o710);
    fs.mkdirSync(`${cdir}/diff`, 0o755);
    if (parent) fs.mkdirSync(`${cdir}/work`, 0o700);
    fs.writeFileSync(`${cdir}/link`, link, { mode: 0o644 });
    fs.symlinkSync(`../${cacheId}/diff`, `${this.paths.links}/${link}`);
    return { cacheId, link, diffRoot: `${cdir}/diff` };
  }

  /**
   * Register an extracted layer on top of `parent` (registered). Stages the
   * layerdb write-set, then renames it into place under the store lock. If the
   * same chainID was registered meanwhile, ours is discarded and that one returned.
   */
  async commit(
    txn: Txn,
    prep: PreparedLayer,
    parent: Layer | undefined,
    res: ApplyResult,
    lockStore: LockFn,
    opts: RegisterOptions = {},
  ): Promise<Layer> {
    const what = opts.what ?? 'layer';
    if (opts.expectDiffID && res.diffID !== opts.expectDiffID) {
      throw corrupt(
        'diffid_mismatch',
        `${what}: content has diffID ${res.diffID}, but the image config says ${opts.expectDiffID}`,
      );
    }
    const cdir = this.paths.cacheDir(prep.cacheId);
    let lower: string | undefined;
    if (parent) {
      lower = lowerFor(parent.link, parent.lower);
      fs.writeFileSync(`${cdir}/lower`, lower, { mode: 0o644 });
    }
    const chainID = parent
      ? chainIDs([parent.chainID as string as DiffID, res.diffID])[1]!
      : (res.diffID as string as ChainID);
    const layer: Layer = {
      chainID,
      diffID: res.diffID,
      cacheId: prep.cacheId,
      size: res.size,
      link: prep.link,
      ...(parent ? { parent: parent.chainID, lower } : {}),
    };
    const ws = `${this.paths.layerdbTmp}/write-set-${randomHex(8)}`;
    txn.add({ op: 'tmp', path: ws });
    fs.mkdirSync(ws, 0o700);
    fs.writeFileSync(`${ws}/diff`, res.diffID);
    fs.writeFileSync(`${ws}/size`, String(res.size));
    fs.writeFileSync(`${ws}/cache-id`, prep.cacheId);
    if (parent) fs.writeFileSync(`${ws}/parent`, parent.chainID);
    fs.writeFileSync(`${ws}/tar-split.json.gz`, res.tarSplit);
    return lockStore(() => {
      const existing = this.get(chainID);
      if (existing) {
        txn.add({ op: 'lease', chainID });
        removeAll(ws);
        this.removeCacheDir(prep.cacheId, prep.link);
        return existing;
      }
      txn.add({ op: 'layer', chainID });
      if (parent) fs.writeFileSync(`${this.paths.cacheDir(parent.cacheId)}/committed`, '', { mode: 0o600 });
      fs.renameSync(ws, this.paths.layerDir(hexOf(chainID)));
      return layer;
    });
  }

  /**
   * Register a directory that already holds a layer's files in overlay2's diff
   * format (whiteouts as 0/0 devices, opaque dirs marked): a build step's rw
   * layer. Its tar (diffDirTar) is read once for the diffID and tar-split, then the
   * directory is moved into the new layer instead of being extracted again.
   * overlayfs's own bookkeeping xattrs (trusted.overlay.* but opaque) are dropped
   * first: they describe the union the dir was the upper of, not a layer.
   */
  async adopt(
    txn: Txn,
    parent: Layer | undefined,
    dir: string,
    lockStore: LockFn,
    opts: RegisterOptions = {},
  ): Promise<Layer> {
    stripOverlayXattrs(dir);
    const m = await measureLayer(diffDirTar(dir));
    const size = treeSize(dir);
    const prep = this.prepare(txn, parent);
    fs.rmdirSync(prep.diffRoot);
    fs.renameSync(dir, prep.diffRoot);
    return this.commit(txn, prep, parent, { ...m, size }, lockStore, opts);
  }

  /** Extract a tar stream on top of `parent` and register it (prepare + apply + commit). */
  async register(
    txn: Txn,
    parent: Layer | undefined,
    src: AsyncIterable<Buffer>,
    lockStore: LockFn,
    opts: RegisterOptions = {},
  ): Promise<Layer> {
    const prep = this.prepare(txn, parent);
    const res = await applyLayer(prep.diffRoot, src, {
      what: opts.what,
      maxBytes: opts.maxBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return this.commit(txn, prep, parent, res, lockStore, opts);
  }

  /** Remove an overlay2 dir and its short link (link first: l/ never points at nothing for long). */
  removeCacheDir(cacheId: string, link: string | undefined): void {
    if (link && isLinkName(link)) fs.rmSync(`${this.paths.links}/${link}`, { force: true });
    removeAll(this.paths.cacheDir(cacheId));
  }

  /** Unregister and delete a layer. The caller holds the store lock and knows nothing uses it. */
  delete(txn: Txn, chainID: ChainID): void {
    const l = this.get(chainID);
    if (!l) return;
    const tmp = `${this.paths.layerdbTmp}/del-${hexOf(chainID).slice(0, 12)}-${randomHex(6)}`;
    txn.add({ op: 'tmp', path: tmp });
    txn.add({ op: 'layer-dir', cacheId: l.cacheId, link: l.link });
    fs.renameSync(this.paths.layerDir(hexOf(chainID)), tmp); // from here the layer is gone for readers
    this.removeCacheDir(l.cacheId, l.link);
    removeAll(tmp);
  }

  /** Size in bytes of the layer's original tar, from tar-split (without reading files). */
  tarSize(chainID: ChainID): number {
    const gz = readOptional2(`${this.paths.layerDir(hexOf(chainID))}/tar-split.json.gz`);
    if (!gz)
      throw notFound(
        'tarsplit_missing',
        `layer ${chainID}: no tar-split metadata, so the original tar cannot be reproduced`,
      );
    let n = 0;
    for (const e of parseTarSplit(gz, `layer ${chainID} tar-split`)) n += e.type === 2 ? e.payload.length : e.size;
    return n;
  }

  /**
   * The exact original tar of a layer, rebuilt from tar-split and diff/, in chunks of `chunk`
   * bytes or of a pool's blocks (rebuildTar: every file body checked against its CRC, the whole
   * against the diffID).
   */
  async *tar(chainID: ChainID, chunk?: number | BlockPool): AsyncGenerator<Buffer> {
    const l = this.require(chainID);
    const gz = readOptional2(`${this.paths.layerDir(hexOf(chainID))}/tar-split.json.gz`);
    if (!gz)
      throw notFound(
        'tarsplit_missing',
        `layer ${l.diffID}: no tar-split metadata, so the original tar cannot be reproduced`,
      );
    yield* rebuildTar(gz, `${this.paths.cacheDir(l.cacheId)}/diff`, l.diffID, chunk);
  }
}

function readOptional2(p: string): Buffer | undefined {
  try {
    return fs.readFileSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const KEEP_XATTR = 'trusted.overlay.opaque';

/** The overlay2 directories spreadLayers has marked in this process. */
const spread = new Set<string>();

/**
 * Each overlay2/<cache-id> is an unrelated tree: ask ext4 to place each in a lightly used block group
 * (FS_TOPDIR_FL) rather than beside overlay2/ itself. On a long-used filesystem the groups near a busy
 * directory are full of freed inodes, and without a journal ext4 skips every inode freed in the last
 * minutes on each allocation, so extracting a layer there costs several times what it costs in a quiet
 * group (see bench/README.md). Only a placement hint: nothing reads it, a filesystem without it is fine.
 * Set before the first layer directory a process makes in a store, not when the store opens: a read-only command
 * then need not load the native addon for it.
 */
export function spreadLayers(dir: string): void {
  if (spread.has(dir)) return;
  spread.add(dir);
  try {
    native.spreadSubdirs(dir);
  } catch {
    /* a hint only */
  }
}

/** Remove trusted.overlay.* attributes (origin, impure, uuid, ...) but opaque from a tree, not following symlinks. */
function stripOverlayXattrs(root: string): void {
  const visit = (p: string, isDir: boolean) => {
    let names: string[] = [];
    try {
      names = native.llistxattr(p);
    } catch {
      /* no xattrs here */
    }
    for (const n of names) if (n.startsWith('trusted.overlay.') && n !== KEEP_XATTR) native.lremovexattr(p, n);
    if (!isDir) return;
    for (const e of fs.readdirSync(p, { withFileTypes: true })) visit(`${p}/${e.name}`, e.isDirectory());
  };
  visit(root, true);
}
