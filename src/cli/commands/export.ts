import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { diffDirTar } from '../../archive/diff-tar.js';
import { ContainerStore } from '../../container/store.js';
import { mountRootfs, unmountRootfs, isMountPoint } from '../../container/rootfs.js';
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
    const store = await ctx.store();
    const c = new ContainerStore(store).resolve(args[0]!);
    const target = `${store.paths.cacheDir(c.MountID)}/merged`;
    const wasMounted = isMountPoint(target);
    const merged = mountRootfs(store.paths, c.MountID);
    const unmount = () => {
      if (!wasMounted) unmountRootfs(store.paths, c.MountID);
    };
    // Ctrl-C mid-export: the union mounted for it goes too
    const disarm = cleanupOnSignal(unmount);
    const produce = async (out: Writable) => {
      for await (const chunk of diffDirTar(merged)) if (!out.write(chunk)) await once(out, 'drain');
    };
    try {
      if (file !== undefined) await writeOutputFile(file, ACTION, produce);
      else await produce(ctx.stdout as unknown as Writable);
    } finally {
      disarm();
      unmount();
    }
  },
};
