import * as fs from 'node:fs';
import { BerthError, invalid, wrap } from '../core/errors.js';
import * as native from '../native/index.js';
import { baseOf, cleanEntryName, dirOf } from './names.js';
import type { TarHeader } from './tar-header.js';
import { SplitVisitor } from './split-visitor.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/**
 * The tar visitor that creates a layer's files under `root` (confined: see applyLayer) and records
 * tar-split on the way.
 */
export class LayerWriter extends SplitVisitor {
  size = 0;
  private readonly dirs = new Set<string>(['']);
  private readonly seen = new Set<string>();
  /** Directory mtimes to set at the end, by full path; the last header for a path wins. */
  private readonly dirTimes = new Map<string, number>();
  private fd = -1;
  private cur: { h: TarHeader; rel: string; full: string } | null = null;
  private sizeDirty = false;
  private readonly umask = process.umask();

  constructor(private readonly root: string) {
    super();
  }

  override entry(h: TarHeader): void {
    super.entry(h);
    try {
      this.create(h);
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw wrap(`tar entry ${JSON.stringify(h.name)}`, err);
    }
  }

  override body(chunk: Buffer): void {
    super.body(chunk);
    if (this.fd < 0) return;
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
  }

  override entryEnd(): void {
    super.entryEnd();
    const c = this.cur;
    this.cur = null;
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      try {
        if (c) {
          const h = c.h;
          if (h.uid !== 0 || h.gid !== 0) fs.fchownSync(fd, h.uid, h.gid);
          if ((h.mode & 0o7000) !== 0 || (h.mode & this.umask) !== 0 || h.uid !== 0 || h.gid !== 0)
            fs.fchmodSync(fd, h.mode);
          this.setXattrs(c.full, h);
          fs.futimesSync(fd, h.mtime, h.mtime);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  finish(): void {
    // directory times last: creating children changed them
    for (const [p, t] of this.dirTimes) fs.utimesSync(p, t, t);
    if (this.sizeDirty) this.size = treeSize(this.root);
  }

  abort(): void {
    this.split.dispose();
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already failing */
      }
      this.fd = -1;
    }
  }

  private fail(h: TarHeader, why: string, code = 'tar_entry'): never {
    throw invalid(code, `tar entry ${JSON.stringify(h.name)}: ${why}`);
  }

  private create(h: TarHeader): void {
    const rel = cleanEntryName(h.name);
    const full = rel === '' ? this.root : `${this.root}/${rel}`;
    if (rel === '') {
      if (h.type !== 'dir') this.fail(h, 'the layer root must be a directory');
      this.applyMeta(full, h);
      return;
    }
    const base = baseOf(rel);
    // AUFS metadata directories at the top (.wh..wh.plnk, .wh..wh.aufs) are skipped with their content, as Docker does
    if (rel.startsWith(WHITEOUT_META_PREFIX) && rel.includes('/')) return;
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(h, rel, base);
    this.ensureDir(dirOf(rel), h);
    if (this.seen.has(rel) || this.dirs.has(rel)) this.replace(h, rel, full);
    this.seen.add(rel);
    switch (h.type) {
      case 'dir':
        if (!this.dirs.has(rel)) {
          fs.mkdirSync(full, 0o755);
          this.dirs.add(rel);
        }
        this.applyMeta(full, h);
        return;
      case 'file':
        this.fd = fs.openSync(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, h.mode & 0o777);
        this.cur = { h, rel, full };
        this.size += h.size;
        return;
      case 'symlink':
        fs.symlinkSync(h.linkname, full);
        this.size += Buffer.byteLength(h.linkname);
        if (h.uid !== 0 || h.gid !== 0) fs.lchownSync(full, h.uid, h.gid);
        this.setXattrs(full, h);
        fs.lutimesSync(full, h.mtime, h.mtime);
        return;
      case 'link': {
        const target = cleanEntryName(h.linkname, 'hardlink target');
        if (target === '') this.fail(h, 'hardlink to the layer root');
        this.checkDirChain(dirOf(target), h);
        if (!this.seen.has(target))
          this.fail(h, `hardlink target ${JSON.stringify(h.linkname)} is not in this layer`, 'tar_link');
        fs.linkSync(`${this.root}/${target}`, full);
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (h.devmajor > MAX_MAJOR || h.devminor > MAX_MINOR)
          this.fail(h, `device number ${h.devmajor}:${h.devminor} out of range`, 'tar_device');
        const kind = h.type === 'char' ? native.S_IFCHR : h.type === 'block' ? native.S_IFBLK : native.S_IFIFO;
        native.mknod(full, kind | (h.mode & 0o777), h.devmajor, h.devminor);
        this.applyMeta(full, h);
        return;
      }
    }
  }

  /** `.wh.NAME` becomes a 0/0 char device NAME; `.wh..wh..opq` marks its directory opaque. */
  private whiteout(h: TarHeader, rel: string, base: string): void {
    if (h.size > 0) this.fail(h, 'whiteout entry has content', 'tar_whiteout');
    const dir = dirOf(rel);
    if (base === WHITEOUT_OPAQUE) {
      this.ensureDir(dir, h);
      native.lsetxattr(dir ? `${this.root}/${dir}` : this.root, OPAQUE_XATTR, Buffer.from('y'), 0);
      return;
    }
    if (base.startsWith(WHITEOUT_META_PREFIX)) return; // other AUFS metadata: not applicable to overlay
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') this.fail(h, 'whiteout of an invalid name', 'tar_whiteout');
    this.ensureDir(dir, h);
    const target = dir ? `${dir}/${name}` : name;
    const full = `${this.root}/${target}`;
    if (this.seen.has(target) || this.dirs.has(target)) this.replace(h, target, full);
    this.seen.add(target);
    native.mknod(full, native.S_IFCHR, 0, 0);
    if (h.uid !== 0 || h.gid !== 0) fs.lchownSync(full, h.uid, h.gid);
  }

  /** A path appears again: remove what is there unless both are directories (then only metadata changes). */
  private replace(h: TarHeader, rel: string, full: string): void {
    if (h.type === 'dir' && this.dirs.has(rel)) return;
    if (this.dirs.has(rel)) {
      for (const d of [...this.dirs]) if (d === rel || d.startsWith(rel + '/')) this.dirs.delete(d);
      for (const s of [...this.seen]) if (s.startsWith(rel + '/')) this.seen.delete(s);
      // the removed dirs' times must not be applied to whatever takes their place (maybe a symlink out of root)
      for (const p of [...this.dirTimes.keys()]) if (p === full || p.startsWith(full + '/')) this.dirTimes.delete(p);
    }
    fs.rmSync(full, { recursive: true, force: true });
    this.sizeDirty = true;
  }

  /** Make `rel` a real directory inside root, creating missing parents (0755); refuse symlinks and files on the way. */
  private ensureDir(rel: string, h: TarHeader): void {
    if (this.dirs.has(rel)) return;
    this.ensureDir(dirOf(rel), h);
    const full = `${this.root}/${rel}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!st) {
      fs.mkdirSync(full, 0o755);
    } else if (!st.isDirectory()) {
      this.fail(
        h,
        `parent ${JSON.stringify(rel)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}`,
        'tar_breakout',
      );
    }
    this.dirs.add(rel);
  }

  /** Check, without creating anything, that `rel` is a real directory chain inside root. */
  private checkDirChain(rel: string, h: TarHeader): void {
    if (this.dirs.has(rel)) return;
    this.checkDirChain(dirOf(rel), h);
    const st = fs.lstatSync(`${this.root}/${rel}`, { throwIfNoEntry: false });
    if (!st || !st.isDirectory())
      this.fail(h, `hardlink target passes through ${JSON.stringify(rel)}, which is not a directory`, 'tar_breakout');
    this.dirs.add(rel);
  }

  private applyMeta(full: string, h: TarHeader): void {
    if (h.uid !== 0 || h.gid !== 0) fs.lchownSync(full, h.uid, h.gid);
    fs.chmodSync(full, h.mode);
    this.setXattrs(full, h);
    if (h.type === 'dir') this.dirTimes.set(full, h.mtime);
    else fs.utimesSync(full, h.mtime, h.mtime);
  }

  private setXattrs(full: string, h: TarHeader): void {
    for (const [k, v] of h.xattrs) {
      // overlay's own attributes would change how the union is assembled: never taken from a tar
      if (k.startsWith('trusted.overlay.')) continue;
      try {
        native.lsetxattr(full, k, v, 0);
      } catch (err) {
        // as Docker: a filesystem or file type that does not take this xattr (user.* on a symlink) is not fatal
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      }
    }
  }
}

/** Docker's layer size: regular files and symlinks (st_size), each inode once, directories not counted. */
export function treeSize(root: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (dir: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${ent.name}`;
      if (ent.isDirectory()) {
        walk(p);
        continue;
      }
      const st = fs.lstatSync(p, { bigint: false });
      if (st.size === 0) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
  };
  walk(root);
  return total;
}
