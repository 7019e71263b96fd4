import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { BerthError, invalid, notFound, wrap } from '../../core/errors.js';
import { openBeneath } from '../../container/cp-tree.js';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import { extractContext } from './extract.js';
import type { ClientHeaderOptions } from './tarsum.js';
import { ContextTree, ScopeError, clientSum, walkContext } from './tree.js';
import { SumCache } from './sum-cache.js';

/** A build context ready for COPY/ADD: its files on the host and the Dockerfile's text. */
export interface BuildContext {
  /** Host dir holding the context: the user's dir, or a temp dir (removed by dispose()) for a tar. */
  root: string;
  dockerfileText: string;
  /** How messages name the Dockerfile: its path relative to the context, or the host path given with -f, or "-". */
  dockerfileName: string;
  /**
   * The .dockerignore patterns. `tree` already applies them: every pattern for a dir
   * context (the client leaves excluded files out), and for a tar context only to the
   * Dockerfile and .dockerignore (dockerd deletes those when matched, nothing else).
   */
  ignore: IgnoreMatcher;
  /** What exists in the context, with dockerd's hashes; the builder copies from it, never from ignored files. */
  tree: ContextTree;
  dispose(): Promise<void>;
}

export type ContextSource = { dir: string } | { tar: AsyncIterable<Buffer> | NodeJS.ReadableStream };
export interface DockerfileSource {
  path?: string;
  stdin?: string;
}

/**
 * Open a build context as Docker 20.10's classic build does. A dir: the Dockerfile is
 * `-f` (relative to the working directory, may be outside the context) or Dockerfile,
 * else dockerfile, in the dir; `.dockerignore` at its root hides files (not
 * `<Dockerfile>.dockerignore`: that is BuildKit's). A tar (compressed or not): extracted
 * to a temp dir, the Dockerfile named relative to its root.
 */
export interface ContextOptions extends ClientHeaderOptions {
  /** Where to remember a context directory's file sums between builds (the store's berth/cache/context-sums). */
  sumCacheDir?: string;
}

export async function openContext(
  src: ContextSource,
  dockerfile: DockerfileSource = {},
  opts: ContextOptions = {},
): Promise<BuildContext> {
  return 'dir' in src ? openDir(src.dir, dockerfile, opts) : openTar(src.tar as AsyncIterable<Buffer>, dockerfile);
}

async function openDir(dir: string, df: DockerfileSource, opts: ContextOptions): Promise<BuildContext> {
  const root = resolve(dir);
  const st = fs.statSync(root, { throwIfNoEntry: false });
  if (!st) throw notFound('context_not_found', `unable to prepare context: path ${JSON.stringify(dir)} not found`);
  if (!st.isDirectory())
    throw invalid('context_not_dir', `unable to prepare context: context must be a directory: ${root}`);
  let text: string;
  let name: string;
  let rel: string | undefined;
  if (df.stdin !== undefined) {
    text = df.stdin;
    name = '-';
  } else {
    let abs = df.path ? resolve(df.path) : join(root, 'Dockerfile');
    if (!df.path && !fs.existsSync(abs) && fs.lstatSync(join(root, 'dockerfile'), { throwIfNoEntry: false }))
      abs = join(root, 'dockerfile');
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch (err) {
      throw wrap(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${abs}`, err);
    }
    text = readText(real, abs);
    const r = relative(root, abs);
    rel = r.startsWith('..') || isAbsolute(r) ? undefined : r.split('\\').join('/');
    name = rel ?? abs;
  }
  checkNotEmpty(text, name);
  const ignorePath = join(root, '.dockerignore');
  const ignoreText = fs.existsSync(ignorePath) ? readText(ignorePath, ignorePath) : '';
  const ignore = new IgnoreMatcher(parseDockerignore(ignoreText));
  const forced = ['.dockerignore', ...(rel ? [rel] : [])].filter((p) => ignore.excludes(p));
  let tree: ContextTree;
  let dispose = async () => {};
  try {
    const cache = opts.sumCacheDir
      ? SumCache.open(opts.sumCacheDir, `${root}\0${opts.modeTypeBits !== false}`)
      : undefined;
    tree = walkContext(root, ignore, forced, (t, e) =>
      cache ? cache.get(e, () => clientSum(t, e, opts)) : clientSum(t, e, opts),
    );
    dispose = async () => cache?.save();
  } catch (err) {
    throw wrap(`read build context ${JSON.stringify(root)}`, err);
  }
  return { root, dockerfileText: text, dockerfileName: name, ignore, tree, dispose };
}

async function openTar(stream: AsyncIterable<Buffer>, df: DockerfileSource): Promise<BuildContext> {
  const root = fs.mkdtempSync(join(tmpdir(), 'berth-build-context-'));
  const dispose = async () => {
    await fs.promises.rm(root, { recursive: true, force: true });
  };
  try {
    const sums = await extractContext(stream, root);
    const tree = walkContext(root, new IgnoreMatcher([]), [], (_t, e) => sums.get(e.rel || '.'));
    let name = df.path ?? 'Dockerfile';
    let text: string;
    if (df.stdin !== undefined) {
      text = df.stdin;
      name = '-';
    } else {
      let found = readInTree(tree, name);
      if (found === undefined && df.path === undefined) {
        found = readInTree(tree, 'dockerfile');
        if (found !== undefined) name = 'dockerfile';
      }
      if (found === undefined) throw notFound('dockerfile_not_found', `Cannot locate specified Dockerfile: ${name}`);
      text = found;
    }
    checkNotEmpty(text, name);
    const ignoreText = readInTree(tree, '.dockerignore');
    const ignore = new IgnoreMatcher(parseDockerignore(ignoreText ?? ''));
    if (ignoreText !== undefined) {
      // dockerd's removeDockerfile: an ignored .dockerignore or Dockerfile is not part of the context
      for (const p of ['.dockerignore', ...(name === '-' ? [] : [name])]) {
        if (!ignore.excludes(p)) continue;
        const rel = resolveOrUndefined(tree, p);
        if (rel === undefined || rel === '' || !tree.get(rel)) continue;
        tree.remove(rel);
        fs.rmSync(tree.hostPath(rel), { recursive: true, force: true });
      }
    }
    return { root, dockerfileText: text, dockerfileName: name, ignore, tree, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

function resolveOrUndefined(tree: ContextTree, p: string): string | undefined {
  try {
    return tree.resolve(p);
  } catch (err) {
    if (err instanceof ScopeError) return undefined;
    throw err;
  }
}

/** A file of an extracted context, read without leaving it; undefined when it is not there. */
function readInTree(tree: ContextTree, p: string): string | undefined {
  const rel = resolveOrUndefined(tree, p);
  const e = rel === undefined ? undefined : tree.get(rel);
  if (!e || rel === undefined) return undefined;
  if (e.kind !== 'file')
    throw invalid('dockerfile_not_file', `read ${JSON.stringify(p)} in the build context: not a regular file`);
  const slash = rel.lastIndexOf('/');
  const dfd = fs.openSync(tree.root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let fd = -1;
  try {
    const pfd = slash < 0 ? dfd : openBeneath(dfd, rel.slice(0, slash));
    try {
      fd = fs.openSync(`/proc/self/fd/${pfd}/${rel.slice(slash + 1)}`, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } finally {
      if (pfd !== dfd) fs.closeSync(pfd);
    }
    return fs.readFileSync(fd, 'utf8');
  } catch (err) {
    throw wrap(`read ${JSON.stringify(p)} in the build context`, err);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    fs.closeSync(dfd);
  }
}

function readText(path: string, shown: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw wrap(`read ${JSON.stringify(shown)}`, err);
  }
}

function checkNotEmpty(text: string, name: string): void {
  if (text.length === 0) throw invalid('dockerfile_empty', `the Dockerfile (${name}) cannot be empty`);
}
