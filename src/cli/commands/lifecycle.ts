import { invalid } from '../../core/errors.js';
import { checkPruneFilters } from '../../engine/containers.js';
import { parseSignal } from '../../engine/syntax.js';
import type { Command } from '../context.js';
import { filterFlags, filterMap } from '../filters.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';
import { eachName as eachContainer } from '../each.js';

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
    const engine = await ctx.engine();
    const t = seconds(o.time ?? o.timeout);
    return eachContainer(ctx, args, (a) => engine.containers.stop(a, { t, signal: o.signal as string | undefined }));
  },
};

export const restart: Command = {
  names: [['restart'], ['container', 'restart']],
  usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Restart one or more containers',
  options: stopOptions,
  async run(ctx, args, o) {
    if (!args.length) throw invalid('usage', '"restart" requires at least 1 argument');
    const engine = await ctx.engine();
    const t = seconds(o.time ?? o.timeout);
    return eachContainer(ctx, args, (a) => engine.containers.restart(a, { t, signal: o.signal as string | undefined }));
  },
};

export const kill: Command = {
  names: [['kill'], ['container', 'kill']],
  usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Kill one or more running containers',
  options: { signal: { type: 'string', short: 's', default: 'KILL' } },
  async run(ctx, args, o) {
    if (!args.length) throw invalid('usage', '"kill" requires at least 1 argument');
    const sig = parseSignal(o.signal as string); // refused before any container is looked at
    const engine = await ctx.engine();
    return eachContainer(ctx, args, (a) => engine.containers.kill(a, sig));
  },
};

export const wait: Command = {
  names: [['wait'], ['container', 'wait']],
  usage: 'wait CONTAINER [CONTAINER...]',
  summary: 'Block until one or more containers stop, then print their exit codes',
  options: {},
  async run(ctx, args) {
    if (!args.length) throw invalid('usage', '"wait" requires at least 1 argument');
    const engine = await ctx.engine();
    let status = 0;
    for (const a of args) {
      try {
        ctx.out(String((await engine.containers.wait(a)).StatusCode));
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
    await (await ctx.engine()).containers.rename(args[0]!, args[1]!);
  },
};

export const containerPrune: Command = {
  names: [['container', 'prune']],
  usage: 'container prune [OPTIONS]',
  summary: 'Remove all stopped containers',
  options: { force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true } },
  async run(ctx, _args, o) {
    // refused before the question: a request that will fail is not worth a confirmation
    const filters = filterMap(filterFlags(o));
    checkPruneFilters(filters);
    if (
      !o.force &&
      !(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))
    )
      return;
    const engine = await ctx.engine();
    const { ContainersDeleted: deleted, SpaceReclaimed: reclaimed } = await engine.containers.prune({ filters });
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
    // the monitor execs this command: this process has its pid, which names the run that ended
    await (await ctx.engine()).containers.cleanup(args[0]!, { monitorPid: process.pid });
  },
};

export const pause: Command = {
  names: [['pause'], ['container', 'pause']],
  usage: 'pause CONTAINER [CONTAINER...]',
  summary: 'Pause all processes within one or more containers',
  options: {},
  async run(ctx, args) {
    if (!args.length) throw invalid('usage', '"pause" requires at least 1 argument');
    const engine = await ctx.engine();
    return eachContainer(ctx, args, (a) => engine.containers.pause(a));
  },
};

export const unpause: Command = {
  names: [['unpause'], ['container', 'unpause']],
  usage: 'unpause CONTAINER [CONTAINER...]',
  summary: 'Unpause all processes within one or more containers',
  options: {},
  async run(ctx, args) {
    if (!args.length) throw invalid('usage', '"unpause" requires at least 1 argument');
    const engine = await ctx.engine();
    return eachContainer(ctx, args, (a) => engine.containers.unpause(a));
  },
};
