import { invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { attachContainer, parseDetachKeys } from '../../container/attach.js';
import { killContainer, parseSignal, waitStopped } from '../../container/lifecycle.js';
import type { Command } from '../context.js';

export const attach: Command = {
  names: [['attach'], ['container', 'attach']],
  usage: 'attach [OPTIONS] CONTAINER',
  summary: 'Attach local standard input, output, and error streams to a running container',
  options: {
    'no-stdin': { type: 'boolean' },
    'detach-keys': { type: 'string', default: 'ctrl-p,ctrl-q' },
    'sig-proxy': { type: 'string', default: 'true' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"attach" requires exactly 1 argument');
    const containers = new ContainerStore(await ctx.store());
    await containers.reapStale();
    const c = containers.resolve(args[0]!);
    const detachKeys = parseDetachKeys(o['detach-keys'] as string);
    // --sig-proxy: signals to this process go to the container (not with a terminal: ^C is a byte for it)
    const proxy = o['sig-proxy'] !== 'false' && !c.Config.Tty;
    const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    const handler = (s: NodeJS.Signals) => {
      try {
        killContainer(containers, c, parseSignal(s));
      } catch {
        /* it ended */
      }
    };
    if (proxy) for (const s of sigs) process.on(s, handler);
    try {
      const how = await attachContainer(containers, c, {
        stdin: o['no-stdin'] ? undefined : process.stdin,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        detachKeys,
      });
      if (how === 'detached') return 0;
      // the run ended: Docker's attach exits with the container's code
      return (await waitStopped(containers, c.ID, 10000)) ?? 0;
    } finally {
      if (proxy) for (const s of sigs) process.off(s, handler);
    }
  },
};
