/**
 * The event journal: berth/events/ in the data root, written by every berth
 * process and by the monitors of detached containers (native/helper/events.c).
 * One JSON line per event, appended with a single write(2) on an O_APPEND
 * descriptor: the kernel serialises appends to a file, so lines of concurrent
 * writers never interleave, and each writer opens the file at the path anew.
 *
 * Rotation: once events.log passes ROTATE_BYTES, the writer that sees it
 * (holding rotate.lock, without waiting: another rotator does the work)
 * renames events.log.(N-1) -> .N ... events.log -> .1; KEEP_ROTATED files are
 * kept, so the journal holds at most (KEEP_ROTATED + 1) x 1 MiB, some 12 000
 * events of ~330 bytes. A reader reads the rotated files oldest first.
 */
import * as fs from 'node:fs';
import * as native from '../native/index.js';
import { eventJSON, parseLine, type JournalEvent } from './event.js';

export const ROTATE_BYTES = 1 << 20;
export const KEEP_ROTATED = 3;
/** Tests shrink the limit to see rotation work. */
export const journalTuning = { rotateBytes: ROTATE_BYTES, keep: KEEP_ROTATED };

/** The journal's directory in a data root. */
export function journalDir(root: string): string {
  return `${root}/berth/events`;
}

/** The file appended to now. */
export function journalFile(dir: string): string {
  return `${dir}/events.log`;
}

const made = new Set<string>();

/** Append one event (the whole line in one write); rotate when the file is full. Never throws: events are best effort. */
export function appendEvent(dir: string, e: JournalEvent): boolean {
  try {
    appendLine(dir, eventJSON(e) + '\n');
    return true;
  } catch {
    return false;
  }
}

export function appendLine(dir: string, line: string): void {
  if (!made.has(dir)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    made.add(dir);
  }
  const path = journalFile(dir);
  const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT;
  let fd: number;
  try {
    fd = fs.openSync(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); // made again (a root removed meanwhile)
    fd = fs.openSync(path, flags, 0o600);
  }
  try {
    fs.writeSync(fd, Buffer.from(line));
    const st = fs.fstatSync(fd);
    if (st.size >= journalTuning.rotateBytes) rotate(dir, st.ino);
  } finally {
    fs.closeSync(fd);
  }
}

/** Rotate if events.log is still the full file `ino` (another writer may have rotated it meanwhile). */
function rotate(dir: string, ino: number): void {
  const lockFd = fs.openSync(`${dir}/rotate.lock`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    if (!native.flock(lockFd, native.LOCK_EX | native.LOCK_NB)) return; // another writer rotates it
    const path = journalFile(dir);
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch {
      return;
    }
    if (st.ino !== ino || st.size < journalTuning.rotateBytes) return;
    const keep = journalTuning.keep;
    fs.rmSync(`${path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${path}.${i}`, `${path}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    fs.renameSync(path, `${path}.1`);
  } finally {
    fs.closeSync(lockFd); // closing lets go of the flock
  }
}

/** The journal's files, oldest first (those that exist). */
export function journalFiles(dir: string): string[] {
  const path = journalFile(dir);
  const out: string[] = [];
  for (let i = journalTuning.keep + 2; i >= 1; i--) if (fs.existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  if (fs.existsSync(path)) out.push(path);
  return out;
}

/** Complete lines of a buffer as events; the bytes after the last newline are returned as the rest. */
export function splitEvents(buf: Buffer): { events: JournalEvent[]; rest: Buffer } {
  const events: JournalEvent[] = [];
  let start = 0;
  for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
    const e = parseLine(buf.toString('utf8', start, nl));
    if (e) events.push(e);
    start = nl + 1;
  }
  return { events, rest: buf.subarray(start) };
}

/** Every event of a file from `offset` up to `end` (default: its end), and where the complete lines ended. */
export function readFrom(fd: number, offset: number, end = Infinity): { events: JournalEvent[]; next: number } {
  const chunks: Buffer[] = [];
  let pos = offset;
  const buf = Buffer.allocUnsafe(1 << 16);
  while (pos < end) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n <= 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
  const { events, rest } = splitEvents(Buffer.concat(chunks));
  return { events, next: pos - rest.length };
}
