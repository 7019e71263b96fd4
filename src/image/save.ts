import type { Writable } from 'node:stream';
import { type ImageID, chainIDs, hexOf, sha256 } from '../core/digest.js';
import { aborted, invalid } from '../core/errors.js';
import { TarWriter, fileHeader } from '../archive/tar-writer.js';
import { writeOutputFile } from '../storage/output-file.js';
import { familiarName, familiarString, parseReference, withDefaultTag } from './reference.js';
import type { ImageStore } from './store.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

interface SaveItem {
  id: ImageID;
  tags: string[];
}

/** Which images and tags `save IMAGE...` means: a reference saves that tag, an id saves the image untagged. */
export function selectForSave(store: ImageStore, args: string[]): SaveItem[] {
  if (args.length === 0) throw invalid('save_args', 'save: at least one image is required');
  const byId = new Map<ImageID, SaveItem>();
  for (const a of args) {
    const id = store.resolve(a);
    const item = byId.get(id) ?? { id, tags: [] };
    byId.set(id, item);
    let ref;
    try {
      ref = withDefaultTag(parseReference(a));
    } catch {
      ref = undefined;
    }
    const s = ref && !ref.digest ? familiarString(ref) : undefined;
    if (s && store.refs.refsOf(id).includes(s) && !item.tags.includes(s)) item.tags.push(s);
  }
  return [...byId.values()];
}

/**
 * `save`: one tar that is both a docker-archive (manifest.json, as docker load
 * reads) and an OCI image layout (oci-layout, index.json, blobs/sha256), with
 * layers as the exact original uncompressed tars (blob digest = diffID).
 */
export async function saveImages(
  store: ImageStore,
  items: SaveItem[],
  out: Writable,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = opts.signal;
  try {
    await writeSave(store, items, out, signal);
  } catch (err) {
    if (signal?.aborted) throw aborted('save', signal);
    throw err;
  }
}

async function writeSave(
  store: ImageStore,
  items: SaveItem[],
  out: Writable,
  signal: AbortSignal | undefined,
): Promise<void> {
  signal?.throwIfAborted();
  const w = new TarWriter(out);
  await w.add(fileHeader('blobs/', 0, { type: 'dir', mode: 0o755 }));
  await w.add(fileHeader('blobs/sha256/', 0, { type: 'dir', mode: 0o755 }));
  const written = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const index: Array<Record<string, unknown>> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const item of items) {
    const config = store.images.getBytes(item.id);
    const cfg = store.images.get(item.id);
    const chain = chainIDs(cfg.rootfs.diff_ids);
    const layerDescs = [];
    for (let i = 0; i < chain.length; i++) {
      const diffID = cfg.rootfs.diff_ids[i]!;
      const size = store.layers.tarSize(chain[i]!);
      const name = `blobs/sha256/${hexOf(diffID)}`;
      if (!written.has(name)) {
        written.add(name);
        await w.addStream(fileHeader(name, size), abortable(store.layers.tar(chain[i]!), signal));
      }
      layerDescs.push({ mediaType: OCI_LAYER, size, digest: diffID });
    }
    const cfgName = `blobs/sha256/${hexOf(item.id)}`;
    if (!written.has(cfgName)) {
      written.add(cfgName);
      await w.add(fileHeader(cfgName, config.length), config);
    }
    const m = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: item.id, size: config.length },
        layers: layerDescs,
      }),
    );
    const mDigest = sha256(m);
    const mName = `blobs/sha256/${hexOf(mDigest)}`;
    if (!written.has(mName)) {
      written.add(mName);
      await w.add(fileHeader(mName, m.length), m);
    }
    manifest.push({
      Config: cfgName,
      RepoTags: item.tags.length ? item.tags : null,
      Layers: cfg.rootfs.diff_ids.map((d) => `blobs/sha256/${hexOf(d)}`),
    });
    const desc = { mediaType: OCI_MANIFEST, digest: mDigest, size: m.length };
    if (item.tags.length === 0) index.push(desc);
    for (const t of item.tags) {
      const r = parseReference(t);
      index.push({
        ...desc,
        annotations: { 'io.containerd.image.name': `${r.name}:${r.tag}`, 'org.opencontainers.image.ref.name': r.tag },
      });
      (repositories[familiarName(r.name)] ??= {})[r.tag!] = hexOf(
        cfg.rootfs.diff_ids[cfg.rootfs.diff_ids.length - 1] ?? '',
      );
    }
  }
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  const idx = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: index });
  await w.add(fileHeader('index.json', idx.length), idx);
  const mf = json(manifest);
  await w.add(fileHeader('manifest.json', mf.length), mf);
  const layout = json({ imageLayoutVersion: '1.0.0' });
  await w.add(fileHeader('oci-layout', layout.length), layout);
  if (Object.keys(repositories).length) {
    const rp = json(repositories);
    await w.add(fileHeader('repositories', rp.length), rp);
  }
  signal?.throwIfAborted();
  await w.finish();
}

/** The chunks of `src`, stopping with the signal's reason once it is aborted. */
async function* abortable(src: AsyncIterable<Buffer>, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    signal?.throwIfAborted();
    yield chunk;
  }
}

/**
 * Save to a file the user named: staged beside it and put in place whole;
 * anything but a regular file or a new path is refused (storage/output-file.ts).
 */
export async function saveToFile(
  store: ImageStore,
  items: SaveItem[],
  path: string,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  try {
    await writeOutputFile(path, SAVE_ACTION, (out) => saveImages(store, items, out, opts));
  } catch (err) {
    // an abort that lands while the file is written can surface as the destroyed file stream's error first
    if (opts.signal?.aborted) throw aborted('save', opts.signal);
    throw err;
  }
}

/** How a failed `save -o` starts its message (Docker's words). */
export const SAVE_ACTION = 'failed to save image';
