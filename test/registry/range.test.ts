/**
 * Pure: the Range a resumed download asks with, Content-Range parsing, and what a blob GET's answer
 * means for a download holding `from` bytes of a `size`-byte blob (registry/range.ts); partial files' names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContentRange, rangeAnswer, rangeFrom } from '../../src/registry/range.js';
import { digestOfPartial, partialName } from '../../src/storage/partial-blobs.js';

test('Range: bytes=N-', () => {
  assert.equal(rangeFrom(0), 'bytes=0-');
  assert.equal(rangeFrom(120000), 'bytes=120000-');
});

test('Content-Range: byte ranges, unknown and unsatisfied totals; malformed ones refused', () => {
  assert.deepEqual(parseContentRange('bytes 100-199/200'), { unit: 'bytes', first: 100, last: 199, total: 200 });
  assert.deepEqual(parseContentRange('BYTES 0-0/1'), { unit: 'bytes', first: 0, last: 0, total: 1 });
  assert.deepEqual(parseContentRange(' bytes 5-9/* '), { unit: 'bytes', first: 5, last: 9, total: undefined });
  assert.deepEqual(parseContentRange('bytes */1234'), { unit: 'bytes', unsatisfied: true, total: 1234 });
  for (const bad of [
    undefined,
    '',
    'bytes',
    'bytes 100-199',
    'bytes 199-100/200', // last before first
    'bytes 100-200/200', // last past the end
    'bytes */*',
    'items 0-1/2',
    'bytes -1-5/10',
    'bytes 1-5/10, 7-8/10',
    'bytes 0-9999999999999999/99999999999999999', // past 2^53
  ])
    assert.equal(parseContentRange(bad), undefined, String(bad));
  assert.equal(parseContentRange(['bytes 0-1/2']), undefined);
});

test('answers to a resumed GET: 206 for exactly the rest resumes; 200 is the whole blob; 416 and other 206s restart', () => {
  const h = (cr?: string, len?: string) => ({ 'content-range': cr, 'content-length': len });
  assert.deepEqual(rangeAnswer(206, h('bytes 100-999/1000', '900'), 100, 1000), { kind: 'resume' });
  assert.deepEqual(rangeAnswer(206, h('bytes 100-999/*'), 100, 1000), { kind: 'resume' });
  assert.deepEqual(rangeAnswer(200, h(undefined, '1000'), 100, 1000), { kind: 'whole' });
  assert.deepEqual(rangeAnswer(200, h(), 0, 1000), { kind: 'whole' });
  const restart = (status: number, cr?: string, len?: string) => {
    const a = rangeAnswer(status, h(cr, len), 100, 1000);
    assert.equal(a.kind, 'restart', `${status} ${cr} ${len}`);
    return a.kind === 'restart' ? a.why : '';
  };
  assert.match(restart(416, 'bytes */1000'), /refused the range bytes=100- \(416\)/);
  assert.match(restart(206, 'bytes 0-999/1000'), /sent bytes 0-999\/1000 for bytes=100- of a 1000-byte blob/);
  assert.match(restart(206, 'bytes 100-499/1000'), /sent bytes 100-499/); // a part of the rest only
  assert.match(restart(206, 'bytes 100-999/2000'), /sent bytes 100-999\/2000/); // another blob's size
  assert.match(restart(206, undefined), /invalid Content-Range \(none\)/);
  assert.match(restart(206, 'bytes */1000'), /invalid Content-Range/);
  assert.match(restart(206, 'bytes 100-999/1000', '500'), /a 206 answer of 500 bytes for the 900 bytes from 100/);
  for (const status of [404, 401, 500, 503, 302])
    assert.deepEqual(rangeAnswer(status, h(), 100, 1000), { kind: 'error' });
});

test('partial file names: <algorithm>-<hex>, and back; nothing else', () => {
  const d = `sha256:${'0a'.repeat(32)}`;
  assert.equal(partialName(d), `sha256-${'0a'.repeat(32)}`);
  assert.equal(digestOfPartial(partialName(d)!), d);
  assert.equal(partialName(`sha512:${'f'.repeat(128)}`), `sha512-${'f'.repeat(128)}`);
  for (const bad of [
    'sha256:../x',
    'sha256:ABC',
    `sha256:${'a'.repeat(20)}`,
    'sha256',
    '../../etc',
    `x/y:${'a'.repeat(64)}`,
  ])
    assert.equal(partialName(bad), undefined, bad);
  for (const bad of ['.tmp', 'sha256:abc', `sha256-${'a'.repeat(64)}.x`])
    assert.equal(digestOfPartial(bad), undefined, bad);
});
