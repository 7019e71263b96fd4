import { type DiffID, sha256 } from '../core/digest.js';
import { corrupt, invalid } from '../core/errors.js';
import { type IndexedEntry, readEntry, resolveEntry } from '../archive/tar-index.js';
import { type ImageConfig, checkImageOS, parseImageConfig } from './config.js';
import { type Reference, parseReference, withDefaultTag } from './reference.js';

// new images and builds take the host's architecture from here
export { goArch } from './platform.js';

/** One image found in an archive: its config and where each layer blob lies. */
export interface ImagePlan {
  what: string;
  configBytes: Buffer;
  config: ImageConfig;
  tags: Reference[];
  layers: Array<{ entry: IndexedEntry; diffID: DiffID; blobDigest?: string; name: string }>;
}

export const MAX_JSON = 16 << 20;

export function readJson<T>(
  path: string,
  index: Map<string, IndexedEntry>,
  name: string,
  what: string,
): { bytes: Buffer; value: T } {
  const e = resolveEntry(index, name, what);
  if (!e) throw invalid('archive_missing', `${what}: ${JSON.stringify(name)} not found in the archive`);
  const bytes = readEntry(path, e, MAX_JSON);
  try {
    return { bytes, value: JSON.parse(bytes.toString('utf8')) as T };
  } catch (err) {
    throw corrupt('archive_json', `${what}: ${JSON.stringify(name)} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * RepoTags go through the grammar of `berth tag`: one that `tag` refuses is refused here
 * (before anything is stored), and one without a tag means ":latest" as it does there.
 */
function tagsOf(list: unknown, what: string): Reference[] {
  if (list == null) return [];
  if (!Array.isArray(list)) throw corrupt('archive_manifest', `${what}: RepoTags is not a list`);
  return list.map((t) => {
    if (typeof t !== 'string')
      throw invalid('archive_manifest', `${what}: RepoTags entry ${JSON.stringify(t)} is not a string`);
    let r: Reference;
    try {
      r = withDefaultTag(parseReference(t));
    } catch (err) {
      throw invalid('archive_manifest', `${what}: RepoTags entry ${JSON.stringify(t)}: ${(err as Error).message}`, err);
    }
    if (r.digest) throw invalid('archive_manifest', `${what}: RepoTags entry ${JSON.stringify(t)} has a digest`);
    return r;
  });
}

// an OCI blob path names its content's digest by the layout's own rule; any other name is just a name
const OCI_BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;

/**
 * docker-archive: manifest.json = [{Config, RepoTags, Layers}]. As dockerd, the image ID is the
 * sha256 of the config's bytes whatever the file is called ("<id>.json" by old `docker save`,
 * anything by other tools), so a name is not a claim to check; only a config under
 * blobs/sha256/ (Docker 25+ archives, which are OCI layouts too) must hash to its name, because
 * a reader of the layout side would refuse that archive. An empty list loads nothing.
 */
export function planDockerArchive(path: string, index: Map<string, IndexedEntry>): ImagePlan[] {
  const { value } = readJson<unknown>(path, index, 'manifest.json', 'docker-archive');
  if (!Array.isArray(value)) throw corrupt('archive_manifest', 'docker-archive: manifest.json is not a list');
  return value.map((m: { Config?: unknown; RepoTags?: unknown; Layers?: unknown }, i) => {
    const what = `docker-archive image ${i}`;
    if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers))
      throw corrupt('archive_manifest', `${what}: manifest entry needs Config and Layers`);
    const cfgEntry = resolveEntry(index, m.Config, what);
    if (!cfgEntry)
      throw invalid('archive_missing', `${what}: config ${JSON.stringify(m.Config)} not found in the archive`);
    const configBytes = readEntry(path, cfgEntry, MAX_JSON);
    const named = OCI_BLOB_PATH.exec(m.Config.replace(/^\.\//, ''));
    if (named && sha256(configBytes) !== `sha256:${named[1]}`) {
      throw corrupt('digest_mismatch', `${what}: config ${JSON.stringify(m.Config)} does not match its digest`);
    }
    const config = parseImageConfig(configBytes, what);
    checkImageOS(config, what);
    if (config.rootfs.diff_ids.length !== m.Layers.length) {
      throw corrupt(
        'archive_manifest',
        `${what}: manifest lists ${m.Layers.length} layers, config has ${config.rootfs.diff_ids.length} diff_ids`,
      );
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
