/**
 * The fast path of a push: a layer's tar rebuilt straight into fixed-size chunks (the gzip block
 * size), byte for byte the tar of the default chunking, with the CRC and diffID checks kept; and
 * gzip members from libdeflate (native module, thread pool) that zlib and GNU gzip read back whole
 * when concatenated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ImageStore } from '../../src/image/store.js';
import * as native from '../../src/native/index.js';
import { compressBlock } from '../../src/archive/block-compress.js';
import { BlockPool } from '../../src/archive/block-pool.js';
import { ParallelGzip } from '../../src/registry/push-gzip.js';
import { tempRoot } from '../helpers/berth.js';

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return out;
}

test('gzipCompress: libdeflate members at every level; concatenated, one gzip for zlib and GNU gzip', async () => {
  const a = Buffer.from('berth layer bytes '.repeat(30_000));
  const b = randomBytes(100_000);
  for (let level = 0; level <= 12; level++) {
    const m = await native.gzipCompress(a, level);
    assert.deepEqual([...m.subarray(0, 3)], [0x1f, 0x8b, 8], `level ${level}: a gzip member`);
    assert.ok(gunzipSync(m).equals(a), `level ${level}`);
  }
  const members = await Promise.all([a, b, Buffer.alloc(0), a].map((x) => compressBlock('gzip', x, 1)));
  const whole = Buffer.concat([a, b, a]);
  const stream = Buffer.concat(members);
  assert.ok(gunzipSync(stream).equals(whole));
  const gz = spawnSync('gzip', ['-dc'], { input: stream, maxBuffer: 1 << 26 });
  assert.equal(gz.status, 0, gz.stderr?.toString());
  assert.ok(gz.stdout.equals(whole), 'GNU gzip reads every member');
  assert.ok(members[0]!.length < a.length / 10, 'level 1 still compresses');
  assert.equal(gunzipSync(members[2]!).length, 0, 'empty input: a valid empty member');
  await assert.rejects(native.gzipCompress(a, 13), RangeError);
  await assert.rejects(native.gzipCompress(a, -1), RangeError);
});

test('layer tar in fixed chunks: every chunk full but the last, the same bytes as the default; CRC and length still checked', async () => {
  const t = tempRoot('berth-push-blocks');
  try {
    const store = await ImageStore.open(`${t.root}/store`);
    const dir = `${t.root}/upper`;
    fs.mkdirSync(`${dir}/app/sub`, { recursive: true });
    fs.writeFileSync(`${dir}/app/small`, 'a\n');
    fs.writeFileSync(`${dir}/app/sub/big`, randomBytes(300_001));
    fs.writeFileSync(`${dir}/app/mid`, Buffer.alloc(9_000, 7));
    fs.writeFileSync(`${dir}/app/empty`, '');
    fs.symlinkSync('small', `${dir}/app/link`);
    const layer = await store.withTxn('test', (txn) => store.layers.adopt(txn, undefined, dir, (fn) => store.lock(fn)));
    const whole = Buffer.concat(await collect(store.layers.tar(layer.chainID)));
    assert.equal(`sha256:${createHash('sha256').update(whole).digest('hex')}`, layer.diffID);
    assert.equal(whole.length, store.layers.tarSize(layer.chainID));
    for (const size of [511, 4096, 100_000, 1 << 22]) {
      const chunks = await collect(store.layers.tar(layer.chainID, size));
      assert.ok(Buffer.concat(chunks).equals(whole), `chunk ${size}: same bytes`);
      chunks.slice(0, -1).forEach((c, i) => assert.equal(c.length, size, `chunk ${size}: #${i} is full`));
      assert.ok(chunks.at(-1)!.length > 0 && chunks.at(-1)!.length <= size);
      assert.equal(new Set(chunks.map((c) => c.buffer)).size, chunks.length, 'no chunk shares memory with another');
    }
    await assert.rejects(collect(store.layers.tar(layer.chainID, 0)), RangeError);

    const diff = `${store.paths.cacheDir(layer.cacheId)}/diff`;
    const big = fs.readFileSync(`${diff}/app/sub/big`);
    // same length, other bytes: the CRC
    fs.writeFileSync(
      `${diff}/app/sub/big`,
      Buffer.concat([big.subarray(0, 1000), Buffer.from('X'), big.subarray(1001)]),
    );
    await assert.rejects(collect(store.layers.tar(layer.chainID, 65_536)), /app\/sub\/big.*CRC mismatch/);
    // shorter than the tar-split says
    fs.writeFileSync(`${diff}/app/sub/big`, big.subarray(0, 1000));
    await assert.rejects(collect(store.layers.tar(layer.chainID, 65_536)), /shorter than recorded/);
    // a symlink in the place of a file is not followed
    fs.rmSync(`${diff}/app/sub/big`);
    fs.symlinkSync('/etc/passwd', `${diff}/app/sub/big`);
    await assert.rejects(collect(store.layers.tar(layer.chainID, 65_536)), /not a regular file/);
    fs.rmSync(`${diff}/app/sub/big`);
    fs.writeFileSync(`${diff}/app/sub/big`, big);
    assert.ok(Buffer.concat(await collect(store.layers.tar(layer.chainID, 65_536))).equals(whole));
  } finally {
    t.remove();
  }
});

test('BlockPool: whole blocks of its size are kept (up to its limit) and given out again; anything else is not', () => {
  const pool = new BlockPool(1024, 2);
  const a = pool.take();
  assert.equal(a.length, 1024);
  pool.give(a);
  assert.equal(pool.take(), a, 'a block given back is given out again');
  pool.give(a.subarray(0, 100));
  pool.give(Buffer.alloc(2048).subarray(0, 1024));
  pool.give(Buffer.alloc(512));
  assert.notEqual(pool.take().buffer, a.buffer, 'no part of a block, no foreign size');
  const [x, y, z] = [pool.take(), pool.take(), pool.take()];
  [x, y, z].forEach((b) => pool.give(b!));
  const back = new Set([pool.take(), pool.take(), pool.take()]);
  assert.equal([x, y, z].filter((b) => back.has(b!)).length, 2, 'at most `keep` blocks kept');
});

test("a push's path: the tar in pool blocks, compressed and given back while later blocks are read; the gzip is the tar", async () => {
  const t = tempRoot('berth-push-pool');
  try {
    const store = await ImageStore.open(`${t.root}/store`);
    const dir = `${t.root}/upper`;
    fs.mkdirSync(`${dir}/d`, { recursive: true });
    for (let i = 0; i < 40; i++) fs.writeFileSync(`${dir}/d/f${i}`, randomBytes(1000 + i * 997));
    fs.writeFileSync(`${dir}/d/text`, Buffer.from('the same line again\n'.repeat(20_000)));
    const layer = await store.withTxn('test', (txn) => store.layers.adopt(txn, undefined, dir, (fn) => store.lock(fn)));
    const whole = Buffer.concat(await collect(store.layers.tar(layer.chainID)));
    const pool = new BlockPool(16_384);
    const buffers = new Set<ArrayBufferLike>();
    let chunks = 0;
    async function* watched() {
      for await (const c of store.layers.tar(layer.chainID, pool)) {
        buffers.add(c.buffer);
        chunks++;
        yield c;
      }
    }
    const gz = new ParallelGzip({ pool, inFlight: 2 });
    const out = Buffer.concat(await collect(gz.compress(watched())));
    assert.ok(gunzipSync(out).equals(whole), 'every block compressed from the bytes it had when given out');
    assert.equal(gz.result().digest, `sha256:${createHash('sha256').update(out).digest('hex')}`);
    assert.ok(chunks > 20, `${chunks} chunks`);
    assert.ok(buffers.size <= 6, `${buffers.size} buffers for ${chunks} chunks: blocks were reused`);
  } finally {
    t.remove();
  }
});
