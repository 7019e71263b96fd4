import { invalid } from '../../core/errors.js';
import { addFilter } from '../../core/filters.js';
import type { ImageSummary } from '../../engine/image-types.js';
import type { Command } from '../context.js';
import { filterFlags } from '../filters.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanSizeWithPrecision, truncateID } from '../format/units.js';
const humanSize = (n: number) => humanSizeWithPrecision(n, 3);

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
    const filters = filterFlags(o);
    // as the docker CLI: the argument is a reference filter
    if (args[0]) addFilter(filters, 'reference', args[0]);
    const list = (await ctx.engine()).images.list({ all: !!o.all, filters, digests: !!o.digests });
    // CreatedAt (its time zone's name) costs ~25 ms of ICU set-up: only for a --format, which may show it
    const rows = list.flatMap((img) => imageRows(img, !!o['no-trunc'], o.format !== undefined));
    if (o.quiet) {
      for (const id of new Set(rows.map((r) => r.ID!))) ctx.out(id);
      return;
    }
    const def = o.digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
    ctx.print(formatOutput(o.format as string | undefined, def, HEADERS, rows));
  },
};

/** One row a tag, as the docker CLI prints an ImageSummary ("<none>:<none>" for an untagged image). */
function imageRows(img: ImageSummary, noTrunc: boolean, createdAt: boolean): Array<Record<string, string>> {
  const na = (n: number, f: (n: number) => string) => (n < 0 ? 'N/A' : f(n));
  const base = {
    Containers: na(img.Containers, String),
    CreatedAt: createdAt ? fmtCreatedAt(img.Created) : '',
    CreatedSince: createdSince(img.Created) || 'N/A',
    ID: noTrunc ? img.Id : truncateID(img.Id),
    SharedSize: na(img.SharedSize, humanSize),
    Size: humanSize(img.Size),
    UniqueSize: img.SharedSize < 0 ? 'N/A' : humanSize(img.Size - img.SharedSize),
    VirtualSize: humanSize(img.VirtualSize),
  };
  return img.RepoTags.map((t) => {
    const i = t.lastIndexOf(':');
    const repo = t.slice(0, i);
    const digest = img.RepoDigests.find((d) => d.startsWith(`${repo}@`));
    return {
      Repository: repo,
      Tag: t.slice(i + 1),
      Digest: digest ? digest.slice(repo.length + 1) : '<none>',
      ...base,
    };
  });
}

function fmtCreatedAt(seconds: number): string {
  if (!createdSince(seconds)) return '';
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const tz = `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tz} ${
    Intl.DateTimeFormat('en', { timeZoneName: 'short' })
      .formatToParts(d)
      .find((p) => p.type === 'timeZoneName')?.value ?? 'UTC'
  }`;
}
