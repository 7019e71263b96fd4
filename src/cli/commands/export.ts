import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { checkOutputPath, cleanupOnSignal, writeOutputFile } from '../../storage/output-file.js';
import type { Command } from '../context.js';

const ACTION = 'failed to export container';

export const exportCmd: Command = {
  names: [['export'], ['container', 'export']],
  usage: 'export [OPTIONS] CONTAINER',
  summary: "Export a container's filesystem as a tar archive",
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"export" requires exactly 1 argument');
    const file = (o.output as string | undefined) || undefined; // -o "" is stdout, as Docker
    // as Docker: a bad output path is refused before the container is looked at
    if (file !== undefined) checkOutputPath(file, ACTION);
    else if (ctx.stdout.isTTY)
      throw invalid('usage', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const tar = await (await ctx.engine()).containers.export(args[0]!);
    // Ctrl-C mid-export: destroying the stream unmounts what the export mounted
    const disarm = cleanupOnSignal(() => tar.destroy());
    const produce = async (out: Writable) => {
      for await (const chunk of tar) if (!out.write(chunk)) await once(out, 'drain');
    };
    try {
      if (file !== undefined) await writeOutputFile(file, ACTION, produce);
      else await produce(ctx.stdout as unknown as Writable);
    } finally {
      disarm();
      tar.destroy();
    }
  },
};
