import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { humanSize } from '../format/units.js';

export const systemDf: Command = {
  names: [['system', 'df']],
  usage: 'system df [OPTIONS]',
  summary: 'Show berth disk usage',
  options: { verbose: { type: 'boolean', short: 'v' }, format: { type: 'string' } },
  async run(ctx, _args, o) {
    const store = await ctx.store();
    const images = store.list();
    const layerSize = new Map(store.layers.list().map((c) => [c as string, store.layers.get(c)?.size ?? 0]));
    const total = [...layerSize.values()].reduce((a, b) => a + b, 0);
    const activeIds = images.filter((i) => store.containersUsing(i.id).length > 0);
    const activeLayers = new Set(activeIds.flatMap((i) => store.imageLayers(i.id).map((l) => l.chainID as string)));
    const reclaim = [...layerSize].filter(([c]) => !activeLayers.has(c)).reduce((a, [, s]) => a + s, 0);
    const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part * 100) / whole)}%)` : '');
    const rows = [
      {
        Type: 'Images',
        TotalCount: images.length,
        Active: activeIds.length,
        Size: humanSize(total),
        Reclaimable: `${humanSize(reclaim)}${pct(reclaim, total)}`,
      },
      { Type: 'Containers', TotalCount: 0, Active: 0, Size: humanSize(0), Reclaimable: humanSize(0) },
      { Type: 'Local Volumes', TotalCount: 0, Active: 0, Size: humanSize(0), Reclaimable: humanSize(0) },
      { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: humanSize(0), Reclaimable: humanSize(0) },
    ];
    const headers = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
    ctx.stdout.write(
      formatOutput(
        o.format as string | undefined,
        'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
        headers,
        rows,
      ),
    );
  },
};
