import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const tag: Command = {
  names: [['tag'], ['image', 'tag']],
  usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  options: {},
  async run(ctx, args) {
    if (args.length !== 2) throw invalid('usage', '"tag" requires exactly 2 arguments');
    await (await ctx.engine()).images.tag(args[0]!, args[1]!);
  },
};
