import { checkBuildPruneFilters } from '../../engine/system.js';
import type { Command } from '../context.js';
import { filterFlags } from '../filters.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';

/**
 * The docker CLI's `builder prune`. berth has no BuildKit cache: its build cache is the partial downloads that
 * interrupted pulls kept for the next pull to resume (the classic builder's cache, the intermediate images,
 * stays with `image prune` / `rmi`, as for dockerd's classic builder). Those no pull is writing are removed;
 * `--filter until=` keeps the recent ones; `-a` removes the same (none of it is shared).
 */
export const builderPrune: Command = {
  names: [['builder', 'prune']],
  usage: 'builder prune [OPTIONS]',
  summary: 'Remove build cache (the partial downloads of interrupted pulls)',
  options: {
    all: { type: 'boolean', short: 'a' },
    force: { type: 'boolean', short: 'f' },
    filter: { type: 'string', multiple: true },
  },
  async run(ctx, _args, o) {
    const filters = filterFlags(o);
    checkBuildPruneFilters(filters); // refused before the question
    const warning = o.all
      ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
      : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
    if (!o.force && !(await confirm(ctx, warning))) return;
    const engine = await ctx.engine();
    const r = await engine.system.buildPrune({ filters, all: !!o.all });
    if (r.CachesDeleted?.length) ctx.print(`Deleted build cache objects:\n${r.CachesDeleted.join('\n')}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
  },
};
