import type { DiskUsage } from '../../engine/system-types.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { renderTemplate } from '../format/template.js';
import { createdSince, humanSize, humanSizeWithPrecision } from '../format/units.js';

const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.floor((part * 100) / whole)}%)` : '');

export const systemDf: Command = {
  names: [['system', 'df']],
  usage: 'system df [OPTIONS]',
  summary: 'Show berth disk usage',
  options: { verbose: { type: 'boolean', short: 'v' }, format: { type: 'string' } },
  async run(ctx, _args, o) {
    const engine = await ctx.engine();
    const df = await engine.system.df();
    const format = o.format as string | undefined;
    if (o.verbose) {
      const v = verboseRows(df, Date.now());
      if (format) ctx.out(renderTemplate(format === 'json' ? '{{json .}}' : format, v));
      else ctx.print(verboseText(df, v));
      return;
    }
    const headers = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };
    ctx.stdout.write(
      formatOutput(
        format,
        'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
        headers,
        summaryRows(df),
      ),
    );
  },
};

/** The four rows of `system df`, as the docker CLI computes them from /system/df. */
export function summaryRows(df: DiskUsage) {
  const activeImages = df.Images.filter((i) => i.Containers > 0);
  // what the images in use hold alone cannot be reclaimed
  const usedImages = activeImages.reduce((n, i) => n + (i.SharedSize < 0 ? 0 : i.VirtualSize - i.SharedSize), 0);
  const imageReclaim = df.LayersSize - usedImages;
  const activeCtrs = df.Containers.filter((c) => c.State === 'running' || c.State === 'paused');
  const ctrSize = df.Containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const ctrReclaim = ctrSize - activeCtrs.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const volSize = df.Volumes.reduce((n, v) => n + v.UsageData.Size, 0);
  const volReclaim = df.Volumes.reduce((n, v) => n + (v.UsageData.RefCount ? 0 : v.UsageData.Size), 0);
  const cacheSize = df.BuildCache.reduce((n, b) => n + b.Size, 0);
  const cacheReclaim = df.BuildCache.reduce((n, b) => n + (b.InUse ? 0 : b.Size), 0);
  return [
    {
      Type: 'Images',
      TotalCount: df.Images.length,
      Active: activeImages.length,
      Size: humanSize(df.LayersSize),
      Reclaimable: `${humanSize(imageReclaim)}${pct(imageReclaim, df.LayersSize)}`,
    },
    {
      Type: 'Containers',
      TotalCount: df.Containers.length,
      Active: activeCtrs.length,
      Size: humanSize(ctrSize),
      Reclaimable: `${humanSize(ctrReclaim)}${pct(ctrReclaim, ctrSize)}`,
    },
    {
      Type: 'Local Volumes',
      TotalCount: df.Volumes.length,
      Active: df.Volumes.filter((v) => v.UsageData.RefCount > 0).length,
      Size: humanSize(volSize),
      Reclaimable: `${humanSize(volReclaim)}${pct(volReclaim, volSize)}`,
    },
    {
      Type: 'Build Cache',
      TotalCount: df.BuildCache.length,
      Active: df.BuildCache.filter((b) => b.InUse).length,
      Size: humanSize(cacheSize),
      Reclaimable: humanSize(cacheReclaim),
    },
  ];
}

/** `system df -v`'s rows: what each section's columns (and `--format`) read, as the docker CLI's contexts. */
export function verboseRows(df: DiskUsage, now: number) {
  return {
    Images: df.Images.map((i) => {
      const dangling = i.RepoTags.length === 0 || i.RepoTags.every((t) => t === '<none>:<none>');
      const ref = dangling ? '<none>:<none>' : i.RepoTags[0]!;
      const at = ref.lastIndexOf(':');
      return {
        Repository: ref.slice(0, at),
        Tag: ref.slice(at + 1),
        ID: i.Id,
        Digest: '',
        CreatedSince: createdSince(i.Created, now),
        CreatedAt: goDate(i.Created * 1000),
        Size: humanSizeWithPrecision(i.Size, 3),
        SharedSize: i.SharedSize < 0 ? 'N/A' : humanSize(i.SharedSize),
        UniqueSize: i.SharedSize < 0 ? 'N/A' : humanSize(i.Size - i.SharedSize),
        VirtualSize: humanSize(i.VirtualSize ?? i.Size),
        Containers: String(i.Containers),
      };
    }),
    Containers: df.Containers.map((c) => {
      const command = c.Command.length > 20 ? `${c.Command.slice(0, 19)}…` : c.Command;
      return {
        ID: c.Id,
        Image: c.Image,
        Command: `"${command}"`,
        LocalVolumes: String(c.Mounts.filter((m) => m.Type === 'volume').length),
        Size: humanSize(c.SizeRw ?? 0),
        RunningFor: createdSince(c.Created, now),
        CreatedAt: goDate(c.Created * 1000),
        Status: c.Status,
        State: c.State,
        Names: c.Names.map((n) => n.slice(1)).join(','),
        Labels: Object.entries(c.Labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
        Mounts: c.Mounts.map((m) => m.Name ?? m.Source).join(','),
        Networks: c.HostConfig.NetworkMode,
        Ports: '',
      };
    }),
    Volumes: df.Volumes.map((v) => ({
      Name: v.Name,
      Driver: v.Driver,
      Links: String(v.UsageData.RefCount),
      Size: humanSize(v.UsageData.Size),
      Mountpoint: v.Mountpoint,
      Scope: v.Scope,
      Labels: Object.entries(v.Labels ?? {})
        .map(([k, x]) => `${k}=${x}`)
        .join(','),
    })),
    BuildCache: df.BuildCache.map((b) => ({
      ID: b.ID,
      CacheType: b.Type,
      Size: humanSize(b.Size),
      CreatedSince: createdSince(b.CreatedAt, now),
      LastUsedSince: b.LastUsedAt ? createdSince(b.LastUsedAt, now) : '',
      UsageCount: String(b.UsageCount),
      Shared: String(b.Shared),
      Description: b.Description,
    })),
  };
}

/** Go's time.Time String of a Unix time in UTC, as docker prints CreatedAt ("2026-12-08 02:20:20 +0000 UTC"). */
function goDate(ms: number): string {
  return `${new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} +0000 UTC`;
}

/** The four tables of `system df -v`, as docker's default templates lay them out. */
export function verboseText(df: DiskUsage, v: ReturnType<typeof verboseRows>): string {
  const table = (def: string, headers: Record<string, string>, rows: object[]) =>
    formatOutput(undefined, def, headers, rows);
  const images = table(
    'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
    {
      Repository: 'REPOSITORY',
      Tag: 'TAG',
      ID: 'IMAGE ID',
      CreatedSince: 'CREATED',
      Size: 'SIZE',
      SharedSize: 'SHARED SIZE',
      UniqueSize: 'UNIQUE SIZE',
      Containers: 'CONTAINERS',
    },
    v.Images.map((i) => ({ ...i, ID: i.ID.replace(/^sha256:/, '').slice(0, 12) })),
  );
  const containers = table(
    'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
    {
      ID: 'CONTAINER ID',
      Image: 'IMAGE',
      Command: 'COMMAND',
      LocalVolumes: 'LOCAL VOLUMES',
      Size: 'SIZE',
      RunningFor: 'CREATED',
      Status: 'STATUS',
      Names: 'NAMES',
    },
    v.Containers.map((c) => ({ ...c, ID: c.ID.slice(0, 12) })),
  );
  const volumes = table(
    'table {{.Name}}\t{{.Links}}\t{{.Size}}',
    { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' },
    v.Volumes,
  );
  const cache = table(
    'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
    {
      ID: 'CACHE ID',
      CacheType: 'CACHE TYPE',
      Size: 'SIZE',
      CreatedSince: 'CREATED',
      LastUsedSince: 'LAST USED',
      UsageCount: 'USAGE',
      Shared: 'SHARED',
    },
    v.BuildCache,
  );
  const cacheSize = df.BuildCache.reduce((n, b) => n + b.Size, 0);
  return [
    'Images space usage:\n',
    images,
    '\nContainers space usage:\n',
    containers,
    '\nLocal Volumes space usage:\n',
    volumes,
    `\nBuild cache usage: ${humanSize(cacheSize)}\n`,
    cache,
  ].join('\n');
}
