import { type ChainID, type ImageID, chainIDs, hexOf } from '../core/digest.js';
import type { Layer } from '../storage/layer-store.js';
import { mountSpec, readOnlyOptions } from '../storage/overlay2.js';
import { rfc3339Nano } from '../core/time.js';
import type { ContainerConfig } from './config.js';
import type { ImageRecord, ImageStore } from './store.js';
import { existsSync } from 'node:fs';

/** Docker's `image inspect` JSON for one image. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: ContainerConfig;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export function imageSize(store: ImageStore, id: ImageID): number {
  // (each layer's size file only: `images` sums every image's layers)
  return chainIDs(store.images.get(id).rootfs.diff_ids).reduce((a, c) => a + store.layers.size(c), 0);
}

export function inspectImage(store: ImageStore, id: ImageID): ImageInspect {
  const rec = store.get(id);
  const c = rec.config;
  const layers = store.imageLayers(id);
  const size = layers.reduce((a, l) => a + l.size, 0);
  const ov = store.paths.overlay;
  const top = layers[layers.length - 1];
  let data: Record<string, string> | null = null;
  if (top) {
    data = {
      MergedDir: `${ov}/${top.cacheId}/merged`,
      UpperDir: `${ov}/${top.cacheId}/diff`,
      WorkDir: `${ov}/${top.cacheId}/work`,
    };
    const lowers = layers
      .slice(0, -1)
      .reverse()
      .map((l) => `${ov}/${l.cacheId}/diff`);
    if (lowers.length) data = { LowerDir: lowers.join(':'), ...data };
  }
  return {
    Id: id,
    RepoTags: rec.refs.filter((r) => !r.includes('@')),
    RepoDigests: rec.refs.filter((r) => r.includes('@')),
    Parent: store.images.getMetadata(id, 'parent') ?? '',
    Comment: c.comment ?? '',
    Created: c.created ? rfc3339Nano(c.created) : '0001-01-01T00:00:00Z',
    Container: c.container ?? '',
    ContainerConfig: c.container_config ?? emptyConfig(),
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: c.config ?? null,
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: size,
    VirtualSize: size,
    GraphDriver: { Data: data, Name: 'overlay2' },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: store.images.getMetadata(id, 'lastUpdated') ?? '0001-01-01T00:00:00Z' },
  };
}

function emptyConfig(): ContainerConfig {
  return {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: '',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  };
}

/** One step of the walk a user does by hand through the store for an image's layers. */
export interface LayerWalk {
  index: number;
  diffID: string;
  chainID: ChainID;
  /** What the chainID was hashed from: [parent chainID, diffID], or null for the base layer (chainID = diffID). */
  chainInputs: [string, string] | null;
  layerdbDir: string;
  cacheId: string;
  overlayDir: string;
  link: string;
  linkTarget: string;
  lower: string | null;
  size: number;
  tarSplit: boolean;
}

export function layerWalk(
  store: ImageStore,
  id: ImageID,
): { layers: LayerWalk[]; mount: { readOnly: string; container: string; cwd: string } } {
  const layers = store.imageLayers(id);
  const out = layers.map((l: Layer, i): LayerWalk => ({
    index: i,
    diffID: l.diffID,
    chainID: l.chainID,
    chainInputs: l.parent ? [l.parent, l.diffID] : null,
    layerdbDir: store.paths.layerDir(hexOf(l.chainID)),
    cacheId: l.cacheId,
    overlayDir: store.paths.cacheDir(l.cacheId),
    link: l.link,
    linkTarget: `${store.paths.links}/${l.link} -> ../${l.cacheId}/diff`,
    lower: l.lower ?? null,
    size: l.size,
    tarSplit: existsSync(`${store.paths.layerDir(hexOf(l.chainID))}/tar-split.json.gz`),
  }));
  const top = layers[layers.length - 1]!;
  const index = existsSync('/sys/module/overlay/parameters/index');
  const lowerForContainer = [`l/${top.link}`, ...(top.lower ? top.lower.split(':') : [])].join(':');
  return {
    layers: out,
    mount: {
      readOnly: readOnlyOptions(top.link, top.lower),
      container: mountSpec(store.paths.overlay, '<rw-layer>', `l/<init-layer>:${lowerForContainer}`, index).options,
      cwd: store.paths.overlay,
    },
  };
}

/** Images that are parents of other images (hidden by `images` without -a when untagged). */
export function intermediateImages(list: ImageRecord[], store: ImageStore): Set<string> {
  const parents = new Set<string>();
  for (const r of list) {
    const p = store.images.getMetadata(r.id, 'parent');
    if (p) parents.add(p);
  }
  return parents;
}
