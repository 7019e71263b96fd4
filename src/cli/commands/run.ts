import { BerthError, invalid } from '../../core/errors.js';
import { mark } from '../../core/trace.js';
import { prepareForeground, startForeground, type EarlyStart } from '../../container/run.js';
import { randomHex } from '../../storage/fsutil.js';
import { createExclusive } from '../../storage/output-file.js';
import type { Stdio } from '../../runtime/helper.js';
import type { Engine } from '../../engine/engine.js';
import type { Command, Context } from '../context.js';
import { createFlags, createRequestFromFlags } from '../container-flags.js';

function foregroundStdio(stdin: boolean): [Stdio, Stdio, Stdio] {
  return [stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'];
}

/**
 * Run a created container attached to this terminal, forwarding signals; its exit code. What happens to it once it
 * ended (AutoRemove) is the engine's.
 */
export async function attachAndWait(engine: Engine, id: string, stdin: boolean, early?: EarlyStart): Promise<number> {
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  let kill: ((s: NodeJS.Signals) => void) | undefined;
  const pending: NodeJS.Signals[] = []; // signals that arrive before the container runs are delivered once it does
  const handler = (s: NodeJS.Signals) => (kill ? kill(s) : pending.push(s));
  for (const s of forwarded) process.on(s, handler);
  let failed = false;
  try {
    const c = engine.containerStore.resolve(id);
    return await startForeground(engine.containerStore, c, {
      stdio: foregroundStdio(stdin),
      early,
      onStart: (k) => {
        kill = k;
        for (const s of pending.splice(0)) k(s);
      },
    });
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    for (const s of forwarded) process.off(s, handler);
    // a start that failed is what the user must see, not a removal that could not follow it
    await engine.containers.autoRemove(id).catch((err: unknown) => {
      if (!failed) throw err;
    });
    mark('remove (--rm)');
  }
}

function printWarnings(ctx: Context, warnings: string[]): void {
  for (const w of warnings) ctx.err(`WARNING: ${w}`);
}

export const run: Command = {
  names: [['run'], ['container', 'run']],
  usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image',
  options: createFlags,
  stopAtPositional: true,
  errorExit: 125,
  async run(ctx, args, o) {
    const engine = await ctx.engine();
    mark('open store');
    await engine.containers.settle();
    mark('settle stale containers');
    const plan = engine.containers.plan(createRequestFromFlags(args, o));
    mark('options, image');
    const cid = cidFile(o);
    let id: string;
    let early: EarlyStart | undefined;
    try {
      if (o.detach) {
        id = (await engine.containers.create(plan)).Id;
      } else {
        // the cgroup and the helper start while the layers are made (see prepareForeground)
        id = randomHex();
        early = prepareForeground(id, plan.opts.hostConfig, foregroundStdio(!!o.interactive));
        mark('helper started');
        try {
          await engine.containers.create(plan, id);
        } catch (err) {
          await early?.abort();
          throw err;
        }
      }
      cid?.write(id);
    } finally {
      cid?.close();
    }
    printWarnings(ctx, plan.warnings);
    if (!o.detach) return attachAndWait(engine, id, !!o.interactive, early);
    await engine.containers.start(id);
    ctx.out(id);
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
    const engine = await ctx.engine();
    const plan = engine.containers.plan(createRequestFromFlags(args, o)); // refused before the --cidfile is made
    const cid = cidFile(o);
    let created: { Id: string; Warnings: string[] };
    try {
      created = await engine.containers.create(plan);
      cid?.write(created.Id);
    } finally {
      cid?.close();
    }
    printWarnings(ctx, created.Warnings);
    ctx.out(created.Id);
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
    const engine = await ctx.engine();
    if (o.attach) {
      await engine.containers.settle();
      const c = engine.containerStore.resolve(args[0]!);
      if (c.State.Running) throw invalid('already_running', `container ${c.ID.slice(0, 12)} is already running`);
      return attachAndWait(engine, c.ID, !!o.interactive);
    }
    return eachContainer(ctx, args, (a) => engine.containers.start(a));
  },
};

/**
 * Apply fn to each named container, printing each name as Docker does; errors are reported and make the exit status 1.
 */
export async function eachContainer(
  ctx: Context,
  names: string[],
  fn: (name: string) => Promise<unknown>,
): Promise<number> {
  let status = 0;
  for (const a of names) {
    try {
      await fn(a);
      ctx.out(a);
    } catch (err) {
      if (!(err instanceof BerthError)) throw err;
      ctx.err(`Error response from berth: ${err.message}`);
      status = 1;
    }
  }
  return status;
}
