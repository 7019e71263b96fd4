/**
 * The container a filesystem step works in, as the classic builder does it: a
 * container on the stage's current image (RUN runs in it; COPY, ADD and WORKDIR
 * write through its mounted union), whose read-write layer then becomes the
 * step's layer. The container is removed after a successful step (and after a
 * failed one with --force-rm, as `docker build` does).
 */
import * as fs from 'node:fs';
import { diffDirTar } from '../archive/diff-tar.js';
import type { ImageID } from '../core/digest.js';
import type { ContainerConfig } from '../image/config.js';
import type { ContainerStore } from '../container/store.js';
import type { ContainerRecord, HostConfig } from '../container/types.js';
import { mountRootfs, unmountRootfs } from '../container/rootfs.js';
import { childImage, putStepImage } from './image-step.js';
import type { StageState } from './state.js';

export interface StepOptions {
  network: 'none' | 'host';
  /** Remove step containers after a successful step (docker build --rm, the default). */
  rm: boolean;
  /** Remove them after a failed step too. */
  forceRm: boolean;
  say(line: string): void;
}

export function buildHostConfig(network: 'none' | 'host'): HostConfig {
  return {
    Binds: null, NetworkMode: network, AutoRemove: false, ReadonlyRootfs: false, Tmpfs: null, Runtime: 'berth', GroupAdd: null,
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, LogConfig: { Type: 'json-file', Config: {} },
  };
}

/** Create a step container on the stage's image; argv is what a RUN executes (empty for COPY/ADD/WORKDIR). */
export async function createStepContainer(containers: ContainerStore, s: StageState, config: ContainerConfig, argv: string[], o: StepOptions): Promise<ContainerRecord> {
  const c = await containers.create(s.imageId as ImageID | undefined, {
    config: { ...config, Image: s.imageId ?? '' }, hostConfig: buildHostConfig(o.network), path: argv[0] ?? '', args: argv.slice(1),
  });
  o.say(` ---> Running in ${c.ID.slice(0, 12)}`);
  return c;
}

/** Mount the container's union, run fn on it, unmount (also on errors). */
export async function withMountedStep<T>(containers: ContainerStore, c: ContainerRecord, fn: (merged: string) => Promise<T> | T): Promise<T> {
  const lock = containers.lockForRun(c);
  try {
    const merged = mountRootfs(containers.images.paths, c.MountID);
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
export async function commitStepContainer(containers: ContainerStore, s: StageState, c: ContainerRecord, containerConfig: ContainerConfig, o: StepOptions): Promise<ImageID> {
  const store = containers.images;
  const upper = `${store.paths.cacheDir(c.MountID)}/diff`;
  const empty = fs.readdirSync(upper).length === 0;
  const id = await store.withTxn('build', async (txn) => {
    const top = s.imageId ? store.imageLayers(s.imageId).at(-1) : undefined;
    const layer = empty ? undefined : await store.layers.register(txn, top, diffDirTar(upper), (fn) => store.lock(fn), { what: `build step ${c.ID.slice(0, 12)}` });
    const cfg = childImage(s.image, {
      containerConfig, config: s.runConfig, containerId: c.ID,
      ...(layer ? { diffID: layer.diffID } : {}), ...(s.maintainer ? { author: s.maintainer } : {}),
    });
    return putStepImage(store, txn, s, cfg);
  });
  if (o.rm) await removeStepContainer(containers, c, o);
  return id;
}

export async function removeStepContainer(containers: ContainerStore, c: ContainerRecord, o: StepOptions): Promise<void> {
  await containers.remove(containers.tryGet(c.ID) ?? c);
  o.say(`Removing intermediate container ${c.ID.slice(0, 12)}`);
}
