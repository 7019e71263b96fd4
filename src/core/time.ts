/**
 * A time as Docker prints it: Go's RFC3339Nano, the fraction's trailing zeros trimmed
 * (`…:36.640Z` → `…:36.64Z`, `…:36.000Z` → `…:36Z`). berth records times as JavaScript's
 * toISOString() gives them; both parse to the same instant.
 */
export function rfc3339Nano(t: string): string {
  return t.replace(/\.(\d*?)0+Z$/, (_, f: string) => (f ? `.${f}Z` : 'Z'));
}

/**
 * A time as `docker logs --timestamps` prints it: Go's RFC3339NanoFixed, always nine fraction
 * digits (`…:41.19843986Z` → `…:41.198439860Z`), so that lines align and sort as text.
 */
export function rfc3339NanoFixed(t: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : t;
}
