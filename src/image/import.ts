import type { ImageID } from '../core/digest.js';
import { encodeImageConfig } from './config.js';
import { applyChanges } from './changes.js';
import { emptyContainerConfig, singleLayerConfig } from './new-image.js';
import { type Reference } from './reference.js';
import type { ImageStore } from './store.js';

export interface ImportOptions {
  tags?: Reference[];
  changes?: string[];
  message?: string;
  /** Shown in history as the source ("-" for stdin, or the file name). */
  source?: string;
  maxLayerBytes?: number;
}

/** `import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image. */
export async function importRootfs(
  store: ImageStore,
  src: AsyncIterable<Buffer>,
  opts: ImportOptions = {},
): Promise<ImageID> {
  return store.withTxn('import', async (txn) => {
    const layer = await store.layers.register(txn, undefined, src, (fn) => store.lock(fn), {
      what: 'rootfs tarball',
      maxBytes: opts.maxLayerBytes,
    });
    const comment = opts.message || `Imported from ${opts.source ?? '-'}`;
    const cfg = singleLayerConfig(
      layer.diffID,
      applyChanges(emptyContainerConfig(), opts.changes ?? []),
      { comment },
      comment,
    );
    return store.putImage(txn, encodeImageConfig(cfg), cfg, opts.tags ?? []);
  });
}
