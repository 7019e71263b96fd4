/**
 * Waiting for a lock another process holds, woken by the kernel instead of a
 * timer: inotify on the lock file reports every last close of a descriptor of
 * it (IN_CLOSE_*), which is how a flock is let go, also by a holder killed
 * outright (its descriptors are closed as it dies); an unlink or rename of the
 * file (IN_ATTRIB, IN_DELETE_SELF, IN_MOVE_SELF) wakes it too, so that the
 * waiter turns to the file now at the path. The watch is set before each
 * attempt, so a release after the attempt is never missed.
 *
 * What no event shows, and so what the slow safety-net re-check is for:
 * - a holder that unlocks without closing (flock(LOCK_UN), e.g. util-linux
 *   `flock -u`; berth never does, it closes);
 * - the kernel reports the close before it drops the lock (__fput calls
 *   fsnotify_close before locks_remove_file), so a waiter can retry in
 *   between and find it still held: after an event whose retry failed come a
 *   few quick re-checks (the "chase", 1 to 32 ms), and only a releaser stalled
 *   longer than that is left to the safety net;
 * - a file whose other users inotify cannot see (a network filesystem shared
 *   with other hosts).
 */
import { watchPath, type InotifyWatch } from '../native/inotify.js';
import * as native from '../native/index.js';
import { aborted, type BerthError } from '../core/errors.js';

/** Why a wait ended. */
export type Wake = 'event' | 'chase' | 'safety' | 'timeout' | 'abort';

/** The re-checks after an event whose retry found the lock still held (ms after each failed one). */
const CHASE_MS = [1, 2, 4, 8, 16, 32];

/** How the waits of this process were woken (for tests and diagnostics): `safety` counts the safety net's re-checks. */
export const lockWakes = { event: 0, chase: 0, safety: 0 };

/** The safety net's period (ms); tests shorten it to see it work. */
export const lockWaitTuning = { safetyMs: 1000 };

const LOCK_MASK =
  native.IN_CLOSE_WRITE | native.IN_CLOSE_NOWRITE | native.IN_ATTRIB | native.IN_DELETE_SELF | native.IN_MOVE_SELF;
const DIR_MASK =
  native.IN_CLOSE_WRITE |
  native.IN_MOVED_TO |
  native.IN_MOVED_FROM |
  native.IN_CREATE |
  native.IN_DELETE |
  native.IN_DELETE_SELF |
  native.IN_MOVE_SELF;

/** The error an aborted wait rejects with. */
export function abortedWait(what: string, signal: AbortSignal): BerthError {
  return aborted(`${what}: the wait`, signal);
}

/** One waiter's watch of a lock file (and of what else should wake it: `also`, e.g. a directory). */
export class LockWatch {
  private readonly watches = new Map<string, InotifyWatch>();
  private pending = false;
  private wake: (() => void) | undefined;
  /** The next chase re-check (index in CHASE_MS) while chasing, -1 otherwise. */
  private chase = -1;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly also: readonly string[] = [],
  ) {}

  private readonly onEvent = (): void => {
    this.pending = true;
    this.wake?.();
  };

  /**
   * Watch the files the paths name now; call before each attempt at the lock.
   * False when there is no lock file at the path (nothing to watch yet).
   */
  arm(): boolean {
    if (this.closed) throw new Error('LockWatch: closed');
    let found = true;
    for (const p of [this.path, ...this.also]) {
      let w: InotifyWatch;
      try {
        w = watchPath(p, p === this.path ? LOCK_MASK : DIR_MASK, this.onEvent);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (p === this.path) found = false;
        continue;
      }
      const old = this.watches.get(p);
      if (old?.wd === w.wd)
        w.close(); // the same file as before
      else {
        old?.close();
        this.watches.set(p, w);
      }
    }
    return found;
  }

  /**
   * Until an event since the last wait (at once if one came meanwhile), the
   * next chase re-check, the safety net, `deadline` (Date.now() ms) or the
   * abort of `signal`, whichever comes first.
   */
  wait(deadline = Infinity, signal?: AbortSignal): Promise<Wake> {
    if (signal?.aborted) return Promise.resolve('abort');
    if (this.pending) return Promise.resolve(this.woken('event'));
    const left = deadline - Date.now();
    if (left <= 0) return Promise.resolve('timeout');
    const chaseMs = this.chase >= 0 && this.chase < CHASE_MS.length ? CHASE_MS[this.chase]! : Infinity;
    let due: { ms: number; why: Wake } = { ms: lockWaitTuning.safetyMs, why: 'safety' };
    if (chaseMs <= due.ms) due = { ms: chaseMs, why: 'chase' };
    if (left < due.ms) due = { ms: left, why: 'timeout' };
    return new Promise<Wake>((resolve) => {
      const done = (why: Wake) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(this.woken(why));
      };
      const onAbort = () => done('abort');
      const timer = due.ms === Infinity ? undefined : setTimeout(() => done(due.why), due.ms);
      this.wake = () => done('event');
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private woken(why: Wake): Wake {
    if (why === 'event') {
      this.pending = false;
      this.chase = 0; // if the retry finds it still held, its holder may be between close and unlock
      lockWakes.event++;
    } else if (why === 'chase') {
      this.chase++;
      lockWakes.chase++;
    } else if (why === 'safety') {
      this.chase = -1;
      lockWakes.safety++;
    }
    return why;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    this.wake = undefined;
  }
}
