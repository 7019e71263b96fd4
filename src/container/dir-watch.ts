/**
 * Waiting for what another process does to a container (its monitor, the
 * berth that runs it, a removal) without polling: inotify on the container's
 * directory wakes the waiter on every write there. A run's end is always
 * written there first (the monitor's state.json, the record, the removal's
 * rename) and the run lock is let go a moment later, which no event shows, so
 * an event is followed by a few quick re-checks; with no events, a slow
 * re-check catches what inotify cannot see (a berth killed outright).
 */
import * as native from '../native/index.js';
import { watchPath } from '../native/inotify.js';

/** The slow re-check while nothing happens. */
const IDLE_MS = 1000;
/** The first re-check after an event; then doubling up to IDLE_MS. */
const FIRST_MS = 5;

export interface WatchOptions {
  /** Give up after this long: `until` returns undefined. */
  timeoutMs?: number;
  /** Names in the directory whose changes do not concern the waiter (a chatty container's log). */
  ignore?: (name: string) => boolean;
  /** Ends the wait early: `until` returns undefined. */
  signal?: AbortSignal;
}

/** What libuv's fs.watch asks the kernel for on a directory: every change of an entry, and of the directory itself. */
const DIR_MASK =
  native.IN_MODIFY |
  native.IN_ATTRIB |
  native.IN_CREATE |
  native.IN_DELETE |
  native.IN_MOVED_FROM |
  native.IN_MOVED_TO |
  native.IN_DELETE_SELF |
  native.IN_MOVE_SELF;

/**
 * A watch of `dir` on berth's one inotify instance (src/native/inotify.ts, which the
 * lock waits use too and which shares the kernel's watch between the waiters of one
 * directory); it does not keep the process alive. Undefined when there is no such
 * directory (removed already) or no inotify: the slow re-check alone then.
 */
function subscribe(dir: string, listener: (name: string | undefined) => void): (() => void) | undefined {
  try {
    const w = watchPath(dir, DIR_MASK, (e) => listener(e.name ?? undefined), { persistent: false });
    return () => w.close();
  } catch {
    return undefined;
  }
}

/** Wakes on changes in one directory, or after a delay. */
export class DirWatch {
  private unsubscribe: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private changed = false;
  private delay = IDLE_MS;

  constructor(dir: string, ignore: (name: string) => boolean = () => false) {
    this.unsubscribe = subscribe(dir, (name) => {
      if (name && ignore(name)) return;
      this.changed = true;
      this.wake?.();
    });
  }

  /** Until a change (true; also one since the last call) or `ms` pass (false). */
  private async sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.changed || signal?.aborted) {
      this.changed = false;
      return !signal?.aborted;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      signal?.addEventListener('abort', done, { once: true });
    });
    const was = this.changed;
    this.changed = false;
    return was;
  }

  /**
   * The pause before the next re-check: until a change, or at most `maxMs`
   * and the current delay (short right after a change, growing back to the
   * slow re-check while nothing happens).
   */
  async next(maxMs = Infinity, signal?: AbortSignal): Promise<void> {
    const changed = await this.sleep(Math.min(this.delay, maxMs), signal);
    this.delay = changed ? FIRST_MS : Math.min(this.delay * 2, IDLE_MS);
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

/**
 * Until `check` returns a value (that value), re-checked on each change in
 * `dir`, quickly after one and slowly without; undefined on timeout or abort.
 */
export async function until<T>(
  dir: string,
  check: () => T | undefined,
  opts: WatchOptions = {},
): Promise<T | undefined> {
  const end = Date.now() + (opts.timeoutMs ?? Infinity);
  const watch = new DirWatch(dir, opts.ignore);
  try {
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = end - Date.now();
      if (left <= 0 || opts.signal?.aborted) return undefined;
      await watch.next(left, opts.signal);
    }
  } finally {
    watch.close();
  }
}

/** Log files (the live one and its rotations) of a container's directory, whose writes wake no state waiter. */
export function isLogFile(name: string): boolean {
  return /-json\.log(\.\d+)?$/.test(name);
}
