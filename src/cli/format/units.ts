/**
 * Ports of the docker/go-units helpers docker's CLI prints with, and of
 * stringid.TruncateID. Float formatting is Go's (`%.*g`), so quirks such as
 * HumanSizeWithPrecision(999_900, 3) === "1e+03kB" are reproduced.
 */
import { formatFloat } from './template-fmt.js';
import { humanDuration } from '../../core/human-duration.js';

export { humanDuration };

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
