import { addFilter } from '../../core/filters.js';
import type { Command } from '../context.js';
import { filterFlags } from '../filters.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';

const ALL_WARNING =
  'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';
const DANGLING_WARNING = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';

export const imagePrune: Command = {
  names: [['image', 'prune']],
  usage: 'image prune [OPTIONS]',
  summary: 'Remove unused images (dangling only, or all unused with -a)',
  options: {
    all: { type: 'boolean', short: 'a' },
    force: { type: 'boolean', short: 'f' },
    filter: { type: 'string', multiple: true },
  },
  async run(ctx, _args, o) {
    const filters = filterFlags(o);
    // as the docker CLI: -a is the filter dangling=false (a user's own dangling= then conflicts with it)
    addFilter(filters, 'dangling', String(!o.all));
    // refused before the question: a request that will fail is not worth a confirmation
    const { images } = await ctx.engine();
    images.checkPruneFilters(filters);
    if (!o.force && !(await confirm(ctx, o.all ? ALL_WARNING : DANGLING_WARNING))) return;
    const { ImagesDeleted: deleted, SpaceReclaimed: reclaimed } = await images.prune({ filters });
    if (deleted) {
      // the list ends with a blank line, as the docker CLI prints it
      ctx.stdout.write(
        [
          'Deleted Images:',
          ...deleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`)),
          '',
          '',
        ].join('\n'),
      );
    }
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}`);
  },
};
