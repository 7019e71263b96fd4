import { invalid } from '../../core/errors.js';
import { saveImages, saveToFile, selectForSave } from '../../image/save.js';
import type { Command } from '../context.js';

export const save: Command = {
  names: [['save'], ['image', 'save']],
  usage: 'save [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (docker-archive and OCI layout in one; streamed to STDOUT by default)',
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, args, o) {
    const store = await ctx.store();
    const items = selectForSave(store, args);
    const out = o.output as string | undefined;
    if (out && out !== '-') return void (await saveToFile(store, items, out));
    if (ctx.stdout.isTTY) throw invalid('usage', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    await saveImages(store, items, ctx.stdout as NodeJS.WritableStream as import('node:stream').Writable);
  },
};
