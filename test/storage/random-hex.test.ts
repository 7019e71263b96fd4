import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomHex, urandom } from '../../src/storage/fsutil.js';

test('randomHex: lowercase hex of the asked length, from /dev/urandom, never the same twice', () => {
  assert.match(randomHex(), /^[0-9a-f]{64}$/);
  assert.match(randomHex(8), /^[0-9a-f]{16}$/);
  assert.equal(randomHex(0), '');
  const seen = new Set(Array.from({ length: 1000 }, () => randomHex()));
  assert.equal(seen.size, 1000);
  // every hex digit shows up in each position over many draws (not a constant or a counter)
  const firsts = new Set(Array.from({ length: 400 }, () => randomHex(1)[0]));
  assert.equal(firsts.size, 16);
});

test('urandom: as many bytes as asked, different each time', () => {
  assert.equal(urandom(16).length, 16);
  assert.equal(urandom(0).length, 0);
  assert.notDeepEqual(urandom(32), urandom(32));
});
