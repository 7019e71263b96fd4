/**
 * COPY/ADD source roots over the build context module: the context itself
 * (with its .dockerignore), or any other directory — an image's files for
 * --from, heredoc files, downloads — with nothing ignored.
 */
import { posix } from 'node:path';
import type { SourceMatch, SourceRoot } from './copy-step.js';
import type { BuildContext } from './context/context.js';
import { IgnoreMatcher } from './context/dockerignore.js';
import { resolveSources } from './context/sources.js';
import * as fs from 'node:fs';
import * as native from '../native/index.js';
import { parseGroup, parsePasswd } from '../runtime/user.js';
import { clientHeader, tarsumHasher } from './context/tarsum.js';
import { hashBody, walkContext, type ContextEntry, type ContextTree } from './context/tree.js';

export function contextSource(ctx: BuildContext): SourceRoot {
  return {
    dir: ctx.root,
    async resolve(src): Promise<SourceMatch[]> {
      // what is copied is where the source leads (symlinks followed inside the root), under the name it was given
      return (await resolveSources(ctx, src)).map((m) => ({
        rel: m.resolved,
        name: posix.basename(m.rel || m.resolved),
        isDir: m.isDir,
        hash: m.hash,
      }));
    },
    includes: (rel) => ctx.tree.get(rel) !== undefined,
  };
}

/**
 * Another directory as a source root: walked (and hashed as files are asked for) on first use; everything in it counts.
 */
export function dirSource(dir: string): SourceRoot {
  let ctx: BuildContext | undefined;
  const get = () => {
    if (!ctx) {
      const ignore = new IgnoreMatcher([]);
      const tree = walkContext(dir, ignore, [], lazySum);
      ctx = { root: dir, dockerfileText: '', dockerfileName: '', ignore, tree, dispose: async () => {} };
    }
    return ctx;
  };
  return { dir, resolve: (src) => contextSource(get()).resolve(src), includes: () => true };
}

/**
 * dockerd's hash of a file it reads from a directory itself (an image's files for
 * COPY --from: remotecontext's lazySource): the tarsum of archive.FileInfoHeader of
 * the file — its real owner, no hardlink detection, the capability xattr as stored —
 * then its content. Go's archive/tar names the owner as the host (dockerd's) user
 * and group database does: "root" for 0, "" for an id it does not know.
 */
export function lazySum(tree: ContextTree, e: ContextEntry): string | undefined {
  if (!e.st || e.rel === '') return undefined;
  const p = tree.hostPath(e.rel);
  let cap: Buffer | null = null;
  try {
    cap = native.lgetxattr(p, 'security.capability');
  } catch {
    /* none */
  }
  const h = clientHeader(e.rel, e.st, e.linkname, undefined, null);
  const hasher = tarsumHasher({
    ...h,
    uid: e.st.uid,
    gid: e.st.gid,
    uname: hostName(tree, '/etc/passwd', e.st.uid),
    gname: hostName(tree, '/etc/group', e.st.gid),
    xattrs: cap ? new Map([['security.capability', cap]]) : h.xattrs,
  });
  if (e.kind === 'file' && e.st.size > 0) hashBody(hasher, p);
  return hasher.digest('hex');
}

/**
 * Names by id from the host's /etc/passwd and /etc/group, read once per tree (one build's source): not once per
 * process, so that a long-lived engine's next build sees a `useradd` made meanwhile.
 */
const hostNames = new WeakMap<ContextTree, Map<string, Map<number, string>>>();

/** The name of `id` in the host's /etc/passwd or /etc/group ('' when there is none). */
function hostName(tree: ContextTree, file: '/etc/passwd' | '/etc/group', id: number): string {
  let files = hostNames.get(tree);
  if (!files) hostNames.set(tree, (files = new Map()));
  let m = files.get(file);
  if (!m) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      /* no names */
    }
    const entries =
      file === '/etc/passwd'
        ? parsePasswd(text).map((e) => [e.uid, e.name] as const)
        : parseGroup(text).map((e) => [e.gid, e.name] as const);
    m = new Map();
    for (const [n, name] of entries) if (!m.has(n)) m.set(n, name);
    files.set(file, m);
  }
  return m.get(id) ?? '';
}
