import { invalid } from '../../core/errors.js';
import { ContainerStore } from '../../container/store.js';
import { parseLogTime, readLogs } from '../../container/logs.js';
import { rfc3339Nano } from '../../core/time.js';
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
    const containers = new ContainerStore(await ctx.store());
    await containers.reapStale();
    const c = containers.resolve(args[0]!);
    const tail = o.tail === undefined || o.tail === 'all' ? undefined : Number(o.tail);
    if (tail !== undefined && !Number.isInteger(tail))
      throw invalid('invalid_tail', `invalid --tail ${JSON.stringify(o.tail)}: a number or "all"`);
    const now = Date.now();
    await readLogs(c.LogPath ?? containers.logPath(c.ID), {
      tail,
      since: o.since ? parseLogTime(o.since as string, now) : undefined,
      until: o.until ? parseLogTime(o.until as string, now) : undefined,
      follow: !!o.follow,
      live: () => containers.isLive(c.ID),
      write: (r) =>
        (r.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(
          o.timestamps ? `${rfc3339Nano(r.time)} ${r.log}` : r.log,
        ),
    });
  },
};
