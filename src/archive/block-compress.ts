import { gzip } from 'node:zlib';
import { zstdCompress } from '../native/index.js';

/**
 * One block of a stream compressed as its own gzip member or zstd frame, in libuv's thread pool
 * (zlib's async API; libzstd through the native module). Concatenated members (frames) are one
 * valid gzip (zstd) stream, so a caller can compress the blocks of a stream in parallel.
 */
export type BlockFormat = 'gzip' | 'zstd';

export function compressBlock(format: BlockFormat, data: Buffer, level: number): Promise<Buffer> {
  if (format === 'zstd') return zstdCompress(data, level);
  // memLevel 9 (more hash memory) is a few percent faster than zlib's default 8
  return new Promise((resolve, reject) =>
    gzip(data, { level, memLevel: 9 }, (err, out) => (err ? reject(err) : resolve(out))),
  );
}
