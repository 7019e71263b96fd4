import { type ChainID, type DiffID, chainIDs, hexOf, shortId } from '../core/digest.js';
import { BerthError, corrupt, wrap } from '../core/errors.js';
import { type ApplyResult, applyLayer } from '../archive/layer-apply.js';
import { FileLock } from '../storage/lock.js';
import type { Layer, PreparedLayer } from '../storage/layer-store.js';
import type { Txn } from '../storage/txn.js';
import type { ImageStore } from '../image/store.js';
import type { Descriptor } from './manifest.js';
import type { PullEvent } from './progress.js';
import { type PartialDownloads, downloadBlob, isNetworkFailure } from './blob-download.js';
import type { Response } from './transport.js';

/** Where a pull's layer blobs come from: the registry (a GET, from a byte offset on) and the partial files. */
export interface BlobSource {
  /** GET the blob; from > 0: the bytes from there on (a Range request). */
  fetch: (d: Descriptor, from: number) => Promise<Response>;
  partials: PartialDownloads;
  /** Waits before the tries that resume a dropped or stalled download (ms). */
  retryDelays: readonly number[];
}

/** Docker's max-concurrent-downloads default. */
export const DOWNLOADS = 3;

interface Item {
  desc: Descriptor;
  diffID: DiffID;
  chainID: ChainID;
  parentChain?: ChainID;
  id: string;
  prep?: PreparedLayer;
  result?: Promise<ApplyResult>;
}

/**
 * Bring an image's layers into the store with the layer code `load` uses (prepare a
 * staging dir, applyLayer, commit under the chainID): layers already registered are
 * leased ("Already exists"), the others stream from the registry straight into the
 * extraction (resumed from a partial file, and after a dropped connection: blob-download.ts),
 * several at once, each checked against its descriptor's size and digest and its config
 * diffID; they are registered base first once all are in. On error the caller's
 * transaction removes everything staged (the partial files stay, for the next pull).
 */
export async function ingestLayers(
  store: ImageStore,
  txn: Txn,
  descs: Descriptor[],
  diffIDs: DiffID[],
  blob: BlobSource,
  emit: (e: PullEvent) => void,
): Promise<void> {
  const chain = chainIDs(diffIDs);
  const items: Item[] = descs.map((desc, i) => ({
    desc,
    diffID: diffIDs[i]!,
    chainID: chain[i]!,
    ...(i > 0 ? { parentChain: chain[i - 1]! } : {}),
    id: shortId(desc.digest),
  }));
  const needed = new Map<ChainID, Item>();
  for (const it of items) if (!needed.has(it.chainID)) needed.set(it.chainID, it);
  const lease = () =>
    store.lock(() => {
      for (const [c] of needed)
        if (store.layers.has(c)) {
          txn.add({ op: 'lease', chainID: c });
          needed.delete(c);
        }
    });
  await lease();
  for (const it of items)
    emit({ id: it.id, status: needed.get(it.chainID) === it ? 'Pulling fs layer' : 'Already exists' });
  const locks: FileLock[] = [];
  try {
    // one extraction per layer across processes (the same per-layer locks load takes), then look again
    for (const c of [...needed.keys()].sort())
      locks.push(await FileLock.acquire(`${store.paths.locks}/layer-${hexOf(c)}`));
    await lease();
    const work = [...needed.values()];
    for (const it of work) it.prep = store.layers.prepare(txn, it.parentChain ? { link: '' } : undefined);
    let next = 0;
    // after a failure no further download starts (the pull fails anyway); those running finish
    let failure: { err: unknown } | undefined;
    const runners = Array.from({ length: Math.min(DOWNLOADS, work.length) }, async () => {
      while (!failure && next < work.length) {
        const it = work[next++]!;
        it.result = fetchOne(it, blob, emit);
        await it.result.catch((err: unknown) => {
          failure ??= { err };
        });
      }
    });
    await Promise.all(runners);
    if (failure) throw failure.err;
    const committed = new Map<ChainID, Layer>();
    const registerChain = async (c: ChainID): Promise<Layer> => {
      const have = committed.get(c) ?? store.layers.get(c);
      if (have) return have;
      const it = needed.get(c);
      if (!it) throw corrupt('layer_missing', `layer ${c} vanished during pull`);
      const parent = it.parentChain ? await registerChain(it.parentChain) : undefined;
      const res = await it.result!;
      const layer = await store.layers.commit(txn, it.prep!, parent, res, (fn) => store.lock(fn), {
        expectDiffID: it.diffID,
        what: `layer ${it.desc.digest}`,
      });
      if (layer.chainID !== c)
        throw corrupt('chainid_mismatch', `layer ${it.desc.digest}: registered as ${layer.chainID}, expected ${c}`);
      committed.set(c, layer);
      emit({ id: it.id, status: 'Pull complete' });
      return layer;
    };
    for (const it of work) await registerChain(it.chainID);
  } finally {
    for (const l of locks) l.remove();
  }
}

async function fetchOne(it: Item, src: BlobSource, emit: (e: PullEvent) => void): Promise<ApplyResult> {
  const what = `layer ${it.desc.digest}`;
  const total = it.desc.size;
  let lastEmit = 0;
  const partial = src.partials.open(it.desc.digest);
  // the source never throws into the layer code: a stream error there would not reach the
  // decompressor (it would wait for more input); the first failure is kept and ends the input
  let failure: unknown;
  async function* guarded(): AsyncGenerator<Buffer> {
    try {
      yield* downloadBlob({
        digest: it.desc.digest,
        size: total,
        what,
        fetch: (from) => src.fetch(it.desc, from),
        partial,
        progress: (current, force) => {
          const now = Date.now();
          if (!force && now - lastEmit <= 250) return;
          lastEmit = now;
          emit({ id: it.id, status: 'Downloading', progressDetail: { current, total } });
        },
        status: (status) => emit({ id: it.id, status }),
        retryDelays: src.retryDelays,
      });
    } catch (err) {
      failure = err instanceof BerthError ? err : wrap(`download ${what}`, err);
      return;
    }
    emit({ id: it.id, status: 'Verifying Checksum' });
  }
  let res: ApplyResult;
  try {
    res = await applyLayer(it.prep!.diffRoot, guarded(), { what, blobDigest: true });
    if (failure) throw failure;
  } catch (err) {
    // bytes kept only when the network failed; wrong bytes (or a failure here) cost the partial file
    if (partial && !isNetworkFailure(failure)) src.partials.discard(partial);
    throw failure ?? err;
  }
  if (res.blobDigest !== it.desc.digest) {
    if (partial) src.partials.discard(partial);
    throw corrupt(
      'digest_mismatch',
      `${what}: the blob's digest is ${res.blobDigest}: the registry sent other content`,
    );
  }
  emit({ id: it.id, status: 'Download complete' });
  return res;
}
