import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Decompress as ZstdDecompress } from 'fzstd';
import { invalid, unsupported } from '../core/errors.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** Detect compression from the first bytes of a stream (magic numbers). */
export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a) return 'xz';
  return 'none';
}

/** Read at least `n` bytes (or to EOF) and give them back together with the rest of the stream. */
async function peek(src: AsyncIterable<Buffer>, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = src[Symbol.asyncIterator]();
  const got: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) break;
    got.push(r.value);
    len += r.value.length;
  }
  const head = Buffer.concat(got);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, rest: rest() };
}

/**
 * A Transform that decompresses zstd (made with options, not a subclass: node:stream loads when one is made, not
 * with this module, which read-only commands load for other things).
 */
function zstdTransform(Decompress: typeof ZstdDecompress): Transform {
  const fail = (err: unknown) => invalid('zstd_corrupt', `zstd: ${(err as Error).message}`);
  const t: Transform = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      try {
        z.push(chunk);
        cb();
      } catch (err) {
        cb(fail(err));
      }
    },
    flush(cb: TransformCallback): void {
      try {
        z.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(fail(err));
      }
    },
  });
  const z = new Decompress((chunk) => {
    t.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  return t;
}

/** Largest zstd window accepted (libzstd's default limit): a frame header must not make us allocate more. */
export const MAX_ZSTD_WINDOW = 128 << 20;

/** Read the window a zstd frame header asks for (RFC 8878 3.1.1.1) and refuse oversized ones. */
export function checkZstdWindow(head: Buffer, what: string): void {
  if (head.length < 6) return;
  const fhd = head[4]!;
  const single = (fhd & 0x20) !== 0;
  let window: number;
  if (!single) {
    const wd = head[5]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  } else {
    const dictSize = [0, 1, 2, 4][fhd & 3]!;
    const fcsSize = [1, 2, 4, 8][fhd >> 6]!;
    const off = 5 + dictSize;
    if (head.length < off + fcsSize) return;
    window = 0;
    for (let i = fcsSize - 1; i >= 0; i--) window = window * 256 + head[off + i]!;
    if (fcsSize === 2) window += 256;
  }
  if (window > MAX_ZSTD_WINDOW)
    throw invalid('zstd_window', `${what}: zstd frame asks for a ${window}-byte window (limit ${MAX_ZSTD_WINDOW})`);
}

/**
 * `src` through a transform, where an error of `src` reaches whoever reads the transform
 * (`.pipe()` would leave the reader waiting forever and throw the error nowhere).
 */
function through(src: AsyncIterable<Buffer>, t: Transform): Transform {
  pipeline(Readable.from(src), t, () => undefined);
  return t;
}

export interface DecompressOptions {
  /** Fail once more than this many decompressed bytes came out (decompression bombs). */
  maxBytes?: number;
  /** Names the input in error messages. */
  what?: string;
}

/**
 * Decompress a stream whose compression is detected by magic bytes (plain,
 * gzip, zstd). Yields the uncompressed bytes; errors say what the input was.
 */
export async function* decompressed(src: AsyncIterable<Buffer>, opts: DecompressOptions = {}): AsyncGenerator<Buffer> {
  const what = opts.what ?? 'input';
  const max = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
  const { head, rest } = await peek(src, 18);
  const kind = detectCompression(head);
  let stream: AsyncIterable<Buffer>;
  switch (kind) {
    case 'none':
      stream = rest;
      break;
    case 'gzip':
      stream = through(rest, createGunzip({ chunkSize: 256 * 1024 }));
      break;
    case 'zstd':
      checkZstdWindow(head, what);
      // (fzstd loads with the first zstd input, not with every command that loads this module)
      stream = through(rest, zstdTransform((await import('fzstd')).Decompress));
      break;
    default:
      throw unsupported('compression', `${what}: ${kind} compression is not supported (use plain tar, gzip or zstd)`);
  }
  let total = 0;
  try {
    for await (const chunk of stream) {
      total += chunk.length;
      if (total > max)
        throw invalid(
          'too_large',
          `${what}: uncompressed size exceeds the limit of ${max} bytes (decompression bomb?)`,
        );
      yield chunk;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'Z_NEED_DICT') {
      throw invalid('gzip_corrupt', `${what}: corrupt gzip data (${(err as Error).message})`);
    }
    throw err;
  } finally {
    if ('destroy' in stream && typeof (stream as Readable).destroy === 'function') (stream as Readable).destroy();
  }
}
