import { Readable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const load: Command = {
  names: [['load'], ['image', 'load']],
  usage: 'load [OPTIONS]',
  summary: 'Load an image from a tar archive (docker-archive or OCI layout) or STDIN',
  options: { input: { type: 'string', short: 'i' }, quiet: { type: 'boolean', short: 'q' } },
  async run(ctx, args, o) {
    if (args.length) throw invalid('usage', '"load" accepts no arguments');
    const input = o.input as string | undefined;
    if (!input && ctx.stdin.isTTY) throw invalid('usage', 'requested load from stdin, but stdin is empty');
    const { images } = await ctx.engine();
    const res = await images.load(input && input !== '-' ? { path: input } : (ctx.stdin as Readable));
    for (const m of res.stream) ctx.stdout.write(m.stream);
  },
};
