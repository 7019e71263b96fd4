import { invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { execInContainer } from '../../container/exec.js';
import type { Command } from '../context.js';
import { envFromFile } from '../container-flags.js';

export const exec: Command = {
  names: [['exec'], ['container', 'exec']],
  usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  summary: 'Execute a command in a running container',
  options: {
    interactive: { type: 'boolean', short: 'i' },
    tty: { type: 'boolean', short: 't' },
    detach: { type: 'boolean', short: 'd' },
    env: { type: 'string', short: 'e', multiple: true },
    'env-file': { type: 'string', multiple: true },
    workdir: { type: 'string', short: 'w' },
    user: { type: 'string', short: 'u' },
    privileged: { type: 'boolean' },
  },
  stopAtPositional: true,
  errorExit: 126,
  async run(ctx, args, o) {
    const [name, ...cmd] = args;
    if (!name || !cmd.length)
      throw invalid('usage', '"exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]');
    const containers = new ContainerStore(await ctx.store());
    await containers.reapStale();
    const c = containers.resolve(name);
    const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    let kill: ((s: NodeJS.Signals) => void) | undefined;
    const handler = (s: NodeJS.Signals) => kill?.(s);
    for (const s of forwarded) process.on(s, handler);
    try {
      return await execInContainer(
        containers,
        c,
        {
          cmd,
          tty: !!o.tty,
          env: [
            ...((o['env-file'] as string[] | undefined) ?? []).flatMap(envFromFile),
            ...((o.env as string[] | undefined) ?? []),
          ],
          workdir: o.workdir as string | undefined,
          user: o.user as string | undefined,
          privileged: !!o.privileged,
          detach: !!o.detach,
        },
        [o.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
        (k) => {
          kill = k;
        },
      );
    } finally {
      for (const s of forwarded) process.off(s, handler);
    }
  },
};
