import { invalid } from '../../core/errors.js';
import type { PullEvent } from '../../engine/registries.js';
import type { Command } from '../context.js';
import { credentialsFor } from './registry-auth.js';

export const pull: Command = {
  names: [['pull'], ['image', 'pull']],
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  options: { quiet: { type: 'boolean', short: 'q' }, platform: { type: 'string' } },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"pull" requires exactly 1 argument');
    const name = args[0]!;
    const engine = await ctx.engine();
    const auth = credentialsFor(engine.registries.registryOf(name));
    const quiet = !!o.quiet;
    // not a terminal: Docker's plain lines, without the byte counts of the progress bars
    const onProgress = (e: PullEvent) => {
      if (quiet || e.progressDetail) return;
      ctx.out(e.id ? `${e.id}: ${e.status}` : e.status);
    };
    const res = await engine.registries.pull(name, {
      ...(auth ? { auth } : {}),
      ...(typeof o.platform === 'string' && o.platform ? { platform: o.platform } : {}),
      onProgress,
    });
    ctx.out(res.Reference);
  },
};
