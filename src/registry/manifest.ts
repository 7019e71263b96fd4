import { isDigest } from '../core/digest.js';
import { corrupt, invalid, notFound, unsupported } from '../core/errors.js';
import { type Platform, formatPlatform, normalizePlatform, platformRank } from '../image/platform.js';

/** Media types of manifests, configs and layers berth pulls (Docker schema2 and OCI). */
export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What a manifest request accepts, best first (Docker's order). */
export const ACCEPT = [MT.dockerManifest, MT.dockerList, MT.ociManifest, MT.ociIndex].join(', ');

const LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
]);
const FOREIGN_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** Docker's maxManifestBodySize: a manifest or index larger than this is refused unread. */
export const MAX_MANIFEST_BYTES = 4 << 20;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export type Parsed =
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] };

/**
 * Parse and check a manifest or index from a registry. `contentType` is the answer's
 * Content-Type; a body's own mediaType must agree with it. Schema1 is refused.
 */
export function parseManifest(body: Buffer, contentType: string | undefined, what: string): Parsed {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw corrupt('manifest_invalid', `${what}: the manifest is not valid JSON (${(err as Error).message})`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j))
    throw corrupt('manifest_invalid', `${what}: the manifest is not a JSON object`);
  const header = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const own = typeof j.mediaType === 'string' ? j.mediaType : '';
  if (header === MT.schema1 || header === MT.schema1Signed || own === MT.schema1 || j.schemaVersion === 1)
    throw unsupported(
      'manifest_schema1',
      `${what}: Docker Image manifest version 2, schema 1 is not supported: the image must be pushed again with a newer client (schema 2 or OCI)`,
    );
  if (j.schemaVersion !== 2)
    throw corrupt('manifest_invalid', `${what}: unknown manifest schemaVersion ${JSON.stringify(j.schemaVersion)}`);
  // the Content-Type decides (a registry may omit mediaType in OCI bodies); then the body's own
  let mediaType = [MT.dockerManifest, MT.dockerList, MT.ociManifest, MT.ociIndex].find((t) => t === header) ?? '';
  if (!mediaType && (header === '' || header === 'application/json' || header === 'application/octet-stream')) {
    mediaType = own || (Array.isArray(j.manifests) ? MT.ociIndex : MT.ociManifest);
  }
  if (!mediaType)
    throw unsupported('manifest_media_type', `${what}: unsupported manifest media type ${JSON.stringify(header)}`);
  if (own && own !== mediaType)
    throw corrupt(
      'manifest_invalid',
      `${what}: media type ${JSON.stringify(own)} in the body, ${JSON.stringify(mediaType)} in the answer`,
    );
  if (mediaType === MT.dockerList || mediaType === MT.ociIndex) {
    if (!Array.isArray(j.manifests)) throw corrupt('manifest_invalid', `${what}: the index has no manifests array`);
    return {
      kind: 'index',
      mediaType,
      manifests: j.manifests.map((d, i) => descriptor(d, `${what}: manifests[${i}]`)),
    };
  }
  if (mediaType !== MT.dockerManifest && mediaType !== MT.ociManifest)
    throw unsupported('manifest_media_type', `${what}: unsupported manifest media type ${JSON.stringify(mediaType)}`);
  const config = descriptor(j.config, `${what}: config`);
  if (config.mediaType !== MT.dockerConfig && config.mediaType !== MT.ociConfig)
    throw unsupported(
      'config_media_type',
      `${what}: unsupported config media type ${JSON.stringify(config.mediaType)} (not a container image?)`,
    );
  if (!Array.isArray(j.layers)) throw corrupt('manifest_invalid', `${what}: the manifest has no layers array`);
  const layers = j.layers.map((d, i) => {
    const l = descriptor(d, `${what}: layers[${i}]`);
    if (FOREIGN_TYPES.has(l.mediaType))
      throw unsupported(
        'layer_foreign',
        `${what}: layer ${l.digest} is a foreign layer (${l.mediaType}), which berth does not fetch`,
      );
    if (!LAYER_TYPES.has(l.mediaType))
      throw unsupported(
        'layer_media_type',
        `${what}: layer ${l.digest}: unsupported media type ${JSON.stringify(l.mediaType)}`,
      );
    return l;
  });
  return { kind: 'manifest', mediaType, config, layers };
}

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o !== 'object') throw corrupt('manifest_invalid', `${what}: not a descriptor`);
  if (typeof o.digest !== 'string' || !isDigest(o.digest))
    throw corrupt('manifest_invalid', `${what}: digest ${JSON.stringify(o.digest)} is not a sha256 digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw corrupt('manifest_invalid', `${what}: invalid size ${JSON.stringify(o.size)}`);
  if (typeof o.mediaType !== 'string') throw corrupt('manifest_invalid', `${what}: no mediaType`);
  const p = o.platform as Platform | undefined;
  return {
    mediaType: o.mediaType,
    digest: o.digest,
    size: o.size,
    ...(p && typeof p === 'object' && typeof p.architecture === 'string'
      ? {
          platform: {
            os: String(p.os ?? ''),
            architecture: p.architecture,
            ...(p.variant ? { variant: String(p.variant) } : {}),
          },
        }
      : {}),
  };
}

/**
 * The manifest of an index for a platform, as Docker picks it: among the entries that
 * platform runs (containerd's platforms.Only), the best ranked, the first of equals.
 */
export function pickManifest(index: Descriptor[], want: Required<Platform>, what: string): Descriptor {
  let best: Descriptor | undefined;
  let bestRank = Infinity;
  for (const d of index) {
    if (d.mediaType !== MT.dockerManifest && d.mediaType !== MT.ociManifest) continue;
    if (!d.platform) continue;
    const r = platformRank(d.platform, want);
    if (r >= 0 && r < bestRank) {
      best = d;
      bestRank = r;
    }
  }
  if (!best)
    throw notFound(
      'manifest_platform',
      `${what}: no matching manifest for ${formatPlatform(want)} in the manifest list entries`,
    );
  return best;
}

/** "--platform os/arch[/variant]" -> a normalized platform. */
export function parsePlatform(s: string): Required<Platform> {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p)))
    throw invalid('platform', `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`);
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) });
}
