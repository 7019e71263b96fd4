import { type DiffID, type ImageID, sha256 } from '../core/digest.js';
import { BerthError, corrupt, invalid, notFound, wrap } from '../core/errors.js';
import { checkImageOS, parseImageConfig } from '../image/config.js';
import { type Platform, formatPlatform, hostPlatform, normalizePlatform, platformRank } from '../image/platform.js';
import { type Reference, familiarString, parseReference, withDefaultTag } from '../image/reference.js';
import type { ImageStore } from '../image/store.js';
import { type AuthConfig, RegistryClient } from './client.js';
import type { RegistryConfig } from './hosts.js';
import { recordBlob } from './distribution.js';
import { registryError } from './errors.js';
import { type BlobSource, ingestLayers } from './layers.js';
import { PartialDownloads } from './blob-download.js';
import { removePartials } from '../storage/partial-blobs.js';
import { rangeFrom } from './range.js';
import { ACCEPT, type Descriptor, MAX_MANIFEST_BYTES, type Parsed, parseManifest, pickManifest } from './manifest.js';
import { registryHost, splitName } from './names.js';
import type { PullEvent } from './progress.js';
import { readBody } from './transport.js';

export interface PullOptions {
  /** Credentials for the reference's registry. */
  auth?: AuthConfig;
  /** The platform to pull from an index (default: this host's). */
  platform?: Required<Platform>;
  onProgress?: (e: PullEvent) => void;
  /** How registries are reached (mirrors, insecure registries, certs.d, proxies): the engine's settings. */
  registry?: RegistryConfig;
}

export interface PullResult {
  id: ImageID;
  /** The manifest (or index) digest the reference resolved to: the RepoDigest. */
  digest: string;
  /** The reference pulled, in full: "localhost:5000/app:latest". */
  reference: string;
  /** Docker's last status line. */
  status: string;
}

/** Image configs are small; a bigger one is a registry lying. */
const MAX_CONFIG_BYTES = 8 << 20;

/**
 * `pull`: resolve NAME[:TAG|@DIGEST] on its registry to one image manifest (an index
 * through the platform), fetch and verify the config and the layers, and tag the image
 * (and record its RepoDigest) only when every digest, size and diffID has checked out.
 * All or nothing: on any error the store is as before, but for the bytes of layer blobs received
 * (berth/partial/, blob-download.ts), which the next pull of those blobs resumes from.
 */
export async function pullImage(store: ImageStore, name: string, opts: PullOptions = {}): Promise<PullResult> {
  const emit = opts.onProgress ?? (() => undefined);
  const ref = withDefaultTag(parseReference(name));
  const { domain, path } = splitName(ref.name);
  const client = await RegistryClient.open(registryHost(domain), opts.auth, opts.registry);
  const scope = [`repository:${path}:pull`];
  const shown = familiarString(ref);
  emit({ id: ref.digest ?? ref.tag!, status: `Pulling from ${path}` });
  try {
    const top = await fetchManifest(client, path, ref.digest ?? ref.tag!, scope, ref.digest, shown);
    let manifest = top.parsed;
    const want = opts.platform ?? hostPlatform();
    if (manifest.kind === 'index') {
      const d = pickManifest(manifest.manifests, want, shown);
      const child = await fetchManifest(client, path, d.digest, scope, d.digest, shown, d.size);
      if (child.parsed.kind !== 'manifest')
        throw corrupt('manifest_invalid', `${shown}: the index names another index`);
      manifest = child.parsed;
    }
    const configBytes = await fetchBlob(client, path, manifest.config, scope, MAX_CONFIG_BYTES);
    const config = parseImageConfig(configBytes, `${shown}: config ${manifest.config.digest}`);
    checkImageOS(config, shown);
    if (opts.platform && top.parsed.kind === 'manifest' && platformRank(config as Platform, opts.platform) < 0) {
      const actual = normalizePlatform(config as Platform);
      throw notFound(
        'image_platform',
        `image with reference ${shown} was found but does not match the specified platform: wanted ${formatPlatform(opts.platform)}, actual: ${formatPlatform(actual)}`,
      );
    }
    const diffIDs = config.rootfs.diff_ids as DiffID[];
    if (diffIDs.length !== manifest.layers.length)
      throw corrupt(
        'manifest_layers',
        `${shown}: the manifest has ${manifest.layers.length} layers, the config ${diffIDs.length} diff_ids`,
      );
    const id = sha256(configBytes) as string as ImageID;
    const tags: Reference[] = [
      ...(ref.tag !== undefined && ref.digest === undefined ? [{ name: ref.name, tag: ref.tag }] : []),
      { name: ref.name, digest: top.digest },
    ];
    const before =
      ref.tag !== undefined && !ref.digest
        ? store.refs.get(ref)
        : store.refs.get({ name: ref.name, digest: top.digest });
    // the layers' partial downloads: removed once the image is in, kept for the next pull otherwise
    const partials = new PartialDownloads(store.paths);
    try {
      await store.withTxn('pull', async (txn) => {
        const source: BlobSource = {
          fetch: (d, from) =>
            client.get(`/v2/${path}/blobs/${d.digest}`, scope, from > 0 ? { headers: { Range: rangeFrom(from) } } : {}),
          partials,
          retryDelays: client.retryDelays,
        };
        await ingestLayers(store, txn, manifest.layers, diffIDs, source, emit);
        // verified: every blob is its layer (a cache dockerd shares; written before the image is tagged)
        await store.lock(() =>
          manifest.layers.forEach((l, i) => recordBlob(store.paths, l.digest, diffIDs[i]!, ref.name)),
        );
        await store.putImages(txn, [{ configBytes, config, tags }]);
      });
      partials.complete();
      // and those a killed pull left of blobs now in the store (killed after registering, before removing them)
      const blobs = new Set<string>(manifest.layers.map((l) => l.digest));
      removePartials(store.paths, (f) => f.digest !== undefined && blobs.has(f.digest));
    } finally {
      partials.release();
    }
    emit({ status: `Digest: ${top.digest}` });
    const status = before === id ? `Image is up to date for ${shown}` : `Downloaded newer image for ${shown}`;
    emit({ status: `Status: ${status}` });
    return { id, digest: top.digest, reference: fullString(ref), status };
  } catch (err) {
    throw err instanceof BerthError ? err : wrap(`pull ${shown}`, err);
  }
}

/** "localhost:5000/app:v1", "docker.io/library/busybox:latest": what `docker pull` prints last. */
function fullString(r: Reference): string {
  return `${r.name}${r.tag !== undefined && r.digest === undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

async function fetchManifest(
  client: RegistryClient,
  path: string,
  ref: string,
  scope: string[],
  expect: string | undefined,
  shown: string,
  expectSize?: number,
): Promise<{ parsed: Parsed; digest: string }> {
  const res = await client.get(`/v2/${path}/manifests/${ref}`, scope, { headers: { Accept: ACCEPT } });
  if (res.status === 404) {
    const e = await registryError(res, `manifest for ${shown} not found`);
    throw notFound('manifest_unknown', e.message);
  }
  if (res.status !== 200) throw await registryError(res, `get manifest ${shown}`);
  const body = await readBody(res, MAX_MANIFEST_BYTES, `manifest ${ref} of ${shown}`);
  const digest = sha256(body) as string;
  if (expect && digest !== expect)
    throw corrupt('manifest_digest', `manifest ${ref} of ${shown}: the registry sent content with digest ${digest}`);
  if (expectSize !== undefined && body.length !== expectSize)
    throw corrupt(
      'manifest_size',
      `manifest ${ref} of ${shown}: ${body.length} bytes, its descriptor says ${expectSize}`,
    );
  const header = res.headers['docker-content-digest'];
  if (typeof header === 'string' && header && header !== digest)
    throw corrupt(
      'manifest_digest',
      `manifest ${ref} of ${shown}: the registry says its digest is ${header}, its content has ${digest}`,
    );
  return { parsed: parseManifest(body, res.headers['content-type'], `manifest ${ref} of ${shown}`), digest };
}

async function openBlob(client: RegistryClient, path: string, d: Descriptor, scope: string[]) {
  const res = await client.get(`/v2/${path}/blobs/${d.digest}`, scope, {});
  if (res.status !== 200) throw await registryError(res, `get blob ${d.digest}`);
  return res;
}

/** A small blob (the config) read whole and checked against its descriptor. */
async function fetchBlob(
  client: RegistryClient,
  path: string,
  d: Descriptor,
  scope: string[],
  max: number,
): Promise<Buffer> {
  if (d.size > max) throw invalid('blob_too_large', `blob ${d.digest}: ${d.size} bytes exceed the limit of ${max}`);
  const res = await openBlob(client, path, d, scope);
  const body = await readBody(res, d.size, `blob ${d.digest}`);
  if (body.length !== d.size)
    throw corrupt('blob_short', `blob ${d.digest}: the registry sent ${body.length} of its ${d.size} bytes`);
  const got = sha256(body) as string;
  if (got !== d.digest)
    throw corrupt('digest_mismatch', `blob ${d.digest}: the registry sent content with digest ${got}`);
  return body;
}
