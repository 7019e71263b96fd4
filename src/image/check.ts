import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { type ChainID, type ImageID, chainIDs, hexOf, isHex64, sha256 } from '../core/digest.js';
import { FileLock } from '../storage/lock.js';
import { lowerFor } from '../storage/overlay2.js';
import { readOptional, removeAll } from '../storage/fsutil.js';
import { treeSize } from '../archive/layer-apply.js';
import { listJournals } from '../storage/txn.js';
import { listPartials } from '../storage/partial-blobs.js';
import type { ImageStore } from './store.js';

export interface Finding {
  /**
   * problem: the store is inconsistent; leftover: debris of interrupted work, safe to remove;
   * partial: a partial download an interrupted pull kept for the next one to resume (not a problem,
   * nor removed by repair: `system prune` removes it).
   */
  severity: 'problem' | 'leftover' | 'partial';
  where: string;
  message: string;
  /** For leftovers: how repair removes it. */
  fix?: () => void;
}

export interface CheckOptions {
  /** Rebuild every layer's tar from tar-split and compare with its diffID (reads all content). */
  content?: boolean;
}

/**
 * `system check`: verify the whole store the way a user walking it by hand
 * would: every digest, chainID, cache-id, link, lower, size and reference.
 * Run under the store lock so no operation changes it meanwhile.
 */
export async function checkStore(store: ImageStore, opts: CheckOptions = {}): Promise<Finding[]> {
  const out: Finding[] = [];
  const p = store.paths;
  const problem = (where: string, message: string) => out.push({ severity: 'problem', where, message });
  const leftover = (where: string, message: string, fix: () => void) =>
    out.push({ severity: 'leftover', where, message, fix });

  const live = listJournals(p, (j) => FileLock.tryAcquire(j));
  for (const j of live) j.lock?.release();
  const liveTmp = new Set(
    live.filter((j) => j.live).flatMap((j) => j.records.flatMap((r) => (r.op === 'tmp' ? [r.path] : []))),
  );
  const liveDirs = new Set(
    live.filter((j) => j.live).flatMap((j) => j.records.flatMap((r) => (r.op === 'layer-dir' ? [r.cacheId] : []))),
  );

  // layers
  const cacheIds = new Set<string>();
  const links = new Set<string>();
  for (const name of readdir(`${p.layerdb}/sha256`)) {
    const where = `layerdb/sha256/${name}`;
    if (!isHex64(name)) {
      problem(where, 'not a chainID (64 hex characters)');
      continue;
    }
    const chainID = `sha256:${name}` as ChainID;
    let l;
    try {
      l = store.layers.get(chainID);
    } catch (err) {
      problem(where, (err as Error).message);
      continue;
    }
    if (!l) {
      problem(where, 'missing diff file');
      continue;
    }
    cacheIds.add(l.cacheId);
    links.add(l.link);
    const cdir = p.cacheDir(l.cacheId);
    if (!fs.existsSync(`${cdir}/diff`)) {
      problem(where, `cache-id ${l.cacheId}: overlay2/${l.cacheId}/diff does not exist`);
      continue;
    }
    if (!/^[A-Z2-7]{26}$/.test(l.link))
      problem(`overlay2/${l.cacheId}/link`, `invalid link name ${JSON.stringify(l.link)}`);
    else {
      const target = safeReadlink(`${p.links}/${l.link}`);
      if (target !== `../${l.cacheId}/diff`)
        problem(`overlay2/l/${l.link}`, `should point to ../${l.cacheId}/diff, points to ${JSON.stringify(target)}`);
    }
    const computed = l.parent ? chainIDs([l.parent as string as never, l.diffID])[1] : l.diffID;
    if (computed !== chainID) problem(where, `chainID does not match sha256(parent + " " + diff) = ${computed}`);
    if (l.parent) {
      const parent = safeGet(store, l.parent);
      if (!parent) problem(where, `parent ${l.parent} is not registered`);
      else {
        const want = lowerFor(parent.link, parent.lower);
        if (l.lower !== want)
          problem(`overlay2/${l.cacheId}/lower`, `is ${JSON.stringify(l.lower)}, want ${JSON.stringify(want)}`);
        if (!fs.existsSync(`${cdir}/work`)) problem(`overlay2/${l.cacheId}`, 'work/ is missing');
      }
    } else if (l.lower !== undefined) problem(`overlay2/${l.cacheId}/lower`, 'a base layer must not have a lower file');
    if (!fs.existsSync(`${p.layerDir(name)}/tar-split.json.gz`)) problem(where, 'tar-split.json.gz is missing');
    else if (opts.content) {
      try {
        const h = createHash('sha256');
        for await (const c of store.layers.tar(chainID)) h.update(c);
      } catch (err) {
        problem(where, (err as Error).message);
      }
    }
    const size = treeSize(`${cdir}/diff`);
    if (size !== l.size) problem(`${where}/size`, `is ${l.size}, the diff tree has ${size} bytes`);
  }

  // container mounts
  for (const m of readdir(p.mounts)) {
    const dir = `${p.mounts}/${m}`;
    if (!isHex64(m)) {
      // the staging dir of a create (<id>.new) or rm (.rm-<id>)
      if (!liveTmp.has(dir))
        leftover(`layerdb/mounts/${m}`, 'staging directory of an interrupted container create or removal', () =>
          removeAll(dir),
        );
      continue;
    }
    if (!fs.existsSync(`${p.containers}/${m}`)) {
      // its layer dirs are then reported as not referred to
      leftover(`layerdb/mounts/${m}`, 'layer mount of no container (an interrupted container create or removal)', () =>
        removeAll(dir),
      );
      continue;
    }
    const mountId = readOptional(`${dir}/mount-id`) ?? '';
    const initId = readOptional(`${dir}/init-id`) ?? '';
    const parent = readOptional(`${dir}/parent`);
    if (!isHex64(mountId))
      problem(`layerdb/mounts/${m}`, `mount-id ${JSON.stringify(mountId)} is not 64 hex characters`);
    else cacheIds.add(mountId);
    if (initId) cacheIds.add(initId);
    for (const id of [mountId, initId]) {
      const link = readOptional(`${p.cacheDir(id)}/link`);
      if (link) links.add(link);
    }
    if (parent && !safeGet(store, parent as ChainID))
      problem(`layerdb/mounts/${m}/parent`, `layer ${parent} is not registered`);
  }

  // images
  const images = new Set<string>();
  for (const name of readdir(p.imagedbContent)) {
    const where = `imagedb/content/sha256/${name}`;
    if (name.startsWith('.tmp-')) continue; // reported with the other temporary files below
    if (!isHex64(name)) {
      problem(where, 'not an image id');
      continue;
    }
    const id = `sha256:${name}` as ImageID;
    images.add(id);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(`${p.imagedbContent}/${name}`);
    } catch (err) {
      problem(where, (err as Error).message);
      continue;
    }
    if (sha256(bytes) !== (id as string)) {
      problem(where, 'content does not match its sha256');
      continue;
    }
    let cfg;
    try {
      cfg = store.images.get(id);
    } catch (err) {
      problem(where, (err as Error).message);
      continue;
    }
    for (const c of chainIDs(cfg.rootfs.diff_ids))
      if (!store.layers.has(c)) problem(where, `layer ${c} (from rootfs.diff_ids) is not registered`);
    const parent = store.images.getMetadata(id, 'parent');
    if (parent && !store.images.has(parent as ImageID))
      problem(`imagedb/metadata/sha256/${name}/parent`, `image ${parent} does not exist`);
  }

  // references
  try {
    for (const [ref, id] of store.refs.all())
      if (!images.has(id)) problem('repositories.json', `${ref} points to missing image ${id}`);
  } catch (err) {
    problem('repositories.json', (err as Error).message);
  }

  // leftovers of interrupted work
  for (const name of readdir(p.overlay)) {
    if (name === 'l') continue;
    const base = name.replace(/-init$/, '');
    if (cacheIds.has(name) || liveDirs.has(name)) continue;
    const dir = p.cacheDir(name);
    if (isHex64(base))
      leftover(`overlay2/${name}`, 'overlay2 directory no layer or container refers to', () => removeAll(dir));
    else problem(`overlay2/${name}`, 'unexpected entry');
  }
  for (const name of readdir(p.links)) {
    if (links.has(name)) continue;
    const t = safeReadlink(`${p.links}/${name}`);
    const id = /^\.\.\/([a-f0-9]{64}(?:-init)?)\/diff$/.exec(t ?? '')?.[1];
    if (id && liveDirs.has(id)) continue;
    leftover(`overlay2/l/${name}`, 'short link nothing refers to', () =>
      fs.rmSync(`${p.links}/${name}`, { force: true }),
    );
  }
  for (const name of readdir(p.layerdbTmp)) {
    const path = `${p.layerdbTmp}/${name}`;
    if (!liveTmp.has(path))
      leftover(`layerdb/tmp/${name}`, 'staging directory of an interrupted operation', () => removeAll(path));
  }
  for (const name of readdir(`${p.berth}/tmp`)) {
    const path = `${p.berth}/tmp/${name}`;
    if (!liveTmp.has(path)) leftover(`berth/tmp/${name}`, 'spool file of an interrupted load', () => removeAll(path));
  }
  for (const f of store.tempFiles())
    leftover(f.slice(p.root.length + 1), 'temporary file of an interrupted write', () => fs.rmSync(f, { force: true }));
  for (const f of listPartials(p)) {
    const where = `berth/partial/${f.name}`;
    if (!f.digest)
      leftover(where, 'not a partial download berth names', () => fs.rmSync(f.path, { recursive: true, force: true }));
    else
      out.push({
        severity: 'partial',
        where,
        message: `${f.size} bytes of blob ${f.digest}${f.inUse ? ' (a pull is writing it)' : ' (the next pull of it resumes there; system prune removes it)'}`,
      });
  }
  const used = store.usedLayers();
  const unused = store.layers
    .list()
    .filter((c) => !used.has(c) && !store.layers.list().some((o) => safeGet(store, o)?.parent === c));
  for (const c of unused)
    leftover(`layerdb/sha256/${hexOf(c)}`, 'layer no image, container or operation uses', () =>
      store.collectLayers([c]),
    );
  return out;
}

function readdir(p: string): string[] {
  try {
    return fs.readdirSync(p);
  } catch {
    return [];
  }
}

function safeReadlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

function safeGet(store: ImageStore, c: ChainID) {
  try {
    return store.layers.get(c);
  } catch {
    return undefined;
  }
}
