import { invalid } from '../../core/errors.js';
import { parseLogTime } from '../../engine/syntax.js';
import type { Command } from '../context.js';

export const logs: Command = {
  names: [['logs'], ['container', 'logs']],
  usage: 'logs [OPTIONS] CONTAINER',
  summary: 'Fetch the logs of a container',
  options: {
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string', short: 'n' },
    since: { type: 'string' },
    until: { type: 'string' },
    timestamps: { type: 'boolean', short: 't' },
    details: { type: 'boolean' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"logs" requires exactly 1 argument');
    const tail = o.tail === undefined || o.tail === 'all' ? 'all' : Number(o.tail);
    if (tail !== 'all' && !Number.isInteger(tail))
      throw invalid('invalid_tail', `invalid --tail ${JSON.stringify(o.tail)}: a number or "all"`);
    // relative times ("10m") are the caller's: the API takes Unix seconds
    const now = Date.now();
    const seconds = (v: unknown) => (v ? parseLogTime(v as string, now) / 1000 : undefined);
    const entries = (await ctx.engine()).containers.logs(args[0]!, {
      tail,
      since: seconds(o.since),
      until: seconds(o.until),
      follow: !!o.follow,
      timestamps: !!o.timestamps,
    });
    for await (const e of entries) (e.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(e.line);
  },
};
