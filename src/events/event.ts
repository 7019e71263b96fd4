/**
 * An event as Docker's Engine API gives it (GET /events): Type, Action, Actor
 * {ID, Attributes}, scope, time, timeNano, and for containers and images the
 * legacy status/id/from fields. The journal keeps the event without the legacy
 * fields; they are derived when it is read. Pure functions, no I/O.
 */
import { invalid } from '../core/errors.js';

export type EventType = 'container' | 'image' | 'volume' | 'network';

/** Actions berth emits, by type (Docker's names; health_status is followed by ": healthy" etc.). */
export const EVENT_ACTIONS: Record<EventType, readonly string[]> = {
  container: [
    'create',
    'start',
    'die',
    'stop',
    'kill',
    'destroy',
    'rename',
    'pause',
    'unpause',
    'restart',
    'exec_create',
    'exec_start',
    'exec_die',
    'health_status',
    'attach',
  ],
  image: ['pull', 'push', 'tag', 'untag', 'delete', 'load', 'save', 'import'],
  volume: ['create', 'destroy', 'mount', 'unmount'],
  network: ['create', 'destroy', 'connect', 'disconnect'],
};

/** One event as the journal stores it. */
export interface JournalEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  /** Nanoseconds since the epoch: past 2^53, so a bigint (eventJSON writes it as a JSON integer). */
  timeNano: bigint;
}

/** Docker's events.Message, legacy fields included. */
export interface EventMessage extends JournalEvent {
  status?: string;
  id?: string;
  from?: string;
}

/** A new event now (time from the wall clock, nanoseconds as far as the platform has them). */
export function makeEvent(
  type: EventType,
  action: string,
  id: string,
  attrs: Record<string, string> = {},
): JournalEvent {
  // microseconds from the monotonic clock anchored at the process's start (Date.now() has milliseconds only)
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  return {
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: attrs },
    scope: 'local',
    time: Number(ns / 1_000_000_000n),
    timeNano: ns,
  };
}

/** An event as one JSON line's text (no newline), timeNano exact. */
export function eventJSON(e: JournalEvent | EventMessage): string {
  return JSON.stringify({ ...e, timeNano: '\u0000' }).replace('"\\u0000"', String(e.timeNano));
}

function sortedAttrs(a: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(a ?? {})
      .sort()
      .map((k) => [k, a[k]!]),
  );
}

/** The API's shape: legacy status/id/from for containers and images (as dockerd still sends), attributes sorted. */
export function toMessage(e: JournalEvent): EventMessage {
  const attrs = sortedAttrs(e.Actor.Attributes);
  const legacy: Partial<EventMessage> = {};
  if (e.Type === 'container' || e.Type === 'image') {
    legacy.status = e.Action;
    legacy.id = e.Actor.ID;
    if (e.Type === 'container' && attrs.image !== undefined) legacy.from = attrs.image;
  }
  return {
    ...legacy,
    Type: e.Type,
    Action: e.Action,
    Actor: { ID: e.Actor.ID, Attributes: attrs },
    scope: 'local',
    time: e.time,
    timeNano: e.timeNano,
  };
}

/** RFC 3339 with 9 fraction digits, UTC (Docker's RFC3339NanoFixed). */
export function nanoTime(timeNano: number | bigint): string {
  const ns = BigInt(timeNano);
  const iso = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  return `${iso}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

/** docker events' default line: `TIME TYPE ACTION ID (k=v, k=v)`. */
export function textLine(e: JournalEvent): string {
  const attrs = sortedAttrs(e.Actor.Attributes);
  const kv = Object.entries(attrs).map(([k, v]) => `${k}=${v}`);
  return `${nanoTime(e.timeNano)} ${e.Type} ${e.Action} ${e.Actor.ID}${kv.length ? ` (${kv.join(', ')})` : ''}`;
}

/** A journal line as an event; undefined for a line that is not one (a torn or foreign line is skipped). */
export function parseLine(line: string): JournalEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const e = JSON.parse(line) as Omit<JournalEvent, 'timeNano'> & { timeNano: unknown };
    // the exact integer from the text: JSON.parse rounds it to a double
    const tn = /"timeNano":(\d+)}$/.exec(line); // the last field, as both writers write it
    if (typeof e.Type !== 'string' || typeof e.Action !== 'string' || !tn) return undefined;
    e.timeNano = BigInt(tn[1]!);
    e.Actor ??= { ID: '', Attributes: {} };
    e.Actor.Attributes ??= {};
    return e as JournalEvent;
  } catch {
    return undefined;
  }
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration ("10m", "1h30m", "1.5s") in nanoseconds, or undefined when the text is not one. */
export function parseGoDuration(s: string): number | undefined {
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const part of s.replace(/^[+-]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g))
    total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  return m[1] === '-' ? -total : total;
}

/**
 * A --since/--until value as nanoseconds since the epoch, as Docker's
 * GetTimestamp reads it: a duration back from now ("10m"), unix seconds with
 * an optional fraction ("1700000000.5"), or an RFC 3339 time / date
 * (without a zone: UTC here, as on a host whose zone is UTC).
 */
export function parseTimestamp(value: string, flag: string, nowMs = Date.now()): bigint {
  const v = value.trim();
  const dur = parseGoDuration(v);
  if (dur !== undefined) return BigInt(nowMs) * 1_000_000n - BigInt(Math.round(dur));
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0') || '0');
  const t = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(v);
  if (t) {
    const zone = t[4] && t[4].toUpperCase() !== 'Z' ? t[4].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') : 'Z';
    const ms = Date.parse(`${t[1]}T${t[2] ?? '00:00:00'}${(t[2] ?? '').length === 5 ? ':00' : ''}${zone}`);
    if (!Number.isNaN(ms)) {
      const frac = BigInt(((t[3] ?? '.').slice(1) || '0').padEnd(9, '0'));
      return BigInt(ms) * 1_000_000n + frac;
    }
  }
  throw invalid(
    'bad_time',
    `invalid value for --${flag}: "${value}" is not a duration, a unix timestamp or an RFC 3339 time`,
  );
}
