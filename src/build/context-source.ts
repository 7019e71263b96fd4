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
import { clientSum, walkContext } from './context/tree.js';

export function contextSource(ctx: BuildContext): SourceRoot {
  return {
    dir: ctx.root,
    async resolve(src): Promise<SourceMatch[]> {
      // what is copied is where the source leads (symlinks followed inside the root), under the name it was given
      return (await resolveSources(ctx, src)).map((m) => ({ rel: m.resolved, name: posix.basename(m.rel || m.resolved), isDir: m.isDir, hash: m.hash }));
    },
    includes: (rel) => ctx.tree.get(rel) !== undefined,
  };
}

/** Another directory as a source root: walked (and hashed as files are asked for) on first use; everything in it counts. */
export function dirSource(dir: string): SourceRoot {
  let ctx: BuildContext | undefined;
  const get = () => {
    if (!ctx) {
      const ignore = new IgnoreMatcher([]);
      const tree = walkContext(dir, ignore, [], (t, e) => clientSum(t, e, {}));
      ctx = { root: dir, dockerfileText: '', dockerfileName: '', ignore, tree, dispose: async () => {} };
    }
    return ctx;
  };
  return { dir, resolve: (src) => contextSource(get()).resolve(src), includes: () => true };
}
