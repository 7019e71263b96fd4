/**
 * A container's run lock, `berth/locks/ctr-<id>`: held (flock) by whoever runs
 * the container, or briefly by a berth that settles, copies into or removes it.
 * The file lives as long as the container: removal unlinks it while holding
 * it, and a locker that finds the container gone removes the file it locked
 * (FileLock re-checks that the file locked is the one at the path), so no
 * lock outlives its container however the two race.
 */
import * as fs from 'node:fs';
import { FileLock } from '../storage/lock.js';

export interface RunLockPlace {
  /** The lock file. */
  path: string;
  /** The container's directory: the container exists while it does. */
  dir: string;
}

/**
 * The lock if nobody holds it, 'busy' if somebody does, undefined when the
 * container does not exist (any lock file it left is removed on the way). The
 * file of an existing container is made on demand.
 */
export function tryRunLock(at: RunLockPlace): FileLock | 'busy' | undefined {
  const exists = fs.existsSync(at.dir);
  const l = FileLock.tryAcquire(at.path, exists);
  if (!l) return exists || fs.existsSync(at.path) ? 'busy' : undefined;
  if (fs.existsSync(at.dir)) return l;
  // removed meanwhile, or before: its lock has no use left, and we hold it, so it may go
  l.remove();
  return undefined;
}

/**
 * tryRunLock, waiting up to waitMs for a holder to let go (woken by the
 * release: see FileLock); 'busy' if none did, or when `giveUp` said so on a
 * wake (`wakeOn`: more paths whose changes wake it for that). An abort of
 * `signal` rejects (BerthError, code 'aborted').
 */
export async function waitRunLock(
  at: RunLockPlace,
  waitMs: number,
  opts: { signal?: AbortSignal; giveUp?: () => boolean; wakeOn?: readonly string[] } = {},
): Promise<FileLock | 'busy' | undefined> {
  const exists = fs.existsSync(at.dir);
  const l = await FileLock.acquireWithin(at.path, waitMs, { create: exists, ...opts });
  if (!l) return exists || fs.existsSync(at.path) ? 'busy' : undefined;
  if (fs.existsSync(at.dir)) return l;
  // removed meanwhile, or before: its lock has no use left, and we hold it, so it may go
  l.remove();
  return undefined;
}

/**
 * Remove the lock files in `locksDir` of containers that do not exist (a berth
 * killed while removing one, or stores from before removal took them along).
 */
export function sweepRunLocks(
  locksDir: string,
  place: (id: string) => RunLockPlace,
  existing: ReadonlySet<string>,
): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(locksDir);
  } catch {
    return;
  }
  for (const n of names) {
    const id = /^ctr-([0-9a-f]{64})$/.exec(n)?.[1];
    if (!id || existing.has(id)) continue;
    const l = tryRunLock(place(id));
    if (l && l !== 'busy') l.release();
  }
}
