import * as fs from 'node:fs';
import { BerthError, conflict, invalid, isErrno, wrap } from '../core/errors.js';
import * as native from '../native/index.js';
import { baseOf, cleanEntryName, dirOf } from '../archive/names.js';
import type { TarHeader } from '../archive/tar-header.js';
import type { TarVisitor } from '../archive/tar-parser.js';
import { isSpecial, kindOf } from '../storage/output-file.js';

/**
 * File trees for `cp`, walked and written through directory descriptors so that
 * nothing a container holds (or swaps in meanwhile) leads outside of it.
 *
 * `/proc/self/fd/N/name` is openat(N, "name"): the kernel jumps to the directory
 * open as N and looks up only `name` there. With O_NOFOLLOW, or with a call that
 * never follows its last component (lstat, mkdir, mknod, symlink, link, unlink,
 * lchown, lutimes), no symlink is followed and nothing outside that directory is
 * reached, whatever is renamed meanwhile.
 */
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;
/** Linux's O_PATH (Node does not export it): a handle on an inode that opens nothing (no device side effects). */
const O_PATH = 0o10000000;
const CAPABILITY = 'security.capability';

export function at(dirFd: number, name = ''): string {
  return name ? `/proc/self/fd/${dirFd}/${name}` : `/proc/self/fd/${dirFd}`;
}

/** Open directory `name` in dirFd without following a symlink; '' opens dirFd itself again. */
export function openDirAt(dirFd: number, name: string): number {
  return name
    ? fs.openSync(at(dirFd, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    : fs.openSync(at(dirFd), O_RDONLY | O_DIRECTORY);
}

/**
 * Open directory `rel` ("a/b", no "." or "..") below dirFd one component at a time,
 * never following a symlink (ENOTDIR for a symlink or a file on the way). With
 * `create`, missing directories are made (0755); a function is also called with
 * each one made, open, to set its owner or mode.
 */
export function openBeneath(dirFd: number, rel: string, create: boolean | ((madeFd: number) => void) = false): number {
  let fd = openDirAt(dirFd, '');
  for (const name of rel.split('/').filter(Boolean)) {
    let next: number;
    try {
      try {
        next = openDirAt(fd, name);
      } catch (err) {
        if (!create || !isErrno(err, 'ENOENT')) throw err;
        fs.mkdirSync(at(fd, name), 0o755);
        next = openDirAt(fd, name);
        if (typeof create === 'function') create(next);
      }
    } finally {
      fs.closeSync(fd);
    }
    fd = next;
  }
  return fd;
}

const WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  EEXIST: 'file exists',
  EISDIR: 'is a directory',
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  EXDEV: 'invalid cross-device link',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
};

/** An fs error as a BerthError: the action, then what failed in words (never the /proc/self/fd path). */
export function fsError(action: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code) return wrap(action, err);
  const kind = wrap(action, { code }).kind;
  return new BerthError(kind, code, `${action}: ${WORDS[code] ?? code}`, { cause: err });
}

/** A member of a copied tree: its header and, for a regular file, a descriptor to read h.size bytes from. */
export interface TreeEntry {
  h: TarHeader;
  fd?: number;
}

/**
 * The tree at `name` in directory dirFd ('' for dirFd itself) as archive members
 * named `as` and below: the top first, a directory's content depth first, names
 * sorted bytewise. Symlinks are members, never followed; a file with several
 * links is a `link` member after its first; sockets are skipped (as Docker's
 * archiver does). Each directory is opened below its parent with O_NOFOLLOW and
 * checked to be the inode just seen; files are read from O_NOFOLLOW descriptors.
 * Mtimes are whole seconds, as in Docker's archives.
 */
export function* walkTree(dirFd: number, name: string, as: string): Generator<TreeEntry> {
  yield* member(dirFd, name, as, new Map());
}

function* member(dirFd: number, name: string, as: string, links: Map<string, string>): Generator<TreeEntry> {
  const p = at(dirFd, name);
  const st = name ? fs.lstatSync(p) : fs.fstatSync(dirFd);
  const h: TarHeader = {
    name: as,
    linkname: '',
    type: 'file',
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
  };
  if (st.isDirectory()) {
    const fd = openDirAt(dirFd, name);
    try {
      if (!sameInode(fs.fstatSync(fd), st)) throw changed(as);
      yield { h: { ...h, type: 'dir', name: as === '.' ? './' : `${as}/` } };
      const names = fs.readdirSync(at(fd)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const n of names) yield* member(fd, n, as === '.' ? n : `${as}/${n}`, links);
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  if (st.isSymbolicLink()) {
    yield { h: { ...h, type: 'symlink', linkname: fs.readlinkSync(p) } };
    return;
  }
  if (st.isFIFO()) {
    yield { h: { ...h, type: 'fifo' } };
    return;
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    yield {
      h: { ...h, type: st.isCharacterDevice() ? 'char' : 'block', devmajor: major(st.rdev), devminor: minor(st.rdev) },
    };
    return;
  }
  if (!st.isFile()) return; // a socket
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first !== undefined) {
      yield { h: { ...h, type: 'link', linkname: first } };
      return;
    }
    links.set(key, as);
  }
  const cap = readCapability(p);
  if (cap) h.xattrs.set(CAPABILITY, cap);
  const fd = fs.openSync(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const now = fs.fstatSync(fd);
    if (!now.isFile() || !sameInode(now, st)) throw changed(as);
    yield { h: { ...h, size: now.size }, fd };
  } finally {
    fs.closeSync(fd);
  }
}

function readCapability(p: string): Buffer | null {
  try {
    return native.lgetxattr(p, CAPABILITY);
  } catch {
    return null;
  }
}

const sameInode = (a: fs.Stats, b: fs.Stats) => a.ino === b.ino && a.dev === b.dev;
const changed = (as: string) => conflict('cp_changed', `copy ${JSON.stringify(as)}: it changed while being copied`);

/** Read exactly `size` bytes from fd in chunks (a file that shrank meanwhile is an error). */
export function* readBody(fd: number, size: number, what: string): Generator<Buffer> {
  let left = size;
  let pos = 0;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) throw conflict('cp_changed', `copy ${JSON.stringify(what)}: the file shrank while being copied`);
    left -= n;
    pos += n;
    yield buf.subarray(0, n);
  }
}

/** Where an extraction writes. */
export interface ExtractTarget {
  /** How the user names `rel` (relative to the extraction dir) in messages: `c1:/dest/x`, `/tmp/out/x`. */
  show(rel: string): string;
  /**
   * Open directory `rel` below the extraction dir: resolved inside the container's
   * root for a container, never through a symlink on the host. `create` makes
   * missing directories. The caller closes the descriptor.
   */
  openDir(rel: string, create: boolean): number;
  /** The owner to give a member: its own (-a), root's, or none (left to the invoking user). */
  owner(h: TarHeader): { uid: number; gid: number } | undefined;
  /**
   * On the host: a device, fifo or socket in a member's way is refused, never
   * replaced (Docker's Untar would remove it: a copy must not take the host's
   * /dev/null). In a container it is replaced as Docker does.
   */
  keepSpecial?: boolean;
}

/**
 * Writes archive members (from a tar, or from walkTree) below an extraction dir,
 * as Docker's Untar with NoOverwriteDirNonDir: an existing directory takes a
 * directory's metadata, anything else existing is replaced, a directory never
 * replaces a non-directory nor the reverse. Names are confined to the extraction
 * dir ("../" is refused, "/x" means "x"), hardlink targets too; a member named
 * "." is the extraction dir itself and leaves it as it is. Files are created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, metadata set through descriptors or l* calls.
 */
export class Extractor implements TarVisitor {
  /** Bytes of regular file content written. */
  bytes = 0;
  private fd = -1;
  /** The file being written: its header, its name in the cached parent, whether it replaced something. */
  private cur: { h: TarHeader; name: string; replaced: boolean } | undefined;
  private cache: { rel: string; fd: number } | undefined;
  private readonly dirTimes: Array<{ rel: string; mtime: number }> = [];

  constructor(private readonly t: ExtractTarget) {}

  raw(): void {
    /* headers and padding: nothing to keep */
  }

  entry(h: TarHeader): void {
    try {
      this.create(h);
    } catch (err) {
      throw fsError(`copy to ${this.t.show(safeName(h.name))}`, err);
    }
  }

  body(chunk: Buffer): void {
    if (this.fd < 0) return;
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
    this.bytes += chunk.length;
  }

  entryEnd(): void {
    const c = this.cur;
    if (this.fd < 0 || !c) return;
    const fd = this.fd;
    this.fd = -1;
    this.cur = undefined;
    try {
      this.meta(fd, c.h);
      // xattrs by name in the (still open) parent: writing and chown clear a file's capability
      const cap = c.h.xattrs.get(CAPABILITY);
      if (cap && this.cache) {
        try {
          native.lsetxattr(at(this.cache.fd, c.name), CAPABILITY, cap, 0);
        } catch {
          /* as Docker: not fatal where unsupported */
        }
      }
    } catch (err) {
      throw fsError(`copy to ${this.t.show(safeName(c.h.name))}`, err);
    } finally {
      fs.closeSync(fd);
      if (c.replaced) this.dropCache();
    }
  }

  /** Directory times last (creating their content changed them); then let go of descriptors. */
  finish(): void {
    this.dropCache();
    for (const { rel, mtime } of this.dirTimes) {
      let fd = -1;
      try {
        fd = this.t.openDir(rel, false);
        fs.futimesSync(fd, mtime, mtime);
      } catch {
        /* replaced by a later member */
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
    }
  }

  abort(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already failing */
      }
      this.fd = -1;
    }
    this.dropCache();
  }

  private create(h: TarHeader): void {
    const rel = this.clean(h.name, h);
    if (rel === '') {
      if (h.type !== 'dir')
        throw conflict(
          'cp_overwrite',
          `cannot overwrite directory ${q(this.t.show(''))} with non-directory ${q(h.name)}`,
        );
      return;
    }
    const name = baseOf(rel);
    const dfd = this.parent(dirOf(rel));
    const p = at(dfd, name);
    const old = fs.lstatSync(p, { throwIfNoEntry: false });
    let replaced = false;
    if (old) {
      if (this.t.keepSpecial && isSpecial(old))
        throw invalid('cp_overwrite', `copy to ${q(this.t.show(rel))}: refusing to replace ${kindOf(old)}`);
      if (old.isDirectory() && h.type !== 'dir')
        throw conflict(
          'cp_overwrite',
          `cannot overwrite directory ${q(this.t.show(rel))} with non-directory ${q(this.t.show(''))}`,
        );
      if (!old.isDirectory() && h.type === 'dir')
        throw conflict(
          'cp_overwrite',
          `cannot overwrite non-directory ${q(this.t.show(rel))} with directory ${q(this.t.show(''))}`,
        );
      if (!old.isDirectory()) {
        fs.unlinkSync(p);
        replaced = true;
      }
    }
    switch (h.type) {
      case 'dir': {
        if (!old) fs.mkdirSync(p, 0o700);
        const fd = openDirAt(dfd, name);
        try {
          this.meta(fd, h);
        } finally {
          fs.closeSync(fd);
        }
        this.dirTimes.push({ rel, mtime: h.mtime });
        return;
      }
      case 'file':
        this.fd = fs.openSync(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        this.cur = { h, name, replaced };
        return;
      case 'symlink': {
        fs.symlinkSync(h.linkname, p);
        const o = this.t.owner(h);
        if (o) fs.lchownSync(p, o.uid, o.gid);
        fs.lutimesSync(p, h.mtime, h.mtime);
        this.dropCache();
        return;
      }
      case 'link': {
        const target = this.clean(h.linkname, h, 'hardlink target');
        if (target === '') throw invalid('cp_link', `hardlink to the extraction directory ${q(this.t.show(''))}`);
        const tfd = this.t.openDir(dirOf(target), false);
        try {
          fs.linkSync(at(tfd, baseOf(target)), p);
        } finally {
          fs.closeSync(tfd);
        }
        this.dropCache();
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = h.type === 'char' ? native.S_IFCHR : h.type === 'block' ? native.S_IFBLK : native.S_IFIFO;
        native.mknod(p, kind | 0o600, h.devmajor, h.devminor);
        const fd = fs.openSync(p, O_PATH | O_NOFOLLOW);
        try {
          this.meta(fd, h, true);
        } finally {
          fs.closeSync(fd);
        }
        if (replaced) this.dropCache();
      }
    }
  }

  /**
   * Owner, then mode (chown clears set-id bits), then times; `handle`: fd is O_PATH (metadata through its /proc link).
   */
  private meta(fd: number, h: TarHeader, handle = false): void {
    const o = this.t.owner(h);
    if (handle) {
      if (o) fs.chownSync(at(fd), o.uid, o.gid);
      fs.chmodSync(at(fd), h.mode & 0o7777);
      fs.utimesSync(at(fd), h.mtime, h.mtime);
      return;
    }
    if (o) fs.fchownSync(fd, o.uid, o.gid);
    fs.fchmodSync(fd, h.mode & 0o7777);
    if (h.type !== 'dir') fs.futimesSync(fd, h.mtime, h.mtime);
  }

  /** The directory that holds members of `rel`, kept open while consecutive members share it. */
  private parent(rel: string): number {
    if (this.cache?.rel === rel) return this.cache.fd;
    this.dropCache();
    const fd = this.t.openDir(rel, true);
    this.cache = { rel, fd };
    return fd;
  }

  /** A symlink or a removal may change where a path leads: resolve again. */
  private dropCache(): void {
    if (this.cache) fs.closeSync(this.cache.fd);
    this.cache = undefined;
  }

  private clean(name: string, h: TarHeader, what = 'entry'): string {
    try {
      return cleanEntryName(name, what);
    } catch (err) {
      if ((err as BerthError).code !== 'tar_breakout') throw err;
      throw invalid(
        'cp_breakout',
        `${what === 'entry' ? 'tar entry' : `tar entry ${q(h.name)}: ${what}`} ${q(name)} is outside of ${q(this.t.show(''))}`,
      );
    }
  }
}

/** A member's name for messages, even when it is hostile. */
function safeName(name: string): string {
  try {
    return cleanEntryName(name);
  } catch {
    return name;
  }
}

const q = (s: string) => JSON.stringify(s);

function major(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}

/** Write a walked tree's members through an extractor (finished, or aborted on an error). */
export function extractTree(entries: Iterable<TreeEntry>, x: Extractor): void {
  try {
    for (const e of entries) {
      x.entry(e.h);
      if (e.fd !== undefined) for (const b of readBody(e.fd, e.h.size, e.h.name)) x.body(b);
      x.entryEnd();
    }
    x.finish();
  } catch (err) {
    x.abort();
    throw err;
  }
}
