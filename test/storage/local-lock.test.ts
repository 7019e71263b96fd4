import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileLock, withLock } from '../../src/storage/lock.js';
import { LocalLock } from '../../src/storage/local-lock.js';
import { tempRoot } from '../helpers/berth.js';

// Many async operations of one process on one lock file: they take it one at a time, in the order they asked, waiting
// on promises (the event loop runs on, no polling), and another process still sees it held.
const t = tempRoot('berth-locallock');
after(() => t.remove());
let n = 0;
const fresh = () => `${t.root}/lock-${n++}`;

test('100 same-process lockers: one at a time, first come first served, no update lost', async () => {
  const path = fresh();
  let inside = 0;
  let most = 0;
  let counter = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      withLock(path, async () => {
        inside++;
        most = Math.max(most, inside);
        order.push(i);
        const seen = counter;
        await sleep(i % 3); // the critical section awaits: a second holder would interleave here
        counter = seen + 1;
        inside--;
      }),
    ),
  );
  assert.equal(counter, 100);
  assert.equal(most, 1);
  assert.deepEqual(
    order,
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.deepEqual(LocalLock.pending(path), { holders: 0, waiters: 0 });
});

test('waiters of this process use no CPU and do not stop the event loop while the holder works', async () => {
  const path = fresh();
  const holder = await FileLock.acquire(path);
  const waiters = Array.from({ length: 50 }, () => FileLock.acquire(path));
  const cpu0 = process.cpuUsage();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  await sleep(300);
  clearInterval(timer);
  const cpu = process.cpuUsage(cpu0);
  assert.deepEqual(LocalLock.pending(path), { holders: 1, waiters: 50 });
  assert.ok(ticks >= 15, `the event loop ran ${ticks} timer ticks in 300 ms`);
  assert.ok(cpu.user + cpu.system < 100_000, `waiting used ${(cpu.user + cpu.system) / 1000} ms of CPU`);
  holder.release();
  for (const w of waiters) (await w).release();
  assert.deepEqual(LocalLock.pending(path), { holders: 0, waiters: 0 });
});

test('shared holders share; an exclusive request waits for them, and shared ones after it wait for it', async () => {
  const path = fresh();
  const events: string[] = [];
  const s1 = await FileLock.acquire(path, 'shared');
  const s2 = await FileLock.acquire(path, 'shared');
  const x = FileLock.acquire(path).then((l) => (events.push('x'), l));
  const s3 = FileLock.acquire(path, 'shared').then((l) => (events.push('s3'), l));
  await sleep(20);
  assert.deepEqual(events, []);
  assert.equal(FileLock.tryAcquire(path), undefined, 'tryAcquire does not jump the queue');
  s1.release();
  await sleep(20);
  assert.deepEqual(events, [], 'one shared holder is left');
  s2.release();
  const xl = await x;
  await sleep(20);
  assert.deepEqual(events, ['x']);
  xl.release();
  (await s3).release();
  assert.deepEqual(events, ['x', 's3']);
});

test('a request that times out leaves the queue; those behind it go on', async () => {
  const path = fresh();
  const s = await FileLock.acquire(path, 'shared');
  const x = FileLock.acquireWithin(path, 50); // exclusive: waits for the shared holder, then gives up
  const s2 = FileLock.acquireWithin(path, 5000, { mode: 'shared' }); // behind x
  assert.equal(await x, undefined);
  const got = await s2;
  assert.ok(got, 'the shared request behind the one that gave up is granted');
  got.release();
  s.release();
  assert.deepEqual(LocalLock.pending(path), { holders: 0, waiters: 0 });
});

test('another process holding the file: the head of the queue waits for it, the rest wait in turn', async () => {
  const path = fresh();
  const child = spawn('flock', [path, 'sleep', '0.3'], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  await sleep(100);
  const t0 = Date.now();
  const order: number[] = [];
  await Promise.all(Array.from({ length: 10 }, (_, i) => withLock(path, () => void order.push(i))));
  assert.ok(Date.now() - t0 >= 150, 'waited for the other process');
  assert.deepEqual(
    order,
    Array.from({ length: 10 }, (_, i) => i),
  );
  await exited;
});

test('a holder that throws releases: the next one gets it', async () => {
  const path = fresh();
  const a = withLock(path, () => {
    throw new Error('boom');
  });
  const b = withLock(path, () => 'b');
  await assert.rejects(a, /boom/);
  assert.equal(await b, 'b');
  assert.deepEqual(LocalLock.pending(path), { holders: 0, waiters: 0 });
});
