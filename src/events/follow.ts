/**
 * Reading the journal: what it holds between two times, and following it
 * live. A follower keeps events.log open and reads what is appended, woken by
 * inotify on the directory (IN_MODIFY of the file; a rotation is a rename in
 * it), with a slow re-check as a safety net. When the path names a new file
 * (rotated), the old one is read to its end first, then the new one from its
 * start.
 */
import * as fs from 'node:fs';
import { watchPath, type InotifyWatch } from '../native/inotify.js';
import * as native from '../native/index.js';
import type { JournalEvent } from './event.js';
import { journalFile, journalFiles, readFrom } from './journal.js';

export interface ReadRange {
  /** Nanoseconds since the epoch: events at or after it. */
  since?: bigint;
  /** Events at or before it; without it, the journal is followed. */
  until?: bigint;
  /** Which events pass. */
  match?: (e: JournalEvent) => boolean;
  signal?: AbortSignal;
}

const SAFETY_MS = 1000;

function inRange(e: JournalEvent, r: ReadRange): boolean {
  const t = e.timeNano;
  return (r.since === undefined || t >= r.since) && (r.until === undefined || t <= r.until) && (r.match?.(e) ?? true);
}

function openCurrent(dir: string): { fd: number; ino: number } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = fs.openSync(journalFile(dir), fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
  return { fd, ino: fs.fstatSync(fd).ino };
}

/** The events of each rotated file newer than the file `ino` (none when that file is no longer there). */
function rotatedAfter(dir: string, ino: number): JournalEvent[][] {
  const files = journalFiles(dir).filter((f) => f !== journalFile(dir));
  const opened: Array<{ fd: number; ino: number }> = [];
  for (const f of files) {
    try {
      const fd = fs.openSync(f, 'r');
      opened.push({ fd, ino: fs.fstatSync(fd).ino });
    } catch {
      /* rotated away meanwhile */
    }
  }
  try {
    const k = opened.findIndex((o) => o.ino === ino);
    return k < 0 ? [] : opened.slice(k + 1).map((o) => readFrom(o.fd, 0).events);
  } finally {
    for (const o of opened) fs.closeSync(o.fd);
  }
}

/** The stored events in the range, oldest first (no following). */
export function readJournal(dir: string, r: ReadRange = {}): JournalEvent[] {
  const out: JournalEvent[] = [];
  for (const f of journalFiles(dir)) {
    let fd: number;
    try {
      fd = fs.openSync(f, 'r');
    } catch {
      continue; // rotated away meanwhile
    }
    try {
      for (const e of readFrom(fd, 0).events) if (inRange(e, r)) out.push(e);
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

/**
 * The stored events since `since` (none without it), then, until `until` passes
 * or `signal` aborts, each new one as it is written. Ends without error on abort.
 */
export async function* followJournal(dir: string, r: ReadRange): AsyncGenerator<JournalEvent> {
  let cur = openCurrent(dir);
  let wake: (() => void) | undefined;
  let pending = false;
  const onEvent = () => {
    pending = true;
    wake?.();
  };
  const mask = native.IN_MODIFY | native.IN_CREATE | native.IN_MOVED_TO | native.IN_MOVED_FROM;
  let watch: InotifyWatch | undefined = watchPath(dir, mask, onEvent);
  const onAbort = () => wake?.();
  r.signal?.addEventListener('abort', onAbort);
  try {
    let offset = fs.fstatSync(cur.fd).size;
    if (r.since !== undefined) {
      // history: the rotated files, and the current one up to where following starts
      for (const f of journalFiles(dir)) {
        if (f === journalFile(dir)) continue;
        let fd: number;
        try {
          fd = fs.openSync(f, 'r');
        } catch {
          continue;
        }
        try {
          if (fs.fstatSync(fd).ino === cur.ino) continue;
          for (const e of readFrom(fd, 0).events) if (inRange(e, r)) yield e;
        } finally {
          fs.closeSync(fd);
        }
      }
      const h = readFrom(cur.fd, 0, offset);
      offset = h.next;
      for (const e of h.events) if (inRange(e, r)) yield e;
    }
    const untilMs = r.until === undefined ? Infinity : Number(r.until / 1_000_000n);
    for (;;) {
      if (r.signal?.aborted) return;
      pending = false;
      const got = readFrom(cur.fd, offset);
      offset = got.next;
      for (const e of got.events) {
        if (r.until !== undefined && e.timeNano > r.until) return;
        if (inRange(e, r)) yield e;
      }
      // rotated: the old file to its end (done above), then the new one from its start
      let ino: number | undefined;
      try {
        ino = fs.statSync(journalFile(dir)).ino;
      } catch {
        ino = undefined;
      }
      if (ino !== cur.ino) {
        // a writer that opened the old file before the rename may have appended since the read above
        for (const e of readFrom(cur.fd, offset).events) if (inRange(e, r)) yield e;
        // the files rotated after it (several rotations since the last read), oldest first
        for (const f of rotatedAfter(dir, cur.ino)) for (const e of f) if (inRange(e, r)) yield e;
        fs.closeSync(cur.fd);
        cur = openCurrent(dir);
        offset = 0;
        continue;
      }
      const left = untilMs - Date.now();
      if (left < 0) return;
      if (pending) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(SAFETY_MS, left + 1));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    r.signal?.removeEventListener('abort', onAbort);
    watch?.close();
    watch = undefined;
    fs.closeSync(cur.fd);
  }
}
