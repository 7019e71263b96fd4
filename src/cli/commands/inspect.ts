import { BerthError, invalid, notFound } from '../../core/errors.js';
import type { Command, Context } from '../context.js';
import { renderTemplate } from '../format/template.js';
import { printLayerWalk } from './layers.js';
import type { Engine } from '../../engine/engine.js';

async function inspectImages(ctx: Context, args: string[], o: Record<string, unknown>, what: string): Promise<number> {
  if (args.length === 0) throw invalid('usage', `"${what}" requires at least 1 argument`);
  const engine = await ctx.engine();
  if (o.layers) {
    for (const a of args) printLayerWalk(ctx, engine.images, a);
    return 0;
  }
  const results: unknown[] = [];
  let status = 0;
  // `inspect` tries containers first, then images (as Docker); `image inspect` only images
  for (const a of args) {
    const v = o.type === 'volume' ? tryVolume(engine, a) : undefined;
    const c = v ?? (what === 'inspect' && o.type !== 'volume' ? await tryContainer(engine, a) : undefined);
    if (c) {
      results.push(c);
      continue;
    }
    if (o.type === 'container' || o.type === 'volume') {
      ctx.err(`Error: No such ${o.type}: ${a}`);
      status = 1;
      continue;
    }
    // `inspect` (not `image inspect`) finds volumes too, after images, as docker's does
    const id = engine.images.find(a);
    const volume = !id && what === 'inspect' ? tryVolume(engine, a) : undefined;
    if (volume) {
      results.push(volume);
      continue;
    }
    if (!id) {
      ctx.err(`Error: No such ${what === 'inspect' ? 'object' : 'image'}: ${a}`);
      status = 1;
      continue;
    }
    results.push(engine.images.inspect(id));
  }
  const format = o.format as string | undefined;
  if (format && format !== 'json') {
    for (const r of results) ctx.out(renderTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), r));
  } else {
    ctx.out(JSON.stringify(results, null, 4));
  }
  return status;
}

function tryVolume(engine: Engine, name: string): unknown {
  try {
    return engine.volumes.inspect(name);
  } catch (err) {
    if (err instanceof BerthError && err.kind === 'NotFound') return undefined;
    throw err;
  }
}

async function tryContainer(engine: Engine, ref: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await engine.containers.inspect(ref);
  } catch (err) {
    if (err instanceof BerthError && (err.kind === 'NotFound' || err.kind === 'InvalidArgument')) return undefined;
    throw err;
  }
}

const options = {
  format: { type: 'string' as const, short: 'f' },
  layers: { type: 'boolean' as const },
  type: { type: 'string' as const },
  size: { type: 'boolean' as const, short: 's' },
};

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
    if (o.type === 'image') return inspectImages(ctx, args, o, 'image inspect');
    if (o.type && o.type !== 'container' && o.type !== 'volume')
      throw notFound('not_found', `no ${o.type} objects exist yet in berth`);
    return inspectImages(ctx, args, o, 'inspect');
  },
};

export const containerInspect: Command = {
  names: [['container', 'inspect']],
  usage: 'container inspect [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Display detailed information on one or more containers',
  options,
  run: (ctx, args, o) => inspectImages(ctx, args, { ...o, type: 'container' }, 'inspect'),
};
