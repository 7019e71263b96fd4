import { BerthError, invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const rmi: Command = {
  names: [['rmi'], ['image', 'rm'], ['image', 'remove']],
  usage: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  options: { force: { type: 'boolean', short: 'f' }, 'no-prune': { type: 'boolean' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"rmi" requires at least 1 argument');
    const { images } = await ctx.engine();
    let status = 0;
    for (const a of args) {
      try {
        for (const r of await images.remove(a, { force: !!o.force, noprune: !!o['no-prune'] }))
          ctx.out(r.Untagged ? `Untagged: ${r.Untagged}` : `Deleted: ${r.Deleted}`);
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        ctx.err(`Error response from berth: ${err.message}`);
        status = 1;
      }
    }
    return status;
  },
};
