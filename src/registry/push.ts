import { type ImageID, sha256 } from '../core/digest.js';
import { BerthError, invalid, notFound, wrap } from '../core/errors.js';
import { mark } from '../core/trace.js';
import { type Reference, familiarName, familiarString, parseReference, withDefaultTag } from '../image/reference.js';
import type { ImageStore } from '../image/store.js';
import type { Layer } from '../storage/layer-store.js';
import { type AuthConfig, RegistryClient } from './client.js';
import type { RegistryConfig } from './hosts.js';
import { registryError } from './errors.js';
import { type Descriptor, MT } from './manifest.js';
import { registryHost, splitName } from './names.js';
import type { PullEvent } from './progress.js';
import { type PushTarget, pushLayer, pushSmallBlob } from './push-layer.js';
import type { LayerCompression } from './push-gzip.js';
import { ociManifest, schema2Manifest } from './push-manifest.js';

export interface PushOptions {
  /** Credentials for the reference's registry. */
  auth?: AuthConfig;
  /** Push every tag of the repository (`push -a`); the name then has no tag. */
  allTags?: boolean;
  /** gzip (default: Docker schema2, as docker pushes) or zstd (an OCI manifest, tar+zstd layers). */
  compression?: LayerCompression;
  /** Docker's JSON progress messages, as they happen. */
  onProgress?: (e: PullEvent) => void;
  /** How the registry is reached (insecure registries, certs.d, proxies). */
  registry?: RegistryConfig;
}

/** What one pushed tag became (the Engine API's aux message of a push). */
export interface PushedTag {
  Tag: string;
  Digest: string;
  Size: number;
}

/** Docker's max-concurrent-uploads default. */
export const UPLOADS = 5;

/**
 * `push`: the tag NAME[:TAG] (or, allTags, every tag of NAME) to its registry as dockerd does:
 * layers bottom up (known blobs found or mounted, the others rebuilt from the store, gzip'd and
 * uploaded, several at once), then the config, then a Docker schema2 manifest put under the
 * tag. The manifest's digest is recorded as the image's RepoDigest, and every blob in dockerd's
 * distribution metadata (so the next push finds them). Nothing in the store is removed or
 * replaced: a failed push leaves it as it was, but for those metadata entries.
 */
export async function pushImage(store: ImageStore, name: string, opts: PushOptions = {}): Promise<PushedTag[]> {
  const emit = opts.onProgress ?? (() => undefined);
  const given = parseReference(name);
  if (given.digest) throw invalid('push_digest', `cannot push a digest reference: ${name}`);
  if (opts.compression !== undefined && opts.compression !== 'gzip' && opts.compression !== 'zstd')
    throw invalid('push_compression', `unsupported compression ${JSON.stringify(opts.compression)}: gzip or zstd`);
  if (opts.allTags && given.tag !== undefined) throw invalid('push_all_tags', `tag can't be used with --all-tags/-a`);
  const tags = opts.allTags ? tagsOf(store, given.name) : [withDefaultTag(given)];
  const items = tags.map((ref) => ({ ref, id: store.refs.get(ref) }));
  const missing = items.find((it) => !it.id);
  if (items.length === 0 || missing)
    throw notFound(
      'image_not_found',
      `An image does not exist locally with the tag: ${missing ? familiarString(missing.ref) : familiarName(given.name)}`,
    );
  const { domain, path } = splitName(given.name);
  emit({ status: `The push refers to repository [${given.name}]` });
  try {
    // mirrors are for pulls only, as dockerd's
    const client = await RegistryClient.open(registryHost(domain), opts.auth, { ...opts.registry, mirrors: [] });
    const target: PushTarget = {
      store,
      client,
      name: given.name,
      path,
      scopes: [`repository:${path}:pull,push`],
      compression: opts.compression ?? 'gzip',
      emit,
    };
    const out: PushedTag[] = [];
    for (const it of items) out.push(await pushTag(target, it.ref, it.id!));
    return out;
  } catch (err) {
    throw err instanceof BerthError ? err : wrap(`push ${familiarName(given.name)}`, err);
  }
}

/** Every tag of a repository in the store, in order. */
function tagsOf(store: ImageStore, name: string): Reference[] {
  const out: Reference[] = [];
  for (const [s] of store.refs.all()) {
    const r = parseReference(s);
    if (r.name === name && r.tag !== undefined && !r.digest) out.push(r);
  }
  return out.sort((a, b) => (a.tag! < b.tag! ? -1 : a.tag! > b.tag! ? 1 : 0));
}

async function pushTag(t: PushTarget, ref: Reference, id: ImageID): Promise<PushedTag> {
  const configBytes = t.store.images.getBytes(id);
  const layers = t.store.imageLayers(id);
  const descs = await pushLayers(t, layers);
  mark('push: layers');
  await pushSmallBlob(t, configBytes, id);
  mark('push: config');
  const oci = t.compression === 'zstd';
  const config = { mediaType: oci ? MT.ociConfig : MT.dockerConfig, digest: id, size: configBytes.length };
  const manifest = oci ? ociManifest(config, descs) : schema2Manifest(config, descs);
  const res = await t.client.send('PUT', `/v2/${t.path}/manifests/${ref.tag!}`, t.scopes, {
    headers: { 'Content-Type': oci ? MT.ociManifest : MT.dockerManifest },
    body: manifest,
  });
  if (res.status !== 201) throw await registryError(res, `put manifest ${familiarString(ref)}`);
  res.body.resume();
  const digest = sha256(manifest) as string;
  mark('push: manifest');
  await t.store.lock(() => {
    // the image may have been removed meanwhile: then there is nothing to give a RepoDigest
    if (t.store.images.has(id)) t.store.refs.update((ed) => ed.set({ name: ref.name, digest }, id));
  });
  t.emit({ status: `${ref.tag!}: digest: ${digest} size: ${manifest.length}` });
  return { Tag: ref.tag!, Digest: digest, Size: manifest.length };
}

/**
 * The layers' blobs, base first: each distinct layer pushed once, at most UPLOADS at a time;
 * Docker's lines: "Preparing" for each (top first), "Waiting" for those that wait their turn
 * (uploads start from the base).
 * After a failure no further upload starts; those running finish, and the first error stands.
 */
async function pushLayers(t: PushTarget, layers: Layer[]): Promise<Descriptor[]> {
  const unique = [...new Map(layers.map((l) => [l.diffID as string, l])).values()];
  const shown = [...unique].reverse();
  for (const l of shown) t.emit({ id: l.diffID.slice(7, 19), status: 'Preparing' });
  const order = unique; // base first
  for (const l of order.slice(UPLOADS)) t.emit({ id: l.diffID.slice(7, 19), status: 'Waiting' });
  const done = new Map<string, Descriptor>();
  let next = 0;
  let failure: { err: unknown } | undefined;
  const runners = Array.from({ length: Math.min(UPLOADS, order.length) }, async () => {
    while (!failure && next < order.length) {
      const l = order[next++]!;
      try {
        done.set(l.diffID, await pushLayer(t, l));
      } catch (err) {
        failure ??= { err };
      }
    }
  });
  await Promise.all(runners);
  if (failure) throw failure.err;
  return layers.map((l) => done.get(l.diffID)!);
}
