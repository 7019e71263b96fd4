import { Readable } from 'node:stream';
import { hexOf } from '../core/digest.js';
import { BerthError, corrupt, wrap } from '../core/errors.js';
import { mark } from '../core/trace.js';
import type { ImageStore } from '../image/store.js';
import { readOptional } from '../storage/fsutil.js';
import type { Layer } from '../storage/layer-store.js';
import type { RegistryClient } from './client.js';
import { type V2Metadata, recordBlob } from './distribution.js';
import { registryError } from './errors.js';
import type { Descriptor } from './manifest.js';
import type { PullEvent } from './progress.js';
import { type LayerCompression, PUSH_BLOCKS, ParallelGzip } from './push-gzip.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_ZSTD, reuseCandidates, uploadURL } from './push-manifest.js';
import type { Response } from './transport.js';

/** One push's connection to its target: the repository (full name and path on the registry). */
export interface PushTarget {
  store: ImageStore;
  client: RegistryClient;
  /** Full name: "127.0.0.1:5000/app". */
  name: string;
  /** The repository's path on the registry: "app". */
  path: string;
  /** The token scopes of a push: pull and push on the target. */
  scopes: string[];
  /** gzip (Docker schema2) or zstd (OCI). */
  compression: LayerCompression;
  emit: (e: PullEvent) => void;
}

const EMPTY = Buffer.alloc(0);

/** dockerd's v2metadata-by-diffid entries for a layer (none when unknown or unreadable). */
export function knownBlobs(store: ImageStore, diffID: string): V2Metadata[] {
  const text = readOptional(`${store.paths.distribution}/v2metadata-by-diffid/sha256/${hexOf(diffID)}`);
  if (!text) return [];
  try {
    const j = JSON.parse(text) as unknown;
    return Array.isArray(j)
      ? j.filter(
          (e): e is V2Metadata =>
            !!e &&
            typeof e.Digest === 'string' &&
            /^sha256:[a-f0-9]{64}$/.test(e.Digest) &&
            typeof e.SourceRepository === 'string',
        )
      : [];
  } catch {
    return [];
  }
}

/**
 * Push one layer as dockerd does: a blob the distribution metadata knows on this registry is
 * looked for in the target repository (HEAD: "Layer already exists") or mounted from the
 * repository it was seen in ("Mounted from ..."); else the layer's exact tar is rebuilt from
 * the store, gzip'd on the way and uploaded in one streamed PATCH (digest and size computed
 * as it goes), then closed with PUT ?digest=. The blob is recorded for the next push.
 * zstd blobs are neither looked up nor recorded: dockerd's metadata has no media type, and a
 * gzip push (or dockerd) must never be offered a zstd blob for a layer.
 */
export async function pushLayer(t: PushTarget, layer: Layer): Promise<Descriptor> {
  const id = layer.diffID.slice(7, 19);
  const zstd = t.compression === 'zstd';
  const cand = zstd ? { exists: [], mounts: [] } : reuseCandidates(knownBlobs(t.store, layer.diffID), t.name);
  for (const digest of cand.exists) {
    const size = await stat(t, digest);
    if (size !== undefined && (await isGzip(t, t.path, digest, t.scopes))) {
      t.emit({ id, status: 'Layer already exists' });
      return remember(t, layer, digest, size);
    }
  }
  let session: URL | undefined;
  for (const m of cand.mounts) {
    if (!(await isGzip(t, m.from, m.digest, [...t.scopes, `repository:${m.from}:pull`]))) continue;
    const q = `mount=${encodeURIComponent(m.digest)}&from=${encodeURIComponent(m.from)}`;
    const res = await t.client.send(
      'POST',
      `/v2/${t.path}/blobs/uploads/?${q}`,
      [...t.scopes, `repository:${m.from}:pull`],
      {
        body: EMPTY,
      },
    );
    res.body.resume();
    if (res.status === 201) {
      const size = await stat(t, m.digest);
      if (size !== undefined) {
        t.emit({ id, status: `Mounted from ${m.from}` });
        return remember(t, layer, m.digest, size);
      }
    } else if (res.status === 202) {
      // not mounted: the registry opened an upload session instead, which the upload uses
      session = uploadURL(res.url, res.headers.location);
      break;
    }
  }
  session ??= await startUpload(t);
  mark('push: layer session');
  const { digest, size } = await upload(t, layer, id, session);
  t.emit({ id, status: 'Pushed' });
  return remember(t, layer, digest, size);
}

/** The blob's size if the target repository has it (HEAD), else undefined. */
export async function stat(t: PushTarget, digest: string): Promise<number | undefined> {
  const res = await t.client.send('HEAD', `/v2/${t.path}/blobs/${digest}`, t.scopes);
  res.body.resume();
  if (res.status !== 200) return undefined;
  const n = Number(res.headers['content-length']);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Whether a blob starts as gzip does: the metadata also records blobs a pull met in other formats
 * (an OCI tar+zstd or plain tar layer), which a schema2 manifest must not name as tar.gzip. Reads
 * its first bytes (a Range request; a registry that ignores Range is cut off after the first chunk).
 */
export async function isGzip(t: PushTarget, repo: string, digest: string, scopes: string[]): Promise<boolean> {
  const res = await t.client.send('GET', `/v2/${repo}/blobs/${digest}`, scopes, { headers: { Range: 'bytes=0-1' } });
  if (res.status !== 200 && res.status !== 206) {
    res.body.resume();
    return false;
  }
  let head = Buffer.alloc(0);
  for await (const c of res.body as AsyncIterable<Buffer>) {
    head = Buffer.concat([head, c]);
    if (head.length >= 2) break;
  }
  res.body.destroy();
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** POST /v2/<name>/blobs/uploads/: a new upload session's URL. */
export async function startUpload(t: PushTarget): Promise<URL> {
  const res = await t.client.send('POST', `/v2/${t.path}/blobs/uploads/`, t.scopes, { body: EMPTY });
  if (res.status !== 202) throw await registryError(res, `start upload to ${t.name}`);
  res.body.resume();
  return uploadURL(res.url, res.headers.location);
}

/** A small blob (the config) in one PUT of its bytes to a new session, unless the repository has it. */
export async function pushSmallBlob(t: PushTarget, bytes: Buffer, digest: string): Promise<void> {
  if ((await stat(t, digest)) === bytes.length) return;
  const session = await startUpload(t);
  const res = await t.client.send('PUT', uploadURL(session, session.href, digest).href, t.scopes, {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  if (res.status !== 201) throw await registryError(res, `upload blob ${digest} to ${t.name}`);
  res.body.resume();
}

async function upload(
  t: PushTarget,
  layer: Layer,
  id: string,
  session: URL,
): Promise<{ digest: string; size: number }> {
  const total = t.store.layers.tarSize(layer.chainID);
  let current = 0;
  let last = 0;
  const emit = t.emit;
  // the tar in the compressor's blocks, read straight into them; a block is reused once compressed
  const tar = t.store.layers.tar(layer.chainID, PUSH_BLOCKS);
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const c of tar) {
      current += c.length;
      const now = Date.now();
      if (now - last > 250) {
        last = now;
        emit({ id, status: 'Pushing', progressDetail: { current, total } });
      }
      yield c;
    }
  }
  const gz = new ParallelGzip({ format: t.compression, pool: PUSH_BLOCKS });
  const body = Readable.from(gz.compress(counted()), { objectMode: false });
  let res: Response;
  try {
    res = await t.client.send('PATCH', session.href, t.scopes, {
      headers: { 'Content-Type': 'application/octet-stream' },
      body,
    });
  } catch (err) {
    body.destroy();
    throw err instanceof BerthError ? err : wrap(`push layer ${layer.diffID}`, err);
  }
  if (res.status !== 202) {
    body.destroy();
    throw await registryError(res, `upload layer ${layer.diffID} to ${t.name}`);
  }
  res.body.resume();
  if (!body.readableEnded) {
    // the registry answered before it had the whole blob: not a complete upload
    body.destroy();
    throw corrupt('upload_short', `upload layer ${layer.diffID} to ${t.name}: the registry answered before the end`);
  }
  const blob = gz.result();
  mark('push: layer sent');
  emit({ id, status: 'Pushing', progressDetail: { current: total, total } });
  const put = await t.client.send('PUT', uploadURL(res.url, res.headers.location, blob.digest).href, t.scopes, {
    body: EMPTY,
  });
  if (put.status !== 201) throw await registryError(put, `finish upload of layer ${layer.diffID} to ${t.name}`);
  put.body.resume();
  mark('push: layer closed');
  const said = put.headers['docker-content-digest'];
  if (typeof said === 'string' && said && said !== blob.digest)
    throw corrupt(
      'digest_mismatch',
      `upload layer ${layer.diffID}: the registry stored ${said}, berth sent ${blob.digest}`,
    );
  return blob;
}

/** Record the blob as this layer in this repository (dockerd's metadata), and its descriptor. */
async function remember(t: PushTarget, layer: Layer, digest: string, size: number): Promise<Descriptor> {
  if (t.compression === 'zstd') return { mediaType: OCI_LAYER_ZSTD, digest, size };
  await t.store.lock(() => recordBlob(t.store.paths, digest, layer.diffID, t.name));
  return { mediaType: DOCKER_LAYER_GZIP, digest, size };
}
