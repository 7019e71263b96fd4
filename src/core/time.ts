/**
 * A time as Docker prints it: Go's RFC3339Nano, the fraction's trailing zeros trimmed
 * (`…:36.640Z` → `…:36.64Z`, `…:36.000Z` → `…:36Z`). berth records times as JavaScript's
 * toISOString() gives them; both parse to the same instant.
 */
export function rfc3339Nano(t: string): string {
  return t.replace(/\.(\d*?)0+Z$/, (_, f: string) => (f ? `.${f}Z` : 'Z'));
}
