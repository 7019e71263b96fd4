/**
 * Typed wrapper around berth's single native module (native/berth_native.c).
 *
 * Every function is synchronous and is a thin veneer over one Linux syscall (inotifyOpen's callback runs later, from
 * the event loop);
 * no policy lives here. On syscall failure the functions throw a
 * {@link NativeError} whose `code` is the errno name ('ENOENT'), `errno` the
 * positive Linux errno number (as in `os.constants.errno`, NOT Node's
 * negative libuv convention), `syscall` the call name and, when the call takes
 * a path, `path`. The message is `<syscall> "<path>": <CODE> (<strerror>)`
 * (or `<syscall>: <CODE> (<strerror>)` for fd-based calls). Wrong argument
 * types throw TypeError (code ERR_INVALID_ARG_TYPE), out-of-range integers
 * throw RangeError (code ERR_OUT_OF_RANGE).
 *
 * The .node file is loaded lazily on first use, so importing this module never
 * fails even when the addon has not been built (constants stay usable).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useSmallSha256 } from '../core/digest.js';

// ---------------------------------------------------------------------------
// Constants (Linux values)
// ---------------------------------------------------------------------------

/** mount(2) flags. */
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;

/** umount2(2) flags. */
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;

/** flock(2) operations. */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** inotify(7) event bits. */
export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_CLOSE_NOWRITE = 0x10;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
export const IN_DELETE_SELF = 0x400;
export const IN_MOVE_SELF = 0x800;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;
export const IN_MASK_ADD = 0x20000000;

/** setxattr(2) flags. */
export const XATTR_CREATE = 0x1;
export const XATTR_REPLACE = 0x2;

/** File type bits for mknod(2) `mode`. */
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** Error thrown when a syscall fails. */
export interface NativeError extends Error {
  /** errno name, e.g. 'ENOENT' ('UNKNOWN' for unlisted values). */
  code: string;
  /** Positive Linux errno number, e.g. 2 for ENOENT. */
  errno: number;
  /** Name of the failing syscall, e.g. 'mount'. */
  syscall: string;
  /** Path argument of the failing call, if it has one (target for mount). */
  path?: string;
}

/** True if `e` is an error thrown by this module for a failed syscall. */
export function isNativeError(e: unknown): e is NativeError {
  return (
    e instanceof Error &&
    typeof (e as Partial<NativeError>).code === 'string' &&
    typeof (e as Partial<NativeError>).errno === 'number' &&
    typeof (e as Partial<NativeError>).syscall === 'string'
  );
}

/** One fsconfig(2) parameter: [key, value (null: a flag), whether the value is a directory to pass by fd]. */
export type FsParam = [key: string, value: string | null, asPath: boolean];

interface Binding {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  fsmount(target: string, fstype: string, params: FsParam[]): void;
  mountIn(
    dir: string,
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Uint8Array, flags: number): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  lremovexattr(path: string, name: string): boolean;
  flock(fd: number, op: number): boolean;
  crc64(state: Uint8Array, data: Uint8Array, offset?: number, length?: number): void;
  /** (an addon built before it has none; one on a Node that exports no SHA256 returns undefined) */
  sha256?(data: Uint8Array): string | undefined;
  zstdCompress(data: Buffer, level: number, cb: (err: Error | null, out?: Buffer) => void): void;
  gzipCompress(data: Buffer, level: number, cb: (err: Error | null, out?: Buffer) => void): void;
  openTmpfile(dir: string, mode: number): number;
  linkFd(fd: number, path: string): void;
  attachDeviceFilter(cgroupDir: string, program: Uint8Array): void;
  spreadSubdirs(dir: string): boolean;
  inotifyOpen(callback: (events: InotifyBatch) => void): InotifyHandle;
  inotifyAdd(watcher: InotifyHandle, path: string, mask: number): number;
  inotifyRm(watcher: InotifyHandle, wd: number): boolean;
  inotifyRef(watcher: InotifyHandle, on: boolean): void;
  inotifyClose(watcher: InotifyHandle): void;
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

const ADDON_REL = join('native', 'build', 'Release', 'berth_native.node');

/**
 * Candidate locations of the addon: first the canonical one for the compiled
 * layout (dist/src/native/index.js -> <repo>/native/build/Release), then every
 * ancestor directory of this file (covers running from src/ directly).
 */
function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out = [resolve(here, '../../../native/build/Release/berth_native.node')];
  for (let dir = here; ;) {
    const p = join(dir, ADDON_REL);
    if (!out.includes(p)) out.push(p);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

let binding: Binding | undefined;
let bindingPath = '';

function load(): Binding {
  if (binding !== undefined) return binding;
  const candidates = addonCandidates();
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      'berth native addon is not built (run "npm install" or ' +
        '"npx node-gyp rebuild --directory native"); looked in:\n  ' +
        candidates.join('\n  '),
    );
  }
  binding = createRequire(import.meta.url)(found) as Binding;
  bindingPath = found;
  return binding;
}

/** Absolute path of the loaded addon (loads it if necessary). */
export function addonPath(): string {
  load();
  return bindingPath;
}

// ---------------------------------------------------------------------------
// Syscalls
// ---------------------------------------------------------------------------

/**
 * mount(2). `source`, `fstype` and `data` may be null (passed as NULL).
 * `flags` is an unsigned 32-bit combination of MS_* constants.
 * Throws NativeError (syscall 'mount', path = target) on failure.
 */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  load().mount(source, target, fstype, flags, data);
}

/**
 * Mount a new `fstype` filesystem at `target` with the mount API (fsopen, one fsconfig per parameter, fsmount,
 * move_mount): no page limit on the parameters as a whole, and no cwd involved. A path parameter is passed as an
 * O_PATH fd where the filesystem takes one (overlayfs on Linux 6.13 and later), else as its string (at most 255
 * bytes). Throws NativeError whose syscall names the step (`fsconfig lowerdir+ [the filesystem's message]`).
 */
export function fsmount(target: string, fstype: string, params: FsParam[]): void {
  load().fsmount(target, fstype, params);
}

/**
 * mount(2) with the relative paths in `data` resolved against `dir`, done by a short-lived child process so that
 * the caller's cwd never changes. `target` is resolved against the caller's cwd. Throws NativeError (syscall
 * 'mount', path = target).
 */
export function mountIn(
  dir: string,
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  load().mountIn(dir, source, target, fstype, flags, data);
}

/**
 * umount2(2) with MNT_* flags (0 for a plain unmount).
 * Throws NativeError (syscall 'umount2', path = target) on failure.
 */
export function umount2(target: string, flags: number): void {
  load().umount2(target, flags);
}

/**
 * mknod(2): create a device node or FIFO at `path` (not following a final
 * symlink). `mode` is the file type (S_IFCHR, S_IFBLK, S_IFIFO) or'ed with
 * permission bits; the process umask applies. The device number is
 * makedev(major, minor) (ignored for FIFOs).
 * Throws NativeError (syscall 'mknod') on failure, e.g. EEXIST.
 */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  load().mknod(path, mode, major, minor);
}

/**
 * lsetxattr(2): set extended attribute `name` on `path` without following
 * symlinks. `value` may be empty. `flags` is 0, XATTR_CREATE (fail with
 * EEXIST if present) or XATTR_REPLACE (fail with ENODATA if absent).
 * Throws NativeError (syscall 'lsetxattr') on failure.
 */
export function lsetxattr(path: string, name: string, value: Uint8Array, flags: number): void {
  load().lsetxattr(path, name, value, flags);
}

/**
 * lgetxattr(2): read extended attribute `name` of `path` without following
 * symlinks. Returns a new Buffer with the value (any size), or null when the
 * attribute does not exist (ENODATA) or is not supported for that name or
 * filesystem (ENOTSUP). Other failures (ENOENT, EACCES, ...) throw
 * NativeError (syscall 'lgetxattr').
 */
export function lgetxattr(path: string, name: string): Buffer | null {
  return load().lgetxattr(path, name);
}

/**
 * llistxattr(2): names of all extended attributes of `path` (not following
 * symlinks) that the caller can see, in kernel order. Throws NativeError
 * (syscall 'llistxattr') on failure, including ENOTSUP when the filesystem
 * has no xattr support.
 */
export function llistxattr(path: string): string[] {
  return load().llistxattr(path);
}

/**
 * lremovexattr(2): true when removed, false when `path` had no such attribute (ENODATA); other failures throw
 * NativeError.
 */
export function lremovexattr(path: string, name: string): boolean {
  return load().lremovexattr(path, name);
}

/**
 * flock(2) on an open fd. `op` is LOCK_SH, LOCK_EX or LOCK_UN, optionally
 * or'ed with LOCK_NB. Returns true when the operation succeeded and false
 * only when LOCK_NB was given and the lock is held elsewhere (EWOULDBLOCK).
 * EINTR is retried. Without LOCK_NB the call blocks the calling thread (and
 * thus the event loop) until the lock is granted. Other failures throw
 * NativeError (syscall 'flock', no path).
 */
export function flock(fd: number, op: number): boolean {
  return load().flock(fd, op);
}

/** An unnamed regular file in `dir` (O_TMPFILE), open for writing: if the writer dies, nothing is left. */
export function openTmpfile(dir: string, mode: number): number {
  return load().openTmpfile(dir, mode);
}

/**
 * Mark a directory as the top of unrelated trees (FS_TOPDIR_FL, `chattr +T`): ext4 then places each new
 * subdirectory in a lightly used block group of its own rather than beside its parent. False where the
 * filesystem has no such flag.
 */
export function spreadSubdirs(dir: string): boolean {
  return load().spreadSubdirs(dir);
}

/** Give an openTmpfile() file the name `path` (linkat with AT_EMPTY_PATH; fails with EEXIST if taken). */
export function linkFd(fd: number, path: string): void {
  load().linkFd(fd, path);
}

/**
 * Load an eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE; instructions as
 * bytes) and attach it to a cgroup v2 directory (BPF_CGROUP_DEVICE,
 * BPF_F_ALLOW_MULTI). It stays attached while the cgroup exists.
 */
export function attachDeviceFilter(cgroupDir: string, program: Uint8Array): void {
  load().attachDeviceFilter(cgroupDir, program);
}

// ---------------------------------------------------------------------------
// inotify (event-driven, on this thread's libuv loop; src/native/inotify.ts shares one per thread)
// ---------------------------------------------------------------------------

/** An inotify instance polled by the event loop (opaque). */
export type InotifyHandle = { readonly __inotify: unique symbol };
/** A batch of events as read: [wd, mask, name (a watched directory's entry) or null, wd, mask, name, ...]. */
export type InotifyBatch = Array<number | string | null>;

/**
 * inotify_init1(IN_NONBLOCK|IN_CLOEXEC), read by the event loop: `callback` gets each batch of events read. It does
 * not keep the loop alive until inotifyRef(handle, true). Throws NativeError (syscall 'inotify_init1').
 */
export function inotifyOpen(callback: (events: InotifyBatch) => void): InotifyHandle {
  return load().inotifyOpen(callback);
}

/** inotify_add_watch(2): the watch descriptor (the same for the same inode); NativeError (path) on failure. */
export function inotifyAdd(watcher: InotifyHandle, path: string, mask: number): number {
  return load().inotifyAdd(watcher, path, mask);
}

/** inotify_rm_watch(2); false when the kernel had removed the watch already (its file deleted). */
export function inotifyRm(watcher: InotifyHandle, wd: number): boolean {
  return load().inotifyRm(watcher, wd);
}

/** Whether the watcher keeps the event loop alive. */
export function inotifyRef(watcher: InotifyHandle, on: boolean): void {
  load().inotifyRef(watcher, on);
}

/** Stop the watcher and close its descriptor (all its watches with it); again is a no-op. */
export function inotifyClose(watcher: InotifyHandle): void {
  load().inotifyClose(watcher);
}

// ---------------------------------------------------------------------------
// CRC-64
// ---------------------------------------------------------------------------

/**
 * CRC-64 with the ISO polynomial, bit-identical to Go's
 * `crc64.Update(state, crc64.MakeTable(crc64.ISO), data)`.
 *
 * `state` must be exactly 8 bytes holding the running checksum big-endian;
 * start from 8 zero bytes. It is updated in place; after the last chunk it
 * holds the final checksum (big-endian), e.g. "123456789" gives
 * b90956c775a41001 and the empty input gives 0. `offset`/`length` select a
 * sub-range of `data` (default: from offset to the end).
 * Throws TypeError/RangeError on bad arguments.
 */
export function crc64(state: Uint8Array, data: Uint8Array, offset?: number, length?: number): void {
  load().crc64(state, data, offset, length);
}

/**
 * One zstd frame of `data` at `level`, compressed by Debian's libzstd in libuv's thread pool
 * (not a syscall: the one function here that is asynchronous and does work).
 */
export function zstdCompress(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    load().zstdCompress(data, level, (err, out) =>
      err || !out ? reject(err ?? new Error('zstd: no output')) : resolve(out),
    ),
  );
}

let noSha256 = false;

/**
 * The SHA-256 of `data` in hex by the addon (OpenSSL's, as Node exports it), or undefined when the addon cannot
 * (not built, built before it had one, a Node without the symbol): the caller then uses node:crypto.
 */
export function sha256Hex(data: Uint8Array): string | undefined {
  if (noSha256) return undefined;
  let b: Binding;
  try {
    b = load();
  } catch {
    noSha256 = true; // not built: node:crypto it is
    return undefined;
  }
  const hex = b.sha256?.(data);
  if (typeof hex === 'string') return hex;
  noSha256 = true;
  return undefined;
}

// sha256() of src/core/digest.ts hashes small inputs here once this module is loaded (no node:crypto to load)
useSmallSha256(sha256Hex);

/**
 * One gzip member of `data` at libdeflate's `level` (0-12; 1 is its fastest), compressed by
 * Debian's libdeflate in libuv's thread pool.
 */
export function gzipCompress(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    load().gzipCompress(data, level, (err, out) =>
      err || !out ? reject(err ?? new Error('gzip: no output')) : resolve(out),
    ),
  );
}

/** One-shot CRC-64/ISO (Go hash/crc64 ISO) of `data`, as an 8-byte big-endian Buffer. */
export function crc64Of(data: Uint8Array): Buffer {
  const state = Buffer.alloc(8);
  load().crc64(state, data);
  return state;
}
