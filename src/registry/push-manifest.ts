import { invalid } from '../core/errors.js';
import type { V2Metadata } from './distribution.js';
import { type Descriptor, MT } from './manifest.js';
import { splitName } from './names.js';

/**
 * The pure parts of a push: the manifest it puts, where an upload goes next (the
 * registry's Location), and which blobs the distribution metadata offers for reuse.
 */

/** The media type of a gzip'd layer in a Docker schema2 manifest. */
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** The media type of a zstd layer in an OCI manifest. */
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

/**
 * A Docker schema2 manifest for a config and its layers (base first), laid out as dockerd
 * writes it (3-space indent); its bytes are what the digest is of.
 */
export function schema2Manifest(config: Descriptor, layers: Descriptor[]): Buffer {
  return imageManifest(MT.dockerManifest, config, layers);
}

/** An OCI image manifest (zstd layers: beyond what Docker pushes), laid out the same way. */
export function ociManifest(config: Descriptor, layers: Descriptor[]): Buffer {
  return imageManifest(MT.ociManifest, config, layers);
}

function imageManifest(mediaType: string, config: Descriptor, layers: Descriptor[]): Buffer {
  const d = (x: Descriptor) => ({ mediaType: x.mediaType, size: x.size, digest: x.digest });
  const m = {
    schemaVersion: 2,
    mediaType,
    config: d(config),
    layers: layers.map(d),
  };
  return Buffer.from(JSON.stringify(m, null, 3));
}

/**
 * Where an upload goes next: the answer's Location, absolute or relative to the URL that
 * answered (the distribution spec allows both), with `digest` added to its query when
 * given (the final PUT); the query the registry put there (its upload state) is kept.
 */
export function uploadURL(answered: URL, location: string | string[] | undefined, digest?: string): URL {
  const loc = Array.isArray(location) ? location[0] : location;
  if (!loc) throw invalid('registry_location', `${answered.origin}: the upload answer has no Location header`);
  let url: URL;
  try {
    url = new URL(loc, answered);
  } catch {
    throw invalid('registry_location', `${answered.origin}: invalid upload Location ${JSON.stringify(loc)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('registry_location', `${answered.origin}: invalid upload Location ${JSON.stringify(loc)}`);
  if (digest) url.searchParams.set('digest', digest);
  return url;
}

/** How many known blobs are checked (HEAD) or mounted per layer at most, as dockerd limits it. */
export const MAX_CHECKS = 3;

export interface ReuseCandidates {
  /** Blob digests known for the layer on the target's registry: a HEAD in the target repo may find one. */
  exists: string[];
  /** Blobs in other repositories of the same registry: a cross-repository mount may reuse one. */
  mounts: Array<{ digest: string; from: string }>;
}

/**
 * What the distribution metadata of one diffID offers a push to `target` (a full name,
 * "127.0.0.1:5000/app"): blobs seen on the same registry, newest first; those seen in
 * the target repository itself come first for the existence check. Pure.
 */
export function reuseCandidates(meta: V2Metadata[], target: string): ReuseCandidates {
  const { domain } = splitName(target);
  const same = meta
    .filter((m) => m.SourceRepository.includes('/') && splitName(m.SourceRepository).domain === domain)
    .reverse();
  const ordered = [
    ...same.filter((m) => m.SourceRepository === target),
    ...same.filter((m) => m.SourceRepository !== target),
  ];
  const exists = [...new Set(ordered.map((m) => m.Digest))].slice(0, MAX_CHECKS);
  const seen = new Set<string>();
  const mounts: ReuseCandidates['mounts'] = [];
  for (const m of same) {
    if (m.SourceRepository === target) continue;
    const from = splitName(m.SourceRepository).path;
    const key = `${m.Digest} ${from}`;
    if (seen.has(key)) continue;
    seen.add(key);
    mounts.push({ digest: m.Digest, from });
  }
  return { exists, mounts: mounts.slice(0, MAX_CHECKS) };
}
