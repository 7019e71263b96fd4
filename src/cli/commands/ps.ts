import { hexOf, type ImageID } from '../../core/digest.js';
import { displayPorts } from '../../engine/ports.js';
import { invalid } from '../../core/errors.js';
import { checkListFilters, statusText } from '../../engine/container-list.js';
import type { ContainerSummary } from '../../engine/container-types.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanSizeWithPrecision } from '../format/units.js';

const HEADERS = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  RunningFor: 'CREATED',
  Status: 'STATUS',
  Ports: 'PORTS',
  Names: 'NAMES',
  CreatedAt: 'CREATED AT',
  State: 'STATE',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
};

export { statusText };

/** Go's time.Time String() of Unix seconds, in UTC, as docker ps's CreatedAt: "2026-12-07 16:50:35 +0000 UTC". */
function goTime(sec: number): string {
  return `${new Date(sec * 1000).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** `--filter k=v` as Docker's filter map: the same key ORs its values, different keys AND; checked by the engine. */
export function parseFilters(list: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const f of list) {
    const i = f.indexOf('=');
    if (i < 0) throw invalid('invalid_filter', `bad format of filter (expected name=value): ${f}`);
    const k = f.slice(0, i).toLowerCase();
    m.set(k, [...(m.get(k) ?? []), f.slice(i + 1)]);
  }
  checkListFilters(Object.fromEntries(m));
  return m;
}

/**
 * Docker's IMAGE column: the name the container was created with; an image ID (a build step's) as a short ID unless
 * --no-trunc.
 */
function shownImage(c: ContainerSummary, noTrunc: boolean): string {
  const name = c.Image;
  if (!name) return '<no image>';
  return !noTrunc && /^sha256:[0-9a-f]{64}$/.test(name) ? hexOf(name as ImageID).slice(0, 12) : name;
}

export const ps: Command = {
  names: [['ps'], ['container', 'ls'], ['container', 'list']],
  usage: 'ps [OPTIONS]',
  summary: 'List containers',
  options: {
    all: { type: 'boolean', short: 'a' },
    quiet: { type: 'boolean', short: 'q' },
    'no-trunc': { type: 'boolean' },
    format: { type: 'string' },
    filter: { type: 'string', short: 'f', multiple: true },
    last: { type: 'string', short: 'n' },
    latest: { type: 'boolean', short: 'l' },
    size: { type: 'boolean', short: 's' },
  },
  async run(ctx, _args, o) {
    const filters = Object.fromEntries(parseFilters((o.filter as string[] | undefined) ?? []));
    const last = o.latest ? 1 : o.last !== undefined ? Number(o.last) : -1;
    if (!Number.isInteger(last)) throw invalid('invalid_last', `invalid -n ${JSON.stringify(o.last)}: a number`);
    const size = !!o.size || !!(o.format as string | undefined)?.includes('.Size');
    const engine = await ctx.engine();
    const list = await engine.containers.list({ all: !!o.all, limit: last, size, filters });
    const now = Date.now();
    const rows = list.map((c) => {
      let command = c.Command;
      if (!o['no-trunc'] && command.length > 20) command = `${command.slice(0, 19)}…`;
      const labels = Object.entries(c.Labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      return {
        ID: o['no-trunc'] ? c.Id : c.Id.slice(0, 12),
        Image: shownImage(c, !!o['no-trunc']),
        Command: `"${command}"`,
        RunningFor: createdSince(c.Created, now),
        Status: c.Status,
        Ports: displayPorts(
          c.Ports.map((p) => ({
            ip: p.IP ?? '',
            publicPort: p.PublicPort ?? 0,
            privatePort: p.PrivatePort,
            type: p.Type,
          })),
        ),
        Names: c.Names.map((n) => n.slice(1)).join(','),
        CreatedAt: goTime(c.Created),
        State: c.State,
        Size: size
          ? `${humanSizeWithPrecision(c.SizeRw ?? 0, 3)} (virtual ${humanSizeWithPrecision(c.SizeRootFs ?? 0, 3)})`
          : '',
        Labels: labels,
        // docker's {{.Label "k"}}: one label's value, "" when it has none
        Label: (k: string) => c.Labels[k] ?? '',
        Mounts: c.Mounts.map((m) => m.Source).join(','),
        Networks: Object.keys(c.NetworkSettings.Networks).join(','),
      };
    });
    if (o.quiet) {
      for (const r of rows) ctx.out(r.ID);
      return;
    }
    const def = `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${o.size ? '\t{{.Size}}' : ''}`;
    ctx.print(formatOutput(o.format as string | undefined, def, HEADERS, rows));
  },
};
