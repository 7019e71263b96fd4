import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as native from '../native/index.js';

/**
 * An advisory lock on a file (flock). The kernel drops it when the holder dies,
 * so a killed berth never leaves a store locked. Waiting polls with LOCK_NB so
 * the event loop keeps running.
 */
export class FileLock {
  private constructor(readonly path: string, private fd: number) {}

  static async acquire(path: string, mode: 'shared' | 'exclusive' = 'exclusive'): Promise<FileLock> {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    const op = (mode === 'shared' ? native.LOCK_SH : native.LOCK_EX) | native.LOCK_NB;
    let delay = 1;
    try {
      while (!native.flock(fd, op)) {
        await sleep(delay);
        delay = Math.min(delay * 2, 50);
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return new FileLock(path, fd);
  }

  /** Try once; undefined when someone else holds it (or, without create, when the file does not exist). */
  static tryAcquire(path: string, create = false): FileLock | undefined {
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDWR | (create ? fs.constants.O_CREAT : 0), 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (native.flock(fd, native.LOCK_EX | native.LOCK_NB)) return new FileLock(path, fd);
    fs.closeSync(fd);
    return undefined;
  }

  /** The locked descriptor: a process that inherits it holds the lock too, until every copy is closed. */
  get descriptor(): number {
    return this.fd;
  }

  release(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd); // closing drops the flock
    this.fd = -1;
  }
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
