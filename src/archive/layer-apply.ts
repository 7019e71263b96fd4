import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { BerthError, invalid, wrap } from '../core/errors.js';
import type { DiffID } from '../core/digest.js';
import { decompressed, detectCompression } from './compression.js';
import { LayerWriter } from './layer-writer.js';
import { TarParser } from './tar-parser.js';

export { OPAQUE_XATTR, WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, treeSize } from './layer-writer.js';

export interface ApplyResult {
  diffID: DiffID;
  /** sha256 of the input bytes as given, when asked for. */
  blobDigest?: string;
  /** Bytes of the diff tree as Docker counts them (regular files and symlinks, hardlinks once). */
  size: number;
  /** gzip'd tar-split metadata that reproduces the exact tar. */
  tarSplit: Buffer;
  entries: number;
}

export interface ApplyOptions {
  /** Names the layer in error messages. */
  what?: string;
  /** Upper bound for the uncompressed tar (decompression bombs). */
  maxBytes?: number;
  /** Also compute the sha256 of the input as given (the compressed blob's digest). */
  blobDigest?: boolean;
  /** Stops the extraction between chunks with the signal's reason; the caller discards `root`. */
  signal?: AbortSignal;
}

/** A byte range of a file holding a layer blob (e.g. a layer.tar inside a docker-archive). */
export interface FileRange {
  path: string;
  start: number;
  length: number;
}

export function rangeStream(r: FileRange): AsyncIterable<Buffer> {
  if (r.length === 0)
    return (async function* () {
      /* empty */
    })();
  return fs.createReadStream(r.path, { start: r.start, end: r.start + r.length - 1, highWaterMark: 1 << 20 });
}

/** One extraction: the tar parser feeding the writer, with the digests computed on the way. */
class Extraction {
  readonly w: LayerWriter;
  readonly parser: TarParser;
  readonly hash = createHash('sha256');
  readonly blobHash: Hash | undefined;
  readonly what: string;

  constructor(root: string, opts: ApplyOptions) {
    this.what = opts.what ?? 'layer';
    this.w = new LayerWriter(root);
    this.parser = new TarParser(this.w);
    this.blobHash = opts.blobDigest ? createHash('sha256') : undefined;
  }

  /** Uncompressed tar bytes; the chunk may be reused by the caller once this returns. */
  write(chunk: Buffer): void {
    this.hash.update(chunk);
    this.parser.write(chunk);
  }

  async finish(): Promise<ApplyResult> {
    this.parser.end();
    this.w.finish();
    const tarSplit = await this.w.split.finish();
    return {
      diffID: `sha256:${this.hash.digest('hex')}` as DiffID,
      size: this.w.size,
      tarSplit,
      entries: this.parser.entries,
      ...(this.blobHash ? { blobDigest: `sha256:${this.blobHash.digest('hex')}` } : {}),
    };
  }

  fail(err: unknown): never {
    this.w.abort();
    throw err instanceof BerthError && err.message.startsWith(this.what) ? err : wrap(`apply ${this.what}`, err);
  }
}

/**
 * Extract a layer tar (plain, gzip or zstd) into `root` (an empty `diff/` dir),
 * converting `.wh.` whiteouts to overlay's form, while computing the diffID and
 * recording tar-split. Nothing outside `root` is created, changed or followed:
 * every parent directory is checked to be a real directory inside root, files
 * are created with O_EXCL|O_NOFOLLOW, link targets must resolve inside root.
 * On error the caller discards `root`; partial content is never registered.
 */
export async function applyLayer(
  root: string,
  src: AsyncIterable<Buffer>,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const x = new Extraction(root, opts);
  const from = opts.signal ? untilAborted(src, opts.signal) : src;
  const input = x.blobHash ? tee(from, x.blobHash) : from;
  try {
    opts.signal?.throwIfAborted();
    for await (const chunk of decompressed(input, { maxBytes: opts.maxBytes, what: x.what })) {
      opts.signal?.throwIfAborted();
      x.write(chunk);
    }
    return await x.finish();
  } catch (err) {
    return x.fail(err);
  }
}

const RANGE_CHUNK = 1 << 20;
/** Chunks between turns of the event loop (so an abort, and other work of a long-lived process, get in). */
const CHUNKS_PER_TURN = 4;

/**
 * applyLayer for a blob stored in a file (a layer inside an archive): a plain tar is read with
 * synchronous reads into one reused buffer (no stream, no per-chunk allocation); a compressed one
 * goes through the stream path. The digests are of the bytes read, the same bytes that are extracted.
 */
export async function applyLayerFile(root: string, range: FileRange, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const fd = fs.openSync(range.path, 'r');
  let closed = false;
  const close = () => {
    if (!closed) fs.closeSync(fd);
    closed = true;
  };
  try {
    const head = Buffer.alloc(Math.min(18, range.length));
    const got = head.length ? fs.readSync(fd, head, 0, head.length, range.start) : 0;
    if (detectCompression(head.subarray(0, got)) !== 'none') {
      close();
      return await applyLayer(root, rangeStream(range), opts);
    }
    const x = new Extraction(root, opts);
    try {
      if (opts.maxBytes !== undefined && range.length > opts.maxBytes)
        throw invalid(
          'too_large',
          `${x.what}: uncompressed size exceeds the limit of ${opts.maxBytes} bytes (decompression bomb?)`,
        );
      opts.signal?.throwIfAborted();
      const buf = Buffer.allocUnsafe(Math.min(RANGE_CHUNK, Math.max(range.length, 1)));
      let pos = range.start;
      let left = range.length;
      for (let turn = 1; left > 0; turn++) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, left), pos);
        if (n === 0) throw invalid('tar_truncated', `${x.what}: the archive ends inside the layer`);
        const chunk = buf.subarray(0, n);
        x.blobHash?.update(chunk);
        x.write(chunk);
        pos += n;
        left -= n;
        if (turn % CHUNKS_PER_TURN === 0) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          opts.signal?.throwIfAborted();
        }
      }
      close();
      return await x.finish();
    } catch (err) {
      return x.fail(err);
    }
  } finally {
    close();
  }
}

/** The chunks of `src`; an abort ends a wait for the next one at once (a stalled input cannot hold it). */
async function* untilAborted(src: AsyncIterable<Buffer>, signal: AbortSignal): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let onAbort = () => {};
  const stop = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  stop.catch(() => {});
  try {
    for (;;) {
      signal.throwIfAborted();
      const r = await Promise.race([it.next(), stop]);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    void it.return?.()?.catch(() => {});
  }
}

async function* tee(src: AsyncIterable<Buffer>, h: Hash): AsyncGenerator<Buffer> {
  for await (const c of src) {
    h.update(c);
    yield c;
  }
}
