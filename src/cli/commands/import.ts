import { createReadStream } from 'node:fs';
import { invalid } from '../../core/errors.js';
import { importRootfs } from '../../image/import.js';
import { parseReference, withDefaultTag } from '../../image/reference.js';
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
    const tags = args[1] ? [withDefaultTag(parseReference(args[1]))] : [];
    const store = await ctx.store();
    const src = file === '-' ? (ctx.stdin as AsyncIterable<Buffer>) : createReadStream(file);
    const id = await importRootfs(store, src, {
      tags,
      changes: (o.change as string[] | undefined) ?? [],
      message: o.message as string | undefined,
      source: '-',
    });
    ctx.out(id);
  },
};
