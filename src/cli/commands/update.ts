import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { createFlags, parseRestart, resourceFlags } from '../container-flags.js';
import type { UpdateConfig } from '../../engine/container-types.js';
import { eachName as eachContainer } from '../each.js';

const RESOURCE_FLAGS = [
  'memory',
  'memory-swap',
  'memory-reservation',
  'cpus',
  'cpu-shares',
  'cpuset-cpus',
  'cpuset-mems',
  'pids-limit',
] as const;

export const update: Command = {
  names: [['update'], ['container', 'update']],
  usage: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Update configuration (resource limits, restart policy) of one or more containers',
  options: { ...Object.fromEntries(RESOURCE_FLAGS.map((f) => [f, createFlags[f]])), restart: { type: 'string' } },
  async run(ctx, args, o) {
    if (!args.length) throw invalid('usage', '"update" requires at least 1 argument');
    const cfg: UpdateConfig = resourceFlags(o);
    if (o.restart !== undefined) cfg.RestartPolicy = parseRestart(o.restart as string, false);
    if (!Object.keys(cfg).length) throw invalid('usage', 'you must provide one or more flags when using this command');
    const engine = await ctx.engine();
    return eachContainer(ctx, args, async (a) => {
      for (const w of (await engine.containers.update(a, cfg)).Warnings) ctx.err(`WARNING: ${w}`);
    });
  },
};
