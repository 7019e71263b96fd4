import { conflict, invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import {
  killAndThaw,
  parseSignal,
  pauseContainer,
  stopContainer,
  unpauseContainer,
  waitContainer,
} from '../../container/lifecycle.js';
import { containerPrunePlan, pruneContainers } from '../../container/prune.js';
import { startDetached } from '../../container/run.js';
import type { Command, Context } from '../context.js';
import { filterFlags } from '../filters.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';
import { eachContainer } from './run.js';

async function open(ctx: Context): Promise<ContainerStore> {
  const containers = new ContainerStore(await ctx.store());
  await containers.reapStale();
  return containers;
}

function seconds(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^-?\d+$/.test(v))
    throw invalid('invalid_timeout', `invalid --time ${JSON.stringify(v)}: seconds`);
  return Number(v);
}

const stopOptions = {
  time: { type: 'string', short: 't' },
  timeout: { type: 'string' },
  signal: { type: 'string', short: 's' },
} as const;

export const stop: Command = {
  names: [['stop'], ['container', 'stop']],
  usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Stop one or more running containers',
  options: stopOptions,
  async run(ctx, args, o) {
    if (!args.length) throw invalid('usage', '"stop" requires at least 1 argument');
    const containers = await open(ctx);
    const timeout = seconds(o.time ?? o.timeout);
    return eachContainer(ctx, containers, args, (c) =>
      stopContainer(containers, c, { timeout, signal: o.signal as string | undefined }),
    );
  },
};

export const restart: Command = {
  names: [['restart'], ['container', 'restart']],
  usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Restart one or more containers',
  options: stopOptions,
  async run(ctx, args, o) {
    if (!args.length) throw invalid('usage', '"restart" requires at least 1 argument');
    const containers = await open(ctx);
    const timeout = seconds(o.time ?? o.timeout);
    return eachContainer(ctx, containers, args, async (c) => {
      await stopContainer(containers, c, { timeout, signal: o.signal as string | undefined });
      const now = containers.tryGet(c.ID);
      if (!now) throw conflict('removed', `container ${c.ID.slice(0, 12)} was removed when it stopped (--rm)`);
      await startDetached(containers, now);
    });
  },
};

export const kill: Command = {
  names: [['kill'], ['container', 'kill']],
  usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Kill one or more running containers',
  options: { signal: { type: 'string', short: 's', default: 'KILL' } },
  async run(ctx, args, o) {
    if (!args.length) throw invalid('usage', '"kill" requires at least 1 argument');
    const containers = await open(ctx);
    const sig = parseSignal(o.signal as string);
    // as Docker: a kill with SIGKILL ends the container for good (no restart by its policy)
    return eachContainer(ctx, containers, args, (c) => killAndThaw(containers, c, sig, { noRestart: sig === 9 }));
  },
};

export const wait: Command = {
  names: [['wait'], ['container', 'wait']],
  usage: 'wait CONTAINER [CONTAINER...]',
  summary: 'Block until one or more containers stop, then print their exit codes',
  options: {},
  async run(ctx, args) {
    if (!args.length) throw invalid('usage', '"wait" requires at least 1 argument');
    const containers = await open(ctx);
    let status = 0;
    for (const a of args) {
      try {
        ctx.out(String(await waitContainer(containers, containers.resolve(a))));
      } catch (err) {
        ctx.err(`Error response from berth: ${(err as Error).message}`);
        status = 1;
      }
    }
    return status;
  },
};

export const rename: Command = {
  names: [['rename'], ['container', 'rename']],
  usage: 'rename CONTAINER NEW_NAME',
  summary: 'Rename a container',
  options: {},
  async run(ctx, args) {
    if (args.length !== 2) throw invalid('usage', '"rename" requires exactly 2 arguments');
    const containers = await open(ctx);
    await containers.rename(containers.resolve(args[0]!), args[1]!);
  },
};

export const containerPrune: Command = {
  names: [['container', 'prune']],
  usage: 'container prune [OPTIONS]',
  summary: 'Remove all stopped containers',
  options: { force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true } },
  async run(ctx, _args, o) {
    // refused before the question: a request that will fail is not worth a confirmation
    const plan = containerPrunePlan(filterFlags(o));
    if (
      !o.force &&
      !(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))
    )
      return;
    const { deleted, reclaimed } = await pruneContainers(await open(ctx), plan);
    // the list ends with a blank line, as the docker CLI prints it
    if (deleted.length) ctx.stdout.write(`Deleted Containers:\n${deleted.join('\n')}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}`);
  },
};

/** What a detached container's monitor runs when the container is done for good (podman's "container cleanup"). */
export const containerCleanup: Command = {
  names: [['container', 'cleanup']],
  usage: 'container cleanup CONTAINER',
  summary: 'Record the end of a stopped container and unmount it (run by the container monitor)',
  options: {},
  async run(ctx, args) {
    if (args.length !== 1) throw invalid('usage', '"container cleanup" requires exactly 1 argument');
    const containers = new ContainerStore(await ctx.store());
    // also of a container removed meanwhile (`rm -f` while its monitor ended): its cgroup may be left.
    // The monitor execs this command: this process has its pid, which names the run that ended.
    if (containers.tryGet(args[0]!) || /^[0-9a-f]{64}$/.test(args[0]!))
      await containers.cleanup(args[0]!, { monitorPid: process.pid });
  },
};

export const pause: Command = {
  names: [['pause'], ['container', 'pause']],
  usage: 'pause CONTAINER [CONTAINER...]',
  summary: 'Pause all processes within one or more containers',
  options: {},
  async run(ctx, args) {
    if (!args.length) throw invalid('usage', '"pause" requires at least 1 argument');
    const containers = await open(ctx);
    return eachContainer(ctx, containers, args, (c) => pauseContainer(containers, c));
  },
};

export const unpause: Command = {
  names: [['unpause'], ['container', 'unpause']],
  usage: 'unpause CONTAINER [CONTAINER...]',
  summary: 'Unpause all processes within one or more containers',
  options: {},
  async run(ctx, args) {
    if (!args.length) throw invalid('usage', '"unpause" requires at least 1 argument');
    const containers = await open(ctx);
    return eachContainer(ctx, containers, args, (c) => unpauseContainer(containers, c));
  },
};
