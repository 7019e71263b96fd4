import type { ImageID } from '../core/digest.js';
import { diffDirTar } from '../archive/diff-tar.js';
import { applyChanges } from '../image/changes.js';
import { encodeImageConfig, type ContainerConfig, type HistoryEntry, type ImageConfig } from '../image/config.js';
import type { Reference } from '../image/reference.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

export interface CommitOptions {
  author?: string;
  message?: string;
  changes?: string[];
  tags?: Reference[];
  /** Config fields that replace the container's (Docker's commit request body), before the changes. */
  config?: Partial<ContainerConfig>;
}

const EMPTY_TAR_DIFFID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/**
 * `commit`: the container's rw layer (never the init layer) becomes a new layer
 * on the image's chain: diff dir -> tar (whiteouts as .wh.) -> registered layer
 * with its diffID and chainID; the config takes the container's config, then
 * --change; history gains one entry.
 */
export async function commitContainer(
  containers: ContainerStore,
  c: ContainerRecord,
  opts: CommitOptions = {},
): Promise<ImageID> {
  const store = containers.images;
  const base = store.images.get(c.Image as ImageID);
  const chain = store.imageLayers(c.Image as ImageID);
  const top = chain[chain.length - 1]!;
  const upper = `${store.paths.cacheDir(c.MountID)}/diff`;
  return store.withTxn('commit', async (txn) => {
    const layer = await store.layers.register(txn, top, diffDirTar(upper), (fn) => store.lock(fn), {
      what: `commit of ${c.ID.slice(0, 12)}`,
    });
    const empty = layer.diffID === EMPTY_TAR_DIFFID;
    const created = new Date().toISOString();
    const history: HistoryEntry = {
      created,
      created_by: [c.Path, ...c.Args].join(' '),
      ...(opts.author ? { author: opts.author } : {}),
      ...(opts.message ? { comment: opts.message } : {}),
      ...(empty ? { empty_layer: true } : {}),
    };
    const { Hostname: _h, ...keep } = c.Config;
    const config = applyChanges(
      { ...base.config, ...keep, Image: c.Image, Hostname: c.Config.Hostname, ...opts.config },
      opts.changes ?? [],
    );
    const cfg: ImageConfig = {
      ...base,
      ...(opts.author ? { author: opts.author } : {}),
      ...(opts.message ? { comment: opts.message } : {}),
      config,
      container: c.ID,
      container_config: c.Config,
      created,
      docker_version: 'berth-0.1.0',
      history: [...(base.history ?? []), history],
      rootfs: { type: 'layers', diff_ids: empty ? base.rootfs.diff_ids : [...base.rootfs.diff_ids, layer.diffID] },
    };
    return store.putImage(txn, encodeImageConfig(cfg), cfg, opts.tags ?? [], { parent: c.Image as ImageID });
  });
}
