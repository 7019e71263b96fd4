import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanSizeWithPrecision, truncateID } from '../format/units.js';
const humanSize = (n: number) => humanSizeWithPrecision(n, 3);

const HEADERS = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

export const history: Command = {
  names: [['history'], ['image', 'history']],
  usage: 'history [OPTIONS] IMAGE',
  summary: 'Show the history of an image',
  options: {
    human: { type: 'boolean', short: 'H', default: true },
    quiet: { type: 'boolean', short: 'q' },
    'no-trunc': { type: 'boolean' },
    format: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"history" requires exactly 1 argument');
    const noTrunc = !!o['no-trunc'];
    const rows = (await ctx.engine()).images.history(args[0]!).map((h) => {
      let by = h.CreatedBy.replace(/\t/g, ' ').replace(/\n/g, ' ');
      if (!noTrunc && by.length > 45) by = by.slice(0, 44) + '…';
      const since = createdSince(h.Created);
      return {
        ID: noTrunc || h.Id === '<missing>' ? h.Id : truncateID(h.Id),
        CreatedSince: since || 'N/A',
        CreatedAt: since ? new Date(h.Created * 1000).toISOString().replace('.000Z', 'Z') : '',
        CreatedBy: by,
        Size: o.human === false ? String(h.Size) : humanSize(h.Size),
        Comment: h.Comment,
      };
    });
    if (o.quiet) {
      for (const r of rows) ctx.out(r.ID);
      return;
    }
    ctx.stdout.write(
      formatOutput(
        o.format as string | undefined,
        'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
        HEADERS,
        rows,
      ),
    );
  },
};
