import { invalid } from './errors.js';
import { parseTimestamp } from './timestamp.js';

/**
 * Docker's filter arguments (api/types/filters.Args): each key holds a set of
 * values. Values of one key OR or AND as each filter defines; keys AND.
 */
export type Filters = Map<string, Set<string>>;

/** `--filter k=v` flags as the docker CLI reads them: key lower-cased, both sides trimmed. */
export function parseFilterFlags(flags: readonly string[]): Filters {
  const f: Filters = new Map();
  for (const flag of flags) {
    if (flag === '') continue;
    const i = flag.indexOf('=');
    if (i < 0)
      throw invalid(
        'invalid_filter',
        `invalid argument ${JSON.stringify(flag)} for "--filter" flag: bad format of filter (expected name=value)`,
      );
    addFilter(f, flag.slice(0, i).trim().toLowerCase(), flag.slice(i + 1).trim());
  }
  return f;
}

export function addFilter(f: Filters, key: string, value: string): void {
  const set = f.get(key) ?? new Set<string>();
  set.add(value);
  f.set(key, set);
}

/** Refuse keys a command does not take, before it does anything (dockerd's Args.Validate). */
export function validateFilters(f: Filters, accepted: readonly string[]): void {
  for (const k of f.keys()) if (!accepted.includes(k)) throw invalidFilter(k);
}

function invalidFilter(key: string, values?: Iterable<string>): Error {
  // Go prints the value list as fmt's %s of a []string: [a b]
  const v = values ? `=[${[...values].join(' ')}]` : '';
  return invalid('invalid_filter', `invalid filter '${key}${v}'`);
}

/** Every `key` value (k or k=v) holds in labels; true when the key has no values (Args.MatchKVList). */
export function matchKVList(f: Filters, key: string, labels: Record<string, string> | null | undefined): boolean {
  const values = f.get(key);
  if (!values || values.size === 0) return true;
  if (!labels || Object.keys(labels).length === 0) return false;
  for (const value of values) {
    const i = value.indexOf('=');
    const k = i < 0 ? value : value.slice(0, i);
    if (!Object.prototype.hasOwnProperty.call(labels, k)) return false;
    if (i >= 0 && labels[k] !== value.slice(i + 1)) return false;
  }
  return true;
}

/**
 * The prune label filters: every `label` must hold, and not every `label!`
 * may hold (dockerd's matchLabels, so several `label!` exclude only together).
 */
export function matchLabels(f: Filters, labels: Record<string, string> | null | undefined): boolean {
  if (!matchKVList(f, 'label', labels)) return false;
  return !(f.has('label!') && matchKVList(f, 'label!', labels));
}

/** A boolean filter (`dangling=true|false|1|0`); conflicting or other values are refused (Args.GetBoolOrDefault). */
export function boolFilter(f: Filters, key: string, dflt: boolean): boolean {
  const values = f.get(key);
  if (!values) return dflt;
  const isFalse = values.has('0') || values.has('false');
  const isTrue = values.has('1') || values.has('true');
  if (isFalse === isTrue) throw invalidFilter(key, values);
  return isTrue;
}

/** The `until` filter as ms since the epoch (one value at most), or undefined. */
export function untilFilter(f: Filters, now: number = Date.now()): number | undefined {
  const values = f.get('until');
  if (!values) return undefined;
  if (values.size > 1) throw invalid('invalid_filter', 'more than one until filter specified');
  return parseTimestamp([...values][0]!, now);
}

/** The API's filter map (`{"label": ["a=b"]}`) as filter arguments. */
export function filtersFromMap(map: Record<string, string[]> = {}): Filters {
  const f: Filters = new Map();
  for (const [k, values] of Object.entries(map)) for (const v of values) addFilter(f, k, v);
  return f;
}
