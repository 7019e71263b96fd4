import { Readable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { loadArchive } from '../../image/load.js';
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
    const store = await ctx.store();
    const loaded = await loadArchive(
      store,
      input && input !== '-' ? { path: input } : { stream: ctx.stdin as Readable },
    );
    for (const img of loaded) {
      for (const [t, old] of img.retagged)
        ctx.out(`The image ${t} already exists, renaming the old one with ID ${old} to empty string`);
      if (img.tags.length === 0) ctx.out(`Loaded image ID: ${img.id}`);
      for (const t of img.tags) ctx.out(`Loaded image: ${t}`);
    }
  },
};
