import * as fs from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { diffDirTar } from '../../archive/diff-tar.js';
import { ContainerStore } from '../../container/store.js';
import { mountRootfs, unmountRootfs, isMountPoint } from '../../container/rootfs.js';
import type { Command } from '../context.js';

export const exportCmd: Command = {
  names: [['export'], ['container', 'export']],
  usage: 'export [OPTIONS] CONTAINER',
  summary: "Export a container's filesystem as a tar archive",
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"export" requires exactly 1 argument');
    const store = await ctx.store();
    const c = new ContainerStore(store).resolve(args[0]!);
    const target = `${store.paths.cacheDir(c.MountID)}/merged`;
    const wasMounted = isMountPoint(target);
    const merged = mountRootfs(store.paths, c.MountID);
    const file = o.output as string | undefined;
    if (!file && ctx.stdout.isTTY) throw invalid('usage', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const out: Writable = file ? fs.createWriteStream(`${file}.berth-tmp`, { mode: 0o600 }) : (ctx.stdout as unknown as Writable);
    try {
      for await (const chunk of diffDirTar(merged)) if (!out.write(chunk)) await once(out, 'drain');
      if (file) { out.end(); await once(out, 'finish'); fs.renameSync(`${file}.berth-tmp`, file); }
    } catch (err) {
      if (file) { out.destroy(); fs.rmSync(`${file}.berth-tmp`, { force: true }); }
      throw err;
    } finally {
      if (!wasMounted) unmountRootfs(store.paths, c.MountID);
    }
  },
};
