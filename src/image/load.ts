import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { type ChainID, type ImageID, chainIDs, hexOf } from '../core/digest.js';
import { BerthError, aborted, corrupt, invalid, wrap } from '../core/errors.js';
import { applyInWorker, type FileRange } from '../archive/apply-worker.js';
import { detectCompression, decompressed } from '../archive/compression.js';
import { type ApplyResult, applyLayerFile } from '../archive/layer-apply.js';
import { indexTarFile } from '../archive/tar-index.js';
import { FileLock } from '../storage/lock.js';
import type { Layer, PreparedLayer } from '../storage/layer-store.js';
import { mkdirp, randomHex } from '../storage/fsutil.js';
import type { Txn } from '../storage/txn.js';
import { type ImagePlan, planDockerArchive } from './archive-plan.js';
import { planOciLayout } from './oci-plan.js';
import { familiarString } from './reference.js';
import { inputError } from './input-file.js';
import type { ImageStore } from './store.js';

export interface LoadedImage {
  id: ImageID;
  tags: string[];
  /** Tags that moved here from another image: [tag, old id]. */
  retagged: Array<[string, ImageID]>;
}

export interface LoadOptions {
  maxLayerBytes?: number;
  /** Extract layers in worker threads (default: when more than one layer is new). */
  parallel?: boolean;
  /**
   * Stops the load: it rejects with an "aborted" error and the store is as before (what was staged is
   * removed, the journal settled). An abort after the images were written is too late and is ignored.
   */
  signal?: AbortSignal;
}

/**
 * `load`: a docker-archive or OCI layout tar (maybe compressed), from a file or
 * a stream, into the store. Every config, blob and layer is verified against its
 * digest; layers already present are reused; new ones extract in parallel. All
 * or nothing: on any error the store is as before.
 */
export async function loadArchive(
  store: ImageStore,
  input: { path: string } | { stream: Readable },
  opts: LoadOptions = {},
): Promise<LoadedImage[]> {
  const signal = opts.signal;
  try {
    return await store.withTxn('load', (txn) => loadInTxn(store, txn, input, opts));
  } catch (err) {
    if (signal?.aborted) throw aborted('load', signal);
    throw err;
  }
}

async function loadInTxn(
  store: ImageStore,
  txn: Txn,
  input: { path: string } | { stream: Readable },
  opts: LoadOptions,
): Promise<LoadedImage[]> {
  const signal = opts.signal;
  signal?.throwIfAborted();
  const path = await spoolIfNeeded(store, txn, input, signal);
  signal?.throwIfAborted();
  const index = indexTarFile(path, 'archive');
  let plans: ImagePlan[];
  if (index.has('manifest.json')) plans = planDockerArchive(path, index);
  else if (index.has('index.json')) plans = planOciLayout(path, index);
  else
    throw invalid(
      'archive_format',
      'load: the archive has neither manifest.json (docker-archive) nor index.json (OCI layout)',
    );
  // an archive that lists no images is not an error (dockerd loads nothing and succeeds)
  if (plans.length === 0) return [];
  await materializeLayers(store, txn, path, plans, opts);
  // the last point to stop: from here the images are written and the load is done
  signal?.throwIfAborted();
  const before = plans.map((p) => p.tags.map((t) => store.refs.get(t)));
  const ids = await store.putImages(txn, plans);
  return plans.map((p, n) => {
    const id = ids[n]!;
    const retagged: Array<[string, ImageID]> = [];
    p.tags.forEach((t, i) => {
      const old = before[n]![i];
      if (old && old !== id) retagged.push([familiarString(t), old]);
    });
    return { id, tags: p.tags.map(familiarString), retagged };
  });
}

/** Files are used in place when uncompressed; streams and compressed files are spooled (plain) into the store's tmp. */
async function spoolIfNeeded(
  store: ImageStore,
  txn: Txn,
  input: { path: string } | { stream: Readable },
  signal: AbortSignal | undefined,
): Promise<string> {
  if ('path' in input) {
    const head = readHead(input.path, 6);
    if (head && detectCompression(head) === 'none') return input.path;
  }
  const dir = `${store.paths.berth}/tmp`;
  mkdirp(dir, 0o700);
  const spool = `${dir}/load-${randomHex(8)}.tar`;
  txn.add({ op: 'tmp', path: spool });
  const src = 'path' in input ? fs.createReadStream(input.path) : input.stream;
  try {
    await pipeline(
      Readable.from(decompressed(src, { what: 'archive' })),
      fs.createWriteStream(spool, { mode: 0o600 }),
      signal ? { signal } : {},
    );
  } catch (err) {
    signal?.throwIfAborted();
    throw wrap('load: read archive', err);
  }
  return spool;
}

/**
 * The first bytes of a regular input file (undefined for a pipe or device, read as a stream);
 * a missing, unreadable or directory input is a message, not a stack.
 */
function readHead(path: string, n: number): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw inputError('open', path, err);
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw invalid('load_input', `read ${JSON.stringify(path)}: is a directory`);
    if (!st.isFile()) return undefined;
    const head = Buffer.alloc(n);
    return head.subarray(0, fs.readSync(fd, head, 0, n, 0));
  } catch (err) {
    throw err instanceof BerthError ? err : inputError('read', path, err);
  } finally {
    fs.closeSync(fd);
  }
}

interface Needed {
  chainID: ChainID;
  parentChain?: ChainID;
  range: FileRange;
  diffID: ImagePlan['layers'][number]['diffID'];
  blobDigest?: string;
  what: string;
  prep?: PreparedLayer;
  lock?: FileLock;
  result?: Promise<ApplyResult>;
}

async function materializeLayers(
  store: ImageStore,
  txn: Txn,
  path: string,
  plans: ImagePlan[],
  opts: LoadOptions,
): Promise<void> {
  const needed = new Map<ChainID, Needed>();
  for (const p of plans) {
    const chain = chainIDs(p.config.rootfs.diff_ids);
    p.layers.forEach((l, i) => {
      const c = chain[i]!;
      if (needed.has(c)) return;
      needed.set(c, {
        chainID: c,
        ...(i > 0 ? { parentChain: chain[i - 1]! } : {}),
        diffID: l.diffID,
        range: { path, start: l.entry.offset, length: l.entry.header.size },
        ...(l.blobDigest ? { blobDigest: l.blobDigest } : {}),
        what: `layer ${l.diffID} (${l.name})`,
      });
    });
  }
  const lease = () =>
    store.lock(() => {
      for (const [c, n] of needed)
        if (store.layers.has(c)) {
          txn.add({ op: 'lease', chainID: c });
          n.lock?.remove();
          needed.delete(c);
        }
    });
  const signal = opts.signal;
  await lease();
  // one extraction per layer across processes: take per-layer locks in a fixed order, then look again
  const locks: FileLock[] = [];
  try {
    for (const c of [...needed.keys()].sort()) {
      signal?.throwIfAborted();
      const l = await FileLock.acquire(`${store.paths.locks}/layer-${hexOf(c)}`);
      locks.push(l);
      needed.get(c)!.lock = l;
    }
    signal?.throwIfAborted();
    await lease();
    const work = [...needed.values()];
    for (const n of work) n.prep = store.layers.prepare(txn, n.parentChain ? { link: '' } : undefined);
    const parallel = opts.parallel ?? work.length > 1;
    const limit = Math.max(1, Math.min(availableParallelism(), 4));
    const applyOpts = (n: Needed) => ({
      what: n.what,
      maxBytes: opts.maxLayerBytes,
      blobDigest: !!n.blobDigest,
      ...(signal ? { signal } : {}),
    });
    let next = 0;
    const runners = Array.from({ length: parallel ? limit : 1 }, async () => {
      while (next < work.length && !signal?.aborted) {
        const n = work[next++]!;
        n.result = parallel
          ? applyInWorker(n.prep!.diffRoot, n.range, applyOpts(n))
          : applyLayerFile(n.prep!.diffRoot, n.range, applyOpts(n));
        await n.result.catch(() => undefined);
      }
    });
    await Promise.all(runners);
    signal?.throwIfAborted();
    // register in chain order: a layer's parent is registered before it
    const committed = new Map<string, Layer>();
    const registerChain = async (c: ChainID): Promise<Layer> => {
      const have = committed.get(c) ?? store.layers.get(c);
      if (have) return have;
      const n = needed.get(c);
      if (!n) throw corrupt('layer_missing', `layer ${c} vanished during load`);
      const parent = n.parentChain ? await registerChain(n.parentChain) : undefined;
      signal?.throwIfAborted();
      const res = await n.result!;
      if (n.blobDigest && res.blobDigest !== n.blobDigest)
        throw corrupt('digest_mismatch', `${n.what}: blob digest is ${res.blobDigest}, manifest says ${n.blobDigest}`);
      const layer = await store.layers.commit(txn, n.prep!, parent, res, (fn) => store.lock(fn), {
        expectDiffID: n.diffID,
        what: n.what,
      });
      if (layer.chainID !== c)
        throw corrupt('chainid_mismatch', `${n.what}: registered as ${layer.chainID}, expected ${c}`);
      committed.set(c, layer);
      return layer;
    };
    for (const n of work) await registerChain(n.chainID);
  } finally {
    // the lock files go with their holders (FileLock makes that safe for waiters), so they do not pile up per layer
    // ever loaded
    for (const l of locks) l.remove();
  }
}
