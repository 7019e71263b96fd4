import { conflict, invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { killAndThaw, waitStopped } from '../../container/lifecycle.js';
import type { Command } from '../context.js';
import { eachContainer } from './run.js';

export const rm: Command = {
  names: [['rm'], ['container', 'rm'], ['container', 'remove']],
  usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  options: { force: { type: 'boolean', short: 'f' }, volumes: { type: 'boolean', short: 'v' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"rm" requires at least 1 argument');
    const containers = new ContainerStore(await ctx.store());
    await containers.reapStale();
    return eachContainer(ctx, containers, args, async (c) => {
      if (c.State.Running) {
        if (!o.force) throw conflict('container_running', `You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`);
        try { await killAndThaw(containers, c, 9, { noRestart: true }); } catch { /* it ended meanwhile */ }
        await waitStopped(containers, c.ID);
      }
      const now = containers.tryGet(c.ID);
      if (now) await containers.remove(now);
    });
  },
};
