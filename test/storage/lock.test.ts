import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { FileLock } from '../../src/storage/lock.js';
import { tempRoot } from '../helpers/berth.js';

// Lock files are unlinked by their holder when their subject is gone; whoever locked the old inode must not think it
// holds the lock.
const t = tempRoot('berth-lock');
const path = `${t.root}/l`;
const heldAtPath = (l: FileLock) => {
  const held = fs.fstatSync(l.descriptor);
  const now = fs.statSync(l.path);
  return held.ino === now.ino && held.dev === now.dev;
};

test('remove unlinks the file while holding it; the next locker makes a new one', async () => {
  const a = await FileLock.acquire(path);
  assert.equal(FileLock.tryAcquire(path, true), undefined, 'held');
  a.remove();
  assert.equal(fs.existsSync(path), false);
  a.release(); // already released: no-op
  assert.equal(FileLock.tryAcquire(path), undefined, 'without create, a missing file is not made');
  assert.equal(fs.existsSync(path), false);
  const b = FileLock.tryAcquire(path, true)!;
  assert.ok(b && heldAtPath(b));
  b.remove();
});

test('a waiter on a file its holder removes ends up holding the file at the path', async () => {
  const holder = await FileLock.acquire(path);
  // each waiter checks its lock and removes it in turn (they contend with each other too)
  const check = (l: FileLock | undefined) => {
    if (!l) return 'none';
    const at = heldAtPath(l);
    l.remove();
    return at ? 'at path' : 'unlinked file';
  };
  const waiters = [
    FileLock.acquire(path).then(check),
    FileLock.acquireWithin(path, 5000).then(check),
    FileLock.acquireWithin(path, 5000, { create: false }).then(check),
  ];
  await new Promise((r) => setTimeout(r, 30)); // the waiters have opened the old inode and poll it
  holder.remove();
  const got = await Promise.all(waiters);
  // the first two make the file again; the third does not create it, so it gets nothing or a file another made
  assert.deepEqual(got.slice(0, 2), ['at path', 'at path']);
  assert.notEqual(got[2], 'unlinked file');
  assert.equal(fs.existsSync(path), false);
});

test('the lock excludes another process; acquireWithin gives up after its time', async () => {
  const l = await FileLock.acquire(path);
  // flock is per open file: a second process sees it held
  const probe = spawnSync('flock', ['-n', path, 'true']);
  assert.equal(probe.status, 1, 'another process cannot take it');
  const t0 = Date.now();
  assert.equal(await FileLock.acquireWithin(path, 100), undefined);
  assert.ok(Date.now() - t0 >= 100);
  l.release();
  assert.equal(spawnSync('flock', ['-n', path, 'true']).status, 0);
  const s = await FileLock.acquire(path, 'shared');
  assert.throws(() => s.remove(), /held shared/, 'a shared holder may not unlink it');
  s.release();
  fs.rmSync(path);
});

test('cleanup', () => t.remove());
