import { treeSize } from '../../archive/layer-apply.js';
import { hexOf } from '../../core/digest.js';
import { invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import type { ContainerRecord } from '../../container/types.js';
import type { ImageStore } from '../../image/store.js';
import { imageSize } from '../../image/views.js';
import type { ImageID } from '../../core/digest.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanDuration, humanSizeWithPrecision } from '../format/units.js';

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

/** Docker's STATUS column. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.State;
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${createdSince(s.FinishedAt, now)}`;
  if (s.Running) {
    const health = s.Health ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})` : '';
    return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Paused ? ' (Paused)' : health}`;
  }
  if (s.Status === 'created') return 'Created';
  return `Exited (${s.ExitCode}) ${createdSince(s.FinishedAt, now)}`;
}

const FILTERS = new Set(['status', 'name', 'id', 'ancestor', 'label', 'exited', 'before', 'since', 'health']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/** `--filter k=v`: the same key ORs its values, different keys AND (as Docker). */
export function parseFilters(list: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const f of list) {
    const i = f.indexOf('=');
    if (i < 0) throw invalid('invalid_filter', `bad format of filter (expected name=value): ${f}`);
    const k = f.slice(0, i).toLowerCase();
    const v = f.slice(i + 1);
    if (!FILTERS.has(k)) throw invalid('invalid_filter', `invalid filter '${k}'`);
    if (k === 'status' && !STATUSES.has(v)) throw invalid('invalid_filter', `invalid filter 'status=${v}'`);
    if (k === 'exited' && !/^-?\d+$/.test(v)) throw invalid('invalid_filter', `invalid filter 'exited=${v}'`);
    m.set(k, [...(m.get(k) ?? []), v]);
  }
  return m;
}

function matches(
  c: ContainerRecord,
  filters: Map<string, string[]>,
  store: ImageStore,
  all: ContainerRecord[],
): boolean {
  const any = (k: string, f: (v: string) => boolean) => !filters.has(k) || filters.get(k)!.some(f);
  const ancestorIds = (v: string): string[] => {
    try {
      return [store.resolve(v)];
    } catch {
      return [];
    }
  };
  const createdOf = (ref: string) => all.find((x) => x.Name === `/${ref}` || x.ID.startsWith(ref))?.Created;
  return (
    any('status', (v) => c.State.Status === v || (v === 'paused' && c.State.Paused)) &&
    any('name', (v) => new RegExp(v).test(c.Name.slice(1))) &&
    any('id', (v) => c.ID.startsWith(v)) &&
    any('ancestor', (v) => ancestorIds(v).includes(c.Image) || c.Config.Image === v) &&
    any('label', (v) => {
      const i = v.indexOf('=');
      const labels = c.Config.Labels ?? {};
      return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
    }) &&
    any('health', (v) => (c.State.Health?.Status ?? 'none') === v) &&
    any('exited', (v) => c.State.Status === 'exited' && c.State.ExitCode === Number(v)) &&
    any('before', (v) => {
      const t = createdOf(v);
      return !!t && c.Created < t;
    }) &&
    any('since', (v) => {
      const t = createdOf(v);
      return !!t && c.Created > t;
    })
  );
}

/**
 * Docker's IMAGE column: the name the container was created with; an image ID (a build step's) as a short ID unless
 * --no-trunc.
 */
function shownImage(c: ContainerRecord, noTrunc: boolean): string {
  const name = c.Config.Image || c.Image;
  if (!name) return '<no image>';
  return !noTrunc && /^sha256:[0-9a-f]{64}$/.test(name) ? hexOf(name as ImageID).slice(0, 12) : name;
}

function imageSizeOr0(store: ImageStore, id: string): number {
  try {
    return imageSize(store, id as ImageID);
  } catch {
    return 0;
  }
}

/** The rw layer's size as Docker counts it (treeSize); 0 if it went away meanwhile. */
function rwSize(dir: string): number {
  try {
    return treeSize(dir);
  } catch {
    return 0;
  }
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
    const store = await ctx.store();
    const containers = new ContainerStore(store);
    await containers.reapStale();
    const filters = parseFilters((o.filter as string[] | undefined) ?? []);
    const last = o.latest ? 1 : o.last !== undefined ? Number(o.last) : -1;
    if (!Number.isInteger(last)) throw invalid('invalid_last', `invalid -n ${JSON.stringify(o.last)}: a number`);
    const everything = containers.list();
    // -n/-l and a status filter other than running look at stopped containers too, as Docker
    const all =
      !!o.all || last > 0 || (filters.get('status') ?? []).some((s) => s !== 'running') || filters.has('exited');
    let list = everything
      .filter((c) => (all || c.State.Running) && matches(c, filters, store, everything))
      .sort((a, b) => b.Created.localeCompare(a.Created));
    if (last > 0) list = list.slice(0, last);
    const now = Date.now();
    const rows = list.map((c) => {
      const hc = containers.hostConfig(c.ID);
      let command = [c.Path, ...c.Args].join(' ');
      if (!o['no-trunc'] && command.length > 20) command = `${command.slice(0, 19)}…`;
      const labels = Object.entries(c.Config.Labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      const size =
        o.size || (o.format as string | undefined)?.includes('.Size')
          ? `${humanSizeWithPrecision(rwSize(`${store.paths.cacheDir(c.MountID)}/diff`), 3)} (virtual ${humanSizeWithPrecision(imageSizeOr0(store, c.Image), 3)})`
          : '';
      return {
        ID: o['no-trunc'] ? c.ID : c.ID.slice(0, 12),
        Image: shownImage(c, !!o['no-trunc']),
        Command: `"${command}"`,
        RunningFor: createdSince(c.Created, now),
        Status: statusText(c, now),
        Ports: '',
        Names: c.Name.slice(1),
        CreatedAt: c.Created,
        State: c.State.Paused ? 'paused' : c.State.Status,
        Size: size,
        Labels: labels,
        Mounts: (hc.Binds ?? []).map((b) => b.split(':')[0]).join(','),
        Networks: hc.NetworkMode,
      };
    });
    if (o.quiet) {
      for (const r of rows) ctx.out(r.ID);
      return;
    }
    const def = `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${o.size ? '\t{{.Size}}' : ''}`;
    ctx.stdout.write(formatOutput(o.format as string | undefined, def, HEADERS, rows));
  },
};
