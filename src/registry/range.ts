/**
 * HTTP ranges for resumed blob downloads (RFC 9110 §14), pure: the `Range` a request asks with,
 * the `Content-Range` a 206 answers with, and what an answer means for a download that has
 * `from` bytes of a `size`-byte blob.
 */

/** `Range: bytes=N-`: everything from byte N on. */
export function rangeFrom(from: number): string {
  return `bytes=${from}-`;
}

export type ContentRange =
  /** `bytes FIRST-LAST/TOTAL` (TOTAL "*" when unknown). */
  | { unit: 'bytes'; first: number; last: number; total: number | undefined }
  /** `bytes *\/TOTAL`: the range asked for cannot be served (with a 416). */
  | { unit: 'bytes'; unsatisfied: true; total: number };

const DIGITS = /^\d{1,15}$/; // below 2^53: exact as a number

/** Parse a Content-Range header; undefined when it is missing or malformed. */
export function parseContentRange(v: string | string[] | undefined): ContentRange | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|(\*))\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return undefined;
  const [, a, b, star, t] = m;
  for (const n of [a, b, t]) if (n !== undefined && n !== '*' && !DIGITS.test(n)) return undefined;
  const total = t === '*' ? undefined : Number(t);
  if (star) return total === undefined ? undefined : { unit: 'bytes', unsatisfied: true, total };
  const first = Number(a);
  const last = Number(b);
  if (last < first || (total !== undefined && last >= total)) return undefined;
  return { unit: 'bytes', first, last, total };
}

/** What to do with a blob GET's answer, for a download that asked from byte `from` of `size`. */
export type RangeAnswer =
  /** The body is the blob from `from` on: go on. */
  | { kind: 'resume' }
  /** The body is the whole blob (a 200: the registry ignored the Range): its first `from` bytes are known already. */
  | { kind: 'whole' }
  /** The answer is not the part asked for (416, or a 206 for other bytes): start over from byte 0. */
  | { kind: 'restart'; why: string }
  /** Not a blob at all (404, 401, 5xx...): an error for the caller. */
  | { kind: 'error' };

/** Decide from the status and headers (before any body byte is used). */
export function rangeAnswer(
  status: number,
  headers: { 'content-range'?: string | string[] | undefined; 'content-length'?: string | undefined },
  from: number,
  size: number,
): RangeAnswer {
  if (status === 200) return { kind: 'whole' };
  if (status === 416) return { kind: 'restart', why: `the registry refused the range ${rangeFrom(from)} (416)` };
  if (status !== 206) return { kind: 'error' };
  const raw = headers['content-range'];
  const cr = parseContentRange(raw);
  const shown = typeof raw === 'string' ? JSON.stringify(raw) : 'none';
  if (!cr || 'unsatisfied' in cr)
    return { kind: 'restart', why: `a 206 answer with an invalid Content-Range (${shown})` };
  if (cr.first !== from || cr.last !== size - 1 || (cr.total !== undefined && cr.total !== size))
    return {
      kind: 'restart',
      why: `the registry sent bytes ${cr.first}-${cr.last}/${cr.total ?? '*'} for ${rangeFrom(from)} of a ${size}-byte blob`,
    };
  const length = headers['content-length'];
  if (length !== undefined && Number(length) !== size - from)
    return { kind: 'restart', why: `a 206 answer of ${length} bytes for the ${size - from} bytes from ${from}` };
  return { kind: 'resume' };
}
