import { invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { findCgroup, limitsOf } from '../../container/cgroup.js';
import { updateLimits } from '../../runtime/cgroups/cgroups.js';
import type { Command } from '../context.js';
import { checkedResources, createFlags, limitFlags, parseRestart } from '../container-flags.js';
import { eachContainer } from './run.js';

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
    const given = limitFlags(o);
    if (!Object.keys(given).length && o.restart === undefined)
      throw invalid('usage', 'you must provide one or more flags when using this command');
    const containers = new ContainerStore(await ctx.store());
    await containers.reapStale();
    return eachContainer(ctx, containers, args, async (c) => {
      const hc = containers.hostConfig(c.ID);
      // Docker's update: the new values over the old ones, checked together
      const merged = checkedResources({ ...limitsOf(hc), ...given }, true);
      const policy = o.restart !== undefined ? parseRestart(o.restart as string, hc.AutoRemove) : undefined;
      const cg = c.State.Running ? findCgroup(c.ID) : undefined;
      if (cg) for (const w of updateLimits(cg, limitsOf({ ...hc, ...merged }))) ctx.err(`WARNING: ${w}`);
      await containers.update(c.ID, (_r, h) => {
        Object.assign(h, merged);
        if (policy) h.RestartPolicy = policy;
      });
      // the monitor of a running container keeps the policy it started with
      if (policy && c.State.Running)
        ctx.err(`WARNING: the restart policy of ${c.Name.slice(1)} applies from its next start`);
    });
  },
};
