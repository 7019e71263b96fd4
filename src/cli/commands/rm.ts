import { BerthError, conflict, invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { killAndThaw, waitStopped } from '../../container/lifecycle.js';
import type { Command } from '../context.js';

export const rm: Command = {
  names: [['rm'], ['container', 'rm'], ['container', 'remove']],
  usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  options: { force: { type: 'boolean', short: 'f' }, volumes: { type: 'boolean', short: 'v' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"rm" requires at least 1 argument');
    const store = await ctx.store();
    const containers = new ContainerStore(store);
    await containers.reapStale();
    let status = 0;
    for (const a of args) {
      try {
        const c = containers.resolve(a);
        if (c.State.Running) {
          if (!o.force) throw conflict('container_running', `You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`);
          try { await killAndThaw(containers, c, 9, { noRestart: true }); } catch { /* it ended meanwhile */ }
          await waitStopped(containers, c.ID);
        }
        const now = containers.tryGet(c.ID);
        if (now) await containers.remove(now);
        ctx.out(a);
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        ctx.err(`Error response from berth: ${err.message}`);
        status = 1;
      }
    }
    return status;
  },
};
