import { BerthError, corrupt } from '../core/errors.js';
import { PartialBlob } from '../storage/partial-blobs.js';
import type { StorePaths } from '../storage/paths.js';
import { registryError } from './errors.js';
import { rangeAnswer } from './range.js';
import type { Response } from './transport.js';

/**
 * A layer blob's bytes, resumable (what Docker does not do, moby#48539). Every byte received
 * is also appended to the blob's partial file (storage/partial-blobs.ts); a pull that finds
 * one asks the registry for the rest only (`Range: bytes=N-`) and, once the registry has
 * answered 206 for exactly that, hands on the kept bytes, then the new ones. A 200 (the
 * registry ignores ranges) starts over from byte 0; a 416 or a 206 for other bytes starts
 * over once. A connection that drops or stalls mid-blob is resumed the same way, after
 * Docker's "Retrying in N seconds", as long as tries bring bytes (after more than
 * `retryDelays.length` tries in a row that bring none, the download fails, the partial file
 * kept: with the transport's idle timeout T, a registry that stalls fails a pull in about
 * 4 T + 3.5 s). The blob's digest, checked by the caller over everything handed on, is the
 * judge of kept and new bytes alike.
 */
export interface BlobDownload {
  digest: string;
  size: number;
  /** "layer sha256:..." (for errors). */
  what: string;
  /** GET the blob; from > 0: with `Range: bytes=from-`. */
  fetch: (from: number) => Promise<Response>;
  /** The blob's partial file, held by this pull (none: another pull holds it). */
  partial: PartialBlob | undefined;
  /** Bytes handed on so far (after a resume: from the resumed offset on); `force`: a new start, emit now. */
  progress: (current: number, force: boolean) => void;
  /** A status line for the layer ("Retrying in 1 second"). */
  status: (s: string) => void;
  /** Waits before each new try after a failure (ms). */
  retryDelays: readonly number[];
}

export async function* downloadBlob(d: BlobDownload): AsyncGenerator<Buffer> {
  const current: { res?: Response } = {};
  try {
    yield* download(d, current);
  } finally {
    current.res?.body.destroy(); // also when the consumer stops early
  }
}

async function* download(d: BlobDownload, current: { res?: Response }): AsyncGenerator<Buffer> {
  const { size, partial } = d;
  const fetch = async (from: number) => (current.res = await d.fetch(from));
  let kept = partial?.size ?? 0;
  if (kept > size) {
    partial!.reset(); // not a prefix of this blob
    kept = 0;
  }
  if (kept === size && size > 0) {
    // all of it was received before (by a pull that failed later): the digest tells whether it is the blob
    d.progress(size, true);
    yield* partial!.read();
    return;
  }
  let sent = 0; // bytes handed on
  let skip = 0; // bytes of the current body already handed on (a 200 answer to a Range request)
  let restarted = false;
  let res = await fetch(kept);
  const first = rangeAnswer(res.status, res.headers, kept, size);
  if (first.kind === 'error') throw await registryError(res, `get blob ${d.digest}`);
  if (kept > 0 && first.kind === 'resume') {
    // the answer waits (unread) while the kept bytes go to the extraction; kept bytes that take longer
    // than the idle timeout to extract cost this request: it times out, and is resumed like a drop
    d.progress(kept, true);
    yield* partial!.read();
    sent = kept;
  } else if (kept > 0 || first.kind === 'restart') {
    partial?.reset();
    if (first.kind === 'restart') {
      res.body.destroy();
      restarted = true;
      res = await fetch(0);
      if (!isWhole(res, size)) throw await registryError(res, `get blob ${d.digest}`);
    }
  }
  let fruitless = 0; // tries in a row that brought no byte
  for (;;) {
    let got = 0;
    try {
      for await (const c of res.body as AsyncIterable<Buffer>) {
        let chunk = c;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        if (sent + chunk.length > size)
          throw corrupt('blob_too_long', `${d.what}: the registry sent more than the ${size} bytes of its descriptor`);
        partial?.append(chunk);
        sent += chunk.length;
        got += chunk.length;
        d.progress(sent, false);
        yield chunk;
      }
    } catch (err) {
      if (!isNetworkFailure(err)) throw err;
      fruitless = got > 0 ? 0 : fruitless + 1;
      if (fruitless > d.retryDelays.length) throw interrupted(d, err, sent, fruitless);
      const delay = d.retryDelays[Math.max(0, fruitless - 1)]!;
      const secs = Math.max(1, Math.round(delay / 1000));
      d.status(`Retrying in ${secs} second${secs === 1 ? '' : 's'}`);
      await new Promise((r) => setTimeout(r, delay));
      res = await fetch(sent);
      const a = rangeAnswer(res.status, res.headers, sent, size);
      if (a.kind === 'error') throw await registryError(res, `get blob ${d.digest}`);
      if (a.kind === 'whole') skip = sent;
      else if (a.kind === 'restart') {
        // the bytes handed on cannot be taken back: the whole blob again, its first `sent` bytes dropped
        res.body.destroy();
        if (restarted) throw corrupt('blob_range', `${d.what}: ${a.why}, again`);
        restarted = true;
        res = await fetch(0);
        if (!isWhole(res, size)) throw await registryError(res, `get blob ${d.digest}`);
        skip = sent;
      }
      d.progress(sent, true);
      continue;
    }
    if (skip > 0 || sent < size)
      throw corrupt(
        'blob_short',
        skip > 0
          ? `${d.what}: the registry sent the blob again, and it ended ${skip} bytes before byte ${sent}`
          : `${d.what}: the registry sent ${sent} of the descriptor's ${size} bytes`,
      );
    return;
  }
}

/** An answer with the blob from byte 0 (a 200, or a 206 for all of it). */
function isWhole(res: Response, size: number): boolean {
  const k = rangeAnswer(res.status, res.headers, 0, size).kind;
  return k === 'whole' || k === 'resume';
}

/** A connection that dropped, was reset or stalled (worth a resume), not an answer that was wrong. */
export function isNetworkFailure(err: unknown): boolean {
  if (err instanceof BerthError) return err.kind === 'Unavailable' && err.code.startsWith('registry_');
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code);
}

function interrupted(d: BlobDownload, err: unknown, sent: number, tries: number): BerthError {
  const cause =
    err instanceof BerthError ? err.message : `${(err as NodeJS.ErrnoException).code ?? ''} ${String(err)}`.trim();
  const kept = d.partial ? `; the next pull resumes from byte ${sent}` : '';
  return new BerthError(
    'Unavailable',
    err instanceof BerthError ? err.code : 'registry_unreachable',
    `${d.what}: download stopped at ${sent} of ${d.size} bytes (${tries} tries in a row brought nothing)${kept}: ${cause}`,
    { cause: err },
  );
}

/**
 * The partial files one pull holds. `complete` when the image is in the store removes them;
 * `release` (a failed pull) keeps those worth resuming. A blob whose bytes proved wrong has its
 * file removed at once (`discard`).
 */
export class PartialDownloads {
  private readonly held = new Map<string, PartialBlob>();

  constructor(private readonly paths: StorePaths) {}

  /** The blob's partial file, locked; undefined when another pull (or item of this one) holds it. */
  open(digest: string): PartialBlob | undefined {
    if (this.held.has(digest)) return undefined;
    const p = PartialBlob.open(this.paths, digest);
    if (p) this.held.set(digest, p);
    return p;
  }

  discard(p: PartialBlob): void {
    if (this.held.get(p.digest) !== p) return;
    this.held.delete(p.digest);
    p.remove();
  }

  complete(): void {
    for (const p of this.held.values()) p.remove();
    this.held.clear();
  }

  release(): void {
    for (const p of this.held.values()) p.keep();
    this.held.clear();
  }
}
