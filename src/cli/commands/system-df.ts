import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { humanSize } from '../format/units.js';

export const systemDf: Command = {
  names: [['system', 'df']],
  usage: 'system df [OPTIONS]',
  summary: 'Show berth disk usage',
  options: { verbose: { type: 'boolean', short: 'v' }, format: { type: 'string' } },
  async run(ctx, _args, o) {
    const engine = await ctx.engine();
    const df = engine.images.systemDf();
    const volumes = engine.volumes.usage();
    const volumeSize = volumes.reduce((n, v) => n + v.UsageData.Size, 0);
    const volumeFree = volumes.reduce((n, v) => n + (v.UsageData.RefCount ? 0 : v.UsageData.Size), 0);
    const total = df.LayersSize;
    const active = df.Images.filter((i) => i.Containers > 0);
    // as the docker CLI: what the images in use hold alone cannot be reclaimed
    const used = active.reduce((n, i) => n + (i.SharedSize < 0 ? 0 : i.VirtualSize - i.SharedSize), 0);
    const reclaim = total - used;
    const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.floor((part * 100) / whole)}%)` : '');
    const rows = [
      {
        Type: 'Images',
        TotalCount: df.Images.length,
        Active: active.length,
        Size: humanSize(total),
        Reclaimable: `${humanSize(reclaim)}${pct(reclaim, total)}`,
      },
      { Type: 'Containers', TotalCount: 0, Active: 0, Size: humanSize(0), Reclaimable: humanSize(0) },
      {
        Type: 'Local Volumes',
        TotalCount: volumes.length,
        Active: volumes.filter((v) => v.UsageData.RefCount > 0).length,
        Size: humanSize(volumeSize),
        Reclaimable: `${humanSize(volumeFree)}${pct(volumeFree, volumeSize)}`,
      },
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
