import * as fs from 'node:fs';
import { type ChainID, type ImageID, chainIDs, hexOf, isDigest, isHex64, sha256 } from '../core/digest.js';
import { invalid, notFound } from '../core/errors.js';
import { FileLock, withLock } from '../storage/lock.js';
import { LayerStore, type Layer } from '../storage/layer-store.js';
import { mkdirp, readOptional, removeAll } from '../storage/fsutil.js';
import { StorePaths } from '../storage/paths.js';
import { Txn, type TxnRecord, listJournals } from '../storage/txn.js';
import type { ImageConfig } from './config.js';
import { ImageDB } from './imagedb.js';
import { type Reference, parseReference, withDefaultTag } from './reference.js';
import { RefStore } from './refstore.js';
import { type DeleteOptions, type DeleteRecord, deleteImage } from './delete.js';

export interface ImageRecord {
  id: ImageID;
  config: ImageConfig;
  refs: string[];
}

/**
 * The image store: imagedb + layerdb + repositories.json in Docker's layout.
 * Every modifying operation runs in a Txn (journal); opening the store rolls
 * back or finishes the work of processes that died mid-operation. Short
 * metadata steps take the store lock; long extractions do not.
 */
export class ImageStore {
  readonly paths: StorePaths;
  readonly layers: LayerStore;
  readonly images: ImageDB;
  readonly refs: RefStore;

  private constructor(root: string) {
    this.paths = new StorePaths(root);
    this.layers = new LayerStore(this.paths);
    this.images = new ImageDB(this.paths);
    this.refs = new RefStore(this.paths);
  }

  /** Journals this process is recovering (it holds their locks, but they are dead). */
  private readonly recovering = new Set<string>();

  /**
   * Temporary files of atomic writes (`.tmp-*`) in the metadata dirs. Every such
   * write happens under the store lock, so with the lock held any of them is a
   * leftover of a killed process. Caller holds the store lock.
   */
  tempFiles(): string[] {
    const dirs = [
      this.paths.imageRoot,
      this.paths.imagedbContent,
      ...safeReaddir(this.paths.imagedbMetadata).map((d) => `${this.paths.imagedbMetadata}/${d}`),
    ];
    return dirs.flatMap((d) =>
      safeReaddir(d)
        .filter((n) => n.startsWith('.tmp-'))
        .map((n) => `${d}/${n}`),
    );
  }

  removeTempFiles(): void {
    for (const f of this.tempFiles()) fs.rmSync(f, { force: true });
  }

  /** Open (creating if needed) the store at `root` and recover interrupted operations. */
  static async open(root: string): Promise<ImageStore> {
    const s = new ImageStore(root);
    mkdirp(root, 0o711);
    mkdirp(s.paths.txn, 0o700);
    mkdirp(s.paths.locks, 0o700);
    s.layers.init();
    s.images.init();
    mkdirp(`${s.paths.distribution}/diffid-by-digest/sha256`, 0o700);
    mkdirp(`${s.paths.distribution}/v2metadata-by-diffid/sha256`, 0o700);
    mkdirp(s.paths.containers, 0o710);
    if (s.hasDeadJournals()) await s.lock(() => s.recover());
    return s;
  }

  /** Run fn under the store lock (short metadata critical sections). */
  lock<T>(fn: () => T): Promise<T> {
    return withLock(this.paths.storeLock, fn);
  }

  /** Run an operation in a journaled transaction; on error everything it did is undone. */
  async withTxn<T>(kind: string, fn: (txn: Txn) => Promise<T>): Promise<T> {
    const txn = Txn.begin(this.paths, kind);
    try {
      const out = await fn(txn);
      for (const r of txn.records) if (r.op === 'tmp') removeAll(r.path);
      txn.commit();
      return out;
    } catch (err) {
      // stop leasing what we made, so undo can collect it; the journal stays until undone
      txn.close();
      await this.lock(() => {
        this.undo(txn.records);
        fs.rmSync(txn.path, { force: true });
      });
      throw err;
    }
  }

  private hasDeadJournals(): boolean {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.paths.txn);
    } catch {
      return false;
    }
    return names.some((n) => n.endsWith('.journal') || n.endsWith('.new'));
  }

  /**
   * A killed load leaves its per-layer lock files (a live one removes its own):
   * remove those nobody holds. FileLock.remove unlinks only while holding the
   * lock, and a locker re-checks that the file it locked is still at the path.
   */
  private removeStaleLayerLocks(): void {
    for (const name of safeReaddir(this.paths.locks)) {
      if (!name.startsWith('layer-')) continue;
      FileLock.tryAcquire(`${this.paths.locks}/${name}`)?.remove();
    }
  }

  /** Undo or finish the work of dead operations. Caller holds the store lock. Returns how many were recovered. */
  recover(): number {
    const journals = listJournals(this.paths, (p) => FileLock.tryAcquire(p));
    let n = 0;
    for (const j of journals) {
      if (j.live) continue;
      // we hold its lock now, which would make it look live to liveLeases(): mark it as ours
      this.recovering.add(j.path);
      try {
        this.undo(j.records);
      } finally {
        this.recovering.delete(j.path);
      }
      fs.rmSync(j.path, { force: true });
      j.lock?.release();
      n++;
    }
    if (n > 0) {
      this.removeTempFiles();
      this.removeStaleLayerLocks();
    }
    // journals that died before being published hold nothing yet
    for (const name of safeReaddir(this.paths.txn)) {
      if (!name.endsWith('.new')) continue;
      const l = FileLock.tryAcquire(`${this.paths.txn}/${name}`);
      if (l) {
        fs.rmSync(`${this.paths.txn}/${name}`, { force: true });
        l.release();
      }
    }
    return n;
  }

  /**
   * Garbage-collect what a (failed or dead) operation touched: images it wrote
   * that nothing tags, layers it registered that nothing uses, staging leftovers.
   * Caller holds the store lock.
   */
  undo(records: readonly TxnRecord[]): void {
    const freed: ChainID[] = [];
    for (const r of records)
      if (r.op === 'image' || r.op === 'collect-image')
        freed.push(...this.collectImage(r.id as ImageID, r.op === 'collect-image' && !!r.ifUnused));
    this.collectLayers([
      ...records.flatMap((r) => (r.op === 'layer' || r.op === 'collect' ? [r.chainID as ChainID] : [])),
      ...freed,
    ]);
    // a create that died before its container dir was in place, or an rm after it was gone: no container
    for (const r of records) {
      if (r.op === 'container' && isHex64(r.id) && !fs.existsSync(`${this.paths.containers}/${r.id}`))
        removeAll(`${this.paths.mounts}/${r.id}`);
    }
    // a volume a failed container create made: removed unless a container (made since) uses it
    const volumes = records.flatMap((r) =>
      r.op === 'volume' && /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(r.name) ? [r.name] : [],
    );
    if (volumes.length) {
      const used = this.volumesInUse();
      for (const v of volumes) if (!used.has(v)) removeAll(`${this.paths.volumes}/${v}`);
    }
    const registered = new Set<string | undefined>(this.layers.list().map((c) => this.layers.get(c)?.cacheId));
    // only registered mounts (named by container id) keep layer dirs: not the staging dirs of a create or rm (<id>.new,
    // .rm-<id>)
    for (const m of safeReaddir(this.paths.mounts)) {
      if (!isHex64(m)) continue;
      const id = readOptional(`${this.paths.mounts}/${m}/mount-id`);
      if (id) {
        registered.add(id);
        registered.add(`${id}-init`);
      }
    }
    for (const r of records) {
      if (r.op === 'layer-dir' && !registered.has(r.cacheId)) this.layers.removeCacheDir(r.cacheId, r.link);
      if (r.op === 'tmp') removeAll(r.path);
    }
  }

  /** The volumes containers name in their config.v2.json MountPoints. */
  private volumesInUse(): Set<string> {
    const out = new Set<string>();
    for (const id of safeReaddir(this.paths.containers)) {
      if (!isHex64(id)) continue;
      try {
        const r = JSON.parse(readOptional(`${this.paths.containers}/${id}/config.v2.json`) ?? '{}') as {
          MountPoints?: Record<string, { Type?: string; Name?: string }>;
        };
        for (const m of Object.values(r.MountPoints ?? {})) if (m.Type === 'volume' && m.Name) out.add(m.Name);
      } catch {
        /* a record being written: not one that could use a volume made by a failed create */
      }
    }
    return out;
  }

  /**
   * Delete an image nothing tags, leases or builds on; a pruned parent (ifUnused)
   * also only if no container uses it, and then its own parent the same way, as
   * the interrupted delete would have gone on. Returns the layers it released.
   */
  private collectImage(id: ImageID, ifUnused: boolean): ChainID[] {
    if (!this.images.has(id)) return [];
    if (this.refs.refsOf(id).length > 0) return [];
    if (this.liveLeases().images.has(id)) return [];
    if (this.images.children(id).length > 0) return [];
    if (ifUnused && this.containersUsing(id).length > 0) return [];
    const parent = this.images.getMetadata(id, 'parent') as ImageID | undefined;
    let chain: ChainID[] = [];
    try {
      chain = chainIDs(this.images.get(id).rootfs.diff_ids);
    } catch {
      /* corrupt: its layers are check's to report */
    }
    this.images.delete(id);
    if (ifUnused && parent) chain.push(...this.collectImage(parent, true));
    return chain;
  }

  /** Delete the given layers (and, transitively, their parents among them) when nothing uses them. */
  collectLayers(candidates: ChainID[]): void {
    if (candidates.length === 0) return;
    const used = this.usedLayers();
    const byParent = new Map<string, number>();
    const all = this.layers.list();
    const metas = new Map<string, Layer>();
    for (const c of all) {
      const l = this.layers.get(c);
      if (!l) continue;
      metas.set(c, l);
      if (l.parent) byParent.set(l.parent, (byParent.get(l.parent) ?? 0) + 1);
    }
    const pending = new Set(candidates);
    const txn = Txn.begin(this.paths, 'gc');
    try {
      let progress = true;
      while (progress) {
        progress = false;
        for (const c of pending) {
          const l = metas.get(c);
          if (!l) {
            pending.delete(c);
            continue;
          }
          if (used.has(c) || (byParent.get(c) ?? 0) > 0) continue;
          this.layers.delete(txn, c);
          pending.delete(c);
          metas.delete(c);
          if (l.parent) {
            byParent.set(l.parent, (byParent.get(l.parent) ?? 1) - 1);
            if (metas.has(l.parent)) pending.add(l.parent);
          }
          progress = true;
        }
      }
    } finally {
      txn.commit();
    }
  }

  /** Layers in use: every image's chain, container mounts' parents, live operations' leases. */
  usedLayers(): Set<ChainID> {
    const used = new Set<ChainID>();
    for (const id of this.images.list()) {
      try {
        for (const c of chainIDs(this.images.get(id).rootfs.diff_ids)) used.add(c);
      } catch {
        /* a corrupt image is reported by check; keep nothing extra */
      }
    }
    for (const m of safeReaddir(this.paths.mounts)) {
      const p = readOptional(`${this.paths.mounts}/${m}/parent`);
      if (p && isDigest(p)) used.add(p as ChainID);
    }
    for (const c of this.liveLeases().layers) used.add(c);
    return used;
  }

  /** Images live operations are writing (a build's new images): never deleted under them. */
  leasedImages(): Set<string> {
    return this.liveLeases().images;
  }

  private liveLeases(): { layers: Set<ChainID>; images: Set<string> } {
    const layers = new Set<ChainID>();
    const images = new Set<string>();
    for (const j of listJournals(this.paths, (p) =>
      this.recovering.has(p) ? { release() {} } : FileLock.tryAcquire(p),
    )) {
      if (!j.live) {
        j.lock?.release();
        continue;
      }
      for (const r of j.records) {
        if (r.op === 'lease' || r.op === 'layer') layers.add(r.chainID as ChainID);
        if (r.op === 'image') images.add(r.id);
      }
    }
    return { layers, images };
  }

  // ---- images ----

  /** Resolve a user's image argument: reference, full id, or unique id prefix (as Docker). */
  resolve(arg: string): ImageID {
    const id = this.tryResolve(arg);
    if (!id) throw notFound('image_not_found', `No such image: ${arg}`);
    return id;
  }

  tryResolve(arg: string): ImageID | undefined {
    if (isDigest(arg) && this.images.has(arg as ImageID)) return arg as ImageID;
    let ref: Reference | undefined;
    try {
      ref = withDefaultTag(parseReference(arg));
    } catch {
      /* maybe an id prefix */
    }
    if (ref) {
      const id = this.refs.get(ref);
      if (id) return id;
    }
    const hex = arg.startsWith('sha256:') ? arg.slice(7) : arg;
    if (/^[a-f0-9]{1,64}$/.test(hex) && hex.length >= 1) {
      const matches = this.images.list().filter((i) => hexOf(i).startsWith(hex));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalid('ambiguous_id', `image id prefix ${JSON.stringify(arg)} is ambiguous`);
    }
    return undefined;
  }

  get(id: ImageID): ImageRecord {
    return { id, config: this.images.get(id), refs: this.refs.refsOf(id) };
  }

  list(): ImageRecord[] {
    const refs = this.refs.all();
    return this.images
      .list()
      .map((id) => ({ id, config: this.images.get(id), refs: refs.filter(([, i]) => i === id).map(([r]) => r) }));
  }

  /** The registered layers of an image, base first. */
  imageLayers(id: ImageID): Layer[] {
    const cfg = this.images.get(id);
    return chainIDs(cfg.rootfs.diff_ids).map((c) => this.layers.require(c));
  }

  /**
   * Write an image config whose layers are registered, and tag it. Under the
   * store lock; the image is journaled as created so a crash before tagging undoes it.
   */
  async putImage(
    txn: Txn,
    configBytes: Buffer,
    config: ImageConfig,
    tags: Reference[],
    opts: { parent?: ImageID; builtLocally?: boolean } = {},
  ): Promise<ImageID> {
    return (await this.putImages(txn, [{ configBytes, config, tags, ...opts }]))[0]!;
  }

  /**
   * Write several image configs, then tag them all in one atomic update of
   * repositories.json: a crash leaves all of them tagged or none.
   */
  async putImages(
    txn: Txn,
    items: Array<{
      configBytes: Buffer;
      config: ImageConfig;
      tags: Reference[];
      parent?: ImageID;
      builtLocally?: boolean;
    }>,
  ): Promise<ImageID[]> {
    return this.lock(() => {
      const ids = items.map((it) => {
        for (const c of chainIDs(it.config.rootfs.diff_ids)) {
          if (!this.layers.has(c))
            throw notFound('layer_not_found', `image config references layer ${c}, which is not in the store`);
        }
        const id = sha256(it.configBytes) as string as ImageID;
        if (!this.images.has(id)) txn.add({ op: 'image', id });
        this.images.put(it.configBytes);
        if (it.parent) this.images.setMetadata(id, 'parent', it.parent);
        if (it.builtLocally) this.images.setMetadata(id, 'builtLocally', Buffer.from([1]));
        this.images.setMetadata(id, 'lastUpdated', new Date().toISOString());
        return id;
      });
      if (items.some((it) => it.tags.length)) {
        this.refs.update((ed) =>
          items.forEach((it, i) => {
            for (const t of it.tags) ed.set(t, ids[i]!);
          }),
        );
      }
      return ids;
    });
  }

  async tag(source: string, target: string): Promise<void> {
    const ref = withDefaultTag(parseReference(target));
    if (ref.digest) throw invalid('invalid_reference', `refusing to create a tag with a digest reference: ${target}`);
    await this.lock(() => {
      const id = this.resolve(source);
      this.refs.update((ed) => ed.set(ref, id));
    });
  }

  /** Containers (by id) whose config names this image. */
  containersUsing(id: ImageID): string[] {
    const out: string[] = [];
    for (const c of safeReaddir(this.paths.containers)) {
      const cfg = readOptional(`${this.paths.containers}/${c}/config.v2.json`);
      if (!cfg) continue;
      try {
        if ((JSON.parse(cfg) as { Image?: string }).Image === id) out.push(c);
      } catch {
        /* ignore */
      }
    }
    return out;
  }

  /** Docker's rmi of one image argument (see deleteImage), in its own journaled transaction. */
  async remove(arg: string, opts: DeleteOptions = {}): Promise<DeleteRecord[]> {
    return this.withTxn('rmi', async (txn) => this.lock(() => deleteImage(this, txn, arg, opts)));
  }
}

function safeReaddir(p: string): string[] {
  try {
    return fs.readdirSync(p);
  } catch {
    return [];
  }
}
