import { invalid } from '../../core/errors.js';
import { eachName as eachContainer } from '../each.js';
import { mark } from '../../core/trace.js';
import { createExclusive } from '../../storage/output-file.js';
import type { PreparedRun, Stdio } from '../../engine/container-run.js';
import type { Engine } from '../../engine/engine.js';
import type { Command, Context } from '../context.js';
import { createFlags, createRequestFromFlags } from '../container-flags.js';
import { planWithPull } from './image-pull.js';

function foregroundStdio(stdin: boolean): [Stdio, Stdio, Stdio] {
  return [stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'];
}

/**
 * Run a container attached to this terminal, forwarding this process's signals to it; its exit code. Everything else
 * (the start, what happens to it once it ended) is the engine's.
 */
export async function attachAndWait(engine: Engine, target: string | PreparedRun, stdin: boolean): Promise<number> {
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  let kill: ((s: NodeJS.Signals) => void) | undefined;
  const pending: NodeJS.Signals[] = []; // signals that arrive before the container runs are delivered once it does
  const handler = (s: NodeJS.Signals) => (kill ? kill(s) : pending.push(s));
  for (const s of forwarded) process.on(s, handler);
  try {
    return await engine.containers.runForeground(target, {
      stdio: foregroundStdio(stdin),
      onStart: (k) => {
        kill = k;
        for (const s of pending.splice(0)) k(s);
      },
    });
  } finally {
    for (const s of forwarded) process.off(s, handler);
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
    const plan = await planWithPull(ctx, engine, createRequestFromFlags(args, o), o);
    mark('options, image');
    const cid = cidFile(o);
    let created: { Id: string; Warnings: string[] } | PreparedRun;
    try {
      // in the foreground, the cgroup and the helper start while the layers are made
      created = o.detach
        ? await engine.containers.create(plan)
        : await engine.containers.createForeground(plan, foregroundStdio(!!o.interactive));
      cid?.write(created.Id);
    } finally {
      cid?.close();
    }
    printWarnings(ctx, created.Warnings);
    if (!o.detach) return attachAndWait(engine, created, !!o.interactive);
    await engine.containers.start(created.Id);
    ctx.out(created.Id);
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
    // refused before the --cidfile is made
    const plan = await planWithPull(ctx, engine, createRequestFromFlags(args, o), o);
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
  usage: 'start [OPTIONS] CONTAINER [CONTAINER...]\n\tberth start --all [--filter restart-policy=NAME]...',
  summary: 'Start one or more stopped containers (in the foreground with -a; --all: every stopped one, as at boot)',
  options: {
    attach: { type: 'boolean', short: 'a' },
    interactive: { type: 'boolean', short: 'i' },
    all: { type: 'boolean' },
    filter: { type: 'string', multiple: true },
  },
  errorExit: 1,
  async run(ctx, args, o) {
    if (o.all) {
      if (args.length || o.attach) throw invalid('usage', 'start --all takes no container names and no --attach');
      return (await import('./start-all.js')).startAll(ctx, (o.filter as string[] | undefined) ?? []);
    }
    if (o.filter) throw invalid('usage', 'start: --filter needs --all');
    if (args.length === 0) throw invalid('usage', '"start" requires at least 1 argument');
    if (o.attach && args.length > 1) throw invalid('usage', 'you cannot start and attach multiple containers at once');
    const engine = await ctx.engine();
    if (o.attach) return attachAndWait(engine, args[0]!, !!o.interactive);
    return eachContainer(ctx, args, (a) => engine.containers.start(a));
  },
};
