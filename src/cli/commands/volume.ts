import { BerthError, invalid } from '../../core/errors.js';
import { addFilter } from '../../core/filters.js';
import { type Volume, checkVolumePruneFilters } from '../../engine/volumes.js';
import type { Command } from '../context.js';
import { filterFlags, filterMap } from '../filters.js';
import { formatOutput } from '../format/table.js';
import { renderTemplate } from '../format/template.js';
import { humanSize } from '../format/units.js';
import { confirm } from '../prompt.js';
import { eachName } from '../each.js';

const HEADERS = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
  Links: 'LINKS',
  Size: 'SIZE',
};

/** `--label k=v` / `-o k=v` flags as a map ("k" alone: an empty value). */
function keyValues(items: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of (items as string[] | undefined) ?? []) {
    const i = s.indexOf('=');
    out[i < 0 ? s : s.slice(0, i)] = i < 0 ? '' : s.slice(i + 1);
  }
  return out;
}

export const volumeCreate: Command = {
  names: [['volume', 'create']],
  usage: 'volume create [OPTIONS] [VOLUME]',
  summary: 'Create a volume',
  options: {
    driver: { type: 'string', short: 'd', default: 'local' },
    opt: { type: 'string', short: 'o', multiple: true },
    label: { type: 'string', multiple: true },
    name: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length > 1) throw invalid('usage', '"volume create" requires at most 1 argument');
    const given = o.name as string | undefined;
    if (given && args[0] && given !== args[0])
      throw invalid('usage', 'conflicting options: either specify --name or provide positional arg, not both');
    const v = await (
      await ctx.engine()
    ).volumes.create({
      ...((args[0] ?? given) ? { Name: args[0] ?? given } : {}),
      Driver: o.driver as string,
      DriverOpts: keyValues(o.opt),
      Labels: keyValues(o.label),
    });
    ctx.out(v.Name);
  },
};

export const volumeLs: Command = {
  names: [
    ['volume', 'ls'],
    ['volume', 'list'],
  ],
  usage: 'volume ls [OPTIONS]',
  summary: 'List volumes',
  options: {
    quiet: { type: 'boolean', short: 'q' },
    format: { type: 'string' },
    filter: { type: 'string', short: 'f', multiple: true },
  },
  async run(ctx, args, o) {
    if (args.length) throw invalid('usage', '"volume ls" accepts no arguments');
    const { Volumes } = (await ctx.engine()).volumes.list({ filters: filterMap(filterFlags(o)) });
    if (o.quiet) {
      for (const v of Volumes) ctx.out(v.Name);
      return;
    }
    const rows = Volumes.map(row);
    ctx.print(formatOutput(o.format as string | undefined, 'table {{.Driver}}\t{{.Name}}', HEADERS, rows));
  },
};

/** A row as the docker CLI's volume context has it (labels "k=v,..." sorted; no size or link count here: N/A). */
function row(v: Volume): Record<string, string> {
  return {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    Labels: Object.entries(v.Labels)
      .map(([k, x]) => `${k}=${x}`)
      .sort()
      .join(','),
    CreatedAt: v.CreatedAt,
    Links: 'N/A',
    Size: 'N/A',
  };
}

export const volumeInspect: Command = {
  names: [['volume', 'inspect']],
  usage: 'volume inspect [OPTIONS] VOLUME [VOLUME...]',
  summary: 'Display detailed information on one or more volumes',
  options: { format: { type: 'string', short: 'f' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"volume inspect" requires at least 1 argument');
    const engine = await ctx.engine();
    const found: Volume[] = [];
    let status = 0;
    for (const a of args) {
      try {
        found.push(engine.volumes.inspect(a));
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        ctx.err(`Error: No such volume: ${a}`);
        status = 1;
      }
    }
    const format = o.format as string | undefined;
    if (format && format !== 'json') {
      for (const v of found) ctx.out(renderTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), v));
    } else ctx.out(JSON.stringify(found, null, 4));
    return status;
  },
};

export const volumeRm: Command = {
  names: [
    ['volume', 'rm'],
    ['volume', 'remove'],
  ],
  usage: 'volume rm [OPTIONS] VOLUME [VOLUME...]',
  summary: 'Remove one or more volumes (never one a container uses)',
  options: { force: { type: 'boolean', short: 'f' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"volume rm" requires at least 1 argument');
    const engine = await ctx.engine();
    return eachName(ctx, args, (a) => engine.volumes.remove(a, { force: !!o.force }));
  },
};

export const volumePrune: Command = {
  names: [['volume', 'prune']],
  usage: 'volume prune [OPTIONS]',
  summary: 'Remove unused anonymous volumes (all unused volumes with -a)',
  options: {
    all: { type: 'boolean', short: 'a' },
    force: { type: 'boolean', short: 'f' },
    filter: { type: 'string', multiple: true },
  },
  async run(ctx, args, o) {
    if (args.length) throw invalid('usage', '"volume prune" accepts no arguments');
    const filters = filterFlags(o);
    if (o.all) addFilter(filters, 'all', 'true');
    const what = o.all ? 'all local volumes' : 'anonymous local volumes';
    const question = `WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`;
    // the filters are checked before the question: a request that will fail is not worth a confirmation
    checkVolumePruneFilters(filterMap(filters));
    const engine = await ctx.engine();
    if (!o.force && !(await confirm(ctx, question))) return;
    const res = await engine.volumes.prune({ filters: filterMap(filters) });
    if (res.VolumesDeleted.length) ctx.stdout.write(`Deleted Volumes:\n${res.VolumesDeleted.join('\n')}\n\n`);
    ctx.out(`Total reclaimed space: ${humanSize(res.SpaceReclaimed)}`);
  },
};
