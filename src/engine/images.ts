import { PassThrough, Readable } from 'node:stream';
import type { ImageID } from '../core/digest.js';
import { invalid } from '../core/errors.js';
import type { Filters } from '../core/filters.js';
import type { CheckOptions, Finding } from '../image/check.js';
import { imagePrunePlan, prunePartials, pruneImages } from '../image/prune.js';
import { parseReference, withDefaultTag, type Reference } from '../image/reference.js';
import { saveImages, saveToFile, selectForSave } from '../image/save.js';
import { inspectImage, layerWalk, type LayerWalk } from '../image/views.js';
import type { Engine } from './engine.js';

/** The action a failed save names (`failed to save image: ...`), also for an output path refused before it starts. */
export { SAVE_ACTION } from '../image/save.js';
import { listImages, parentChain, unixSeconds } from './image-list.js';
import { checkImportPlatform, layersUsage } from './image-usage.js';
import type {
  ArchiveInput,
  BuildContextInput,
  BuildRequest,
  HistoryResponseItem,
  ImageBuildOptions,
  ImageDeleteResponseItem,
  ImageImportOptions,
  ImageInspect,
  ImageListOptions,
  ImageLoadResponse,
  ImageRemoveOptions,
  ImagesPruneResponse,
  OperationOptions,
  ImageSummary,
  SystemDfResponse,
} from './image-types.js';

/**
 * Image operations (Docker Engine API /images/..., /build, /system/df). What writes images (import, build, from-host,
 * load) or checks the whole store is imported on first use: the CLI's read-only commands (images, inspect) start
 * with the listing and inspecting modules only. (Synchronous operations import theirs statically: save, prune's
 * filters.)
 */
export class Images {
  constructor(readonly engine: Engine) {}

  private get store() {
    return this.engine.store;
  }

  /** GET /images/json. */
  list(opts: ImageListOptions = {}): ImageSummary[] {
    return listImages(this.store, opts);
  }

  /** GET /images/{name}/json. */
  inspect(name: string): ImageInspect {
    return inspectImage(this.store, this.store.resolve(name));
  }

  /** The image's ID, or undefined when the store has no such image. */
  find(name: string): string | undefined {
    return this.store.tryResolve(name);
  }

  /**
   * GET /images/{name}/history: newest step first; as dockerd, the steps
   * are named after the image and then its parents in turn (a local build's
   * chain), the rest "<missing>".
   */
  history(name: string): HistoryResponseItem[] {
    const store = this.store;
    const id = store.resolve(name);
    const layers = store.imageLayers(id);
    let layer = 0;
    const items = (store.images.get(id).history ?? []).map((h): HistoryResponseItem => ({
      Id: '<missing>',
      Created: unixSeconds(h.created),
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: h.empty_layer ? 0 : (layers[layer++]?.size ?? 0),
      Comment: h.comment ?? '',
    }));
    items.reverse();
    parentChain(store, id).forEach((img, i) => {
      if (!items[i]) return;
      items[i].Id = img;
      const tags = store.refs.refsOf(img).filter((r) => !r.includes('@'));
      items[i].Tags = tags.length ? tags : null;
    });
    return items;
  }

  /** POST /images/{name}/tag. */
  async tag(source: string, repo: string, tag?: string): Promise<void> {
    const ref = tag ? `${repo}:${tag}` : repo;
    await this.store.tag(source, ref);
    const id = this.find(source);
    if (id) this.engine.events.emit('image', 'tag', id, { name: this.engine.registries.familiar(ref) });
  }

  /** DELETE /images/{name}. */
  async remove(name: string, opts: ImageRemoveOptions = {}): Promise<ImageDeleteResponseItem[]> {
    const id = this.find(name);
    const items = await this.store.remove(name, { force: !!opts.force, noPrune: !!opts.noprune });
    for (const it of items) {
      if (it.Untagged) this.engine.events.emit('image', 'untag', id ?? it.Untagged, { name: it.Untagged });
      if (it.Deleted) this.engine.events.emit('image', 'delete', it.Deleted, { name: it.Deleted });
    }
    return items;
  }

  /** Refuse filters `prune` would refuse, without deleting anything (for a client that asks before pruning). */
  checkPruneFilters(filters: Filters): void {
    imagePrunePlan(filters);
  }

  /** POST /images/prune. */
  async prune(opts: { filters?: Filters } = {}): Promise<ImagesPruneResponse> {
    const { deleted, reclaimed } = await pruneImages(this.store, imagePrunePlan(opts.filters ?? new Map()));
    for (const it of deleted) {
      if (it.Untagged) this.engine.events.emit('image', 'untag', it.Untagged, { name: it.Untagged });
      if (it.Deleted) this.engine.events.emit('image', 'delete', it.Deleted, { name: it.Deleted });
    }
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  }

  /**
   * berth's, for `system prune`: remove the partial downloads interrupted pulls kept for the next
   * pull to resume (not those a pull is writing). Filters as `system prune` passes them.
   */
  async prunePartials(
    opts: { filters?: Filters } = {},
  ): Promise<{ PartialsDeleted: string[]; SpaceReclaimed: number }> {
    const { deleted, reclaimed } = await this.store.lock(() => prunePartials(this.store, opts.filters ?? new Map()));
    return { PartialsDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /**
   * POST /images/load: a docker-archive or OCI layout tar, all or nothing. An aborted `signal` rejects
   * with an "aborted" error (kind Internal, code aborted) and leaves the store as it was.
   */
  async load(input: ArchiveInput, opts: OperationOptions = {}): Promise<ImageLoadResponse> {
    const { loadArchive } = await import('../image/load.js');
    const loaded = await loadArchive(
      this.store,
      input instanceof Readable ? { stream: input } : { path: input.path },
      opts.signal ? { signal: opts.signal } : {},
    );
    const stream: Array<{ stream: string }> = [];
    for (const img of loaded) {
      for (const [t, old] of img.retagged)
        stream.push({ stream: `The image ${t} already exists, renaming the old one with ID ${old} to empty string\n` });
      if (img.tags.length === 0) stream.push({ stream: `Loaded image ID: ${img.id}\n` });
      for (const t of img.tags) stream.push({ stream: `Loaded image: ${t}\n` });
    }
    for (const img of loaded) this.engine.events.emit('image', 'load', img.id, { name: img.tags[0] ?? img.id });
    return { stream, images: loaded.map((l) => ({ Id: l.id, RepoTags: l.tags })) };
  }

  /**
   * GET /images/get: one tar that is a docker-archive and an OCI layout. The
   * names are resolved first: an unknown one fails here, before any byte.
   */
  save(names: string[], opts: OperationOptions = {}): Readable {
    const items = selectForSave(this.store, names);
    const out = new PassThrough();
    saveImages(this.store, items, out, opts).then(
      () => {
        this.saved(names);
        out.end();
      },
      (err: unknown) => out.destroy(err as Error),
    );
    return out;
  }

  /**
   * save() into a file, staged and put in place whole (storage/output-file.ts decides what may be replaced);
   * an aborted `signal` removes the staged file and leaves `path` as it was.
   */
  async saveToFile(names: string[], path: string, opts: OperationOptions = {}): Promise<void> {
    await saveToFile(this.store, selectForSave(this.store, names), path, opts);
    this.saved(names);
  }

  private saved(names: string[]): void {
    for (const n of names) this.engine.events.emit('image', 'save', this.find(n) ?? n, { name: n });
  }

  /** POST /images/create?fromSrc: a rootfs tarball becomes a one-layer image. */
  async import(source: ArchiveInput, opts: ImageImportOptions & OperationOptions = {}): Promise<{ Id: string }> {
    if (opts.platform) checkImportPlatform(opts.platform);
    const tags = opts.repo ? [tagReference(opts.repo, opts.tag)] : [];
    const { importRootfs } = await import('../image/import.js');
    const { openInputStream } = await import('../image/input-file.js');
    const src = source instanceof Readable ? source : openInputStream(source.path, 'import_input');
    const id = await importRootfs(this.store, src as AsyncIterable<Buffer>, {
      tags,
      changes: opts.changes ?? [],
      message: opts.message,
      source: opts.source ?? '-',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    this.engine.events.emit('image', 'import', id, { name: tags[0] ? String(tags[0]) : id });
    return { Id: id };
  }

  /** POST /build; progress goes to req.onEvent in the /build stream's shape. */
  async build(context: BuildContextInput, opts: ImageBuildOptions, req: BuildRequest = {}): Promise<{ Id: string }> {
    const { buildImage } = await import('./image-build.js');
    return buildImage(this.engine, context, opts, req);
  }

  /** berth's: a FROM-scratch image of host programs and the shared libraries they load. */
  async fromHost(name: string, programs: string[]): Promise<{ Id: string }> {
    if (programs.length === 0) throw invalid('usage', 'from-host: at least one program is required');
    const { imageFromHost } = await import('../image/from-host.js');
    return { Id: await imageFromHost(this.store, programs, [tagReference(name)]) };
  }

  /** GET /system/df (the image half: layers and images; no volumes or build cache in berth). */
  systemDf(): SystemDfResponse {
    const { layersSize, images } = layersUsage(this.store, this.list({ all: true }));
    return { LayersSize: layersSize, Images: images, Containers: [], Volumes: [], BuildCache: [] };
  }

  /** berth's: the walk through the store a user would do by hand for an image's layers. */
  layers(name: string): {
    Id: string;
    Config: string;
    Layers: LayerWalk[];
    Mount: { readOnly: string; container: string; cwd: string };
  } {
    const id = this.store.resolve(name) as ImageID;
    const w = layerWalk(this.store, id);
    return { Id: id, Config: `${this.store.paths.imagedbContent}/${id.slice(7)}`, Layers: w.layers, Mount: w.mount };
  }

  /** berth's: verify the store (under its lock); `repair` removes the leftovers of interrupted work. */
  async check(opts: CheckOptions & { repair?: boolean } = {}): Promise<{
    findings: Finding[];
    images: number;
    layers: number;
  }> {
    const store = this.store;
    const { checkStore } = await import('../image/check.js');
    const findings = await store.lock(() => checkStore(store, opts));
    if (opts.repair)
      await store.lock(() => {
        for (const f of findings) if (f.severity === 'leftover') f.fix?.();
      });
    return { findings, images: store.images.list().length, layers: store.layers.list().length };
  }
}

/** "repo" or "repo:tag" (tag "latest" by default); a digest is refused. */
function tagReference(repo: string, tag?: string): Reference {
  const r = withDefaultTag(parseReference(tag ? `${repo}:${tag}` : repo));
  if (r.digest) throw invalid('invalid_reference', `refusing to create a tag with a digest reference: ${repo}`);
  return r;
}
