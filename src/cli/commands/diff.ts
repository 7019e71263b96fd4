import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const diff: Command = {
  names: [['diff'], ['container', 'diff']],
  usage: 'diff CONTAINER',
  summary: "Inspect changes to files or directories on a container's filesystem",
  options: {},
  async run(ctx, args) {
    if (args.length !== 1) throw invalid('usage', '"diff" requires exactly 1 argument');
    for (const ch of await (await ctx.engine()).containers.changes(args[0]!)) ctx.out(`${'CAD'[ch.Kind]} ${ch.Path}`);
  },
};
