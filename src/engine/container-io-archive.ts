import { posix } from 'node:path';
import { conflict } from '../core/errors.js';
import { Readable, Transform } from 'node:stream';
import { diffDirTar } from '../archive/diff-tar.js';
import type { TarHeader } from '../archive/tar-header.js';
import { TarParser } from '../archive/tar-parser.js';
import { copyFromContainerTar, copyTarToContainer } from '../container/cp.js';
import { isMountPoint, mountRootfs, unmountRootfs } from '../container/rootfs.js';
import type { FileLock } from '../storage/lock.js';
import type { Engine } from './engine.js';
import { findContainer } from './container-io-find.js';

/** Docker's X-Docker-Container-Path-Stat (base64 JSON of a ContainerPathStat). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: permission bits, plus the type and setuid/setgid/sticky bits as Go numbers them. */
  mode: number;
  /** RFC 3339. */
  mtime: string;
  /** For a symlink, where it points in the container (absolute); '' otherwise. */
  linkTarget: string;
}

// Go's os.FileMode bits
const GO_MODE: Record<TarHeader['type'], number> = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  block: 2 ** 26,
  char: 2 ** 26 + 2 ** 21,
  fifo: 2 ** 25,
  file: 0,
  link: 0,
};

/** A tar header's mode as Go's os.FileMode (what Docker's stat header carries). */
export function goFileMode(h: Pick<TarHeader, 'type' | 'mode'>): number {
  const special = (h.mode & 0o4000 ? 2 ** 23 : 0) + (h.mode & 0o2000 ? 2 ** 22 : 0) + (h.mode & 0o1000 ? 2 ** 20 : 0);
  return GO_MODE[h.type] + special + (h.mode & 0o777);
}

function pathStat(h: TarHeader, path: string): PathStat {
  const abs = posix.join('/', path);
  return {
    name: abs === '/' ? '/' : posix.basename(abs),
    size: h.size,
    mode: goFileMode(h),
    mtime: new Date(h.mtime * 1000).toISOString(),
    linkTarget: h.type === 'symlink' ? posix.resolve(posix.dirname(abs), h.linkname) : '',
  };
}

/**
 * `GET /containers/{id}/archive`: a tar of `path` in the container (its top
 * member named after the path's base name, "." for "dir/.") and its stat. The
 * path resolves inside the container's rootfs (cp.ts); the stat is taken from
 * the tar's first header, so it describes exactly what the stream holds. The
 * rootfs stays mounted (a stopped container's) until the stream ends or is
 * destroyed.
 */
export async function getArchive(
  engine: Engine,
  id: string,
  path: string,
  opts: { followLink?: boolean } = {},
): Promise<{ stat: PathStat; stream: Readable }> {
  const c = await findContainer(engine, id);
  let gotStat!: (s: PathStat) => void;
  const statKnown = new Promise<PathStat>((res) => (gotStat = res));
  let probing = true;
  const probe = new TarParser({
    raw: () => undefined,
    entry: (h) => {
      if (!probing) return;
      probing = false;
      gotStat(pathStat(h, path));
    },
    body: () => undefined,
    entryEnd: () => undefined,
  });
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (probing) probe.write(chunk);
      cb(null, chunk);
    },
  });
  // the caller sees a failure through the stream it reads (or as the rejection, before it has one)
  stream.on('error', () => undefined);
  let copied = false;
  const copy = copyFromContainerTar(engine.containerStore, { ref: id, c }, path, stream, {
    followLink: !!opts.followLink,
  }).then(
    () => {
      copied = true;
      stream.end();
    },
    (err: unknown) => {
      stream.destroy(err as Error);
      throw err;
    },
  );
  // a reader that lets go early (destroy) ends the copy, which then unmounts and unlocks: the tar writer's next write
  // throws, and one waiting for 'drain' gets an error instead
  stream.on('close', () => {
    if (copied) return;
    const gone = conflict('archive_closed', `archive of ${id}:${path}: the reader closed the stream`);
    stream.write = () => {
      throw gone;
    };
    stream.emit('error', gone);
  });
  const stat = await Promise.race([statKnown, copy.then(() => statKnown)]);
  copy.catch(() => undefined); // from here on the stream carries the error
  return { stat, stream };
}

/** PUT /containers/{id}/archive options. */
export interface PutArchiveOptions {
  /**
   * Docker's noOverwriteDirNonDir. berth always refuses to replace a directory
   * with a non-directory or the reverse (the Docker CLI always asks for that);
   * false is accepted and changes nothing.
   */
  noOverwriteDirNonDir?: boolean;
  /** Keep the archive's uid/gid (cp -a); otherwise files belong to root in the container. */
  copyUIDGID?: boolean;
}

/**
 * `PUT /containers/{id}/archive`: extract a tar (plain or compressed) into the
 * directory `path` of the container. Every name, hard link and symlink on the
 * way stays inside the rootfs; on error what was written so far is removed
 * (cp-tree.ts's Extractor).
 */
export async function putArchive(
  engine: Engine,
  id: string,
  path: string,
  tar: AsyncIterable<Buffer> | Iterable<Buffer>,
  opts: PutArchiveOptions = {},
): Promise<void> {
  const c = await findContainer(engine, id);
  const input = Symbol.asyncIterator in tar ? tar : Readable.from(tar);
  await copyTarToContainer(engine.containerStore, { ref: id, c }, input, path, { archive: !!opts.copyUIDGID });
}

/**
 * `GET /containers/{id}/export`: the container's merged filesystem as a tar.
 * A container that does not run is held still by its run lock for the export
 * (it cannot start meanwhile, and the clean-up of a run that just ended waits),
 * and its union, mounted for the export if it was not, is unmounted when the
 * stream ends, fails or is destroyed (synchronously, so a caller exiting on a
 * signal right after destroy() leaves no mount behind). A running container's
 * union is its runner's.
 */
export async function exportContainer(engine: Engine, id: string): Promise<Readable> {
  const c = await findContainer(engine, id);
  const paths = engine.store.paths;
  let lock: FileLock | undefined;
  if (!c.State.Running) {
    try {
      lock = await engine.containerStore.lockForStart(c);
    } catch (err) {
      if ((err as { code?: string }).code !== 'already_running') throw err;
    }
  }
  let mounted = false;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      if (mounted) unmountRootfs(paths, c.MountID);
    } finally {
      lock?.release();
    }
  };
  let merged: string;
  try {
    const wasMounted = isMountPoint(`${paths.cacheDir(c.MountID)}/merged`);
    if (!lock && !wasMounted)
      throw conflict('not_mounted', `export ${id}: it runs but its filesystem is not mounted (restarting?): try again`);
    mounted = !wasMounted;
    merged = mountRootfs(paths, c.MountID);
  } catch (err) {
    mounted = false;
    release();
    throw err;
  }
  const it = diffDirTar(merged)[Symbol.asyncIterator]();
  return new Readable({
    async read() {
      try {
        const r = await it.next();
        if (r.done) {
          release();
          this.push(null);
        } else this.push(r.value);
      } catch (err) {
        release();
        this.destroy(err as Error);
      }
    },
    destroy(err, cb) {
      release();
      void it.return?.(undefined)?.catch(() => undefined);
      cb(err);
    },
  });
}
