/**
 * Events (Docker Engine API GET /events): engine operations record what they
 * did in the data root's journal (events/journal.ts), so one berth process
 * sees what another did, and the future API daemon serves the same journal.
 * The monitor of a container writes its die, restart-by-policy start and
 * health_status events itself (containerEventStep gives it what it needs).
 */
import { filtersFromMap, type Filters } from '../core/filters.js';
import { makeEvent, toMessage, type EventMessage, type EventType } from '../events/event.js';
import { appendEvent, journalDir } from '../events/journal.js';
import { containerAttrs, type Named } from '../events/container-events.js';

export { eventJSON, parseTimestamp, textLine, type EventMessage } from '../events/event.js';

export interface EventsOptions {
  /** Nanoseconds since the epoch (events/event.ts parseTimestamp reads Docker's formats). */
  since?: bigint;
  until?: bigint;
  filters?: Record<string, string[]> | Filters;
  signal?: AbortSignal;
}

// the readers load with the first read: every command emits, few read
const readers = async () => Promise.all([import('../events/filter.js'), import('../events/follow.js')]);

async function filtersOf(f: EventsOptions['filters']): Promise<Filters> {
  const filters = f instanceof Map ? f : filtersFromMap(f ?? {});
  (await import('../events/filter.js')).checkEventFilters(filters);
  return filters;
}

export class Events {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = journalDir(root);
  }

  /** Record one event (best effort: an operation never fails because its event could not be written). */
  emit(type: EventType, action: string, id: string, attrs: Record<string, string> = {}): void {
    appendEvent(this.dir, makeEvent(type, action, id, attrs));
  }

  container(action: string, c: Named, extra: Record<string, string> = {}) {
    this.emit('container', action, c.ID, { ...containerAttrs(c), ...extra });
  }

  /** The stored events in the range (no following), oldest first. */
  async list(opts: EventsOptions = {}): Promise<EventMessage[]> {
    const filters = await filtersOf(opts.filters);
    const [{ matchEvent }, { readJournal }] = await readers();
    return readJournal(this.dir, { since: opts.since, until: opts.until, match: (e) => matchEvent(filters, e) }).map(
      toMessage,
    );
  }

  /**
   * GET /events: the stored events since `since` (none without it), then new ones as they are written, until
   * `until` passes or `signal` aborts (the iterator then ends).
   */
  async *stream(opts: EventsOptions = {}): AsyncGenerator<EventMessage> {
    const filters = await filtersOf(opts.filters);
    const [{ matchEvent }, { followJournal }] = await readers();
    if (opts.until !== undefined && opts.until <= BigInt(Date.now()) * 1_000_000n) {
      yield* await this.list({ ...opts, filters });
      return;
    }
    for await (const e of followJournal(this.dir, {
      since: opts.since,
      until: opts.until,
      match: (ev) => matchEvent(filters, ev),
      signal: opts.signal,
    }))
      yield toMessage(e);
  }
}
