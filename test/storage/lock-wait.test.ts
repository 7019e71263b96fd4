import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileLock } from '../../src/storage/lock.js';
import { LocalLock } from '../../src/storage/local-lock.js';
import { LockWatch, lockWaitTuning, lockWakes } from '../../src/storage/lock-watch.js';
import { inotifyCounters, openWatches, watchPath } from '../../src/native/inotify.js';
import * as native from '../../src/native/index.js';
import { BerthError } from '../../src/core/errors.js';
import { REPO, tempRoot } from '../helpers/berth.js';

// Waiting for a lock another process holds is woken by the kernel (inotify on the lock file), not by a timer:
// a second process holds the lock, and the waiter here must get it once that process lets go or dies, with the
// safety net's period far longer than the test could wait (so only an event can have woken it).
const t = tempRoot('berth-lockwait');
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
  t.remove();
});
afterEach(() => {
  lockWaitTuning.safetyMs = 1000;
});
let n = 0;
const fresh = () => `${t.root}/lock-${n++}`;
const ADDON = `${REPO}/native/build/Release/berth_native.node`;

/** A process holding `path` (flock, by the native module): it says "held", then lets go when its stdin ends. */
async function holder(path: string): Promise<ChildProcess> {
  const src =
    `const b=require(${JSON.stringify(ADDON)});const fs=require('fs');` +
    `const fd=fs.openSync(${JSON.stringify(path)},fs.constants.O_RDWR|fs.constants.O_CREAT,0o600);b.flock(fd,2);` +
    `process.stdout.write('held\\n');process.stdin.resume();process.stdin.on('end',()=>process.exit(0));`;
  const c = spawn(process.execPath, ['-e', src], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(c);
  c.on('exit', () => children.delete(c));
  await once(c.stdout!, 'data');
  return c;
}

/** Descriptors of this process open on `path`. */
function fdsOn(path: string): number {
  let k = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === path) k++;
    } catch {
      /* closed meanwhile */
    }
  }
  return k;
}

/** Until this process watches something (the waiter has armed its watch). */
async function untilWatching(): Promise<void> {
  while (openWatches().watches === 0) await sleep(1);
}

const nothingLeft = (path: string) => {
  assert.deepEqual(openWatches(), { wds: 0, watches: 0 }, 'no watch left');
  assert.deepEqual(LocalLock.pending(path), { holders: 0, waiters: 0 }, 'no queued request left');
  assert.equal(fdsOn(path), 0, 'no descriptor left');
};

test('a waiter is woken by the release of a holder in another process, not by a timer', async () => {
  lockWaitTuning.safetyMs = 600_000;
  const path = fresh();
  const h = await holder(path);
  const before = { ...lockWakes };
  const batches = inotifyCounters.batches;
  let got = false;
  const waiting = FileLock.acquire(path).then((l) => ((got = true), l));
  await untilWatching();
  assert.equal(got, false, 'held by the other process');
  assert.equal(openWatches().wds, 1);
  h.stdin!.end(); // the holder exits: its close of the file is the event
  const l = await waiting;
  assert.ok(lockWakes.event > before.event, 'woken by the event');
  assert.equal(lockWakes.safety, before.safety, 'no safety-net re-check ran');
  assert.ok(inotifyCounters.batches > batches);
  assert.equal(spawnSync('flock', ['-n', path, 'true']).status, 1, 'held here now');
  l.release();
  nothingLeft(path);
});

test('a holder killed with SIGKILL wakes the waiter (the kernel closes its descriptors)', async () => {
  lockWaitTuning.safetyMs = 600_000;
  const path = fresh();
  const h = await holder(path);
  const before = { ...lockWakes };
  const waiting = FileLock.acquire(path, 'shared');
  await untilWatching();
  h.kill('SIGKILL');
  const l = await waiting;
  assert.ok(lockWakes.event > before.event);
  assert.equal(lockWakes.safety, before.safety);
  l.release();
  nothingLeft(path);
});

test('util-linux flock as the holder; a timed wait gets the lock when it is let go in time', async () => {
  lockWaitTuning.safetyMs = 600_000;
  const path = fresh();
  fs.writeFileSync(path, '');
  const h = spawn('flock', [path, 'cat'], { stdio: ['pipe', 'ignore', 'inherit'] });
  children.add(h);
  while (spawnSync('flock', ['-n', path, 'true']).status === 0) await sleep(2);
  const before = { ...lockWakes };
  const waiting = FileLock.acquireWithin(path, 60_000, { create: false });
  await untilWatching();
  h.stdin!.end();
  const l = await waiting;
  assert.ok(l, 'got it');
  assert.ok(lockWakes.event > before.event);
  assert.equal(lockWakes.safety, before.safety);
  l.release();
  nothingLeft(path);
});

test('many waiters in one process: the head of each queue alone watches its file; all get it in turn', async () => {
  lockWaitTuning.safetyMs = 600_000;
  const paths = [fresh(), fresh(), fresh()];
  const holders = await Promise.all(paths.map(holder));
  const order: string[] = [];
  const waits = paths.flatMap((p, j) =>
    Array.from({ length: 20 }, (_, i) =>
      FileLock.acquire(p).then((l) => {
        order.push(`${j}:${i}`);
        l.release();
      }),
    ),
  );
  while (openWatches().wds < paths.length) await sleep(1);
  assert.deepEqual(openWatches(), { wds: 3, watches: 3 }, 'one watch per file, by the head of its queue');
  for (const p of paths) assert.equal(LocalLock.pending(p).waiters, 19);
  assert.equal(order.length, 0);
  const before = { ...lockWakes };
  for (const h of holders) h.stdin!.end();
  await Promise.all(waits);
  assert.equal(order.length, 60);
  for (let j = 0; j < 3; j++)
    assert.deepEqual(
      order.filter((o) => o.startsWith(`${j}:`)),
      Array.from({ length: 20 }, (_, i) => `${j}:${i}`),
      'first come first served',
    );
  assert.ok(lockWakes.event - before.event >= 3);
  assert.equal(lockWakes.safety, before.safety);
  for (const p of paths) nothingLeft(p);
});

test('abort while waiting: rejects with a BerthError, leaves no watch, queued request or descriptor', async () => {
  const path = fresh();
  const h = await holder(path);
  const head = new AbortController();
  const queued = new AbortController();
  const first = FileLock.acquire(path, 'exclusive', { signal: head.signal });
  const second = FileLock.acquireWithin(path, Infinity, { signal: queued.signal });
  const third = FileLock.acquire(path); // not aborted: it goes on once the holder lets go
  await untilWatching();
  assert.equal(fdsOn(path), 1, 'the head of the queue keeps its descriptor between attempts');
  queued.abort();
  await assert.rejects(second, (e: unknown) => {
    assert.ok(e instanceof BerthError);
    assert.equal(e.kind, 'Unavailable');
    assert.equal(e.code, 'aborted');
    assert.match(e.message, /lock ".*": the wait: aborted/);
    return true;
  });
  assert.deepEqual(LocalLock.pending(path), { holders: 1, waiters: 1 }, 'the aborted request left the queue');
  head.abort(new Error('shutting down'));
  await assert.rejects(first, { code: 'aborted', message: /shutting down/ });
  await untilWatching(); // the third is the head now, and watches
  h.stdin!.end();
  (await third).release();
  nothingLeft(path);
  // already aborted: rejects at once, takes nothing
  await assert.rejects(FileLock.acquire(path, 'exclusive', { signal: AbortSignal.abort() }), { code: 'aborted' });
  nothingLeft(path);
});

test('a timed wait that runs out leaves nothing behind either', async () => {
  const path = fresh();
  const h = await holder(path);
  assert.equal(await FileLock.acquireWithin(path, 30), undefined);
  nothingLeft(path);
  h.stdin!.end();
  await once(h, 'exit');
});

test('the safety net: a holder that unlocks without closing (flock -u) wakes no one, the slow re-check finds it', async () => {
  lockWaitTuning.safetyMs = 50;
  const path = fresh();
  fs.writeFileSync(path, '');
  const sh = spawn('bash', ['-c', `exec 9<>${path}; flock 9; echo held; read; flock -u 9; echo free; read`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.add(sh);
  await once(sh.stdout!, 'data');
  const before = { ...lockWakes };
  const waiting = FileLock.acquire(path);
  await untilWatching();
  sh.stdin!.write('\n');
  const l = await waiting;
  assert.ok(lockWakes.safety > before.safety, 'only the safety net could see that');
  l.release();
  sh.stdin!.end();
  await once(sh, 'exit');
  nothingLeft(path);
});

test('LockWatch: an event wakes at once, then quick re-checks after it, then the safety net (unit)', async () => {
  lockWaitTuning.safetyMs = 40;
  const path = fresh();
  fs.writeFileSync(path, '');
  const w = new LockWatch(path);
  try {
    assert.equal(w.arm(), true);
    assert.equal(await w.wait(Date.now() + 10), 'timeout');
    fs.closeSync(fs.openSync(path, 'r')); // a close: the event
    await sleep(5);
    assert.equal(await w.wait(), 'event', 'the event that came meanwhile is not lost');
    const seen: string[] = [];
    for (let i = 0; i < 7; i++) seen.push(await w.wait());
    assert.deepEqual(seen, ['chase', 'chase', 'chase', 'chase', 'chase', 'chase', 'safety']);
    const ac = new AbortController();
    const p = w.wait(Infinity, ac.signal);
    ac.abort();
    assert.equal(await p, 'abort');
    fs.renameSync(path, `${path}.old`); // moved away: the waiter is woken to look at the path again
    assert.equal(await w.wait(), 'event');
    assert.equal(w.arm(), false, 'nothing at the path now');
  } finally {
    w.close();
  }
  assert.deepEqual(openWatches(), { wds: 0, watches: 0 });
});

test('native inotify: watches of one file share its descriptor; bad arguments are refused', async () => {
  const path = fresh();
  fs.writeFileSync(path, '');
  const got: number[] = [];
  const a = watchPath(path, native.IN_CLOSE_WRITE, (e) => got.push(e.mask));
  const b = watchPath(path, native.IN_ATTRIB, (e) => got.push(-e.mask));
  assert.equal(a.wd, b.wd);
  fs.writeFileSync(path, 'x'); // a close after writing: only the first asked for it
  fs.chmodSync(path, 0o644); // attributes: only the second
  while (got.length < 2) await sleep(1);
  assert.deepEqual(got, [native.IN_CLOSE_WRITE, -native.IN_ATTRIB]);
  a.close();
  a.close();
  assert.deepEqual(openWatches(), { wds: 1, watches: 1 });
  b.close();
  assert.deepEqual(openWatches(), { wds: 0, watches: 0 });
  assert.throws(() => watchPath(`${path}.none`, native.IN_ATTRIB, () => {}), {
    code: 'ENOENT',
    syscall: 'inotify_add_watch',
  });
  assert.throws(() => native.inotifyOpen(1 as never), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => native.inotifyAdd({} as never, path, 1), { code: 'ERR_INVALID_ARG_TYPE' });
  const own = native.inotifyOpen(() => {});
  assert.equal(native.inotifyRm(own, 12345), false);
  native.inotifyClose(own);
  native.inotifyClose(own);
  assert.throws(() => native.inotifyAdd(own, path, 1), { code: 'EBADF' });
});

test('a waiter keeps the process alive while it waits, and not a moment longer', () => {
  const path = fresh();
  // the lock held by a sub-shell for a moment: the script waits for it, takes it, lets go, and must exit by itself
  const script =
    `import { FileLock } from ${JSON.stringify(`${REPO}/dist/src/storage/lock.js`)};` +
    `const l = await FileLock.acquire(${JSON.stringify(path)}); l.release(); console.log('got');`;
  const r = spawnSync(
    'bash',
    ['-c', `flock ${path} sleep 0.3 & sleep 0.1; ${process.execPath} --input-type=module -e "$0"; wait`, script],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'got\n');
});
