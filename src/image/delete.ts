import * as fs from 'node:fs';
import { type ChainID, type ImageID, chainIDs, hexOf } from '../core/digest.js';
import { conflict } from '../core/errors.js';
import { FileLock } from '../storage/lock.js';
import { readOptional } from '../storage/fsutil.js';
import type { Txn } from '../storage/txn.js';
import { type Reference, familiarString, parseReference, withDefaultTag } from './reference.js';
import type { ImageStore } from './store.js';

/** One line of an image deletion's report, as dockerd's DeleteResponse. */
export interface DeleteRecord {
  Untagged?: string;
  Deleted?: string;
}

export interface DeleteOptions {
  /** Ignore soft conflicts: tags, stopped containers. */
  force?: boolean;
  /** Leave the untagged parents (`rmi --no-prune`); by default they go too when nothing else needs them. */
  noPrune?: boolean;
}

const short = (id: string) => hexOf(id as ImageID).slice(0, 12);

/**
 * Docker's image delete (moby daemon/images/image_delete.go). A reference
 * untags; when no reference is left, or the image was named by ID, the image
 * goes, then its parent chain while each parent is untagged, has no other
 * child and no container uses it. Hard conflicts (children, running
 * containers, an operation using it) always refuse; soft ones (tags, stopped
 * containers) unless forced. Caller holds the store lock; every image is
 * journaled before it is touched, so recovery finishes a killed delete.
 */
export function deleteImage(store: ImageStore, txn: Txn, arg: string, opts: DeleteOptions): DeleteRecord[] {
  const id = store.resolve(arg);
  const records: DeleteRecord[] = [];
  let refs = refsOf(store, id);
  let quiet = false;
  if (!isIdPrefix(id, arg)) {
    if (!opts.force && isSingleReference(refs)) {
      const user = containerUsers(store, id)[0];
      if (user)
        throw conflict(
          'image_in_use',
          `conflict: unable to remove repository reference ${JSON.stringify(arg)} (must force) - container ${user.id.slice(0, 12)} is using its referenced image ${short(id)}`,
        );
    }
    const ref = withDefaultTag(parseReference(arg));
    // journaled before the untag: a kill right after it still ends with the image deleted, as the command would
    if (!findConflict(store, id, opts.force ? HARD : HARD | STOPPED)) journalDelete(store, txn, id, !opts.noPrune);
    store.refs.update((ed) => ed.delete(ref));
    records.push({ Untagged: familiarString(ref) });
    refs = refsOf(store, id);
    // a tag's removal takes the digest references of its repository along when no other tag of it is left
    if (!ref.digest && !refs.some((r) => !r.digest && r.name === ref.name)) {
      const digests = refs.filter((r) => r.digest && r.name === ref.name);
      store.refs.update((ed) => {
        for (const r of digests) ed.delete(r);
      });
      for (const r of digests) records.push({ Untagged: familiarString(r) });
      refs = refs.filter((r) => !digests.includes(r));
    }
    if (refs.length > 0) return records;
    quiet = true;
  } else if (isSingleReference(refs)) {
    const c = findConflict(store, id, opts.force ? HARD : HARD | STOPPED);
    if (c) throw c.error;
    store.refs.update((ed) => {
      for (const r of refs) ed.delete(r);
    });
    for (const r of refs) records.push({ Untagged: familiarString(r) });
  }
  deleteWithParents(store, txn, id, records, !!opts.force, !opts.noPrune, quiet);
  return records;
}

const CHILD = 1;
const RUNNING = 2;
const TAGGED = 4;
const STOPPED = 8;
const HARD = CHILD | RUNNING;
const SOFT = TAGGED | STOPPED;

interface Conflict {
  used: boolean;
  error: Error;
}

function findConflict(store: ImageStore, id: ImageID, mask: number): Conflict | undefined {
  const err = (hard: boolean, code: string, msg: string) =>
    conflict(
      code,
      `conflict: unable to delete ${short(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${msg}`,
    );
  if (mask & CHILD && store.images.children(id).length > 0)
    return { used: false, error: err(true, 'image_has_children', 'image has dependent child images') };
  const users = mask & (RUNNING | STOPPED) ? containerUsers(store, id) : [];
  const running = users.find((u) => u.running);
  if (mask & RUNNING && running)
    return {
      used: true,
      error: err(true, 'image_in_use', `image is being used by running container ${running.id.slice(0, 12)}`),
    };
  if (mask & RUNNING && store.leasedImages().has(id))
    return { used: true, error: err(true, 'image_in_use', 'image is being used by an operation in progress') };
  if (mask & TAGGED && store.refs.refsOf(id).length > 0)
    return { used: false, error: err(false, 'image_multiple_refs', 'image is referenced in multiple repositories') };
  const stopped = users.find((u) => !u.running);
  if (mask & STOPPED && stopped)
    return {
      used: true,
      error: err(false, 'image_in_use', `image is being used by stopped container ${stopped.id.slice(0, 12)}`),
    };
  return undefined;
}

/** dockerd's imageDeleteHelper: delete the image and its layers nothing else uses, then (prune) its parent, quietly. */
function deleteWithParents(
  store: ImageStore,
  txn: Txn,
  id: ImageID,
  records: DeleteRecord[],
  force: boolean,
  prune: boolean,
  quiet: boolean,
): void {
  const c = findConflict(store, id, force ? HARD : HARD | SOFT);
  if (c) {
    // a quiet delete (a parent, or after an untag) reports only what the user should know: an unused dangling image it
    // could not delete
    if (quiet && (!isDangling(store, id) || c.used)) return;
    throw c.error;
  }
  const parent = store.images.getMetadata(id, 'parent') as ImageID | undefined;
  const chain = journalDelete(store, txn, id, prune);
  store.refs.update((ed) => {
    for (const r of ed.deleteAllOf(id)) records.push({ Untagged: r });
  });
  store.images.delete(id);
  records.push({ Deleted: id });
  const before = new Set(store.layers.list());
  store.collectLayers(chain);
  for (const l of [...chain].reverse()) if (before.has(l) && !store.layers.has(l)) records.push({ Deleted: l });
  if (prune && parent && store.images.has(parent)) deleteWithParents(store, txn, parent, records, false, true, true);
}

/**
 * Journal an image before it goes and, when pruning, its parent as "if unused":
 * recovery then goes on up the chain as the interrupted delete would have,
 * also when the kill came right after the untag.
 */
function journalDelete(store: ImageStore, txn: Txn, id: ImageID, prune: boolean): ChainID[] {
  const chain = journal(store, txn, id, false);
  const parent = store.images.getMetadata(id, 'parent') as ImageID | undefined;
  if (prune && parent && store.images.has(parent)) journal(store, txn, parent, true);
  return chain;
}

function journal(store: ImageStore, txn: Txn, id: ImageID, ifUnused: boolean): ChainID[] {
  const chain = chainIDs(store.images.get(id).rootfs.diff_ids);
  txn.add({ op: 'collect-image', id, ...(ifUnused ? { ifUnused } : {}) });
  for (const l of chain) txn.add({ op: 'collect', chainID: l });
  return chain;
}

function isDangling(store: ImageStore, id: ImageID): boolean {
  return store.refs.refsOf(id).length === 0 && store.images.children(id).length === 0;
}

function refsOf(store: ImageStore, id: ImageID): Reference[] {
  return store.refs.refsOf(id).map((r) => parseReference(r));
}

/** All references in one repository, at most one of them a tag (dockerd's isSingleReference); false for none. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => !r.digest);
  if (tags.length > 1) return false;
  const names = new Set(refs.filter((r) => r.digest).map((r) => r.name));
  const single = tags[0] ?? refs[0]!;
  return names.size === 1 && names.has(single.name);
}

function isIdPrefix(id: ImageID, arg: string): boolean {
  return id.startsWith(arg) || hexOf(id).startsWith(arg);
}

/** Containers whose image this is; running ones are those a live process runs (their run lock is held). */
export function containerUsers(store: ImageStore, id: ImageID): Array<{ id: string; running: boolean }> {
  const out: Array<{ id: string; running: boolean }> = [];
  for (const c of store.containersUsing(id)) {
    const cfg = readOptional(`${store.paths.containers}/${c}/config.v2.json`);
    let marked = false;
    try {
      marked = !!(JSON.parse(cfg ?? '{}') as { State?: { Running?: boolean } }).State?.Running;
    } catch {
      /* unreadable: stopped */
    }
    out.push({ id: c, running: marked && runLockHeld(`${store.paths.locks}/ctr-${c}`) });
  }
  return out;
}

function runLockHeld(path: string): boolean {
  if (!fs.existsSync(path)) return false;
  const l = FileLock.tryAcquire(path);
  if (!l) return true;
  l.release();
  return false;
}
