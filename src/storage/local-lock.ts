import { resolve } from 'node:path';

interface Waiter {
  exclusive: boolean;
  grant(): void;
}

/**
 * The in-process side of a file lock: a fair readers-writer queue per lock
 * path. Two async operations of one process must not both believe they hold
 * the same flock, and they must not race each other to the file either: they
 * wait here on promises, first come first served (a shared request behind a
 * waiting exclusive one waits too, so that writers are not starved), and only
 * the holders go on to the file.
 */
export class LocalLock {
  private static readonly byPath = new Map<string, LocalLock>();
  private shared = 0;
  private exclusive = false;
  private readonly waiters: Waiter[] = [];

  private constructor(private readonly key: string) {}

  /** The queue of a path (one per file, however the path is spelt). */
  static of(path: string): LocalLock {
    const key = resolve(path);
    let l = LocalLock.byPath.get(key);
    if (!l) {
      l = new LocalLock(key);
      LocalLock.byPath.set(key, l);
    }
    return l;
  }

  /** Requests of this process that hold or wait for the path (for tests and diagnostics). */
  static pending(path: string): { holders: number; waiters: number } {
    const l = LocalLock.byPath.get(resolve(path));
    if (!l) return { holders: 0, waiters: 0 };
    return { holders: l.shared + (l.exclusive ? 1 : 0), waiters: l.waiters.length };
  }

  /** Take it at once if no request of this process holds it incompatibly or waits for it; the release function. */
  tryAcquire(exclusive: boolean): (() => void) | undefined {
    if (this.waiters.length > 0 || !this.compatible(exclusive)) return undefined;
    return this.take(exclusive);
  }

  /**
   * Wait for this process's turn; undefined when `timeoutMs` passes first. An
   * abort of `signal` rejects with `aborted()`. Either way the request leaves the queue.
   */
  acquire(
    exclusive: boolean,
    timeoutMs = Infinity,
    signal?: AbortSignal,
    aborted: () => Error = () => new Error('aborted'),
  ): Promise<(() => void) | undefined> {
    if (signal?.aborted) return Promise.reject(aborted());
    const now = this.tryAcquire(exclusive);
    if (now) return Promise.resolve(now);
    return new Promise((res, rej) => {
      const w: Waiter = {
        exclusive,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          res(this.take(exclusive));
        },
      };
      const leave = (): boolean => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(w);
        if (i < 0) return false;
        this.waiters.splice(i, 1);
        this.grantWaiting(); // those it kept waiting may go now
        return true;
      };
      const onAbort = () => {
        if (leave()) rej(aborted());
      };
      const timer =
        timeoutMs === Infinity
          ? undefined
          : setTimeout(
              () => {
                if (leave()) res(undefined);
              },
              Math.max(timeoutMs, 0),
            );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  private compatible(exclusive: boolean): boolean {
    return exclusive ? !this.exclusive && this.shared === 0 : !this.exclusive;
  }

  private take(exclusive: boolean): () => void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (exclusive) this.exclusive = false;
      else this.shared--;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.waiters.length > 0 && this.compatible(this.waiters[0]!.exclusive)) this.waiters.shift()!.grant();
    if (this.waiters.length === 0 && this.shared === 0 && !this.exclusive) LocalLock.byPath.delete(this.key);
  }
}
