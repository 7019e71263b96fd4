import { gzipCompress, zstdCompress } from '../native/index.js';

/**
 * One block of a stream compressed as its own gzip member or zstd frame, in libuv's thread pool
 * (Debian's libdeflate and libzstd through the native module). Concatenated members (frames) are
 * one valid gzip (zstd) stream, so a caller can compress the blocks of a stream in parallel.
 */
export type BlockFormat = 'gzip' | 'zstd';

export function compressBlock(format: BlockFormat, data: Buffer, level: number): Promise<Buffer> {
  return format === 'zstd' ? zstdCompress(data, level) : gzipCompress(data, level);
}
