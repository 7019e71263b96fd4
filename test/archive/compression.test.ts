import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decompressed, detectCompression } from '../../src/archive/compression.js';

// Decompression of layer and archive streams: detection by magic bytes, limits, and errors of the
// input reaching the reader (a download that fails mid-layer must fail the reader, not hang it).

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return Buffer.concat(out);
}

async function* chunks(data: Buffer, size: number, failAfter?: number): AsyncGenerator<Buffer> {
  for (let i = 0, n = 0; i < data.length; i += size, n++) {
    if (failAfter !== undefined && n === failAfter) throw new Error('connection reset mid-blob');
    yield data.subarray(i, i + size);
  }
  if (failAfter !== undefined) throw new Error('connection reset mid-blob');
}

const plain = Buffer.alloc(300_000, 'berth layer bytes ');

test('plain and gzip inputs come out as the same bytes', async () => {
  assert.equal(detectCompression(gzipSync(plain).subarray(0, 18)), 'gzip');
  assert.deepEqual(await collect(decompressed(chunks(plain, 7000))), plain);
  assert.deepEqual(await collect(decompressed(chunks(gzipSync(plain), 999))), plain);
});

test('an error of the input reaches the reader of a gzip stream (no hang, no uncaught error)', async () => {
  const gz = gzipSync(Buffer.from(plain.map((_, i) => (i * 7919) & 0xff)));
  await assert.rejects(collect(decompressed(chunks(gz, 4096, 3))), /connection reset mid-blob/);
  await assert.rejects(collect(decompressed(chunks(plain, 4096, 3))), /connection reset mid-blob/);
});

test('more output than maxBytes fails, naming the input', async () => {
  await assert.rejects(
    collect(decompressed(chunks(gzipSync(plain), 4096), { maxBytes: 1000, what: 'layer sha256:ab' })),
    /layer sha256:ab: uncompressed size exceeds the limit of 1000 bytes/,
  );
});
