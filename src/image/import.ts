import type { ImageID } from '../core/digest.js';
import { aborted } from '../core/errors.js';
import { encodeImageConfig } from './config.js';
import { applyChanges } from './changes.js';
import { emptyContainerConfig, singleLayerConfig } from './new-image.js';
import { type Reference } from './reference.js';
import type { Txn } from '../storage/txn.js';
import type { ImageStore } from './store.js';

export interface ImportOptions {
  tags?: Reference[];
  changes?: string[];
  message?: string;
  /** Shown in history as the source ("-" for stdin, or the file name). */
  source?: string;
  maxLayerBytes?: number;
  /** Stops the import: it rejects with an "aborted" error and the store is as before. */
  signal?: AbortSignal;
}

/** `import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image. */
export async function importRootfs(
  store: ImageStore,
  src: AsyncIterable<Buffer>,
  opts: ImportOptions = {},
): Promise<ImageID> {
  const signal = opts.signal;
  try {
    return await store.withTxn('import', (txn) => importInTxn(store, txn, src, opts));
  } catch (err) {
    if (signal?.aborted) throw aborted('import', signal);
    throw err;
  }
}

async function importInTxn(
  store: ImageStore,
  txn: Txn,
  src: AsyncIterable<Buffer>,
  opts: ImportOptions,
): Promise<ImageID> {
  const signal = opts.signal;
  signal?.throwIfAborted();
  const layer = await store.layers.register(txn, undefined, src, (fn) => store.lock(fn), {
    what: 'rootfs tarball',
    maxBytes: opts.maxLayerBytes,
    ...(signal ? { signal } : {}),
  });
  // the last point to stop: from here the image is written
  signal?.throwIfAborted();
  const comment = opts.message || `Imported from ${opts.source ?? '-'}`;
  const cfg = singleLayerConfig(
    layer.diffID,
    applyChanges(emptyContainerConfig(), opts.changes ?? []),
    { comment },
    comment,
  );
  return store.putImage(txn, encodeImageConfig(cfg), cfg, opts.tags ?? []);
}
