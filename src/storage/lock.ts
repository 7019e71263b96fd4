import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as native from '../native/index.js';
import { LocalLock } from './local-lock.js';

/**
 * An advisory lock on a file (flock). The kernel drops it when the holder dies,
 * so a killed berth never leaves a store locked.
 *
 * flock excludes open file descriptions, not async operations: in front of it,
 * every path has an in-process queue (LocalLock), so that requests of one
 * process wait for each other in turn, on promises, and only the one at the
 * head of the queue tries the file. Waiting for another process polls with
 * LOCK_NB on timers (a blocking flock would stop the event loop or hold a
 * thread of the pool that the holder may need).
 *
 * A lock file that is no longer needed is unlinked by its holder (`remove`),
 * never by anyone else. A locker that opened the file before the unlink locks
 * an inode nobody else will ever lock again, so every lock taken here is checked
 * to be the file still at its path (the descriptor's inode is the path's) and
 * taken again on the new file otherwise.
 */
export class FileLock {
  private constructor(
    readonly path: string,
    private fd: number,
    private readonly exclusive: boolean,
    private readonly local: () => void,
  ) {}

  static async acquire(path: string, mode: 'shared' | 'exclusive' = 'exclusive'): Promise<FileLock> {
    return (await FileLock.acquireWithin(path, Infinity, { mode, create: true }))!;
  }

  /**
   * Wait up to `timeoutMs` for the lock; undefined on timeout (or, without
   * create, when the file does not exist).
   */
  static async acquireWithin(
    path: string,
    timeoutMs: number,
    opts: { mode?: 'shared' | 'exclusive'; create?: boolean } = {},
  ): Promise<FileLock | undefined> {
    const end = Date.now() + timeoutMs;
    const exclusive = opts.mode !== 'shared';
    const local = await LocalLock.of(path).acquire(exclusive, timeoutMs);
    if (!local) return undefined;
    let delay = 1;
    try {
      for (;;) {
        const got = FileLock.lockOnce(path, exclusive, opts.create ?? true, local);
        if (got === 'missing') break;
        if (got !== 'busy') return got;
        if (Date.now() >= end) break;
        await sleep(Math.min(delay, Math.max(end - Date.now(), 0)));
        delay = Math.min(delay * 2, 50);
      }
    } catch (err) {
      local();
      throw err;
    }
    local();
    return undefined;
  }

  /** Try once; undefined when someone else holds it (or, without create, when the file does not exist). */
  static tryAcquire(path: string, create = false): FileLock | undefined {
    const local = LocalLock.of(path).tryAcquire(true);
    if (!local) return undefined;
    try {
      const got = FileLock.lockOnce(path, true, create, local);
      if (typeof got !== 'string') return got;
    } catch (err) {
      local();
      throw err;
    }
    local();
    return undefined;
  }

  /** One attempt, retried at once only when the file locked was unlinked meanwhile by its holder. */
  private static lockOnce(
    path: string,
    exclusive: boolean,
    create: boolean,
    local: () => void,
  ): FileLock | 'busy' | 'missing' {
    for (;;) {
      let fd: number;
      try {
        fd = fs.openSync(path, fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0), 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
        throw err;
      }
      try {
        if (!native.flock(fd, (exclusive ? native.LOCK_EX : native.LOCK_SH) | native.LOCK_NB)) {
          fs.closeSync(fd);
          return 'busy';
        }
        if (stillAtPath(fd, path)) return new FileLock(path, fd, exclusive, local);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      fs.closeSync(fd);
    }
  }

  /** The locked descriptor: a process that inherits it holds the lock too, until every copy is closed. */
  get descriptor(): number {
    return this.fd;
  }

  release(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd); // closing drops the flock
    this.fd = -1;
    this.local(); // then the next request of this process may try the file
  }

  /**
   * Unlink the lock file, then release it: for a lock whose subject is gone (a
   * removed container, a layer now registered). Only an exclusive holder may:
   * a shared one does not keep others from holding the file.
   */
  remove(): void {
    if (this.fd < 0) return;
    if (!this.exclusive) throw new Error(`remove lock "${this.path}": held shared`);
    try {
      fs.unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      this.release();
    }
  }
}

/** Whether the descriptor is the file at `path` (not one unlinked, or unlinked and made again, since it was opened). */
function stillAtPath(fd: number, path: string): boolean {
  const held = fs.fstatSync(fd);
  let now: fs.Stats;
  try {
    now = fs.statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  return held.ino === now.ino && held.dev === now.dev;
}

/** Run fn while holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T> | T): Promise<T> {
  const l = await FileLock.acquire(path);
  try {
    return await fn();
  } finally {
    l.release();
  }
}
