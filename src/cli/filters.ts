import { type Filters, parseFilterFlags } from '../core/filters.js';

/** The `--filter` flags of a command as Docker's filter arguments (core/filters.ts decides what they mean). */
export function filterFlags(o: Record<string, unknown>): Filters {
  return parseFilterFlags((o.filter as string[] | undefined) ?? []);
}

/** The same as the API's filter map (`{"label": ["a=b"]}`), what engine operations take. */
export function filterMap(f: Filters): Record<string, string[]> {
  return Object.fromEntries([...f].map(([k, v]) => [k, [...v]]));
}
