import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const fromHost: Command = {
  names: [['image', 'from-host']],
  usage: 'image from-host NAME[:TAG] PROGRAM [PROGRAM...]',
  summary: 'Make a FROM-scratch image of host programs and the shared libraries they load (no network needed)',
  options: {},
  async run(ctx, args) {
    if (args.length < 2) throw invalid('usage', '"image from-host" requires a name and at least one program');
    ctx.out((await (await ctx.engine()).images.fromHost(args[0]!, args.slice(1))).Id);
  },
};
