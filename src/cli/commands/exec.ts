import { invalid } from '../../core/errors.js';
import type { ExecIO } from '../../engine/container-io-exec.js';
import type { Command } from '../context.js';
import { envFromFile } from '../container-flags.js';

/** `-e VAR` takes VAR's value from this process's environment, as Docker's CLI; unset, it stays bare (the engine unsets it). */
export function expandEnv(entries: string[], env: NodeJS.ProcessEnv): string[] {
  return entries.map((e) => (e.includes('=') || env[e] === undefined ? e : `${e}=${env[e]}`));
}

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
    const containers = (await ctx.engine()).containers;
    const detach = !!o.detach;
    const { Id } = await containers.execCreate(name, {
      Cmd: cmd,
      Tty: !!o.tty,
      Env: expandEnv(
        [...((o['env-file'] as string[] | undefined) ?? []).flatMap(envFromFile), ...((o.env as string[]) ?? [])],
        process.env,
      ),
      WorkingDir: o.workdir as string | undefined,
      User: o.user as string | undefined,
      Privileged: !!o.privileged,
      AttachStdin: !!o.interactive && !detach,
      AttachStdout: !detach,
      AttachStderr: !detach,
      Detach: detach,
    });
    // signals to berth go to the exec'd process, as Docker's CLI forwards them
    const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    let run: Parameters<NonNullable<ExecIO['onStart']>>[0] | undefined;
    const handler = (s: NodeJS.Signals) => run?.kill(s);
    for (const s of forwarded) process.on(s, handler);
    try {
      return await containers.execStart(
        Id,
        { Detach: detach, Tty: !!o.tty },
        {
          stdio: [o.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
          onStart: (r) => {
            run = r;
          },
        },
      );
    } finally {
      for (const s of forwarded) process.off(s, handler);
    }
  },
};
