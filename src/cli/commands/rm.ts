import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { eachName as eachContainer } from '../each.js';

export const rm: Command = {
  names: [['rm'], ['container', 'rm'], ['container', 'remove']],
  usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  options: { force: { type: 'boolean', short: 'f' }, volumes: { type: 'boolean', short: 'v' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"rm" requires at least 1 argument');
    const engine = await ctx.engine();
    return eachContainer(ctx, args, (a) => engine.containers.remove(a, { force: !!o.force, v: !!o.volumes }));
  },
};
