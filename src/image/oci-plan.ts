import { isDigest, sha256 } from '../core/digest.js';
import { corrupt, invalid, unsupported } from '../core/errors.js';
import { type IndexedEntry, readEntry, resolveEntry } from '../archive/tar-index.js';
import { type ImagePlan, MAX_JSON, readJson } from './archive-plan.js';
import { checkImageOS, parseImageConfig } from './config.js';
import { type Platform, formatPlatform, hostPlatform, platformRank } from './platform.js';
import { type Reference, familiarString, parseReference, withDefaultTag } from './reference.js';

/**
 * An OCI image layout tar (oci-layout, index.json, blobs/sha256/...) as images to load, read as
 * Docker 25+ reads one through containerd's importer: every entry of index.json is an image,
 * named by its annotations; an index inside picks the host's platform; every JSON blob is
 * checked against its digest and must be unambiguously a manifest or an index.
 */

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

interface Document {
  schemaVersion?: unknown;
  mediaType?: unknown;
  manifests?: unknown;
  config?: unknown;
  layers?: unknown;
}

const LAYOUT_VERSION = '1.0.0';
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]);
const CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);
// compression is detected from the bytes and every layer is checked against its diffID, so
// each of these is only a promise of "a tar, maybe gzip or zstd"
const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);
const NAME_ANNOTATION = 'io.containerd.image.name';
const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const MAX_DEPTH = 4;

type Index = Map<string, IndexedEntry>;

export function planOciLayout(path: string, index: Index): ImagePlan[] {
  checkLayoutFile(path, index);
  const { value: top } = readJson<Document>(path, index, 'index.json', 'oci-layout');
  const entries = indexEntries(top, 'oci-layout: index.json', undefined);
  const plans = new Map<string, ImagePlan>();
  const foreign: string[] = [];
  entries.forEach((d, i) => {
    const what = `oci-layout: index.json entry ${i}`;
    if (d?.platform && platformRank(d.platform) < 0) {
      foreign.push(formatPlatform(d.platform));
      return;
    }
    const tags = entryTags(d, what);
    const { desc, doc } = pickManifest(path, index, d, what, 0);
    const have = plans.get(desc.digest!);
    if (have) {
      for (const t of tags) if (!have.tags.some((h) => familiarString(h) === familiarString(t))) have.tags.push(t);
      return;
    }
    plans.set(desc.digest!, planManifest(path, index, desc, doc, tags, `oci-layout: manifest ${desc.digest}`));
  });
  if (plans.size === 0 && foreign.length) {
    throw unsupported(
      'platform_mismatch',
      `oci-layout: no image in index.json runs on ${formatPlatform(hostPlatform())} (it has ${foreign.join(', ')})`,
    );
  }
  return [...plans.values()];
}

function checkLayoutFile(path: string, index: Index): void {
  if (!resolveEntry(index, 'oci-layout', 'oci-layout')) {
    throw invalid(
      'oci_layout_missing',
      `oci-layout: the archive has index.json but no oci-layout file (an OCI image layout needs one saying {"imageLayoutVersion": "${LAYOUT_VERSION}"})`,
    );
  }
  const { value } = readJson<{ imageLayoutVersion?: unknown } | null>(path, index, 'oci-layout', 'oci-layout');
  const version = value?.imageLayoutVersion;
  if (version !== LAYOUT_VERSION) {
    throw unsupported(
      'oci_layout_version',
      version === undefined
        ? `oci-layout: no imageLayoutVersion (an OCI image layout's oci-layout file says {"imageLayoutVersion": "${LAYOUT_VERSION}"})`
        : `oci-layout: unsupported OCI image layout version ${JSON.stringify(version)} (berth reads "${LAYOUT_VERSION}")`,
    );
  }
}

/**
 * A name from index.json: io.containerd.image.name is a full reference; a ref.name is one only
 * when it has a "/" or ":" (a bare "latest" or "v1" is a tag of no repository, so the image
 * loads untagged rather than as a repository called "latest"). A name that is there but is not
 * a valid reference is refused, as `berth tag` would refuse it.
 */
function entryTags(d: Descriptor, what: string): Reference[] {
  const a = d?.annotations ?? {};
  const [key, value] = a[NAME_ANNOTATION]
    ? [NAME_ANNOTATION, a[NAME_ANNOTATION]]
    : [REF_NAME_ANNOTATION, a[REF_NAME_ANNOTATION]];
  if (typeof value !== 'string' || (key === REF_NAME_ANNOTATION && !/[:/]/.test(value))) return [];
  let r: Reference;
  try {
    r = withDefaultTag(parseReference(value));
  } catch (err) {
    throw invalid('oci_name', `${what}: ${key} ${JSON.stringify(value)}: ${(err as Error).message}`, err);
  }
  return r.digest ? [] : [r];
}

/** Follow indexes down to the manifest of the host's platform. */
function pickManifest(
  path: string,
  index: Index,
  d: Descriptor,
  what: string,
  depth: number,
): { desc: Descriptor; doc: Document } {
  if (depth > MAX_DEPTH) throw corrupt('oci_index', `${what}: indexes nested too deeply`);
  if (d?.mediaType !== undefined && !INDEX_TYPES.has(d.mediaType) && !MANIFEST_TYPES.has(d.mediaType)) {
    throw unsupported(
      'oci_media_type',
      `${what}: media type ${JSON.stringify(d.mediaType)} is neither an image manifest nor an image index`,
    );
  }
  const { value: doc } = jsonBlob<Document>(path, index, d, what);
  if (!isIndex(doc, d.mediaType, `${what}: blob ${d.digest}`)) return { desc: d, doc };
  const entries = indexEntries(doc, `${what}: index ${d.digest}`, d.mediaType);
  const ranked = entries
    .map((e, i) => ({ e, i, rank: e?.platform ? platformRank(e.platform) : Number.MAX_SAFE_INTEGER }))
    .filter((x) => x.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.i - b.i);
  const best = ranked[0];
  if (!best) {
    const have = entries.map((e) => formatPlatform(e?.platform)).join(', ') || 'no entries';
    throw unsupported(
      'platform_mismatch',
      `${what}: index ${d.digest} has no image for ${formatPlatform(hostPlatform())} (it has ${have})`,
    );
  }
  return pickManifest(path, index, best.e, `${what} -> ${formatPlatform(best.e.platform)}`, depth + 1);
}

/**
 * Whether a document is an index, refusing any that could be read as both (CVE-2021-41190:
 * a blob with "manifests" and "layers" meant one thing to one reader and another to the next)
 * or whose own mediaType contradicts the descriptor that pointed at it.
 */
function isIndex(doc: Document, declared: string | undefined, what: string): boolean {
  const hasManifests = doc.manifests !== undefined;
  const hasImageParts = doc.layers !== undefined || doc.config !== undefined;
  if (hasManifests && hasImageParts) {
    throw corrupt(
      'oci_ambiguous',
      `${what} has both "manifests" and "layers"/"config": refusing a document that is ambiguous between an index and a manifest (CVE-2021-41190)`,
    );
  }
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const declaredIndex =
    declared !== undefined ? INDEX_TYPES.has(declared) : own !== undefined ? INDEX_TYPES.has(own) : hasManifests;
  if (
    declaredIndex
      ? hasImageParts || (own !== undefined && MANIFEST_TYPES.has(own))
      : hasManifests || (own !== undefined && INDEX_TYPES.has(own))
  ) {
    throw corrupt(
      'oci_media_type_mismatch',
      `${what} is declared as ${declaredIndex ? 'an index' : 'a manifest'} (${declared ?? own ?? 'no mediaType'}) but its content is ${declaredIndex ? 'a manifest' : 'an index'}`,
    );
  }
  return declaredIndex;
}

function indexEntries(doc: Document, what: string, declared: string | undefined): Descriptor[] {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw corrupt('oci_index', `${what} is not a JSON object`);
  if (!isIndex(doc, declared ?? 'application/vnd.oci.image.index.v1+json', what) || !Array.isArray(doc.manifests)) {
    throw corrupt('oci_index', `${what} has no manifests list`);
  }
  if (doc.schemaVersion !== 2) {
    throw unsupported(
      'oci_index_schema',
      `${what}: schemaVersion ${JSON.stringify(doc.schemaVersion ?? null)} (an OCI image index has schemaVersion 2)`,
    );
  }
  return doc.manifests as Descriptor[];
}

function planManifest(
  path: string,
  index: Index,
  d: Descriptor,
  m: Document,
  tags: Reference[],
  what: string,
): ImagePlan {
  const config = m.config as Descriptor | undefined;
  if (!config || typeof config !== 'object' || !Array.isArray(m.layers))
    throw corrupt('oci_manifest', `${what}: manifest needs config and layers`);
  if (config.mediaType !== undefined && !CONFIG_TYPES.has(config.mediaType)) {
    throw unsupported(
      'oci_config_media_type',
      `${what}: config media type ${JSON.stringify(config.mediaType)} is not an image config (the manifest is an artifact, not an image)`,
    );
  }
  const { bytes: configBytes } = jsonBlob<unknown>(path, index, config, what);
  const parsed = parseImageConfig(configBytes, what);
  checkImageOS(parsed, what);
  const layers = m.layers as Descriptor[];
  if (parsed.rootfs.diff_ids.length !== layers.length)
    throw corrupt('oci_manifest', `${what}: ${layers.length} layers but ${parsed.rootfs.diff_ids.length} diff_ids`);
  return {
    what,
    configBytes,
    config: parsed,
    tags,
    layers: layers.map((l, j) => {
      const layerWhat = `${what}: layer ${j} (${String(l?.digest)})`;
      checkLayerType(l, layerWhat);
      return {
        entry: blob(index, l, layerWhat).entry,
        diffID: parsed.rootfs.diff_ids[j]!,
        blobDigest: l.digest!,
        name: l.digest!,
      };
    }),
  };
}

function checkLayerType(l: Descriptor, what: string): void {
  const t = l?.mediaType;
  if (typeof t !== 'string' || t === '') throw unsupported('layer_media_type', `${what} has no mediaType`);
  if (t.endsWith('+encrypted'))
    throw unsupported(
      'layer_encrypted',
      `${what} is encrypted (media type ${JSON.stringify(t)}): berth cannot decrypt layers`,
    );
  if (!LAYER_TYPES.has(t)) throw unsupported('layer_media_type', `${what} has unknown media type ${JSON.stringify(t)}`);
}

function blob(index: Index, d: Descriptor, what: string): { entry: IndexedEntry } {
  if (typeof d?.digest !== 'string' || !isDigest(d.digest))
    throw corrupt('oci_descriptor', `${what}: descriptor has an invalid digest ${JSON.stringify(d?.digest)}`);
  const entry = resolveEntry(index, `blobs/sha256/${d.digest.slice(7)}`, what);
  if (!entry) {
    const foreign = /foreign|nondistributable/.test(d.mediaType ?? '')
      ? ' (a foreign layer: berth does not fetch its urls)'
      : '';
    throw invalid('archive_missing', `${what}: blob ${d.digest} not found in the archive${foreign}`);
  }
  if (typeof d.size === 'number' && d.size !== entry.header.size)
    throw corrupt(
      'size_mismatch',
      `${what}: blob ${d.digest} is ${entry.header.size} bytes, descriptor says ${d.size}`,
    );
  return { entry };
}

function jsonBlob<T>(path: string, index: Index, d: Descriptor, what: string): { bytes: Buffer; value: T } {
  const { entry } = blob(index, d, what);
  const bytes = readEntry(path, entry, MAX_JSON);
  if (sha256(bytes) !== d.digest)
    throw corrupt('digest_mismatch', `${what}: blob ${d.digest} does not match its digest`);
  let value: T;
  try {
    value = JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw corrupt('oci_json', `${what}: blob ${d.digest} is not valid JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw corrupt('oci_json', `${what}: blob ${d.digest} is not a JSON object`);
  return { bytes, value };
}
