import * as fs from 'node:fs';
import * as native from '../../native/index.js';
import { goClean, goCompare } from './gopath.js';
import type { IgnoreMatcher } from './dockerignore.js';
import { clientHeader, tarsumHasher, type ClientHeaderOptions } from './tarsum.js';

/** A path that exists in the build context (what dockerd's extracted context dir would hold). */
export interface ContextEntry {
  /** Slash path relative to the context root; '' is the root. */
  rel: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  /** The symlink's target, as stored. */
  linkname: string;
  /** lstat of the host file; undefined for a dir Docker would only make as a parent of something sent. */
  st: fs.Stats | undefined;
  /** For a file whose inode was already sent under another name: that name (the client sends a hardlink). */
  hardlinkOf?: string;
}

/** Thrown by resolve(): the path leads outside the context, through a non-directory or into a symlink loop. */
export class ScopeError extends Error {}

/**
 * The files of a build context as an ordered table (Go's filepath.Walk order: depth first,
 * names bytewise sorted), with dockerd's symlink resolution confined to it and its
 * per-file tarsums. Nothing here opens a host path the table did not get from lstat.
 */
export class ContextTree {
  private readonly order: ContextEntry[] = [];
  private readonly index = new Map<string, number>();
  private readonly cache = new Map<string, string>();

  /** `sumOf` gives an entry's tarsum hex (undefined: Docker would have none). */
  constructor(
    readonly root: string,
    private readonly sumOf: (e: ContextEntry) => string | undefined,
  ) {}

  add(e: ContextEntry): void {
    this.index.set(e.rel, this.order.length);
    this.order.push(e);
  }

  get(rel: string): ContextEntry | undefined {
    const i = this.index.get(rel);
    return i === undefined ? undefined : this.order[i];
  }

  /** Drop an entry and everything below it (dockerd removing an ignored Dockerfile). */
  remove(rel: string): void {
    const kept = this.order.filter((e) => e.rel !== rel && !(rel === '' || e.rel.startsWith(`${rel}/`)));
    this.order.length = 0;
    this.index.clear();
    for (const e of kept) this.add(e);
  }

  /** rel and everything below it, in walk order (the whole context for ''). */
  *walk(rel: string): Generator<ContextEntry> {
    const i = this.index.get(rel);
    if (i === undefined) return;
    yield this.order[i]!;
    const prefix = rel === '' ? '' : `${rel}/`;
    for (let j = i + 1; j < this.order.length && this.order[j]!.rel.startsWith(prefix); j++) yield this.order[j]!;
  }

  hostPath(rel: string): string {
    // rel is a clean relative path (from the walk or resolve()): no normalizing needed
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /**
   * moby's FollowSymlinkInScope over the table: each component is looked up, a symlink's
   * target is spliced in (an absolute one from the context root), `..` never climbs above
   * the root, a missing component is kept as text. Throws ScopeError for a path that is
   * textually outside the root, a component below a non-directory, or 255+ links.
   */
  resolve(path: string): string {
    const clean = goClean(path);
    if (clean === '..' || clean.startsWith('../')) throw new ScopeError(`${path} is outside the context`);
    let rest = clean === '.' ? '' : clean.replace(/^\/+/, '');
    let b: string[] = [];
    for (let n = 0; rest !== ''; n++) {
      if (n > 255) throw new ScopeError(`too many links in ${path}`);
      const i = rest.indexOf('/');
      const p = i < 0 ? rest : rest.slice(0, i);
      rest = i < 0 ? '' : rest.slice(i + 1);
      if (p === '' || p === '.') continue;
      if (p === '..') {
        b.pop();
        continue;
      }
      const e = this.get([...b, p].join('/'));
      if (!e) {
        const parent = this.get(b.join('/'));
        if (parent && parent.kind !== 'dir') throw new ScopeError(`${path}: not a directory`);
        b.push(p);
        continue;
      }
      if (e.kind !== 'symlink') {
        b.push(p);
        continue;
      }
      if (e.linkname.startsWith('/')) b = [];
      rest = rest === '' ? e.linkname : `${e.linkname}/${rest}`;
    }
    return b.join('/');
  }

  /** dockerd's Source.Hash(path): the tarsum of what path resolves to, or path itself when there is none. */
  hash(path: string): string {
    const rel = this.resolve(path);
    const e = this.get(rel);
    const sum = e ? this.cachedSum(e) : undefined;
    return sum ?? path;
  }

  private cachedSum(e: ContextEntry): string | undefined {
    let s = this.cache.get(e.rel);
    if (s === undefined) {
      s = this.sumOf(e);
      if (s !== undefined) this.cache.set(e.rel, s);
    }
    return s;
  }
}

const kindOf = (st: fs.Stats): ContextEntry['kind'] | undefined =>
  st.isDirectory()
    ? 'dir'
    : st.isFile()
      ? 'file'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isSocket()
          ? undefined
          : 'other';

/**
 * The entries the docker CLI 20.10 would send for a context dir (or, with no patterns, all
 * entries of an extracted tar context): a walk that leaves out
 * excluded paths, does not enter an excluded dir unless a `!` pattern starts with it (the
 * dir itself is then not sent: dockerd makes it as a parent), skips sockets, and marks
 * further names of a multiply linked inode as hardlinks of the first. `forced` are paths
 * the client sends although excluded (Dockerfile, .dockerignore) and dockerd deletes
 * again: their parents still come to exist.
 */
export function walkContext(
  root: string,
  ignore: IgnoreMatcher,
  forced: string[],
  sum: (tree: ContextTree, e: ContextEntry) => string | undefined,
): ContextTree {
  const tree: ContextTree = new ContextTree(root, (e) => sum(tree, e));
  const seen = new Map<string, string>();
  const rootSt = fs.lstatSync(root);
  tree.add({ rel: '', kind: 'dir', linkname: '', st: rootSt });
  const pending: string[] = []; // excluded dirs entered, added once something below them is
  const visit = (dirRel: string) => {
    const names = fs.readdirSync(tree.hostPath(dirRel)).sort(goCompare);
    for (const name of names) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const st = fs.lstatSync(tree.hostPath(rel));
      const kind = kindOf(st);
      if (!kind) continue;
      if (ignore.excludes(rel, kind === 'dir')) {
        if (forced.includes(rel)) {
          flush(pending, tree);
          continue;
        }
        if (kind !== 'dir') continue;
        const open = ignore.mayIncludeBelow(rel) || forced.some((f) => `${f}/`.startsWith(`${rel}/`));
        if (!open) continue;
        pending.push(rel);
        visit(rel);
        if (pending[pending.length - 1] === rel) pending.pop();
        continue;
      }
      flush(pending, tree);
      const e: ContextEntry = {
        rel,
        kind,
        linkname: kind === 'symlink' ? fs.readlinkSync(tree.hostPath(rel)) : '',
        st,
      };
      if (kind !== 'dir' && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = seen.get(key);
        if (first !== undefined) e.hardlinkOf = first;
        else seen.set(key, rel);
      }
      tree.add(e);
      if (kind === 'dir') visit(rel);
    }
  };
  visit('');
  return tree;
}

/** Excluded dirs that turn out to hold something: dockerd makes them (0755, root) as parents. */
function flush(pending: string[], tree: ContextTree): void {
  for (const rel of pending.splice(0)) tree.add({ rel, kind: 'dir', linkname: '', st: undefined });
}

/** The tarsum dockerd computes for an entry of a context dir the docker CLI sent (see clientHeader). */
export function clientSum(tree: ContextTree, e: ContextEntry, opts: ClientHeaderOptions): string | undefined {
  if (!e.st || e.rel === '') return undefined;
  const p = tree.hostPath(e.rel);
  let cap: Buffer | null = null;
  try {
    cap = native.lgetxattr(p, 'security.capability');
  } catch {
    /* none */
  }
  const hasher = tarsumHasher(clientHeader(e.rel, e.st, e.linkname, e.hardlinkOf, cap, opts));
  if (e.kind === 'file' && e.hardlinkOf === undefined && e.st.size > 0) hashBody(hasher, p);
  return hasher.digest('hex');
}

/** Feed a file's bytes (opened without following a symlink) to a hash. */
export function hashBody(hasher: { update(b: Buffer): unknown }, path: string): void {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hasher.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
}
