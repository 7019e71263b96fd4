import { BerthError, invalid } from '../../core/errors.js';
import { mark } from '../../core/trace.js';
import { ContainerStore } from '../../container/store.js';
import { prepareForeground, startDetached, startForeground, type EarlyStart } from '../../container/run.js';
import { randomHex } from '../../storage/fsutil.js';
import { createExclusive } from '../../storage/output-file.js';
import type { Stdio } from '../../runtime/helper.js';
import type { ContainerRecord } from '../../container/types.js';
import type { Command, Context } from '../context.js';
import { createFlags, createOptionsFromFlags } from '../container-flags.js';

function foregroundStdio(stdin: boolean): [Stdio, Stdio, Stdio] {
  return [stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'];
}

/** Run a created container attached to this terminal, forwarding signals; returns its exit code. */
export async function attachAndWait(
  ctx: Context,
  containers: ContainerStore,
  c: ContainerRecord,
  stdin: boolean,
  early?: EarlyStart,
): Promise<number> {
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  let kill: ((s: NodeJS.Signals) => void) | undefined;
  const pending: NodeJS.Signals[] = []; // signals that arrive before the container runs are delivered once it does
  const handler = (s: NodeJS.Signals) => (kill ? kill(s) : pending.push(s));
  for (const s of forwarded) process.on(s, handler);
  try {
    return await startForeground(containers, c, {
      stdio: foregroundStdio(stdin),
      early,
      onStart: (k) => {
        kill = k;
        for (const s of pending.splice(0)) k(s);
      },
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
    const store = await ctx.store();
    mark('open store');
    const containers = new ContainerStore(store);
    await containers.reapStale();
    mark('settle stale containers');
    const { imageArg, opts } = createOptionsFromFlags(store, args, o);
    const cid = cidFile(o);
    let c: ContainerRecord;
    let early: EarlyStart | undefined;
    try {
      const imageId = store.resolve(imageArg);
      mark('options, image');
      if (o.detach) {
        c = await containers.create(imageId, opts);
      } else {
        // the cgroup and the helper start while the layers are made (see prepareForeground)
        const id = randomHex();
        early = prepareForeground(id, opts.hostConfig, foregroundStdio(!!o.interactive));
        mark('helper started');
        try {
          c = await containers.create(imageId, { ...opts, id });
        } catch (err) {
          await early?.abort();
          throw err;
        }
      }
      cid?.write(c.ID);
    } finally {
      cid?.close();
    }
    if (!o.detach) return attachAndWait(ctx, containers, c, !!o.interactive, early);
    await startDetached(containers, c).catch(async (err) => {
      if (opts.hostConfig.AutoRemove) await containers.remove(containers.tryGet(c.ID) ?? c);
      throw err;
    });
    ctx.out(c.ID);
  },
};

/**
 * `--cidfile FILE`, as Docker: refused if FILE exists (whatever it is), made
 * at once (so a missing directory fails before any work), given the container's
 * ID once it is created, and removed again if creation fails.
 */
function cidFile(o: Record<string, unknown>): ReturnType<typeof createExclusive> | undefined {
  const path = (o.cidfile as string | undefined) || undefined;
  if (!path) return undefined;
  return createExclusive(
    path,
    'failed to create the container ID file',
    `container ID file found, make sure the other container isn't running or delete ${path}`,
  );
}

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
    const cid = cidFile(o);
    let c: ContainerRecord;
    try {
      c = await containers.create(store.resolve(imageArg), opts);
      cid?.write(c.ID);
    } finally {
      cid?.close();
    }
    ctx.out(c.ID);
  },
};

export const start: Command = {
  names: [['start'], ['container', 'start']],
  usage: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Start one or more stopped containers (in the foreground with -a)',
  options: { attach: { type: 'boolean', short: 'a' }, interactive: { type: 'boolean', short: 'i' } },
  errorExit: 1,
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"start" requires at least 1 argument');
    if (o.attach && args.length > 1) throw invalid('usage', 'you cannot start and attach multiple containers at once');
    const store = await ctx.store();
    const containers = new ContainerStore(store);
    await containers.reapStale();
    if (o.attach) {
      const c = containers.resolve(args[0]!);
      if (c.State.Running) throw invalid('already_running', `container ${c.ID.slice(0, 12)} is already running`);
      return attachAndWait(ctx, containers, c, !!o.interactive);
    }
    return eachContainer(ctx, containers, args, async (c) => {
      if (!c.State.Running) await startDetached(containers, c); // starting a running container is a no-op, as Docker
    });
  },
};

/**
 * Apply fn to each named container, printing each name as Docker does; errors are reported and make the exit status 1.
 */
export async function eachContainer(
  ctx: Context,
  containers: ContainerStore,
  names: string[],
  fn: (c: ContainerRecord) => Promise<void>,
): Promise<number> {
  let status = 0;
  for (const a of names) {
    try {
      await fn(containers.resolve(a));
      ctx.out(a);
    } catch (err) {
      if (!(err instanceof BerthError)) throw err;
      ctx.err(`Error response from berth: ${err.message}`);
      status = 1;
    }
  }
  return status;
}
