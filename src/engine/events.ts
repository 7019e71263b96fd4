/**
 * Events (Docker Engine API GET /events): engine operations record what they
 * did in the data root's journal (events/journal.ts), so one berth process
 * sees what another did, and the future API daemon serves the same journal.
 * The monitor of a container writes its die, restart-by-policy start and
 * health_status events itself (containerEventStep gives it what it needs).
 */
import type { ContainerRecord } from '../container/types.js';
import { filtersFromMap, type Filters } from '../core/filters.js';
import { makeEvent, toMessage, type EventMessage, type EventType } from '../events/event.js';
import { checkEventFilters, matchEvent } from '../events/filter.js';
import { followJournal, readJournal } from '../events/follow.js';
import { appendEvent, journalDir } from '../events/journal.js';
import { containerAttrs } from '../events/container-events.js';

export interface EventsOptions {
  /** Nanoseconds since the epoch (events/event.ts parseTimestamp reads Docker's formats). */
  since?: bigint;
  until?: bigint;
  filters?: Record<string, string[]> | Filters;
  signal?: AbortSignal;
}

function filtersOf(f: EventsOptions['filters']): Filters {
  const filters = f instanceof Map ? f : filtersFromMap(f ?? {});
  checkEventFilters(filters);
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

  container(action: string, c: Pick<ContainerRecord, 'ID' | 'Config' | 'Name'>, extra: Record<string, string> = {}) {
    this.emit('container', action, c.ID, { ...containerAttrs(c), ...extra });
  }

  /** The stored events in the range (no following), oldest first. */
  list(opts: EventsOptions = {}): EventMessage[] {
    const filters = filtersOf(opts.filters);
    return readJournal(this.dir, { since: opts.since, until: opts.until, match: (e) => matchEvent(filters, e) }).map(
      toMessage,
    );
  }

  /**
   * GET /events: the stored events since `since` (none without it), then new ones as they are written, until
   * `until` passes or `signal` aborts (the iterator then ends).
   */
  async *stream(opts: EventsOptions = {}): AsyncGenerator<EventMessage> {
    const filters = filtersOf(opts.filters);
    if (opts.until !== undefined && opts.until <= BigInt(Date.now()) * 1_000_000n) {
      yield* this.list({ ...opts, filters });
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
