import { invalid } from '../../core/errors.js';
import type { PullEvent } from '../../engine/registries.js';
import type { Command } from '../context.js';
import { PullProgress } from './pull-progress.js';
import { credentialsFor } from './registry-auth.js';

export const pull: Command = {
  names: [['pull'], ['image', 'pull']],
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  options: {
    'all-tags': { type: 'boolean', short: 'a' },
    quiet: { type: 'boolean', short: 'q' },
    platform: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"pull" requires exactly 1 argument');
    const name = args[0]!;
    const engine = await ctx.engine();
    const auth = credentialsFor(engine.registries.registryOf(name));
    const quiet = !!o.quiet;
    const progress = new PullProgress(ctx.stdout, quiet);
    const allTags = !!o['all-tags'];
    if (!quiet && !allTags && !/[:@][^/]*$/.test(name)) ctx.out('Using default tag: latest');
    const onProgress = (e: PullEvent) => progress.write(e);
    const res = await engine.registries.pull(name, {
      ...(auth ? { auth } : {}),
      ...(typeof o.platform === 'string' && o.platform ? { platform: o.platform } : {}),
      onProgress,
      ...(allTags ? { allTags } : {}),
    });
    ctx.out(res.Reference);
  },
};
