import type { ImageID } from '../core/digest.js';
import { BerthError } from '../core/errors.js';
import { type Filters, boolFilter, matchLabels, untilFilter, validateFilters } from '../core/filters.js';
import { removePartials } from '../storage/partial-blobs.js';
import { deleteImage, type DeleteRecord } from './delete.js';
import { parseReference } from './reference.js';
import type { ImageRecord, ImageStore } from './store.js';

/** The filters `image prune` takes (dockerd's imagesAcceptedFilters). */
export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

/** A checked prune request: refused filters and values fail here, before anything is deleted. */
export interface ImagePrunePlan {
  danglingOnly: boolean;
  until?: number;
  filters: Filters;
}

export function imagePrunePlan(filters: Filters, now: number = Date.now()): ImagePrunePlan {
  validateFilters(filters, IMAGE_PRUNE_FILTERS);
  const danglingOnly = boolFilter(filters, 'dangling', true);
  const until = untilFilter(filters, now);
  return { danglingOnly, filters, ...(until !== undefined ? { until } : {}) };
}

export interface PruneReport {
  deleted: DeleteRecord[];
  reclaimed: number;
}

/**
 * dockerd's image prune: dangling only, it looks at heads (images without
 * children) and deletes each with its unused parent chain, so one run empties
 * a built chain; with `dangling=false`, every image (intermediate untagged ones
 * excepted) is untagged and deleted. Images in use (containers, children,
 * operations in progress) are skipped, as conflicts are. Reclaimed space is the
 * size of the layers deleted.
 */
export async function pruneImages(store: ImageStore, plan: ImagePrunePlan): Promise<PruneReport> {
  const images = store.list();
  const parents = new Set(images.map((i) => store.images.getMetadata(i.id, 'parent')).filter((p) => p));
  const candidates = plan.danglingOnly ? images.filter((i) => !parents.has(i.id)) : images;
  const victims = candidates.filter((i) => wanted(i, plan, parents.has(i.id))).sort(newestFirst);
  const sizes = new Map(store.layers.list().map((c) => [c as string, store.layers.get(c)?.size ?? 0]));
  const deleted: DeleteRecord[] = [];
  for (const img of victims) {
    if (img.refs.length === 0) {
      deleted.push(...(await pruneOne(store, plan, img.id, img.id)));
      continue;
    }
    // dangling only: an image whose references are all digests counts as untagged
    if (plan.danglingOnly && img.refs.some((r) => !parseReference(r).digest)) continue;
    for (const ref of img.refs) deleted.push(...(await pruneOne(store, plan, img.id, ref)));
  }
  const reclaimed = deleted.reduce((n, d) => n + (d.Deleted ? (sizes.get(d.Deleted) ?? 0) : 0), 0);
  return { deleted, reclaimed };
}

/**
 * One delete of the prune, decided again under the store lock with what is stored then: an image tagged, given a
 * child or a container, or removed since the listing (by another request or process) is left alone. A conflict or an
 * image already gone is skipped, as dockerd does.
 */
async function pruneOne(store: ImageStore, plan: ImagePrunePlan, id: ImageID, arg: string): Promise<DeleteRecord[]> {
  try {
    return await store.withTxn('rmi', async (txn) =>
      store.lock(() => {
        if (!store.images.has(id)) return [];
        const now = store.get(id);
        if (!wanted(now, plan, store.images.children(id).length > 0)) return [];
        if (arg === id ? now.refs.length > 0 : !now.refs.includes(arg)) return [];
        if (plan.danglingOnly && now.refs.some((r) => !parseReference(r).digest)) return [];
        return deleteImage(store, txn, arg, {});
      }),
    );
  } catch (err) {
    if (err instanceof BerthError && (err.kind === 'Conflict' || err.kind === 'NotFound')) return [];
    throw err;
  }
}

function wanted(img: ImageRecord, plan: ImagePrunePlan, hasChildren: boolean): boolean {
  if (img.refs.length === 0 && hasChildren) return false;
  if (plan.until !== undefined) {
    const created = img.config.created ? Date.parse(img.config.created) : NaN;
    if (Number.isNaN(created) || created > plan.until) return false;
  }
  return !img.config.config || matchLabels(plan.filters, img.config.config.Labels);
}

function newestFirst(a: ImageRecord, b: ImageRecord): number {
  return (b.config.created ?? '').localeCompare(a.config.created ?? '') || a.id.localeCompare(b.id);
}

/** The filters `system prune` passes on (the docker CLI's: label, label!, until; dangling from -a). */
export const PARTIAL_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

/**
 * `system prune`'s share of berth's own data: the partial downloads interrupted pulls kept
 * (storage/partial-blobs.ts), except those a pull is writing now. They have no labels (so a
 * `label=` filter keeps them all, as dockerd's filters match a label-less object); `until`
 * compares with the time their last byte was written. Returns the blobs' digests and bytes freed.
 */
export function prunePartials(
  store: ImageStore,
  filters: Filters,
  now: number = Date.now(),
): { deleted: string[]; reclaimed: number } {
  validateFilters(filters, PARTIAL_PRUNE_FILTERS);
  const until = untilFilter(filters, now);
  if (!matchLabels(filters, {})) return { deleted: [], reclaimed: 0 };
  const removed = removePartials(store.paths, (p) => until === undefined || p.mtimeMs <= until);
  return { deleted: removed.map((p) => p.digest ?? p.name), reclaimed: removed.reduce((n, p) => n + p.size, 0) };
}
