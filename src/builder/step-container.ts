/**
 * The container a filesystem step works in, as the classic builder does it: a
 * container on the stage's current image (RUN runs in it; COPY, ADD and WORKDIR
 * write through its mounted union), whose read-write layer then becomes the
 * step's layer. The container is removed after a successful step (and after a
 * failed one with --force-rm, as `docker build` does).
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import * as native from '../native/index.js';
import { BerthError } from '../core/errors.js';
import { OPAQUE_XATTR } from '../archive/layer-apply.js';
import type { ImageID } from '../core/digest.js';
import type { ContainerConfig } from '../image/config.js';
import type { ContainerStore } from '../container/store.js';
import type { ContainerRecord, HostConfig } from '../container/types.js';
import { mountRootfs, unmountRootfs } from '../container/rootfs.js';
import { diffDirTar } from '../archive/diff-tar.js';
import { childImage, putStepImage } from './image-step.js';
import type { StageState } from './state.js';

export interface StepOptions {
  network: 'none' | 'host' | 'bridge';
  /** --add-host entries (NAME:IP, IP may be host-gateway). */
  extraHosts?: string[];
  /** Remove step containers after a successful step (docker build --rm, the default). */
  rm: boolean;
  /** Remove them after a failed step too. */
  forceRm: boolean;
  /** Aborted when the build is to stop at once (SIGINT, SIGTERM or SIGHUP to berth); its reason is the signal's name. */
  signal?: AbortSignal;
  say(line: string): void;
}

/** The error a build stopped by a signal ends with. */
export function interrupted(signal: AbortSignal): BerthError {
  const name = typeof signal.reason === 'string' ? signal.reason : 'a signal';
  return new BerthError('Internal', 'build_interrupted', `build interrupted by ${name}`);
}

/**
 * Once the build is interrupted, the step container goes whatever --rm and
 * --force-rm say (a cancelled step is no failure to inspect: dockerd removes
 * it), and the build ends.
 */
export async function endIfInterrupted(containers: ContainerStore, c: ContainerRecord, o: StepOptions): Promise<void> {
  if (!o.signal?.aborted) return;
  await removeStepContainer(containers, c, o);
  throw interrupted(o.signal);
}

export function buildHostConfig(network: 'none' | 'host' | 'bridge', extraHosts: string[] = []): HostConfig {
  return {
    Binds: null,
    NetworkMode: network,
    ...(extraHosts.length ? { ExtraHosts: [...extraHosts] } : {}),
    AutoRemove: false,
    ReadonlyRootfs: false,
    Tmpfs: null,
    Runtime: 'berth',
    GroupAdd: null,
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    LogConfig: { Type: 'json-file', Config: {} },
  };
}

/** Create a step container on the stage's image; argv is what a RUN executes (empty for COPY/ADD/WORKDIR). */
export async function createStepContainer(
  containers: ContainerStore,
  s: StageState,
  config: ContainerConfig,
  argv: string[],
  o: StepOptions,
): Promise<ContainerRecord> {
  const c = await containers.create(s.imageId as ImageID | undefined, {
    config: { ...config, Image: s.imageId ?? '' },
    // COPY, ADD and WORKDIR run nothing: no network for them
    hostConfig: argv.length ? buildHostConfig(o.network, o.extraHosts) : buildHostConfig('none'),
    path: argv[0] ?? '',
    args: argv.slice(1),
  });
  o.say(` ---> Running in ${c.ID.slice(0, 12)}`);
  return c;
}

/** Mount the container's union, run fn on it, unmount (also on errors). */
export async function withMountedStep<T>(
  containers: ContainerStore,
  c: ContainerRecord,
  fn: (merged: string) => Promise<T> | T,
): Promise<T> {
  const lock = containers.lockForRun(c);
  try {
    // a step's writes need no sync at unmount: the layer is made from them right after (as for --rm containers)
    const merged = mountRootfs(containers.images.paths, c.MountID, { volatile: true });
    try {
      return await fn(merged);
    } finally {
      unmountRootfs(containers.images.paths, c.MountID);
    }
  } finally {
    lock.release();
  }
}

/**
 * Commit the container's read-write layer as the step's image (no layer when it
 * is empty) with `containerConfig` as its container_config, then remove the
 * container when --rm says so.
 */
export async function commitStepContainer(
  containers: ContainerStore,
  s: StageState,
  c: ContainerRecord,
  containerConfig: ContainerConfig,
  o: StepOptions,
): Promise<ImageID> {
  const store = containers.images;
  const upper = `${store.paths.cacheDir(c.MountID)}/diff`;
  const empty = fs.readdirSync(upper).length === 0;
  const id = await store.withTxn('build', async (txn) => {
    const top = s.imageId ? store.imageLayers(s.imageId).at(-1) : undefined;
    // the rw layer's files become the new layer's: moved, not copied, when the container is removed right after
    const what = { what: `build step ${c.ID.slice(0, 12)}` };
    const layer = empty
      ? undefined
      : o.rm
        ? await store.layers.adopt(txn, top, upper, (fn) => store.lock(fn), what)
        : await store.layers.register(txn, top, diffDirTar(upper), (fn) => store.lock(fn), what);
    const cfg = childImage(s.image, {
      containerConfig,
      config: s.runConfig,
      containerId: c.ID,
      ...(layer ? { diffID: layer.diffID } : {}),
      ...(s.maintainer ? { author: s.maintainer } : {}),
    });
    return putStepImage(store, txn, s, cfg);
  });
  if (o.rm) await removeStepContainer(containers, c, o);
  return id;
}

export async function removeStepContainer(
  containers: ContainerStore,
  c: ContainerRecord,
  o: StepOptions,
): Promise<void> {
  await containers.remove(containers.tryGet(c.ID) ?? c);
  o.say(`Removing intermediate container ${c.ID.slice(0, 12)}`);
}

/**
 * Forget what a step wrote below its config's volumes: in Docker those paths
 * are volumes while a RUN runs, so its writes there never reach the layer.
 * The volume directory itself stays (Docker makes it as a mount point).
 */
export function dropVolumeWrites(upper: string, lowers: readonly string[], volumes: readonly string[]): void {
  for (const v of volumes) {
    const rel = posix.normalize(`/${v}`).slice(1);
    const dir = posix.join(upper, rel);
    if (dir === upper || !dir.startsWith(`${upper}/`)) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    // the image had it: a copied-up dir, which Docker's mount over it never makes
    if (inLowers(lowers, rel)) {
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    for (const name of fs.readdirSync(dir)) fs.rmSync(`${dir}/${name}`, { recursive: true, force: true });
    let opaque = false;
    try {
      opaque = native.lgetxattr(dir, OPAQUE_XATTR)?.toString() === 'y';
    } catch {
      /* not opaque */
    }
    if (opaque) {
      // an opaque dir would hide the image's files there: make it again without the mark
      fs.rmdirSync(dir);
      fs.mkdirSync(dir, st.mode & 0o7777);
      fs.chmodSync(dir, st.mode & 0o7777);
      fs.chownSync(dir, st.uid, st.gid);
      fs.utimesSync(dir, st.atime, st.mtime);
    }
  }
}

/** Whether `rel` exists in the union of these layer dirs (uppermost first), honouring whiteouts and opaque dirs. */
export function inLowers(lowers: readonly string[], rel: string): boolean {
  const parts = rel.split('/').filter(Boolean);
  for (const dir of lowers) {
    for (let i = 1; i <= parts.length; i++) {
      const p = posix.join(dir, ...parts.slice(0, i));
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(p);
      } catch {
        /* not in this layer */
      }
      if (st?.isCharacterDevice() && st.rdev === 0) return false;
      if (!st) break;
      if (i === parts.length) return true;
      let opaque = false;
      try {
        opaque = native.lgetxattr(p, OPAQUE_XATTR)?.toString() === 'y';
      } catch {
        /* no */
      }
      if (opaque) {
        // below an opaque dir only this layer counts
        try {
          fs.lstatSync(posix.join(dir, ...parts));
          return true;
        } catch {
          return false;
        }
      }
    }
  }
  return false;
}

/** The diff dirs under a layer dir's union, uppermost first (its `lower` file of l/ links). */
export function lowerDirs(overlay: string, cacheDir: string): string[] {
  let lower = '';
  try {
    lower = fs.readFileSync(`${cacheDir}/lower`, 'utf8');
  } catch {
    return [];
  }
  return lower
    .split(':')
    .filter(Boolean)
    .map((l) => `${overlay}/${l}`);
}
