import * as fs from 'node:fs';
import * as native from '../native/index.js';
import { LocalLock } from './local-lock.js';
import { abortedWait, LockWatch } from './lock-watch.js';

/** How FileLock.acquireWithin waits. */
export interface LockWaitOptions {
  mode?: 'shared' | 'exclusive';
  /** Make the lock file if missing (default true). */
  create?: boolean;
  /** Ends the wait: the promise rejects with a BerthError (Unavailable, code 'aborted'). */
  signal?: AbortSignal;
  /** Checked after each attempt that found the lock held: true ends the wait (undefined). */
  giveUp?: () => boolean;
  /** More paths whose changes wake the wait (for `giveUp`), e.g. a directory. */
  wakeOn?: readonly string[];
}

/**
 * An advisory lock on a file (flock). The kernel drops it when the holder dies,
 * so a killed berth never leaves a store locked.
 *
 * flock excludes open file descriptions, not async operations: in front of it,
 * every path has an in-process queue (LocalLock), so that requests of one
 * process wait for each other in turn, on promises, and only the one at the
 * head of the queue tries the file. Waiting for another process is woken by
 * inotify on the lock file (LockWatch: the holder's last close of it), and
 * retries with LOCK_NB (a blocking flock would stop the event loop or hold a
 * thread of the pool that the holder may need). The waiter keeps its own
 * descriptor open between attempts: closing it would wake itself.
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

  /** Wait for the lock however long it is held; an abort of `signal` rejects (BerthError, code 'aborted'). */
  static async acquire(
    path: string,
    mode: 'shared' | 'exclusive' = 'exclusive',
    opts: { signal?: AbortSignal } = {},
  ): Promise<FileLock> {
    return (await FileLock.acquireWithin(path, Infinity, { mode, create: true, signal: opts.signal }))!;
  }

  /**
   * Wait up to `timeoutMs` for the lock; undefined on timeout (or, without
   * create, when the file does not exist, or when `giveUp` says so on a wake).
   * An abort of `signal` rejects (BerthError Unavailable, code 'aborted') and
   * leaves nothing behind: no queued request, no watch, no descriptor.
   * `wakeOn`: more paths (directories) whose changes should re-check `giveUp`.
   */
  static async acquireWithin(
    path: string,
    timeoutMs: number,
    opts: LockWaitOptions = {},
  ): Promise<FileLock | undefined> {
    const end = Date.now() + timeoutMs;
    const exclusive = opts.mode !== 'shared';
    const create = opts.create ?? true;
    const signal = opts.signal;
    const aborted = () => abortedWait(`lock "${path}"`, signal!);
    const local = await LocalLock.of(path).acquire(exclusive, timeoutMs, signal, aborted);
    if (!local) return undefined;
    const held = { fd: -1 };
    let watch: LockWatch | undefined;
    let got: FileLock | 'busy' | 'missing' | undefined;
    try {
      for (;;) {
        const found = watch?.arm() ?? true; // the watch before the attempt: no release after it goes unseen
        got = FileLock.lockOnce(path, exclusive, create, local, held);
        if (got !== 'busy' || opts.giveUp?.()) break;
        if (!watch) {
          watch = new LockWatch(path, opts.wakeOn);
          continue; // armed, then tried again
        }
        if (!found) continue; // the file was made by this attempt: watch it, then try again
        const why = await watch.wait(end, signal);
        if (why === 'abort') throw aborted();
        if (why === 'timeout') break;
      }
    } finally {
      if (held.fd >= 0) fs.closeSync(held.fd);
      watch?.close();
      if (typeof got !== 'object') local(); // not taken (also on an error): the next request of this process may try
    }
    return typeof got === 'object' ? got : undefined;
  }

  /** Try once; undefined when someone else holds it (or, without create, when the file does not exist). */
  static tryAcquire(path: string, create = false): FileLock | undefined {
    const local = LocalLock.of(path).tryAcquire(true);
    if (!local) return undefined;
    const held = { fd: -1 };
    try {
      const got = FileLock.lockOnce(path, true, create, local, held);
      if (typeof got !== 'string') return got;
    } catch (err) {
      local();
      throw err;
    } finally {
      if (held.fd >= 0) fs.closeSync(held.fd);
    }
    local();
    return undefined;
  }

  /**
   * One attempt, retried at once only when the file locked was unlinked meanwhile by its holder. `held.fd`: the
   * descriptor of the file at the path kept from a busy attempt (reused, and left open when busy again); it is the
   * caller's to close unless the lock is taken.
   */
  private static lockOnce(
    path: string,
    exclusive: boolean,
    create: boolean,
    local: () => void,
    held: { fd: number },
  ): FileLock | 'busy' | 'missing' {
    for (;;) {
      if (held.fd < 0) {
        try {
          held.fd = fs.openSync(path, fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0), 0o600);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
          throw err;
        }
      }
      const fd = held.fd;
      const got = native.flock(fd, (exclusive ? native.LOCK_EX : native.LOCK_SH) | native.LOCK_NB);
      // the file locked (or waited for) must be the one at the path: else another try, on the file there now
      if (stillAtPath(fd, path)) {
        if (!got) return 'busy';
        held.fd = -1;
        return new FileLock(path, fd, exclusive, local);
      }
      held.fd = -1;
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
export async function withLock<T>(
  path: string,
  fn: () => Promise<T> | T,
  opts: { signal?: AbortSignal } = {},
): Promise<T> {
  const l = await FileLock.acquire(path, 'exclusive', opts);
  try {
    return await fn();
  } finally {
    l.release();
  }
}
