import type { ImageID } from '../core/digest.js';
import { invalid } from '../core/errors.js';
import { type Filters, matchKVList, validateFilters } from '../core/filters.js';
import { familiarName, familiarString, parseReference } from '../image/reference.js';
import type { ImageRecord, ImageStore } from '../image/store.js';
import { imageSize } from '../image/views.js';
import type { ImageListOptions, ImageSummary } from './image-types.js';

/** The filters GET /images/json takes (dockerd 20.10's acceptedImageFilterTags). */
export const IMAGE_LIST_FILTERS = ['dangling', 'label', 'before', 'since', 'reference'] as const;

/**
 * dockerd's image list: with `dangling=true` only heads (images no other
 * image is built on) that have no tag; untagged parents are left out unless
 * `all`; newest first. The reference filter keeps the references it matches,
 * and an image none matches.
 */
export function listImages(store: ImageStore, opts: ImageListOptions = {}): ImageSummary[] {
  const f = opts.filters ?? new Map();
  validateFilters(f, IMAGE_LIST_FILTERS);
  const danglingOnly = danglingFilter(f);
  const images = store.list();
  const parentOf = new Map(images.map((i) => [i.id, store.images.getMetadata(i.id, 'parent') ?? '']));
  const parents = new Set(parentOf.values());
  const before = createdOf(store, f, 'before');
  const since = createdOf(store, f, 'since');
  const patterns = [...(f.get('reference') ?? [])];
  const out: ImageSummary[] = [];
  for (const img of images) {
    if (danglingOnly && parents.has(img.id)) continue;
    const created = createdSeconds(img);
    if (before !== undefined && created >= before) continue;
    if (since !== undefined && created <= since) continue;
    if (f.has('label') && (!img.config.config || !matchKVList(f, 'label', img.config.config.Labels))) continue;
    const refs = img.refs.filter((r) => patterns.length === 0 || patterns.some((p) => matchReference(p, r)));
    const tags = refs.filter((r) => !r.includes('@'));
    const digests = refs.filter((r) => r.includes('@'));
    if (refs.length === 0) {
      if (!opts.all && parents.has(img.id)) continue;
      if ((f.has('dangling') && !danglingOnly) || patterns.length) continue;
    } else if (danglingOnly && tags.length) continue;
    const size = imageSize(store, img.id);
    out.push({
      Id: img.id,
      ParentId: parentOf.get(img.id) ?? '',
      RepoTags: refs.length ? tags : ['<none>:<none>'],
      RepoDigests: refs.length ? digests : ['<none>@<none>'],
      Created: created,
      Size: size,
      SharedSize: -1,
      VirtualSize: size,
      Labels: img.config.config?.Labels ?? {},
      Containers: -1,
    });
  }
  // (hex IDs: no localeCompare, whose ICU set-up costs ~9 ms)
  return out.sort((a, b) => b.Created - a.Created || (a.Id < b.Id ? -1 : a.Id > b.Id ? 1 : 0));
}

function danglingFilter(f: Filters): boolean {
  const v = f.get('dangling');
  if (!v) return false;
  // as dockerd: exactly "true" or "false"
  if (v.size === 1 && v.has('true')) return true;
  if (v.size === 1 && v.has('false')) return false;
  throw invalid('invalid_filter', `invalid filter 'dangling=[${[...v].join(' ')}]'`);
}

/** `before`/`since`: an image the store holds; its creation time. */
function createdOf(store: ImageStore, f: Filters, key: string): number | undefined {
  let t: number | undefined;
  for (const v of f.get(key) ?? []) t = createdSeconds(store.get(store.resolve(v)));
  return t;
}

function createdSeconds(img: ImageRecord): number {
  return unixSeconds(img.config.created);
}

/** Go's zero time in Unix seconds: what dockerd reports for an image or step without a creation time. */
const GO_ZERO_TIME = -62135596800;

/** An RFC 3339 time as Unix seconds, as the API's Created fields are. */
export function unixSeconds(rfc3339: string | undefined): number {
  const t = rfc3339 ? Date.parse(rfc3339) : NaN;
  return Number.isNaN(t) ? GO_ZERO_TIME : Math.floor(t / 1000);
}

/**
 * Docker's `reference` filter (reference.FamiliarMatch): a glob (path.Match:
 * `*` and `?` within one path segment, `[...]` classes) against the familiar
 * reference, or else its familiar name.
 */
export function matchReference(pattern: string, ref: string): boolean {
  const re = globToRegExp(pattern);
  if (re.test(ref)) return true;
  try {
    const r = parseReference(ref);
    return re.test(familiarName(r.name)) || re.test(familiarString(r));
  } catch {
    return false;
  }
}

function globToRegExp(p: string): RegExp {
  let s = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') s += '[^/]*';
    else if (c === '?') s += '[^/]';
    else if (c === '[') {
      const j = p.indexOf(']', i);
      if (j < 0)
        throw invalid('invalid_filter', `invalid reference filter ${JSON.stringify(p)}: syntax error in pattern`);
      s += `[${p
        .slice(i + 1, j)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\')}]`;
      i = j;
    } else s += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${s}$`);
}

/** The IDs of an image's chain of parents, the image first (the images `history` names). */
export function parentChain(store: ImageStore, id: ImageID): ImageID[] {
  const chain: ImageID[] = [];
  for (let cur: ImageID | undefined = id; cur && store.images.has(cur);) {
    chain.push(cur);
    cur = store.images.getMetadata(cur, 'parent') as ImageID | undefined;
  }
  return chain;
}
