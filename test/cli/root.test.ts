/**
 * A data root that cannot be one fails at once, naming the path: under /proc
 * (where Node's recursive mkdir would retry forever), a file, a read-only file
 * system. And mkdirp, which makes the root, unit-tested.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BERTH, tempRoot } from '../helpers/berth.js';
import { mkdirp } from '../../src/storage/fsutil.js';

function berthAt(root: string, args: string[]) {
  const t0 = Date.now();
  const r = spawnSync(BERTH, ['--root', root, ...args], { timeout: 30_000 });
  return { code: r.status, stderr: r.stderr.toString(), ms: Date.now() - t0, signal: r.signal };
}

test('a root under /proc, a file, or a path through a file: an error naming it, at once', () => {
  const tmp = tempRoot('berth-bad-root');
  try {
    fs.writeFileSync(`${tmp.root}/file`, '');
    for (const [root, why] of [
      ['/proc/self/nonexist', /ENOENT/],
      ['/proc/self/nonexist/deeper', /ENOENT/],
      [`${tmp.root}/file`, /ENOTDIR/],
      [`${tmp.root}/file/below`, /ENOTDIR/],
    ] as const) {
      const r = berthAt(root, ['ps']);
      assert.equal(r.signal, null, `${root}: berth was killed after ${r.ms} ms (it hung)`);
      assert.equal(r.code, 1, `${root}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`open data root "${root}": `), root);
      assert.match(r.stderr, why, root);
      assert.ok(!/internal error/.test(r.stderr), r.stderr);
    }
  } finally {
    tmp.remove();
  }
});

test('a root on a read-only file system: Forbidden, naming what could not be made', () => {
  const tmp = tempRoot('berth-ro-root');
  const mnt = `${tmp.root}/ro`;
  fs.mkdirSync(mnt);
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mnt]).status, 0);
  try {
    for (const root of [mnt, `${mnt}/below`]) {
      const r = berthAt(root, ['images']);
      assert.equal(r.signal, null, `${root}: it hung`);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`open data root "${root}": EROFS: read-only file system, mkdir '${mnt}`));
    }
  } finally {
    spawnSync('umount', [mnt]);
    tmp.remove();
  }
});

test('mkdirp: makes the missing parents, takes an existing dir, refuses a file, never loops', () => {
  const tmp = tempRoot('berth-mkdirp');
  try {
    mkdirp(`${tmp.root}/a/b/c`, 0o700);
    assert.equal(fs.statSync(`${tmp.root}/a/b/c`).mode & 0o777, 0o700);
    assert.equal(fs.statSync(`${tmp.root}/a`).mode & 0o777, 0o700);
    mkdirp(`${tmp.root}/a/b/c`);
    mkdirp(`${tmp.root}/a/b/`);
    fs.writeFileSync(`${tmp.root}/f`, '');
    assert.throws(() => mkdirp(`${tmp.root}/f`), { code: 'ENOTDIR' });
    assert.throws(() => mkdirp(`${tmp.root}/f/x/y`), { code: 'ENOTDIR' });
    assert.throws(() => mkdirp('/proc/self/nonexist/x'), { code: 'ENOENT' });
    // many at once (other processes or requests make the same parents): all succeed
    for (let i = 0; i < 20; i++) mkdirp(`${tmp.root}/m/${i % 3}/${i}`);
    assert.equal(fs.readdirSync(`${tmp.root}/m`).length, 3);
  } finally {
    tmp.remove();
  }
});
