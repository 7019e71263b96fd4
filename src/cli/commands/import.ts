import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const importCmd: Command = {
  names: [['import'], ['image', 'import']],
  usage: 'import [OPTIONS] file|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents from a tarball to create a filesystem image',
  options: {
    change: { type: 'string', short: 'c', multiple: true },
    message: { type: 'string', short: 'm' },
    platform: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length < 1 || args.length > 2)
      throw invalid('usage', '"import" requires 1 or 2 arguments: file|- [REPOSITORY[:TAG]]');
    const file = args[0]!;
    if (/^https?:\/\//.test(file))
      throw invalid('unsupported', 'import from a URL is not supported yet; download the file and import it');
    const { images } = await ctx.engine();
    const res = await images.import(file === '-' ? (ctx.stdin as Readable) : { path: resolve(file) }, {
      ...(args[1] ? { repo: args[1] } : {}),
      changes: (o.change as string[] | undefined) ?? [],
      ...(o.message !== undefined ? { message: o.message as string } : {}),
      ...(o.platform ? { platform: o.platform as string } : {}),
      source: '-',
    });
    ctx.out(res.Id);
  },
};
