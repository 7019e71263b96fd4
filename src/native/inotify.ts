/**
 * One inotify instance for this thread, shared by every watch: the native
 * watcher (native/berth_native.c) is read by the event loop and hands each
 * batch of events here, which passes each event to the watches of its
 * descriptor. The kernel gives one descriptor per inode and instance, so the
 * watches of one file share it (their masks added up); it is removed with the
 * last of them. The instance keeps the event loop alive only while a
 * persistent watch exists.
 *
 * @module
 */
import * as native from './index.js';

/** One event: its mask, and for a watched directory the name of the entry concerned. */
export interface InotifyEvent {
  mask: number;
  name: string | null;
}

/** A watch on one path's inode (as the path named it when it was added). */
export interface InotifyWatch {
  /** The kernel's watch descriptor: equal for two watches of one inode. */
  readonly wd: number;
  /** Stop delivering; the kernel's watch goes with the last watch of its inode. Again is a no-op. */
  close(): void;
}

interface Sub {
  mask: number;
  persistent: boolean;
  listener: (e: InotifyEvent) => void;
}

let handle: native.InotifyHandle | undefined;
const byWd = new Map<number, Set<Sub>>();
let persistentSubs = 0;

/** What the watcher read, for tests and diagnostics: batches (wake-ups of the event loop) and events. */
export const inotifyCounters = { batches: 0, events: 0 };

function deliver(sub: Sub, e: InotifyEvent): void {
  try {
    sub.listener(e);
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

function dispatch(batch: native.InotifyBatch): void {
  inotifyCounters.batches++;
  for (let i = 0; i + 2 < batch.length; i += 3) {
    const wd = batch[i] as number;
    const e: InotifyEvent = { mask: batch[i + 1] as number, name: batch[i + 2] as string | null };
    inotifyCounters.events++;
    if (e.mask & native.IN_Q_OVERFLOW) {
      // events were lost: every watch may have missed its own
      for (const set of [...byWd.values()]) for (const s of [...set]) deliver(s, e);
      continue;
    }
    const set = byWd.get(wd);
    if (!set) continue; // a watch closed meanwhile
    // the kernel dropped the watch (its inode deleted): its watches hear it (and should watch the path again)
    if (e.mask & native.IN_IGNORED) byWd.delete(wd);
    for (const s of [...set]) if (e.mask & (s.mask | native.IN_IGNORED)) deliver(s, e);
  }
}

/**
 * Watch the inode `path` names now for the events of `mask`. `persistent`
 * (default true): the event loop stays alive while the watch is open. Throws
 * NativeError (ENOENT when there is no such file).
 */
export function watchPath(
  path: string,
  mask: number,
  listener: (e: InotifyEvent) => void,
  opts: { persistent?: boolean } = {},
): InotifyWatch {
  const h = (handle ??= native.inotifyOpen(dispatch));
  const wd = native.inotifyAdd(h, path, mask | native.IN_MASK_ADD);
  let set = byWd.get(wd);
  if (!set) byWd.set(wd, (set = new Set()));
  const sub: Sub = { mask, persistent: opts.persistent ?? true, listener };
  set.add(sub);
  if (sub.persistent && persistentSubs++ === 0) native.inotifyRef(h, true);
  const subs = set;
  let closed = false;
  return {
    wd,
    close() {
      if (closed) return;
      closed = true;
      subs.delete(sub);
      if (subs.size === 0 && byWd.get(wd) === subs) {
        byWd.delete(wd);
        native.inotifyRm(h, wd); // false: the kernel had dropped it already
      }
      if (sub.persistent && --persistentSubs === 0) native.inotifyRef(h, false);
    },
  };
}

/** Watches open now: kernel watch descriptors and watches (for tests: a finished wait leaves none). */
export function openWatches(): { wds: number; watches: number } {
  let watches = 0;
  for (const s of byWd.values()) watches += s.size;
  return { wds: byWd.size, watches };
}
