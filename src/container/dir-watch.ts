/**
 * Waiting for what another process does to a container (its monitor, the
 * berth that runs it, a removal) without polling: inotify on the container's
 * directory wakes the waiter on every write there. A run's end is always
 * written there first (the monitor's state.json, the record, the removal's
 * rename) and the run lock is let go a moment later, which no event shows, so
 * an event is followed by a few quick re-checks; with no events, a slow
 * re-check catches what inotify cannot see (a berth killed outright).
 */
import * as fs from 'node:fs';

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

/**
 * One inotify watch per directory for the whole process: libuv shares the
 * kernel's watch between the watchers of a path, and closing one of them can
 * leave the others deaf, so waiters share one watcher and it is closed with the last.
 */
const watches = new Map<string, { watcher: fs.FSWatcher; listeners: Set<(name: string | undefined) => void> }>();

function subscribe(dir: string, listener: (name: string | undefined) => void): (() => void) | undefined {
  let w = watches.get(dir);
  if (!w) {
    const listeners = new Set<(name: string | undefined) => void>();
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        for (const l of [...listeners]) l(name?.toString());
      });
    } catch {
      return undefined; // no directory (removed already), or no inotify: the slow re-check alone
    }
    // the directory removed (the container with it): the re-checks see that; the watch has nothing left to say
    watcher.on('error', () => {
      watcher.close();
      if (watches.get(dir)?.watcher === watcher) watches.delete(dir);
    });
    w = { watcher, listeners };
    watches.set(dir, w);
  }
  const entry = w;
  entry.listeners.add(listener);
  return () => {
    entry.listeners.delete(listener);
    if (entry.listeners.size || watches.get(dir) !== entry) return;
    watches.delete(dir);
    entry.watcher.close();
  };
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
