import { invalid } from '../../core/errors.js';
import { containerChanges } from '../../container/changes.js';
import { ContainerStore } from '../../container/store.js';
import type { Command } from '../context.js';

export const diff: Command = {
  names: [['diff'], ['container', 'diff']],
  usage: 'diff CONTAINER',
  summary: "Inspect changes to files or directories on a container's filesystem",
  options: {},
  async run(ctx, args) {
    if (args.length !== 1) throw invalid('usage', '"diff" requires exactly 1 argument');
    const store = await ctx.store();
    const c = new ContainerStore(store).resolve(args[0]!);
    for (const ch of containerChanges(store.paths, c.MountID)) ctx.out(`${'CAD'[ch.Kind]} ${ch.Path}`);
  },
};
