import { hexOf } from '../../core/digest.js';
import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanSizeWithPrecision } from '../format/units.js';
const humanSize = (n: number) => humanSizeWithPrecision(n, 3);
import { familiarName } from '../../image/reference.js';
import { imageSize, intermediateImages } from '../../image/views.js';
import { matchReference } from '../filters.js';

const HEADERS = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

export const images: Command = {
  names: [['images'], ['image', 'ls'], ['image', 'list']],
  usage: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  options: {
    all: { type: 'boolean', short: 'a' },
    quiet: { type: 'boolean', short: 'q' },
    digests: { type: 'boolean' },
    'no-trunc': { type: 'boolean' },
    format: { type: 'string' },
    filter: { type: 'string', short: 'f', multiple: true },
  },
  async run(ctx, args, o) {
    if (args.length > 1) throw invalid('usage', '"images" requires at most 1 argument');
    const store = await ctx.store();
    const list = store.list();
    const intermediates = o.all ? new Set<string>() : intermediateImages(list, store);
    const filters = ((o.filter as string[] | undefined) ?? []).map(parseFilter);
    if (args[0]) filters.push(['reference', args[0]]);
    const rows: Array<Record<string, unknown>> = [];
    const created = (c?: string) => (c ? new Date(c) : new Date(0));
    list.sort((a, b) => created(b.config.created).getTime() - created(a.config.created).getTime());
    for (const img of list) {
      const tags = img.refs.filter((r) => !r.includes('@'));
      if (tags.length === 0 && intermediates.has(img.id)) continue;
      const size = imageSize(store, img.id);
      const base = {
        Containers: 'N/A',
        CreatedAt: fmtCreatedAt(img.config.created),
        CreatedSince: img.config.created ? createdSince(img.config.created) : 'N/A',
        Digest: '<none>',
        ID: o['no-trunc'] ? img.id : hexOf(img.id).slice(0, 12),
        SharedSize: 'N/A',
        Size: humanSize(size),
        UniqueSize: 'N/A',
        VirtualSize: humanSize(size),
      };
      const entries = tags.length
        ? tags.map((t) => {
            const i = t.lastIndexOf(':');
            return { Repository: t.slice(0, i), Tag: t.slice(i + 1) };
          })
        : [{ Repository: '<none>', Tag: '<none>' }];
      for (const e of entries) {
        if (
          !filters.every(([k, v]) =>
            k === 'reference'
              ? e.Repository !== '<none>' && matchReference(v, familiarName(e.Repository), e.Tag)
              : k === 'dangling'
                ? (v === 'true') === (tags.length === 0)
                : k === 'label'
                  ? labelMatch(img.config.config?.Labels ?? {}, v)
                  : (() => {
                      throw invalid('invalid_filter', `invalid filter '${k}'`);
                    })(),
          )
        )
          continue;
        rows.push({ ...e, ...base });
      }
    }
    if (o.quiet) {
      const seen = new Set<string>();
      for (const r of rows)
        if (!seen.has(r.ID as string)) {
          seen.add(r.ID as string);
          ctx.out(r.ID as string);
        }
      return;
    }
    const def = o.digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
    ctx.stdout.write(formatOutput(o.format as string | undefined, def, HEADERS, rows));
  },
};

function fmtCreatedAt(c?: string): string {
  if (!c) return '';
  const d = new Date(c);
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const tz = `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tz} ${
    Intl.DateTimeFormat('en', { timeZoneName: 'short' })
      .formatToParts(d)
      .find((p) => p.type === 'timeZoneName')?.value ?? 'UTC'
  }`;
}

function parseFilter(f: string): [string, string] {
  const i = f.indexOf('=');
  if (i <= 0) throw invalid('invalid_filter', `bad format of filter (expected name=value): ${f}`);
  return [f.slice(0, i), f.slice(i + 1)];
}

function labelMatch(labels: Record<string, string>, v: string): boolean {
  const i = v.indexOf('=');
  return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
}
