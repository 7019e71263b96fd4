/**
 * A build step's image: the child of the image so far, as moby's NewChildImage
 * makes it (config = the run config, container_config = the step's config whose
 * Cmd names the step, one history entry, the layer's diffID unless it is
 * empty), stored with `parent` (and `builtLocally`) metadata, which is also what
 * the cache looks up: a step is reused when a child of the same parent has the
 * same container_config.
 */
import * as fs from 'node:fs';
import type { DiffID, ImageID } from '../core/digest.js';
import { encodeImageConfig, type ContainerConfig, type HistoryEntry, type ImageConfig } from '../image/config.js';
import { goArch } from '../image/archive-plan.js';
import type { ImageStore } from '../image/store.js';
import type { Txn } from '../storage/txn.js';
import { copyConfig, sameStepConfig, type StageState } from './state.js';

export const EMPTY_TAR_DIFFID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef' as DiffID;

/** The config `FROM scratch` starts from. */
export function scratchImage(): ImageConfig {
  return { architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [] } };
}

/** The image a step makes on `parent`; `diffID` undefined (or the empty tar's) means no layer. */
export function childImage(
  parent: ImageConfig,
  step: {
    containerConfig: ContainerConfig;
    config: ContainerConfig;
    diffID?: DiffID;
    author?: string;
    containerId?: string;
  },
): ImageConfig {
  const empty = !step.diffID || step.diffID === EMPTY_TAR_DIFFID;
  const created = new Date().toISOString();
  const history: HistoryEntry = {
    created,
    ...(step.author ? { author: step.author } : {}),
    created_by: (step.containerConfig.Cmd ?? []).join(' '),
    ...(empty ? { empty_layer: true } : {}),
  };
  return {
    architecture: parent.architecture || goArch(),
    ...(parent.variant ? { variant: parent.variant } : {}),
    os: 'linux',
    ...(step.author ? { author: step.author } : {}),
    config: copyConfig(step.config),
    container: step.containerId ?? '',
    container_config: copyConfig(step.containerConfig),
    created,
    docker_version: 'berth-0.1.0',
    history: [...(parent.history ?? []), history],
    rootfs: {
      type: 'layers',
      diff_ids: empty ? [...parent.rootfs.diff_ids] : [...parent.rootfs.diff_ids, step.diffID!],
    },
  };
}

/** Store a step's image (in txn) and make it the stage's current image. */
export async function putStepImage(store: ImageStore, txn: Txn, s: StageState, cfg: ImageConfig): Promise<ImageID> {
  const id = await store.putImage(txn, encodeImageConfig(cfg), cfg, [], {
    ...(s.imageId ? { parent: s.imageId } : {}),
    builtLocally: true,
  });
  const known = indexes.get(store);
  if (known) {
    const idx = known.byParent;
    if (!(idx.get(s.imageId ?? '') ?? []).includes(id))
      idx.set(s.imageId ?? '', [...(idx.get(s.imageId ?? '') ?? []), id]);
    // this process's own image is in the index: what changed the dirs is known (another process's change in the
    // same moment is read at its next change)
    known.stamp = imagedbStamp(store);
  }
  s.imageId = id;
  s.image = cfg;
  return id;
}

/**
 * The cached result of a step, if any: the newest image built on the same
 * parent (for FROM scratch: built here with no parent) whose container_config
 * is the step's.
 */
export function probeCache(store: ImageStore, parent: ImageID | undefined, cc: ContainerConfig): ImageID | undefined {
  const candidates = childrenIndex(store).get(parent ?? '') ?? [];
  let best: { id: ImageID; created: string } | undefined;
  for (const id of candidates) {
    let cfg: ImageConfig;
    try {
      cfg = store.images.get(id);
    } catch {
      continue;
    }
    if (!sameStepConfig(cfg.container_config, cc)) continue;
    if (!parent && cfg.rootfs.diff_ids.length > 1) continue;
    const created = cfg.created ?? '';
    if (!best || best.created < created) best = { id, created };
  }
  return best?.id;
}

/**
 * Images by parent ('' for images built here with no parent), read once (every image's `parent` metadata) and kept
 * up to date with the images this process adds. The index serves while the imagedb's content and metadata dirs are
 * unchanged (their inode and change time): an image another process adds or deletes changes them, and the index is
 * read again (a long-lived engine sees other builds' images).
 */
const indexes = new WeakMap<ImageStore, { stamp: string; byParent: Map<string, ImageID[]> }>();

function imagedbStamp(store: ImageStore): string {
  const stamp = (p: string) => {
    try {
      const st = fs.statSync(p, { bigint: true });
      return `${st.ino}:${st.ctimeNs}`;
    } catch {
      return '-';
    }
  };
  return `${stamp(store.paths.imagedbContent)}/${stamp(store.paths.imagedbMetadata)}`;
}

function childrenIndex(store: ImageStore): Map<string, ImageID[]> {
  const stamp = imagedbStamp(store);
  const known = indexes.get(store);
  if (known?.stamp === stamp) return known.byParent;
  const idx = new Map<string, ImageID[]>();
  for (const id of store.images.list()) {
    const parent = store.images.getMetadata(id, 'parent');
    if (parent === undefined && store.images.getMetadata(id, 'builtLocally') === undefined) continue;
    const key = parent ?? '';
    idx.set(key, [...(idx.get(key) ?? []), id]);
  }
  indexes.set(store, { stamp, byParent: idx });
  return idx;
}

/** Move the stage onto a cached step image. */
export function useCached(store: ImageStore, s: StageState, id: ImageID): void {
  s.imageId = id;
  s.image = store.images.get(id);
}
