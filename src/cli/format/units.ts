/**
 * Ports of the docker/go-units helpers docker's CLI prints with, and of
 * stringid.TruncateID. Float formatting is Go's (`%.*g`), so quirks such as
 * HumanSizeWithPrecision(999_900, 3) === "1e+03kB" are reproduced.
 */
import { formatFloat } from './template-fmt.js';

const DECIMAL_ABBRS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_ABBRS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, abbrs: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < abbrs.length - 1) {
    size /= base;
    i++;
  }
  return [size, abbrs[i]!];
}

/**
 * go-units HumanSizeWithPrecision: decimal units, `%.{precision}g`.
 * `docker images` SIZE uses precision 3: 0 → "0B", 1234567 → "1.23MB".
 */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [s, unit] = sizeAndUnit(size, 1000, DECIMAL_ABBRS);
  return formatFloat(s, 'g', precision) + unit;
}

/** go-units HumanSize: HumanSizeWithPrecision(size, 4), as `docker system df` prints sizes. */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** go-units BytesSize: binary units with `%.4g`, e.g. 1536 → "1.5KiB" (docker stats memory). */
export function bytesSize(size: number): string {
  const [s, unit] = sizeAndUnit(size, 1024, BINARY_ABBRS);
  return formatFloat(s, 'g', 4) + unit;
}

/**
 * go-units HumanDuration of a duration in milliseconds: "Less than a second",
 * "1 second", "N seconds", "About a minute", "N minutes", "About an hour",
 * "N hours" (< 48h), "N days" (< 2 weeks), "N weeks" (< 2*30 days),
 * "N months" (< 2*365 days), "N years".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** Go's zero time.Time, which docker shows as "" (and `image ls` then as "N/A"). */
const GO_ZERO_TIME_MS = -62_135_596_800_000; // 0001-01-01T00:00:00Z

/**
 * docker's CreatedSince / RunningFor column: `${HumanDuration(now - t)} ago`.
 * `created` is a Date, an RFC 3339 string, or Unix seconds (as the API's
 * `Created` field). Missing, unparsable or Go-zero times give "" — docker's
 * default `image ls` format then prints "N/A" via `{{if .CreatedSince}}`.
 * Unix time 0 is a real time (docker prints "55 years ago" for it).
 */
export function createdSince(
  created: Date | string | number | null | undefined,
  now: Date | number = Date.now(),
): string {
  if (created === null || created === undefined || created === '') return '';
  const t =
    created instanceof Date ? created.getTime() : typeof created === 'number' ? created * 1000 : Date.parse(created);
  if (Number.isNaN(t) || t <= GO_ZERO_TIME_MS) return '';
  const n = typeof now === 'number' ? now : now.getTime();
  return `${humanDuration(n - t)} ago`;
}

/** stringid.TruncateID: drop an algorithm prefix ("sha256:") and keep 12 characters. */
export function truncateID(id: string): string {
  const i = id.indexOf(':');
  if (i >= 0) id = id.slice(i + 1);
  return id.length > 12 ? id.slice(0, 12) : id;
}
