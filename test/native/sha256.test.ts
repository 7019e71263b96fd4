import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sha256 } from '../../src/core/digest.js';
import { sha256Hex } from '../../src/native/index.js';

const ref = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

test("the addon's sha256 is OpenSSL's: known digests, every length around the padding edges, views", () => {
  assert.equal(sha256Hex(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(sha256Hex(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 0; n <= 200; n++) {
    const b = randomBytes(n);
    assert.equal(sha256Hex(b), ref(b), `length ${n}`);
  }
  const big = randomBytes(5000);
  const view = big.subarray(17, 4000);
  assert.equal(sha256Hex(view), ref(view));
  assert.throws(() => sha256Hex('text' as unknown as Uint8Array), TypeError);
});

test('digest.sha256 (the addon for small inputs once native is loaded, node:crypto beyond) = node:crypto', () => {
  for (const s of ['', 'a', 'é ünïcode ✓ 🐳', 'x'.repeat(64 * 1024), 'y'.repeat(64 * 1024 + 1)])
    assert.equal(sha256(s), `sha256:${ref(s)}`);
  for (const n of [10, 65536, 100_000]) {
    const b = randomBytes(n);
    assert.equal(sha256(b), `sha256:${ref(b)}`);
  }
});
