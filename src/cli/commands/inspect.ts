import { invalid, notFound } from '../../core/errors.js';
import { inspectImage } from '../../image/views.js';
import type { Command, Context } from '../context.js';
import { renderTemplate } from '../format/template.js';
import { printLayerWalk } from './layers.js';

async function inspectImages(ctx: Context, args: string[], o: Record<string, unknown>, what: string): Promise<number> {
  if (args.length === 0) throw invalid('usage', `"${what}" requires at least 1 argument`);
  const store = await ctx.store();
  if (o.layers) {
    for (const a of args) printLayerWalk(ctx, store, store.resolve(a));
    return 0;
  }
  const results: unknown[] = [];
  let status = 0;
  for (const a of args) {
    const id = store.tryResolve(a);
    if (!id) { ctx.err(`Error: No such ${what === 'inspect' ? 'object' : 'image'}: ${a}`); status = 1; continue; }
    results.push(inspectImage(store, id));
  }
  const format = o.format as string | undefined;
  if (format && format !== 'json') {
    for (const r of results) ctx.out(renderTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), r));
  } else {
    ctx.out(JSON.stringify(results, null, 4));
  }
  return status;
}

const options = { format: { type: 'string' as const, short: 'f' }, layers: { type: 'boolean' as const }, type: { type: 'string' as const }, size: { type: 'boolean' as const, short: 's' } };

export const imageInspect: Command = {
  names: [['image', 'inspect']],
  usage: 'image inspect [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Display detailed information on one or more images (--layers: the walk through the store)',
  options,
  run: (ctx, args, o) => inspectImages(ctx, args, o, 'image inspect'),
};

export const inspect: Command = {
  names: [['inspect']],
  usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on berth objects',
  options,
  run: (ctx, args, o) => {
    if (o.type && o.type !== 'image') throw notFound('not_found', `no ${o.type} objects exist yet in berth`);
    return inspectImages(ctx, args, o, 'inspect');
  },
};
