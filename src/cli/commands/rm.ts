import { conflict, invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { killAndThaw, waitStarting, waitStopped } from '../../container/lifecycle.js';
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
    const running = (c: { ID: string }) =>
      conflict(
        'container_running',
        `You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`,
      );
    return eachContainer(ctx, containers, args, async (c) => {
      if (!c.State.Running && containers.isLive(c.ID)) {
        // being started (see waitStarting): -f stops it once it runs, as a running one
        if (!o.force) throw running(c);
        const now = await waitStarting(containers, c);
        if (!now) throw conflict('container_starting', `container ${c.ID.slice(0, 12)} is still being started`);
        c = now;
      }
      if (c.State.Running) {
        if (!o.force) throw running(c);
        try {
          await killAndThaw(containers, c, 9, { noRestart: true });
        } catch {
          /* it ended meanwhile */
        }
        await waitStopped(containers, c.ID);
      }
      const now = containers.tryGet(c.ID);
      if (now) await containers.remove(now);
    });
  },
};
