import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { alignColumns } from '../format/table.js';

export const top: Command = {
  names: [['top'], ['container', 'top']],
  usage: 'top CONTAINER [ps OPTIONS]',
  summary: 'Display the running processes of a container',
  options: {},
  stopAtPositional: true,
  async run(ctx, args) {
    const [name, ...psArgs] = args;
    if (!name) throw invalid('usage', '"top" requires at least 1 argument');
    const t = await (await ctx.engine()).containers.top(name, psArgs);
    ctx.stdout.write(alignColumns([t.Titles, ...t.Processes].map((r) => `${r.join('\t')}\n`).join('')));
  },
};
