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
  assert.throws(() => native.gzipCompress(a, 13), RangeError);
  assert.throws(() => native.gzipCompress(a, -1), RangeError);
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
    for (const size of [1, 511, 4096, 100_000, 1 << 22]) {
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
