import { addFilter } from '../../core/filters.js';
import { checkPruneFilters } from '../../engine/containers.js';
import { checkVolumePruneFilters } from '../../engine/volumes.js';
import type { Command } from '../context.js';
import { filterFlags, filterMap } from '../filters.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';

/**
 * The docker CLI's `system prune`: stopped containers, then dangling images (every unused one
 * with -a), then what berth has in place of the build cache: the partial downloads interrupted
 * pulls kept (not those a pull is writing); with --volumes, the anonymous volumes no container
 * uses (Docker 23's rule). User networks no running container uses go after the containers, as
 * `network prune` removes them (the same filters: until, label, label!).
 */
export const systemPrune: Command = {
  names: [['system', 'prune']],
  usage: 'system prune [OPTIONS]',
  summary:
    'Remove stopped containers, unused networks, dangling (-a: unused) images, partial downloads (and unused anonymous volumes)',
  options: {
    all: { type: 'boolean', short: 'a' },
    force: { type: 'boolean', short: 'f' },
    filter: { type: 'string', multiple: true },
    volumes: { type: 'boolean' },
  },
  async run(ctx, _args, o) {
    const filters = filterFlags(o);
    const imageFilters = filterFlags(o);
    addFilter(imageFilters, 'dangling', String(!o.all));
    // refused before the question, as the other prunes do (the containers' check refuses `dangling`)
    checkPruneFilters(filterMap(filters));
    const volumeFilters = filterMap(new Map([...filters].filter(([k]) => k === 'label' || k === 'label!')));
    if (o.volumes) checkVolumePruneFilters(volumeFilters);
    const engine = await ctx.engine();
    engine.images.checkPruneFilters(imageFilters);
    const warning = [
      'WARNING! This will remove:',
      '  - all stopped containers',
      '  - all networks not used by at least one container',
      ...(o.volumes ? ['  - all anonymous volumes not used by at least one container'] : []),
      o.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
      '  - partial downloads of interrupted pulls',
      '',
      'Are you sure you want to continue?',
    ].join('\n');
    if (!o.force && !(await confirm(ctx, warning))) return;
    let reclaimed = 0;
    const c = await engine.containers.prune({ filters: filterMap(filters) });
    reclaimed += c.SpaceReclaimed;
    if (c.ContainersDeleted.length) ctx.stdout.write(`Deleted Containers:\n${c.ContainersDeleted.join('\n')}\n\n`);
    const n = await engine.networks.prune({ filters: filterMap(filters) });
    if (n.NetworksDeleted.length) ctx.stdout.write(`Deleted Networks:\n${n.NetworksDeleted.join('\n')}\n\n`);
    if (o.volumes) {
      const v = await engine.volumes.prune({ filters: volumeFilters });
      reclaimed += v.SpaceReclaimed;
      if (v.VolumesDeleted.length) ctx.stdout.write(`Deleted Volumes:\n${v.VolumesDeleted.join('\n')}\n\n`);
    }
    const i = await engine.images.prune({ filters: imageFilters });
    reclaimed += i.SpaceReclaimed;
    if (i.ImagesDeleted?.length)
      ctx.stdout.write(
        `Deleted Images:\n${i.ImagesDeleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`)).join('\n')}\n\n`,
      );
    const p = await engine.images.prunePartials({ filters });
    reclaimed += p.SpaceReclaimed;
    if (p.PartialsDeleted.length) ctx.stdout.write(`Deleted partial downloads:\n${p.PartialsDeleted.join('\n')}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}`);
  },
};
