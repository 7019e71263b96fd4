/**
 * `docker events --filter`: keys are ANDed, values of one key ORed, as
 * dockerd's events filter: type and event (the action, or its part before
 * ":"), container/volume/network (an ID, a prefix of one or the name
 * attribute, for events of that type; connect/disconnect match the container
 * attribute too), image (the image attribute or an image event's ID/name),
 * label (key or key=value among the attributes).
 */
import { invalid } from '../core/errors.js';
import { matchKVList, type Filters } from '../core/filters.js';
import type { JournalEvent } from './event.js';

export const EVENT_FILTERS = ['type', 'event', 'container', 'image', 'label', 'volume', 'network'] as const;
const TYPES = ['container', 'image', 'volume', 'network', 'daemon', 'plugin', 'service', 'node', 'secret', 'config'];

/** Unknown keys and types refused, as dockerd does. */
export function checkEventFilters(f: Filters): void {
  for (const k of f.keys())
    if (!(EVENT_FILTERS as readonly string[]).includes(k)) throw invalid('bad_filter', `invalid filter '${k}'`);
  for (const t of f.get('type') ?? [])
    if (!TYPES.includes(t)) throw invalid('bad_filter', `unknown event type "${t}" in the type filter`);
}

function fuzzy(values: Set<string>, candidates: (string | undefined)[]): boolean {
  for (const v of values) for (const c of candidates) if (c && (c === v || c.startsWith(v))) return true;
  return false;
}

function byName(f: Filters, key: 'container' | 'volume' | 'network', e: JournalEvent): boolean {
  const want = f.get(key);
  if (!want) return true;
  if (e.Type === key) return fuzzy(want, [e.Actor.ID, e.Actor.Attributes.name]);
  // a container's connect/disconnect names it; other events of other types are not the filter's object
  return key === 'container' && e.Type === 'network' && fuzzy(want, [e.Actor.Attributes.container]);
}

function byImage(f: Filters, e: JournalEvent): boolean {
  const want = f.get('image');
  if (!want) return true;
  const a = e.Actor.Attributes;
  const names = e.Type === 'image' ? [e.Actor.ID, a.name] : [a.image];
  for (const n of names) {
    if (!n) continue;
    for (const w of want) if (n === w || n.replace(/:[^:/]+$/, '') === w || n.replace(/@.*$/, '') === w) return true;
  }
  return false;
}

export function matchEvent(f: Filters, e: JournalEvent): boolean {
  const types = f.get('type');
  if (types && !types.has(e.Type)) return false;
  const events = f.get('event');
  if (events && !events.has(e.Action) && !events.has(e.Action.split(':')[0]!)) return false;
  return (
    byName(f, 'container', e) &&
    byName(f, 'volume', e) &&
    byName(f, 'network', e) &&
    byImage(f, e) &&
    matchKVList(f, 'label', e.Actor.Attributes)
  );
}
