/**
 * Remembered tarsums of a context directory's files, so a rebuild hashes only
 * what changed (what `docker build` does over again on every upload). An entry
 * is used only while the file's inode, size, mode, owner, mtime and ctime are
 * those it was hashed with; ctime changes with any write or metadata change, so
 * a stale sum cannot be read. A file changed in the last two seconds is not
 * remembered (its next change could keep the same times: git's "racily clean").
 * One JSON file per context path under the store's berth/cache, written
 * atomically; a missing or unreadable file is an empty cache.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { ContextEntry } from './tree.js';

type Row = [key: string, sum: string];

export class SumCache {
  private rows = new Map<string, Row>();
  private dirty = false;

  private constructor(private readonly file: string) {}

  /** The cache of context directory `root` kept in `dir`. */
  static open(dir: string, root: string): SumCache {
    const c = new SumCache(`${dir}/${createHash('sha256').update(root).digest('hex').slice(0, 32)}.json`);
    try {
      const data = JSON.parse(fs.readFileSync(c.file, 'utf8')) as Record<string, Row>;
      for (const [rel, row] of Object.entries(data)) if (Array.isArray(row) && row.length === 2) c.rows.set(rel, row);
    } catch {
      /* none yet, or unreadable: start empty */
    }
    return c;
  }

  /** The entry's sum: remembered, or computed by `sum` (and remembered when the file is not fresh). */
  get(e: ContextEntry, sum: () => string | undefined): string | undefined {
    if (!e.st) return sum();
    const key = keyOf(e);
    const row = this.rows.get(e.rel);
    if (row && row[0] === key) return row[1];
    const s = sum();
    if (s !== undefined && Date.now() - Math.max(e.st.ctimeMs, e.st.mtimeMs) > 2000) {
      this.rows.set(e.rel, [key, s]);
      this.dirty = true;
    }
    return s;
  }

  /** Write what changed (best effort: a cache that cannot be written only costs time). */
  save(): void {
    if (!this.dirty) return;
    try {
      fs.mkdirSync(this.file.slice(0, this.file.lastIndexOf('/')), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.rows)), { mode: 0o600 });
      fs.renameSync(tmp, this.file);
      this.dirty = false;
    } catch {
      /* read-only store or full disk: next build hashes again */
    }
  }
}

function keyOf(e: ContextEntry): string {
  const st = e.st!;
  return [
    st.dev,
    st.ino,
    st.size,
    st.mode,
    st.uid,
    st.gid,
    st.mtimeMs,
    st.ctimeMs,
    e.kind,
    e.linkname,
    e.hardlinkOf ?? '',
  ].join(':');
}
