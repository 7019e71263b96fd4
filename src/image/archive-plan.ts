import { type DiffID, isDigest, sha256 } from '../core/digest.js';
import { corrupt, invalid } from '../core/errors.js';
import { type IndexedEntry, readEntry, resolveEntry } from '../archive/tar-index.js';
import { type ImageConfig, parseImageConfig } from './config.js';
import { type Reference, parseReference, withDefaultTag } from './reference.js';

/** One image found in an archive: its config and where each layer blob lies. */
export interface ImagePlan {
  what: string;
  configBytes: Buffer;
  config: ImageConfig;
  tags: Reference[];
  layers: Array<{ entry: IndexedEntry; diffID: DiffID; blobDigest?: string; name: string }>;
}

const MAX_JSON = 16 << 20;

function readJson<T>(path: string, index: Map<string, IndexedEntry>, name: string, what: string): { bytes: Buffer; value: T } {
  const e = resolveEntry(index, name, what);
  if (!e) throw invalid('archive_missing', `${what}: ${JSON.stringify(name)} not found in the archive`);
  const bytes = readEntry(path, e, MAX_JSON);
  try {
    return { bytes, value: JSON.parse(bytes.toString('utf8')) as T };
  } catch (err) {
    throw corrupt('archive_json', `${what}: ${JSON.stringify(name)} is not valid JSON (${(err as Error).message})`);
  }
}

function tagsOf(list: unknown, what: string): Reference[] {
  if (list == null) return [];
  if (!Array.isArray(list)) throw corrupt('archive_manifest', `${what}: RepoTags is not a list`);
  return list.map((t) => {
    const r = withDefaultTag(parseReference(String(t)));
    if (r.digest) throw invalid('archive_manifest', `${what}: RepoTags entry ${JSON.stringify(t)} has a digest`);
    return r;
  });
}

/** docker-archive: manifest.json = [{Config, RepoTags, Layers}]. */
export function planDockerArchive(path: string, index: Map<string, IndexedEntry>): ImagePlan[] {
  const { value } = readJson<unknown>(path, index, 'manifest.json', 'docker-archive');
  if (!Array.isArray(value)) throw corrupt('archive_manifest', 'docker-archive: manifest.json is not a list');
  return value.map((m: { Config?: unknown; RepoTags?: unknown; Layers?: unknown }, i) => {
    const what = `docker-archive image ${i}`;
    if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers)) throw corrupt('archive_manifest', `${what}: manifest entry needs Config and Layers`);
    const cfgEntry = resolveEntry(index, m.Config, what);
    if (!cfgEntry) throw invalid('archive_missing', `${what}: config ${JSON.stringify(m.Config)} not found in the archive`);
    const configBytes = readEntry(path, cfgEntry, MAX_JSON);
    const named = /([a-f0-9]{64})(\.json)?$/.exec(m.Config);
    if (named && sha256(configBytes) !== `sha256:${named[1]}`) {
      throw corrupt('digest_mismatch', `${what}: config ${JSON.stringify(m.Config)} does not match its digest`);
    }
    const config = parseImageConfig(configBytes, what);
    if (config.rootfs.diff_ids.length !== m.Layers.length) {
      throw corrupt('archive_manifest', `${what}: manifest lists ${m.Layers.length} layers, config has ${config.rootfs.diff_ids.length} diff_ids`);
    }
    const layers = m.Layers.map((l: unknown, j: number) => {
      const name = String(l);
      const entry = resolveEntry(index, name, what);
      if (!entry) throw invalid('archive_missing', `${what}: layer ${JSON.stringify(name)} not found in the archive`);
      return { entry, diffID: config.rootfs.diff_ids[j]!, name };
    });
    return { what, configBytes, config, tags: tagsOf(m.RepoTags, what), layers };
  });
}

interface Descriptor { mediaType?: string; digest?: string; size?: number; annotations?: Record<string, string>; platform?: { os?: string; architecture?: string } }

function blob(path: string, index: Map<string, IndexedEntry>, d: Descriptor, what: string): { entry: IndexedEntry; bytes?: Buffer } {
  if (typeof d?.digest !== 'string' || !isDigest(d.digest)) throw corrupt('oci_descriptor', `${what}: descriptor has an invalid digest ${JSON.stringify(d?.digest)}`);
  const entry = resolveEntry(index, `blobs/sha256/${d.digest.slice(7)}`, what);
  if (!entry) throw invalid('archive_missing', `${what}: blob ${d.digest} not found in the archive`);
  if (typeof d.size === 'number' && d.size !== entry.header.size) throw corrupt('size_mismatch', `${what}: blob ${d.digest} is ${entry.header.size} bytes, descriptor says ${d.size}`);
  return { entry };
}

function jsonBlob<T>(path: string, index: Map<string, IndexedEntry>, d: Descriptor, what: string): { bytes: Buffer; value: T } {
  const { entry } = blob(path, index, d, what);
  const bytes = readEntry(path, entry, MAX_JSON);
  if (sha256(bytes) !== d.digest) throw corrupt('digest_mismatch', `${what}: blob ${d.digest} does not match its digest`);
  try { return { bytes, value: JSON.parse(bytes.toString('utf8')) as T }; } catch { throw corrupt('oci_json', `${what}: blob ${d.digest} is not valid JSON`); }
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

/** OCI image layout: index.json -> (nested indexes ->) manifests -> config + layer blobs. */
export function planOciLayout(path: string, index: Map<string, IndexedEntry>): ImagePlan[] {
  const { value: top } = readJson<{ manifests?: Descriptor[] }>(path, index, 'index.json', 'oci-layout');
  if (!Array.isArray(top.manifests)) throw corrupt('oci_index', 'oci-layout: index.json has no manifests list');
  const plans: ImagePlan[] = [];
  const visit = (d: Descriptor, tagSource: Descriptor, depth: number) => {
    const what = `oci-layout manifest ${d.digest}`;
    if (depth > 4) throw corrupt('oci_index', `${what}: indexes nested too deeply`);
    if (INDEX_TYPES.has(d.mediaType ?? '')) {
      const { value } = jsonBlob<{ manifests?: Descriptor[] }>(path, index, d, what);
      const ms = (value.manifests ?? []).filter((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === goArch()));
      if (ms[0]) visit(ms[0], tagSource, depth + 1);
      return;
    }
    const { value: m } = jsonBlob<{ config?: Descriptor; layers?: Descriptor[] }>(path, index, d, what);
    if (!m.config || !Array.isArray(m.layers)) throw corrupt('oci_manifest', `${what}: manifest needs config and layers`);
    const { bytes: configBytes } = jsonBlob<unknown>(path, index, m.config, what);
    const config = parseImageConfig(configBytes, what);
    if (config.rootfs.diff_ids.length !== m.layers.length) throw corrupt('oci_manifest', `${what}: ${m.layers.length} layers but ${config.rootfs.diff_ids.length} diff_ids`);
    const layers = m.layers.map((l, j) => ({ entry: blob(path, index, l, what).entry, diffID: config.rootfs.diff_ids[j]!, blobDigest: l.digest!, name: l.digest! }));
    plans.push({ what, configBytes, config, tags: ociTags(tagSource), layers });
  };
  for (const d of top.manifests) visit(d, d, 0);
  return plans;
}

function ociTags(d: Descriptor): Reference[] {
  const a = d.annotations ?? {};
  for (const v of [a['io.containerd.image.name'], a['org.opencontainers.image.ref.name']]) {
    if (!v || !(v.includes(':') || v.includes('/'))) continue;
    try {
      const r = withDefaultTag(parseReference(v));
      if (!r.digest) return [r];
    } catch { /* a bare tag names no repository */ }
  }
  return [];
}

export function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
}
