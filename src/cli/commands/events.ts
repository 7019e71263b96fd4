import { invalid } from '../../core/errors.js';
import { eventJSON, parseTimestamp, textLine, type EventMessage } from '../../engine/events.js';
import type { Command } from '../context.js';
import { filterFlags } from '../filters.js';
import { parseTemplate } from '../format/template.js';

/** docker events: the journal's events in a range, or followed live (without --until) until interrupted. */
export const events: Command = {
  names: [['events'], ['system', 'events']],
  usage: 'events [OPTIONS]',
  summary: 'Get real time events from the server',
  options: {
    filter: { type: 'string', short: 'f', multiple: true },
    format: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length) throw invalid('usage', '"events" accepts no arguments');
    const now = Date.now();
    const since = o.since !== undefined ? parseTimestamp(o.since as string, 'since', now) : undefined;
    const until = o.until !== undefined ? parseTimestamp(o.until as string, 'until', now) : undefined;
    if (since !== undefined && until !== undefined && until < since)
      throw invalid('usage', '--until must not be before --since');
    const format = o.format as string | undefined;
    const template = format === undefined || format === '' || format === 'json' ? undefined : parseTemplate(format);
    const line = (e: EventMessage): string =>
      format === 'json'
        ? eventJSON(e)
        : template
          ? template.execute({ ...e, timeNano: Number(e.timeNano) })
          : textLine(e);
    const engine = await ctx.engine();
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for await (const e of engine.events.stream({ since, until, filters: filterFlags(o), signal: abort.signal }))
        ctx.out(line(e));
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  },
};
