import { corrupt, invalid } from '../core/errors.js';
import type { RegistryClient } from './client.js';
import { registryError } from './errors.js';
import { readBody } from './transport.js';

/** A tag list page is small; a bigger one is a registry lying. */
const MAX_PAGE_BYTES = 4 << 20;
/** Pages followed at most (with a page size of 1000: a million tags). */
const MAX_PAGES = 1000;
/** Docker's tag grammar. */
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * GET /v2/<name>/tags/list, following the `Link: <...>; rel="next"` pages on the same
 * registry (the distribution spec's pagination): every tag, in the registry's order.
 * A tag that is not a valid tag, or a page that is not the spec's JSON, is an error.
 */
export async function listTags(client: RegistryClient, path: string, scopes: string[]): Promise<string[]> {
  const tags: string[] = [];
  let next: string | undefined = `/v2/${path}/tags/list?n=1000`;
  for (let page = 0; next; page++) {
    if (page >= MAX_PAGES) throw corrupt('tags_pages', `tags of ${path}: more than ${MAX_PAGES} pages`);
    const res = await client.get(next, scopes, { headers: { Accept: 'application/json' } });
    if (res.status !== 200) throw await registryError(res, `list tags of ${path}`);
    const body = await readBody(res, MAX_PAGE_BYTES, `tags of ${path}`);
    let j: { tags?: unknown };
    try {
      j = JSON.parse(body.toString('utf8'));
    } catch {
      throw corrupt('tags_invalid', `tags of ${path}: the registry's answer is not JSON`);
    }
    const page_ = j.tags ?? [];
    if (!Array.isArray(page_)) throw corrupt('tags_invalid', `tags of ${path}: "tags" is not a list`);
    for (const t of page_) {
      if (typeof t !== 'string' || !TAG.test(t))
        throw corrupt('tags_invalid', `tags of ${path}: invalid tag ${JSON.stringify(t)}`);
      tags.push(t);
    }
    next = nextPage(res.headers.link, client.host);
  }
  return tags;
}

/**
 * The path and query of a Link header's rel="next" target: a path, or a URL on the
 * registry's own host (`host`); anywhere else is an error. Pure.
 */
export function nextPage(link: string | string[] | undefined, host: string): string | undefined {
  const value = Array.isArray(link) ? link.join(',') : link;
  if (!value) return undefined;
  for (const part of value.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!m || !/\brel="?next"?/.test(m[2]!)) continue;
    let url: URL;
    try {
      url = new URL(m[1]!, `http://${host}`);
    } catch {
      url = new URL('http://invalid./');
    }
    if (url.host !== host || !url.pathname.startsWith('/v2/'))
      throw invalid('tags_link', `the registry's next page ${JSON.stringify(m[1])} is not on the registry`);
    return `${url.pathname}${url.search}`;
  }
  return undefined;
}
