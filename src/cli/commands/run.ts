import { invalid } from '../../core/errors.js';
import { mark } from '../../core/trace.js';
import { ContainerStore } from '../../container/store.js';
import { startForeground } from '../../container/run.js';
import type { ContainerRecord } from '../../container/types.js';
import type { Command, Context } from '../context.js';
import { createFlags, createOptionsFromFlags } from '../container-flags.js';

/** Run a created container attached to this terminal, forwarding signals; returns its exit code. */
export async function attachAndWait(ctx: Context, containers: ContainerStore, c: ContainerRecord, stdin: boolean): Promise<number> {
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  let kill: ((s: NodeJS.Signals) => void) | undefined;
  const early: NodeJS.Signals[] = []; // signals that arrive before the container runs are delivered once it does
  const handler = (s: NodeJS.Signals) => (kill ? kill(s) : early.push(s));
  for (const s of forwarded) process.on(s, handler);
  try {
    return await startForeground(containers, c, {
      stdio: [stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'],
      onStart: (k) => { kill = k; for (const s of early.splice(0)) k(s); },
    });
  } finally {
    for (const s of forwarded) process.off(s, handler);
    const hc = containers.hostConfig(c.ID);
    if (hc.AutoRemove) await containers.remove(containers.tryGet(c.ID) ?? c);
    mark('remove (--rm)');
  }
}

export const run: Command = {
  names: [['run'], ['container', 'run']],
  usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image',
  options: createFlags,
  stopAtPositional: true,
  errorExit: 125,
  async run(ctx, args, o) {
    if (o.detach) throw invalid('unsupported', 'detached containers (-d) arrive with the next issue; run in the foreground');
    const store = await ctx.store();
    mark('open store');
    const containers = new ContainerStore(store);
    await containers.reapStale();
    const { imageArg, opts } = createOptionsFromFlags(store, args, o);
    const c = await containers.create(store.resolve(imageArg), opts);
    return attachAndWait(ctx, containers, c, !!o.interactive);
  },
};

export const create: Command = {
  names: [['create'], ['container', 'create']],
  usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new container',
  options: createFlags,
  stopAtPositional: true,
  errorExit: 125,
  async run(ctx, args, o) {
    const store = await ctx.store();
    const containers = new ContainerStore(store);
    const { imageArg, opts } = createOptionsFromFlags(store, args, o);
    const c = await containers.create(store.resolve(imageArg), opts);
    ctx.out(c.ID);
  },
};

export const start: Command = {
  names: [['start'], ['container', 'start']],
  usage: 'start [OPTIONS] CONTAINER',
  summary: 'Start a created or stopped container (attached with -a)',
  options: { attach: { type: 'boolean', short: 'a' }, interactive: { type: 'boolean', short: 'i' } },
  errorExit: 1,
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"start" requires exactly 1 container');
    if (!o.attach) throw invalid('unsupported', 'start without -a (detached) arrives with the next issue; use start -a');
    const store = await ctx.store();
    const containers = new ContainerStore(store);
    await containers.reapStale();
    const c = containers.resolve(args[0]!);
    if (c.State.Running) throw invalid('already_running', `container ${c.ID.slice(0, 12)} is already running`);
    return attachAndWait(ctx, containers, c, !!o.interactive);
  },
};
