import { once } from 'node:events';
import { invalid } from '../../core/errors.js';
import { SAVE_ACTION } from '../../engine/images.js';
import { checkOutputPath } from '../../storage/output-file.js';
import type { Command } from '../context.js';

export const save: Command = {
  names: [['save'], ['image', 'save']],
  usage: 'save [OPTIONS] IMAGE [IMAGE...]',
  summary:
    'Save one or more images to a tar archive (docker-archive and OCI layout in one; streamed to STDOUT by default)',
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, args, o) {
    const out = o.output as string | undefined;
    const file = out && out !== '-' ? out : undefined; // "" and "-" are stdout
    // as Docker: a bad output path is refused before anything is read
    if (file !== undefined) checkOutputPath(file, SAVE_ACTION);
    else if (ctx.stdout.isTTY)
      throw invalid('usage', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const { images } = await ctx.engine();
    if (file !== undefined) return void (await images.saveToFile(args, file));
    // written chunk by chunk, not piped: stdout must stay open for berth's own messages
    for await (const chunk of images.save(args)) if (!ctx.stdout.write(chunk)) await once(ctx.stdout, 'drain');
  },
};
