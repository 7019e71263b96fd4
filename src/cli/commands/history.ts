import { hexOf } from '../../core/digest.js';
import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanSizeWithPrecision } from '../format/units.js';
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
    const store = await ctx.store();
    const id = store.resolve(args[0]!);
    const cfg = store.images.get(id);
    const layers = store.imageLayers(id);
    const hist = cfg.history ?? [];
    let li = 0;
    const rows = hist
      .map((h) => {
        const size = h.empty_layer ? 0 : (layers[li++]?.size ?? 0);
        return { h, size };
      })
      .reverse()
      .map(({ h, size }, i) => {
        let by = (h.created_by ?? '').replace(/\t/g, ' ').replace(/\n/g, ' ');
        if (!o['no-trunc'] && by.length > 45) by = by.slice(0, 44) + '…';
        return {
          ID: i === 0 ? (o['no-trunc'] ? id : hexOf(id).slice(0, 12)) : '<missing>',
          CreatedSince: h.created ? createdSince(h.created) : 'N/A',
          CreatedAt: h.created ?? '',
          CreatedBy: by,
          Size: o.human === false ? String(size) : humanSize(size),
          Comment: h.comment ?? '',
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
