import * as fs from 'node:fs';
import { mkdirp } from './fsutil.js';
import { FileLock } from './lock.js';
import type { StorePaths } from './paths.js';

/**
 * Partial downloads: the bytes of a registry blob received so far, kept when a pull fails
 * or is killed so that the next pull of the blob resumes where this one stopped
 * (`berth/partial/<algorithm>-<hex>`, beside berth's journals and locks; Docker's layout
 * has no place for them). The file is its own lock: a pull holds it (flock, through
 * FileLock) for as long as it may write it, so `system check` reports it as in use and
 * `system prune` leaves it alone; its holder removes it once the blob is in the store or
 * its bytes proved wrong. Whatever the file holds, the blob's digest is checked over all of
 * it (kept bytes and new ones alike): a wrong partial costs a download, never a bad layer.
 */

/** "sha256:ab..." -> "sha256-ab...", or undefined for a digest no file should be named after. */
export function partialName(digest: string): string | undefined {
  const m = /^([a-z0-9]+):([a-f0-9]{32,128})$/.exec(digest);
  return m ? `${m[1]}-${m[2]}` : undefined;
}

/** The digest a partial file's name stands for ("sha256-ab..." -> "sha256:ab..."), or undefined. */
export function digestOfPartial(name: string): string | undefined {
  const m = /^([a-z0-9]+)-([a-f0-9]{32,128})$/.exec(name);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/** One partial download, locked by this process: the bytes kept so far, appended to as they arrive. */
export class PartialBlob {
  private written: number;
  private synced: boolean;

  private constructor(
    readonly digest: string,
    private readonly lock: FileLock,
  ) {
    this.written = fs.fstatSync(lock.descriptor).size;
    this.synced = true;
  }

  /**
   * Take the partial file of `digest` (made empty if there is none); undefined when another
   * pull holds it (that one downloads the blob: this one goes without a partial file).
   */
  static open(paths: StorePaths, digest: string): PartialBlob | undefined {
    const name = partialName(digest);
    if (!name) return undefined;
    mkdirp(paths.partial, 0o700);
    const lock = FileLock.tryAcquire(`${paths.partial}/${name}`, true);
    return lock ? new PartialBlob(digest, lock) : undefined;
  }

  /** Bytes kept. */
  get size(): number {
    return this.written;
  }

  get path(): string {
    return this.lock.path;
  }

  /** The kept bytes from the start, in chunks of up to 1 MiB (each a buffer of its own). */
  *read(): Generator<Buffer> {
    for (let pos = 0; pos < this.written;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, this.written - pos));
      const n = fs.readSync(this.lock.descriptor, buf, 0, buf.length, pos);
      if (n === 0) throw new Error(`read ${this.path}: the file ends at ${pos} of ${this.written} bytes`);
      pos += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  }

  append(chunk: Buffer): void {
    for (let off = 0; off < chunk.length;)
      off += fs.writeSync(this.lock.descriptor, chunk, off, chunk.length - off, this.written + off);
    this.written += chunk.length;
    this.synced = false;
  }

  /** Forget the kept bytes (a registry that ignored the Range, or a partial longer than its blob). */
  reset(): void {
    fs.ftruncateSync(this.lock.descriptor, 0);
    this.written = 0;
  }

  /** Remove the file (the blob is stored, or its bytes are wrong) and drop the lock. */
  remove(): void {
    this.lock.remove();
  }

  /**
   * Keep the file for a later pull (its bytes on disk, not only in the page cache) and drop the
   * lock; an empty one is removed: there is nothing to resume.
   */
  keep(): void {
    if (this.written === 0) return this.remove();
    if (!this.synced) fs.fsyncSync(this.lock.descriptor);
    this.synced = true;
    this.lock.release();
  }
}

export interface PartialFile {
  /** The file's name under berth/partial/. */
  name: string;
  /** The blob it is part of (undefined: not a name berth gives). */
  digest: string | undefined;
  path: string;
  size: number;
  mtimeMs: number;
  /** A pull holds it now. */
  inUse: boolean;
}

/** The partial files of the store, each said to be in use or not (a try of its lock, released at once). */
export function listPartials(paths: StorePaths): PartialFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(paths.partial).sort();
  } catch {
    return [];
  }
  const out: PartialFile[] = [];
  for (const name of names) {
    const path = `${paths.partial}/${name}`;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path);
    } catch {
      continue; // removed meanwhile
    }
    let inUse = false;
    if (st.isFile()) {
      const l = FileLock.tryAcquire(path, false);
      if (l) l.release();
      else inUse = fs.existsSync(path);
    }
    out.push({ name, digest: digestOfPartial(name), path, size: st.size, mtimeMs: st.mtimeMs, inUse });
  }
  return out;
}

/**
 * Remove the partial files `which` selects that no pull holds (each taken under its lock, then
 * unlinked by this holder: a pull that starts meanwhile finds it busy and downloads without it).
 * Returns those removed.
 */
export function removePartials(paths: StorePaths, which: (p: PartialFile) => boolean = () => true): PartialFile[] {
  const removed: PartialFile[] = [];
  for (const p of listPartials(paths)) {
    if (p.inUse || !which(p)) continue;
    const st = fs.lstatSync(p.path, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isFile()) {
      fs.rmSync(p.path, { recursive: true, force: true }); // nothing berth makes: no pull can hold it
      removed.push(p);
      continue;
    }
    const l = FileLock.tryAcquire(p.path, false);
    if (!l) continue;
    const size = fs.fstatSync(l.descriptor).size;
    l.remove();
    removed.push({ ...p, size });
  }
  return removed;
}
