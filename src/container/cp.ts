import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { conflict, invalid, isErrno, notFound, unsupported } from '../core/errors.js';
import { decompressed } from '../archive/compression.js';
import { TarParser } from '../archive/tar-parser.js';
import { TarWriter } from '../archive/tar-writer.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import type { FileLock } from '../storage/lock.js';
import { at, Extractor, extractTree, fsError, openBeneath, readBody, walkTree, type ExtractTarget } from './cp-tree.js';
import { isMountPoint, mountRootfs, unmountRootfs } from './rootfs.js';
import { mountsOf } from './mounts.js';
import { kindOf } from '../storage/output-file.js';
import * as native from '../native/index.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

/**
 * `docker cp` without a daemon. Container paths are resolved inside the
 * container's rootfs (overlay2/<mount-id>/merged, mounted for the copy when the
 * container is stopped): symlinks are followed as the container would follow
 * them, never out of it, and every directory is then opened component by
 * component with O_NOFOLLOW (cp-tree.ts), so a symlink swapped in meanwhile makes
 * the copy fail instead of escaping. Which name a copy takes follows Docker's
 * archive.PrepareArchiveCopy (copyPlan below).
 *
 * Bind mounts (-v) are mounted over the union for the copy, as dockerd mounts a
 * container's volumes for `docker cp`, so copies reach the host directories they
 * name (a read-only one is refused, and a --read-only rootfs takes copies only
 * into its writable volumes). Not reached: the tmpfs mounts of a running
 * container, which exist only in its mount namespace; a copy at or below one is
 * refused rather than landing in the directory the mount hides.
 */

export interface CopyOptions {
  /** -a: keep uid/gid of the source (otherwise root in the container, the invoking user on the host). */
  archive?: boolean;
  /** -L: follow a symlink SRC_PATH. */
  followLink?: boolean;
}

export interface CopyResult {
  /** Bytes of regular file content copied. */
  bytes: number;
  /** The destination as Docker's summary names it. */
  dest: string;
}

/** A container as the user named it, for messages (`c1`). */
export interface Target {
  ref: string;
  c: ContainerRecord;
}

/** "x/" and "x/." ask for a directory (Docker's assertsDirectory). */
export const assertsDir = (p: string) => p.endsWith('/') || /(^|\/)\.$/.test(p);
/** "x/." names the content of x (Docker's specifiesCurrentDir). */
export const contentOf = (p: string) => /(^|\/)\.\/*$/.test(p);

/**
 * Where a source of kind `src` lands given what the destination is (Docker's
 * PrepareArchiveCopy): into an existing directory under the source's name, else
 * at the destination path itself (in its parent, under the destination's name).
 */
export function copyPlan(
  src: { isDir: boolean; name: string },
  dst: { path: string; exists: boolean; isDir: boolean; shown: string },
): { into: 'dest' | 'parent'; name: string } {
  if (dst.exists && dst.isDir) return { into: 'dest', name: src.name };
  if (dst.exists && src.isDir)
    throw invalid('cannot_copy_dir', `cannot copy directory: ${dst.shown} is not a directory`);
  if (!dst.exists && !src.isDir && assertsDir(dst.shown))
    throw notFound('no_such_directory', `no such directory: ${dst.shown}`);
  return { into: 'parent', name: posix.basename(posix.normalize(dst.path)) };
}

/** A source tree: the entry `name` in the open directory `dirFd` ('' for dirFd itself), archived as `as`. */
interface Source {
  dirFd: number;
  name: string;
  isDir: boolean;
  as: string;
}

/** A container's rootfs open for a copy. */
interface Rootfs {
  containers: ContainerStore;
  t: Target;
  fd: number;
  /** Whether the container runs (its tmpfs mounts then hide part of the rootfs). */
  running: boolean;
  /** Its bind mounts, mounted for the copy: where (resolved in the rootfs), and whether read-only. */
  binds: Array<{ at: string; readonly: boolean }>;
}

/** `cp CONTAINER:SRC HOST_DEST`. */
export async function copyFromContainer(
  containers: ContainerStore,
  t: Target,
  srcPath: string,
  hostDest: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const dst = hostDestination(hostDest);
  return withRootfs(containers, t, (r) => {
    const src = containerSource(r, srcPath, !!opts.followLink);
    try {
      const plan = copyPlan({ isDir: src.isDir, name: src.as }, { ...dst, shown: hostDest });
      const dir = plan.into === 'dest' ? dst.path : posix.dirname(dst.path);
      let dirFd: number;
      try {
        dirFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      } catch (err) {
        throw fsError(`copy to ${dir}`, err);
      }
      try {
        const x = new Extractor(hostTarget(dirFd, dir, !!opts.archive));
        extractTree(walkTree(src.dirFd, src.name, plan.name), x);
        return { bytes: x.bytes, dest: hostDest };
      } finally {
        fs.closeSync(dirFd);
      }
    } finally {
      fs.closeSync(src.dirFd);
    }
  });
}

/** `cp CONTAINER:SRC -`: a tar of SRC (top member: its base name) on `out`. */
export async function copyFromContainerTar(
  containers: ContainerStore,
  t: Target,
  srcPath: string,
  out: Writable,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  return withRootfs(containers, t, async (r) => {
    const src = containerSource(r, srcPath, !!opts.followLink);
    try {
      const w = new TarWriter(out);
      let bytes = 0;
      for (const e of walkTree(src.dirFd, src.name, src.as)) {
        if (e.fd === undefined) await w.add(e.h);
        else {
          await w.addStream(e.h, asAsync(readBody(e.fd, e.h.size, e.h.name)));
          bytes += e.h.size;
        }
      }
      await w.finish();
      return { bytes, dest: '-' };
    } finally {
      fs.closeSync(src.dirFd);
    }
  });
}

/** `cp HOST_SRC CONTAINER:DEST`. */
export async function copyToContainer(
  containers: ContainerStore,
  t: Target,
  hostSrc: string,
  dstPath: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const src = hostSource(hostSrc, !!opts.followLink);
  try {
    return await withRootfs(containers, t, (r) => {
      const dst = containerDestination(r, dstPath);
      const plan = copyPlan(
        { isDir: src.isDir, name: src.as },
        { path: `/${dst.rel}`, exists: dst.exists, isDir: dst.isDir, shown: `${t.ref}:${dstPath}` },
      );
      const into = plan.into === 'dest' ? dst.rel : dirOfRel(dst.rel);
      checkMounts(r, posix.join('/', into, plan.name === '.' ? '' : plan.name), 'copy to');
      checkWritable(r, `/${into}`);
      const dir = extractionDir(r, into);
      const x = new Extractor(containerTarget(r, dir, !!opts.archive));
      extractTree(walkTree(src.dirFd, src.name, plan.name), x);
      return { bytes: x.bytes, dest: `${t.ref}:${dstPath}` };
    });
  } finally {
    fs.closeSync(src.dirFd);
  }
}

/** `cp - CONTAINER:DEST`: extract a tar (plain or compressed) into the directory DEST. */
export async function copyTarToContainer(
  containers: ContainerStore,
  t: Target,
  input: AsyncIterable<Buffer>,
  dstPath: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  return withRootfs(containers, t, async (r) => {
    const dst = containerDestination(r, dstPath);
    checkMounts(r, `/${dst.rel}`, 'copy to');
    checkWritable(r, `/${dst.rel}`);
    if (!dst.isDir) throw invalid('not_a_directory', `destination "${t.ref}:${dstPath}" must be a directory`);
    const x = new Extractor(containerTarget(r, dst.rel, !!opts.archive));
    const parser = new TarParser(x);
    try {
      for await (const chunk of decompressed(input, { what: 'archive from stdin' })) parser.write(chunk);
      parser.end();
      x.finish();
    } catch (err) {
      x.abort();
      throw err;
    }
    return { bytes: x.bytes, dest: `${t.ref}:${dstPath}` };
  });
}

async function* asAsync(it: Iterable<Buffer>): AsyncGenerator<Buffer> {
  yield* it;
}

/**
 * Run fn with a descriptor of the container's mounted rootfs. A running
 * container's union is mounted by whoever runs it; a stopped one is mounted here
 * while its run lock is held (so it cannot start meanwhile), and unmounted after,
 * also on errors. The descriptor keeps the union reachable if it is detached meanwhile.
 */
async function withRootfs<T>(containers: ContainerStore, t: Target, fn: (r: Rootfs) => T | Promise<T>): Promise<T> {
  const paths = containers.images.paths;
  const merged = `${paths.cacheDir(t.c.MountID)}/merged`;
  let lock: FileLock | undefined;
  try {
    lock = containers.lockForRun(t.c);
  } catch (err) {
    if ((err as { code?: string }).code !== 'already_running') throw err;
  }
  let mounted = false;
  let fd = -1;
  let binds: Array<MountedBind> = [];
  try {
    if (!isMountPoint(merged)) {
      if (!lock)
        throw conflict(
          'not_mounted',
          `container ${t.ref} is running but its filesystem is not mounted (restarting?): try again`,
        );
      mountRootfs(paths, t.c.MountID);
      mounted = true;
    }
    fd = fs.openSync(merged, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    if (fs.fstatSync(fd).dev === fs.statSync(paths.cacheDir(t.c.MountID)).dev)
      throw conflict('not_mounted', `container ${t.ref}: its filesystem was unmounted meanwhile: try again`);
    binds = mountBinds(containers, t, fd);
    return await fn({ containers, t, fd, running: !lock, binds });
  } finally {
    unmountBinds(binds);
    if (fd >= 0) fs.closeSync(fd);
    if (mounted) unmountRootfs(paths, t.c.MountID);
    lock?.release();
  }
}

interface MountedBind {
  at: string;
  readonly: boolean;
  fd: number;
}

/**
 * Mount the container's binds over its rootfs (open as rootFd), in berth's own
 * mount namespace: each destination is resolved in the rootfs and made if
 * missing (a directory, or an empty file for a file), then mounted on by
 * descriptor, so a symlink swapped in cannot move the mount to the host. The
 * container's own namespace does not see them. Returns them, for unmounting.
 */
function mountBinds(containers: ContainerStore, t: Target, rootFd: number): MountedBind[] {
  const out: MountedBind[] = [];
  try {
    for (const m of mountsOf(t.c, containers.hostConfig(t.c.ID))) {
      const b = { source: m.Source, destination: m.Destination, readonly: !m.RW };
      let st: fs.Stats;
      try {
        st = fs.statSync(b.source);
      } catch (err) {
        throw fsError(`mount ${b.source} (-v ${b.source}:${b.destination}) for the copy`, err);
      }
      const rel = inRoot(rootFd, b.destination);
      const name = rel.slice(rel.lastIndexOf('/') + 1);
      let target: number;
      if (st.isDirectory() || rel === '') {
        target = openBeneath(rootFd, rel, true);
      } else {
        const dir = openBeneath(rootFd, dirOfRel(rel), true);
        try {
          try {
            fs.closeSync(
              fs.openSync(
                at(dir, name),
                fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
                0o644,
              ),
            );
          } catch (err) {
            if (!isErrno(err, 'EEXIST')) throw err;
          }
          target = fs.openSync(at(dir, name), O_PATH | fs.constants.O_NOFOLLOW);
        } finally {
          fs.closeSync(dir);
        }
        if (!fs.fstatSync(target).isFile()) {
          fs.closeSync(target);
          throw invalid(
            'cp_mount',
            `copy: ${t.ref}:${b.destination} is not a regular file, so the file ${b.source} cannot be mounted there`,
          );
        }
      }
      try {
        native.mount(b.source, `/proc/self/fd/${target}`, null, native.MS_BIND | native.MS_REC, null);
      } finally {
        fs.closeSync(target);
      }
      // the mount itself, by descriptor (for the read-only remount and the unmount)
      const mfd = fs.openSync(`${at(rootFd, rel)}`, O_PATH | fs.constants.O_NOFOLLOW);
      out.push({ at: `/${rel}`, readonly: b.readonly, fd: mfd });
      if (b.readonly)
        native.mount(null, `/proc/self/fd/${mfd}`, null, native.MS_REMOUNT | native.MS_BIND | native.MS_RDONLY, null);
    }
    return out;
  } catch (err) {
    unmountBinds(out);
    throw err;
  }
}

function unmountBinds(binds: MountedBind[]): void {
  for (const b of [...binds].reverse()) {
    try {
      native.umount2(`/proc/self/fd/${b.fd}`, native.MNT_DETACH);
    } finally {
      fs.closeSync(b.fd);
    }
  }
}

/** O_PATH (not in fs.constants): a descriptor that names a file without opening it. */
const O_PATH = 0o10000000;

/** `path` resolved inside the rootfs open as rootFd: the real path relative to it ('' for the root). */
export function inRoot(rootFd: number, path: string): string {
  const root = at(rootFd);
  return resolveInRoot(root, path).slice(root.length).replace(/^\/+/, '');
}

const dirOfRel = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const joinRel = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

function lstatRel(r: Rootfs, rel: string): fs.Stats {
  return rel ? fs.lstatSync(at(r.fd, rel)) : fs.fstatSync(r.fd);
}

/**
 * SRC_PATH in the container, as Docker's daemon resolves it: the parent is
 * resolved in the container, the last component not (unless -L, or the path
 * asks for a directory with "/" or "/."). It is archived under the base name of
 * the path as given ("." for "x/.": the content of x).
 */
function containerSource(r: Rootfs, path: string, follow: boolean): Source {
  const { t } = r;
  const abs = posix.join('/', path);
  const rel =
    follow || assertsDir(path) ? inRoot(r.fd, abs) : joinRel(inRoot(r.fd, posix.dirname(abs)), posix.basename(abs));
  checkMounts(r, `/${rel}`, 'copy from');
  let st: fs.Stats;
  try {
    st = lstatRel(r, rel);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || (isErrno(err, 'ENOTDIR') && !assertsDir(path)))
      throw notFound('file_not_found', `Could not find the file ${path} in container ${t.ref}`);
    throw fsError(`copy from ${t.ref}:${path}`, err);
  }
  if (assertsDir(path) && !st.isDirectory())
    throw invalid('not_a_directory', `copy from ${t.ref}:${path}: not a directory`);
  let dirFd: number;
  try {
    dirFd = openBeneath(r.fd, dirOfRel(rel));
  } catch (err) {
    throw fsError(`copy from ${t.ref}:${path}`, err);
  }
  return {
    dirFd,
    name: rel.slice(rel.lastIndexOf('/') + 1),
    isDir: st.isDirectory(),
    as: contentOf(path) || abs === '/' ? '.' : posix.basename(abs),
  };
}

/**
 * DEST_PATH in the container: resolved with every symlink followed inside the
 * container (a symlink to a directory is a directory destination). `rel` is the
 * real path relative to the root, missing components kept as named.
 */
function containerDestination(r: Rootfs, path: string): { rel: string; exists: boolean; isDir: boolean } {
  const rel = inRoot(r.fd, posix.join('/', path));
  let st: fs.Stats | undefined;
  try {
    st = lstatRel(r, rel);
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw fsError(`copy to ${r.t.ref}:${path}`, err);
  }
  if (st && !st.isDirectory() && !st.isFile())
    throw invalid('not_a_directory', `destination "${r.t.ref}:${path}" must be a directory or a regular file`);
  return { rel, exists: !!st, isDir: !!st?.isDirectory() };
}

/**
 * A write at `path`: refused in a read-only bind, and in a --read-only rootfs unless it lands in a writable bind (as
 * Docker).
 */
function checkWritable(r: Rootfs, path: string): void {
  const under = (m: string) => path === m || path.startsWith(m === '/' ? '/' : `${m}/`);
  const bind = r.binds.filter((b) => under(b.at)).sort((a, b) => b.at.length - a.at.length)[0];
  if (bind?.readonly) throw invalid('read_only', `mounted volume is marked read-only: ${r.t.ref}:${bind.at}`);
  if (!bind && r.containers.hostConfig(r.t.c.ID).ReadonlyRootfs)
    throw invalid('read_only', 'container rootfs is marked read-only');
}

/** The directory an extraction writes into: it must exist and be a directory. */
function extractionDir(r: Rootfs, rel: string): string {
  let st: fs.Stats | undefined;
  try {
    st = lstatRel(r, rel);
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
  }
  if (!st) throw notFound('no_such_directory', `no such directory: ${r.t.ref}:/${rel}`);
  if (!st.isDirectory()) throw invalid('not_a_directory', `extraction point is not a directory: ${r.t.ref}:/${rel}`);
  return rel;
}

function containerTarget(r: Rootfs, dirRel: string, keepOwner: boolean): ExtractTarget {
  return {
    show: (rel) => `${r.t.ref}:${posix.join('/', dirRel, rel)}`,
    openDir: (rel, create) => openBeneath(r.fd, inRoot(r.fd, posix.join('/', dirRel, rel)), create),
    owner: (h) => (keepOwner ? { uid: h.uid, gid: h.gid } : { uid: 0, gid: 0 }),
  };
}

function hostTarget(dirFd: number, dir: string, keepOwner: boolean): ExtractTarget {
  return {
    keepSpecial: true,
    show: (rel) => (rel ? posix.join(dir, rel) : dir),
    openDir: (rel, create) => openBeneath(dirFd, rel, create),
    owner: (h) => (keepOwner ? { uid: h.uid, gid: h.gid } : undefined),
  };
}

/** The tmpfs mounts of a running container are not in its rootfs: refuse a path at or below one. */
function checkMounts(r: Rootfs, path: string, action: string): void {
  const hc = r.containers.hostConfig(r.t.c.ID);
  const mounts = r.running ? Object.keys(hc.Tmpfs ?? {}).map((d) => ({ dest: d, kind: 'a tmpfs mount' })) : [];
  for (const { dest, kind } of mounts) {
    if (!dest) continue;
    const m = `/${inRoot(r.fd, dest)}`;
    if (path === m || path.startsWith(m === '/' ? '/' : `${m}/`)) {
      throw unsupported(
        'cp_mount',
        `${action} ${r.t.ref}:${path}: ${m} is ${kind} of the container, which berth cp does not reach`,
      );
    }
  }
}

/** A host SRC_PATH as Docker's CLI resolves it (parent symlinks resolved; the last one too with -L or "/"). */
function hostSource(path: string, follow: boolean): Source {
  const abs = localPath(path);
  const clean = posix.normalize(abs).replace(/(.)\/+$/, '$1');
  let real: string;
  try {
    real =
      follow || assertsDir(path)
        ? fs.realpathSync(clean)
        : posix.join(fs.realpathSync(posix.dirname(clean)), posix.basename(clean));
    const st = fs.lstatSync(real);
    if (assertsDir(path) && !st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    const top = real === '/';
    const dirFd = fs.openSync(top ? '/' : posix.dirname(real), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    return {
      dirFd,
      name: top ? '' : posix.basename(real),
      isDir: st.isDirectory(),
      as: contentOf(path) || clean === '/' ? '.' : posix.basename(clean),
    };
  } catch (err) {
    throw fsError(`copy ${path}`, err);
  }
}

/**
 * A host DEST_PATH as Docker's CLI checks it (ValidateOutputPath, then
 * CopyInfoDestinationPath): its parent must exist; a symlink at the path is
 * followed (the copy goes to its target); an existing path must be a directory
 * or a regular file (Docker lets a fifo or a socket through; berth does not, and
 * the extraction refuses to replace one met below a directory destination).
 */
function hostDestination(path: string): { path: string; exists: boolean; isDir: boolean } {
  const abs = localPath(path);
  let p =
    posix
      .normalize(abs)
      .replace(/(.)\/+$/, '$1')
      .replace(/\/\.$/, '') || '/';
  const parent = posix.dirname(p);
  if (!fs.existsSync(parent))
    throw notFound('no_such_directory', `invalid output path: directory "${parent}" does not exist`);
  let st = fs.lstatSync(p, { throwIfNoEntry: false });
  // what the kernel reaches through a symlink first: /dev/stdout -> /proc/self/fd/1 -> "pipe:[N]" is no path to follow
  const end = st?.isSymbolicLink() ? fs.statSync(p, { throwIfNoEntry: false }) : undefined;
  if (end && !end.isDirectory() && !end.isFile()) st = end;
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n >= 10) throw invalid('too_many_symlinks', `too many symlinks in ${abs}`);
    const target = fs.readlinkSync(p);
    p = posix.resolve(posix.dirname(p), target);
    st = fs.lstatSync(p, { throwIfNoEntry: false });
  }
  if (st && !st.isDirectory() && !st.isFile())
    throw invalid(
      'invalid_output',
      `invalid output path: "${abs}" must be a directory or a regular file: got ${kindOf(st)}`,
    );
  if (st && !st.isDirectory() && assertsDir(path)) throw invalid('not_a_directory', `copy to ${path}: not a directory`);
  if (!st) {
    const pst = fs.statSync(posix.dirname(p), { throwIfNoEntry: false });
    if (!pst) throw notFound('no_such_directory', `no such directory: ${posix.dirname(p)}`);
    if (!pst.isDirectory()) throw invalid('not_a_directory', `copy to ${path}: ${posix.dirname(p)} is not a directory`);
  }
  return { path: p, exists: !!st, isDir: !!st?.isDirectory() };
}

/** An absolute host path, keeping a trailing "/" or "/." (Docker's PreserveTrailingDotOrSeparator). */
function localPath(p: string): string {
  const abs = posix.resolve(p);
  if (contentOf(p)) return abs === '/' ? '/.' : `${abs}/.`;
  if (p.endsWith('/') && abs !== '/') return `${abs}/`;
  return abs;
}
