import { invalid } from '../../core/errors.js';
import type { PullEvent } from '../../engine/registries.js';
import type { Command } from '../context.js';
import { PullProgress } from './pull-progress.js';
import { credentialsFor } from './registry-auth.js';

/**
 * `push [-a] [-q] [--compression gzip|zstd] NAME[:TAG]` as the docker CLI: credentials from the caller's config.json,
 * "Using default tag: latest" for a bare name, the engine's progress lines (one per layer,
 * rewritten in place on a terminal), `-q` prints only the reference pushed. `--compression zstd`
 * (beyond Docker) pushes an OCI manifest with tar+zstd layers.
 */
export const push: Command = {
  names: [['push'], ['image', 'push']],
  usage: 'push [OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  options: {
    'all-tags': { type: 'boolean', short: 'a' },
    quiet: { type: 'boolean', short: 'q' },
    compression: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"push" requires exactly 1 argument');
    const all = !!o['all-tags'];
    const quiet = !!o.quiet;
    const compression = typeof o.compression === 'string' ? o.compression : 'gzip';
    if (compression !== 'gzip' && compression !== 'zstd')
      throw invalid('usage', `invalid --compression ${JSON.stringify(compression)}: gzip or zstd`);
    const engine = await ctx.engine();
    let name = args[0]!;
    const bare = !/:[^/]*$/.test(name) && !name.includes('@');
    if (all && !bare) throw invalid('usage', "tag can't be used with --all-tags/-a");
    if (!all && bare) {
      name = `${name}:latest`;
      if (!quiet) ctx.out('Using default tag: latest');
    }
    const auth = credentialsFor(engine.registries.registryOf(name));
    const progress = new PullProgress(ctx.stdout, quiet);
    await engine.registries.push(name, {
      ...(auth ? { auth } : {}),
      ...(all ? { allTags: true } : {}),
      ...(compression === 'zstd' ? { compression } : {}),
      onProgress: (e: PullEvent) => progress.write(e),
    });
    if (quiet) ctx.out(engine.registries.fullName(name));
  },
};
