import { createHash } from 'node:crypto';
import { invalid, notFound } from '../../core/errors.js';
import type { BuildContext } from './context.js';
import { BadPattern, goClean, goCompare, goMatch } from './gopath.js';
import { ScopeError } from './tree.js';

/** One source of a COPY/ADD, as moby 20.10's copier.calcCopyInfo finds it in the context. */
export interface SourceMatch {
  /** The source as named (cleaned slash path relative to the context root; '' = root). */
  rel: string;
  /** Where it leads after symlinks, resolved inside the context: what is copied. */
  resolved: string;
  /** The host path of `resolved`; open it below `root` without following symlinks (cp-tree's openBeneath). */
  hostPath: string;
  isDir: boolean;
  /** `file:<tarsum hex>` or `dir:<sha256 of the sorted hashes of everything in it>`. */
  hash: string;
}

/**
 * Resolve one COPY/ADD source against the context: one leading "/" and then one "./"
 * dropped (absolute sources are relative to the context), wildcards (Go's
 * filepath.Match) tried against every path of the context in walk order, a symlink
 * followed inside the context only (a link to /etc/shadow leads to the context's
 * etc/shadow, which is not there). Errors carry dockerd's wording; the builder puts
 * "COPY failed: " in front. A wildcard that matches nothing gives [] (dockerd fails
 * only when no source of the instruction matched: see hashSources).
 */
export async function resolveSources(ctx: BuildContext, src: string): Promise<SourceMatch[]> {
  let orig = src;
  if (orig.startsWith('/')) orig = orig.slice(1);
  if (orig.startsWith('./')) orig = orig.slice(2);
  if (!containsWildcards(orig)) return [infoFor(ctx, orig)];
  const out: SourceMatch[] = [];
  for (const e of ctx.tree.walk('')) {
    if (e.rel === '' || !matches(orig, e.rel)) continue;
    out.push(infoFor(ctx, e.rel));
  }
  return out;
}

/**
 * The source hash of a whole instruction, as in `COPY <hash> in /dest `: the one
 * source's hash, or `multi:<sha256 of the hashes joined by ",">` in source order.
 */
export function hashSources(matches: readonly SourceMatch[]): string {
  if (matches.length === 0) throw invalid('copy_no_sources', 'no source files were specified');
  if (matches.length === 1) return matches[0]!.hash;
  return hashStrings(
    'multi',
    matches.map((m) => m.hash),
  );
}

function infoFor(ctx: BuildContext, path: string): SourceMatch {
  const tree = ctx.tree;
  let resolved: string;
  try {
    resolved = tree.resolve(path);
  } catch (err) {
    if (err instanceof ScopeError)
      throw invalid('copy_outside_context', `forbidden path outside the build context: ${path} ()`);
    throw err;
  }
  const e = tree.get(resolved);
  if (!e)
    throw notFound(
      'copy_not_found',
      `file not found in build context or excluded by .dockerignore: stat ${path}: file does not exist`,
    );
  const rel = goClean(path) === '.' ? '' : goClean(path);
  const base = { rel, resolved, hostPath: tree.hostPath(resolved) };
  if (e.kind !== 'dir') return { ...base, isDir: false, hash: `file:${tree.hash(path)}` };
  const hashes: string[] = [];
  for (const sub of tree.walk(resolved)) {
    if (sub.rel === '') continue;
    try {
      hashes.push(tree.hash(sub.rel));
    } catch (err) {
      if (!(err instanceof ScopeError)) throw err;
    }
  }
  hashes.sort(goCompare);
  return { ...base, isDir: true, hash: hashStrings('dir', hashes) };
}

function hashStrings(prefix: string, list: string[]): string {
  return `${prefix}:${createHash('sha256').update(list.join(',')).digest('hex')}`;
}

/** moby's containsWildcards on Linux: `*`, `?` or `[` not escaped by a backslash. */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/** dockerd ignores a malformed pattern's error: it just matches nothing. */
function matches(pattern: string, rel: string): boolean {
  try {
    return goMatch(pattern, rel);
  } catch (err) {
    if (err instanceof BadPattern) return false;
    throw err;
  }
}
