import { type Filters, parseFilterFlags } from '../core/filters.js';

/**
 * Docker's `reference` filter: a glob (path.Match: `*` and `?` within one path
 * segment, `[...]` classes) against "repo" or "repo:tag".
 */
export function matchReference(pattern: string, repo: string, tag: string): boolean {
  const re = globToRegExp(pattern);
  return re.test(repo) || re.test(`${repo}:${tag}`);
}

function globToRegExp(p: string): RegExp {
  let s = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') s += '[^/]*';
    else if (c === '?') s += '[^/]';
    else if (c === '[') {
      const j = p.indexOf(']', i);
      if (j < 0) {
        s += '\\[';
        continue;
      }
      s += `[${p
        .slice(i + 1, j)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\')}]`;
      i = j;
    } else s += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${s}$`);
}

/** The `--filter` flags of a command as Docker's filter arguments (core/filters.ts decides what they mean). */
export function filterFlags(o: Record<string, unknown>): Filters {
  return parseFilterFlags((o.filter as string[] | undefined) ?? []);
}

/** The same as the API's filter map (`{"label": ["a=b"]}`), what engine operations take. */
export function filterMap(f: Filters): Record<string, string[]> {
  return Object.fromEntries([...f].map(([k, v]) => [k, [...v]]));
}
