import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { invalid } from '../core/errors.js';
import { DirWatch } from './dir-watch.js';

/** One record of Docker's json-file log. */
export interface LogRecord {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/**
 * A `--since`/`--until` value as Docker takes it: an RFC 3339 date or time
 * (with or without zone), a Unix timestamp (fractions allowed), or a duration
 * before now ("10m", "1h30m", "2.5s"). Returns ms since the epoch.
 */
export function parseLogTime(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v);
  if (d) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!;
    return now - ms;
  }
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (Number.isNaN(t))
    throw invalid(
      'invalid_time',
      `invalid time value ${JSON.stringify(v)}: an RFC 3339 time, a Unix timestamp or a duration like 10m`,
    );
  return t;
}

/** Nanosecond timestamps compare as text only with the same precision: milliseconds are enough for since/until. */
function recordMs(r: LogRecord): number {
  return Date.parse(r.time);
}

export function parseRecord(line: string): LogRecord | undefined {
  try {
    const r = JSON.parse(line) as LogRecord;
    return typeof r.log === 'string' && (r.stream === 'stdout' || r.stream === 'stderr') ? r : undefined;
  } catch {
    return undefined; // a torn last line (the monitor is writing it)
  }
}

/** The log files of a container, oldest first: <log>.N ... <log>.1, <log>. */
export function logFiles(path: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; fs.existsSync(`${path}.${i}`); i++) rotated.unshift(`${path}.${i}`);
  return fs.existsSync(path) ? [...rotated, path] : rotated;
}

export interface LogOptions {
  tail?: number;
  since?: number;
  until?: number;
  follow?: boolean;
  /** Whether the container still runs (following stops once it does not and the log is drained). */
  live: () => boolean;
  /** Stops a follow early. */
  signal?: AbortSignal;
  write: (r: LogRecord) => void;
}

/** Print a container's log (`docker logs`), following it with `follow` until the container stops. */
export async function readLogs(path: string, o: LogOptions): Promise<void> {
  const keep = (r: LogRecord) =>
    (o.since === undefined || recordMs(r) >= o.since) && (o.until === undefined || recordMs(r) <= o.until);
  let records: LogRecord[] = [];
  let fd = -1;
  let ino = 0;
  let pos = 0;
  let partial = '';
  const files = logFiles(path);
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    if (f === path) {
      // keep reading the live file from where this read ended (complete lines only)
      const end = text.lastIndexOf('\n') + 1;
      fd = fs.openSync(f, 'r');
      ino = fs.fstatSync(fd).ino;
      pos = Buffer.byteLength(text.slice(0, end));
      for (const l of text.slice(0, end).split('\n')) {
        const r = l && parseRecord(l);
        if (r && keep(r)) records.push(r);
      }
    } else {
      for (const l of text.split('\n')) {
        const r = l && parseRecord(l);
        if (r && keep(r)) records.push(r);
      }
    }
  }
  if (o.tail !== undefined && o.tail >= 0) records = o.tail === 0 ? [] : records.slice(-o.tail);
  for (const r of records) o.write(r);
  if (!o.follow) {
    if (fd >= 0) fs.closeSync(fd);
    return;
  }
  const buf = Buffer.alloc(65536);
  const drain = () => {
    if (fd < 0) return;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      pos += n;
      partial += buf.subarray(0, n).toString('utf8');
      const end = partial.lastIndexOf('\n');
      if (end < 0) continue;
      for (const l of partial.slice(0, end).split('\n')) {
        const r = l && parseRecord(l);
        if (r && keep(r)) o.write(r);
      }
      partial = partial.slice(end + 1);
    }
  };
  // appends, rotations and the container's end all change its directory
  const watch = new DirWatch(dirname(path));
  try {
    for (;;) {
      drain();
      // rotated: finish the old file (done above), continue with the new one from its start
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(path);
      } catch {
        st = undefined;
      }
      if (st && st.ino !== ino) {
        if (fd >= 0) fs.closeSync(fd);
        fd = fs.openSync(path, 'r');
        ino = st.ino;
        pos = 0;
        partial = '';
        continue;
      }
      if (st && fd >= 0 && st.size < pos) {
        pos = 0;
        partial = '';
        continue;
      } // truncated (max-file 1)
      if (!o.live()) {
        drain();
        break;
      }
      if (o.until !== undefined && Date.now() > o.until) break;
      if (o.signal?.aborted) break;
      await watch.next(o.until === undefined ? Infinity : o.until - Date.now() + 1, o.signal);
    }
  } finally {
    watch.close();
    if (fd >= 0) fs.closeSync(fd);
  }
}
