import { invalid } from './errors.js';

/**
 * A time argument as dockerd reads the `until` filter (and `--since`/`--until`
 * elsewhere): a Go duration before `now` ("10m", "1h30m", "-5s"), an RFC 3339
 * date or time with or without a zone (local time without one), or Unix
 * seconds with an optional fraction. Returns milliseconds since the epoch.
 */
export function parseTimestamp(value: string, now: number = Date.now()): number {
  if (value !== '0') {
    const d = goDurationMs(value);
    if (d !== undefined) return Math.floor((now - d) / 1000) * 1000;
  }
  const inLocation = !/[zZ+]/.test(value) && count(value, '-') !== 3;
  const t = parseRfc3339Like(value, inLocation, now);
  if (typeof t === 'number') return t;
  if (value.includes('-')) throw invalid('invalid_timestamp', t);
  if (!/^[+-]?\d+(?:\.\d+)?$/.test(value))
    throw invalid('invalid_timestamp', `failed to parse value as time or duration: ${JSON.stringify(value)}`);
  const [sec, frac] = value.split('.') as [string, string | undefined];
  const nanos = frac ? Math.trunc(Number(frac) * 10 ** (9 - frac.length)) : 0;
  // as Go's time.Unix(sec, nsec): the fraction always adds, also to negative seconds
  return Number(sec) * 1000 + nanos / 1e6;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, in milliseconds; undefined when it is not one. */
export function goDurationMs(v: string): number | undefined {
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0)$/.exec(v);
  if (!m) return undefined;
  let ms = 0;
  for (const p of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(p[1]) * UNIT_MS[p[2]!]!;
  return m[1] === '-' ? -ms : ms;
}

function count(s: string, c: string): number {
  return s.split(c).length - 1;
}

/**
 * Go's time.Parse with the layout dockerd picks from the value's shape
 * (api/types/time GetTimestamp). Returns ms, or the parse error's text.
 */
function parseRfc3339Like(v: string, inLocation: boolean, now: number): number | string {
  let layout: string;
  let re: RegExp;
  const zone = inLocation ? '' : '(Z|[+-]\\d{2}:\\d{2})';
  if (v.includes('.')) {
    layout = inLocation ? '2006-01-02T15:04:05.999999999' : '2006-01-02T15:04:05.999999999Z07:00';
    re = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{1,2}):(\\d{2}):(\\d{2})(?:\\.(\\d+))?${zone}$`);
  } else if (v.includes('T')) {
    let colons = count(v, ':');
    if (!inLocation && !/[zZ]/.test(v) && colons > 0) colons--;
    const parts = colons === 0 ? ['15'] : colons === 1 ? ['15', '04'] : ['15', '04', '05'];
    layout = `2006-01-02T${parts.join(':')}${inLocation ? '' : 'Z07:00'}`;
    const time = ['(\\d{1,2})', '(\\d{2})', '(\\d{2})'].slice(0, parts.length).join(':');
    re = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})T${time}${zone}$`);
  } else {
    layout = inLocation ? '2006-01-02' : '2006-01-02Z07:00';
    re = new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})${zone}$`);
  }
  const fail = `parsing time ${JSON.stringify(v)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(v)} as ${JSON.stringify(layout)}`;
  const m = re.exec(v);
  if (!m) return fail;
  const nums = m.slice(1).map((x) => (x === undefined || !/^\d+$/.test(x) ? undefined : Number(x)));
  const [y, mo, d, h = 0, mi = 0, s = 0] = nums as number[];
  const fracIdx = v.includes('.') ? 7 : -1;
  const frac = fracIdx > 0 ? (m[fracIdx] ?? '') : '';
  const zoneText = inLocation ? undefined : m[m.length - 1]!;
  const range = (what: string) => `parsing time ${JSON.stringify(v)}: ${what} out of range`;
  if (mo! < 1 || mo! > 12) return range('month');
  if (d! < 1 || d! > new Date(Date.UTC(y!, mo!, 0)).getUTCDate()) return range('day');
  if (h > 23) return range('hour');
  if (mi > 59) return range('minute');
  if (s > 59) return range('second');
  const wall = Date.UTC(y!, mo! - 1, d!, h, mi, s) + (frac ? Number(`0.${frac}`) * 1000 : 0);
  let offsetMin: number;
  if (zoneText === undefined) offsetMin = -new Date(now).getTimezoneOffset();
  else if (zoneText === 'Z') offsetMin = 0;
  else offsetMin = (zoneText[0] === '-' ? -1 : 1) * (Number(zoneText.slice(1, 3)) * 60 + Number(zoneText.slice(4, 6)));
  return wall - offsetMin * 60_000;
}
