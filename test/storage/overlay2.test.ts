import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_LOWERS,
  isLinkName,
  lowerFor,
  mountSpec,
  newLinkName,
  readOnlyOptions,
} from '../../src/storage/overlay2.js';

test('link names are 26 base32 characters, random', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const l = newLinkName();
    assert.ok(isLinkName(l), l);
    seen.add(l);
  }
  assert.equal(seen.size, 200);
});

test('lower: parent link first, then the parent lower', () => {
  assert.equal(lowerFor('AAA', undefined), 'l/AAA');
  assert.equal(lowerFor('BBB', 'l/AAA'), 'l/BBB:l/AAA');
  assert.equal(lowerFor('CCC', 'l/BBB:l/AAA'), 'l/CCC:l/BBB:l/AAA');
  const deep = Array.from({ length: MAX_LOWERS }, (_, i) => `l/X${i}`).join(':');
  assert.throws(() => lowerFor('Y', deep), /too many lower layers/);
});

test('mount options are relative to the overlay2 dir, index=off when the parameter exists', () => {
  const m = mountSpec('/var/lib/berth/overlay2', 'abc', 'l/I:l/A', true);
  assert.equal(m.options, 'index=off,lowerdir=l/I:l/A,upperdir=abc/diff,workdir=abc/work');
  assert.equal(m.cwd, '/var/lib/berth/overlay2');
  assert.equal(m.target, '/var/lib/berth/overlay2/abc/merged');
  assert.equal(mountSpec('/o', 'x', 'l/A', false).options, 'lowerdir=l/A,upperdir=x/diff,workdir=x/work');
  assert.equal(readOnlyOptions('T', 'l/B:l/A'), 'lowerdir=l/T:l/B:l/A');
  assert.equal(readOnlyOptions('T', undefined), 'lowerdir=l/T');
});
