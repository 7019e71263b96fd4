import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_LOWERS,
  hasLowerdirAppend,
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

test('mount API parameters: absolute paths, one lowerdir+ per layer in order, flags and index as parameters', () => {
  const m = mountSpec('/o', 'abc', 'l/I:l/A', true, { volatile: true });
  assert.equal(m.options, 'index=off,lowerdir=l/I:l/A,upperdir=abc/diff,workdir=abc/work,volatile');
  assert.equal(m.absoluteOptions, 'index=off,lowerdir=/o/l/I:/o/l/A,upperdir=/o/abc/diff,workdir=/o/abc/work,volatile');
  assert.deepEqual(m.params, [
    ['source', 'overlay', false],
    ['index', 'off', false],
    ['volatile', null, false],
    ['lowerdir+', '/o/l/I', true],
    ['lowerdir+', '/o/l/A', true],
    ['upperdir', '/o/abc/diff', true],
    ['workdir', '/o/abc/work', true],
  ]);
  assert.deepEqual(
    mountSpec('/o', 'x', 'l/A', false).params.map((p) => p[0]),
    ['source', 'lowerdir+', 'upperdir', 'workdir'],
  );
});

test('lowerdir+ (layers one at a time through the mount API) is there from Linux 6.8', () => {
  const cases: Array<[string, boolean]> = [
    ['6.18.44-fc-v1300', true],
    ['6.8.0-45-generic', true],
    ['7.0.1', true],
    ['6.7.12', false],
    ['6.1.0-28-amd64', false],
    ['5.15.0', false],
    ['4.19.0', false],
    ['', false],
    ['garbage', false],
  ];
  for (const [release, want] of cases) assert.equal(hasLowerdirAppend(release), want, release);
});
