/**
 * Waits of a long-lived process are woken by the container's end (inotify on
 * its directory), not by polling: a wait in progress costs next to no CPU and
 * ends soon after the container does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { Engine } from '../../src/engine/engine.js';
import { until } from '../../src/container/dir-watch.js';
import { berthOk, tempRoot, waitFor } from '../helpers/berth.js';

const tmp = tempRoot('berth-engine-waits');
let engine: Engine;

before(async () => {
  berthOk(tmp.root, ['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
  engine = await Engine.open({ root: tmp.root });
});

after(async () => {
  for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  tmp.remove();
});

/** CPU time (user + system, ms) this process spends while `p` is pending, and how long it takes. */
async function cost<T>(p: Promise<T>): Promise<{ value: T; cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const value = await p;
  const used = process.cpuUsage(cpu);
  return { value, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - t0 };
}

test('wait: a 2 s wait of a sleeping container costs almost no CPU and wakes soon after its end', async (t) => {
  for (const [name, cmd, code] of [
    ['w-zero', 'sleep 2', 0],
    ['w-seven', 'sleep 2; exit 7', 7],
  ] as const) {
    const { Id } = await engine.containers.create({ name, Config: { Image: 'base', Cmd: ['sh', '-c', cmd] } });
    await engine.containers.start(Id);
    const started = Date.now();
    // the end as the monitor records it: the moment the wait should wake from
    let endedAt = 0;
    const watchEnd = until(`${tmp.root}/containers/${Id}`, () => {
      const text = fs.existsSync(`${tmp.root}/containers/${Id}/state.json`)
        ? fs.readFileSync(`${tmp.root}/containers/${Id}/state.json`, 'utf8')
        : '';
      return text.includes('"exited"') ? (endedAt = Date.now()) : undefined;
    });
    // the same process idle without a wait, measured alike: what a loaded machine adds to both is not the wait's
    const baseline = await cost(new Promise((r) => setTimeout(r, 300)));
    const waiting = cost(engine.containers.wait(Id));
    // the CPU the wait costs while the container sleeps (its end's clean-up costs the same, polled or not)
    await new Promise((r) => setTimeout(r, 300));
    const idle = await cost(new Promise((r) => setTimeout(r, 1200)));
    const { value, wallMs } = await waiting;
    await watchEnd;
    assert.equal(value.StatusCode, code, name);
    assert.ok(wallMs >= 1500, `${name}: the wait lasted ${wallMs} ms, the container sleeps 2 s`);
    // polling every few ms to 50 ms cost 12 ms over 1.2 s; a re-check a second about 1 (the idle process included)
    const allowed = 4 + baseline.cpuMs * 4;
    assert.ok(
      idle.cpuMs < allowed,
      `${name}: the wait cost ${idle.cpuMs.toFixed(2)} ms of CPU in 1.2 s (idle ${baseline.cpuMs.toFixed(2)} ms in 0.3 s)`,
    );
    // woken by the end: the monitor's clean-up (a berth process starting) takes some of it, a poll a second more
    const late = Date.now() - endedAt;
    t.diagnostic(
      `${name}: cpu ${idle.cpuMs.toFixed(2)} ms in 1.2 s of a ${wallMs.toFixed(0)} ms wait, returned ${late} ms after the end`,
    );
    assert.ok(endedAt > started && late < 900, `${name}: the wait returned ${late} ms after the container ended`);
    await engine.containers.remove(Id);
  }
});

test('wait: next-exit and removed wake on the container end and removal, not on a timer', async () => {
  const { Id } = await engine.containers.create({
    name: 'w-removed',
    HostConfig: { AutoRemove: true },
    Config: { Image: 'base', Cmd: ['sh', '-c', 'sleep 1; exit 3'] },
  });
  const next = engine.containers.wait(Id, { condition: 'next-exit' });
  await engine.containers.start(Id);
  const removed = engine.containers.wait(Id, { condition: 'removed' });
  const [n, r] = await Promise.all([cost(next), cost(removed)]);
  assert.equal(n.value.StatusCode, 3);
  assert.equal(r.value.StatusCode, 3);
  assert.equal(fs.existsSync(`${tmp.root}/containers/${Id}`), false, 'removed once the wait returns');
  assert.ok(r.cpuMs < 60, `the waits cost ${r.cpuMs.toFixed(1)} ms of CPU`);
});

test('until: a change in the directory wakes at once, a timeout or abort ends with undefined', async () => {
  const dir = fs.mkdtempSync(`${tmp.root}/watch-`);
  setTimeout(() => fs.writeFileSync(`${dir}/flag`, ''), 300);
  const t0 = Date.now();
  assert.equal(await until(dir, () => (fs.existsSync(`${dir}/flag`) ? 'seen' : undefined)), 'seen');
  assert.ok(Date.now() - t0 < 450, `woken ${Date.now() - t0} ms after the start, the change came at 300 ms`);
  // ignored names wake nobody: only the timeout ends this one
  const ignored = until(dir, () => undefined, { timeoutMs: 400, ignore: (n) => n === 'noise' });
  const noise = setInterval(() => fs.appendFileSync(`${dir}/noise`, 'x'), 5);
  const { value, cpuMs, wallMs } = await cost(ignored);
  clearInterval(noise);
  assert.equal(value, undefined);
  assert.ok(wallMs >= 390, `the timeout ended it after ${wallMs} ms`);
  assert.ok(cpuMs < 200, `${cpuMs} ms of CPU`);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const aborted = await cost(until(dir, () => undefined, { signal: ac.signal }));
  assert.equal(aborted.value, undefined);
  assert.ok(aborted.wallMs < 300, `aborted after ${aborted.wallMs} ms`);
  // a directory that does not exist: the slow re-check alone
  assert.equal(await until(`${dir}/none`, () => 1), 1);
});

test("rm right after a wait, while the run's clean-up still holds the run lock, waits for it instead of refusing", async () => {
  const { Id } = await engine.containers.create({ name: 'w-held', Config: { Image: 'base', Cmd: ['true'] } });
  await engine.containers.start(Id);
  await engine.containers.wait(Id);
  // another process holds the run lock a moment, as the monitor's clean-up does once the container ended
  const holder = spawn('flock', [engine.containerStore.lockPath(Id), 'sleep', '0.6'], { stdio: 'ignore' });
  const exited = once(holder, 'exit');
  try {
    await waitFor(() => engine.containerStore.isLive(Id) || undefined, 5000);
    await engine.containers.remove(Id);
    assert.equal(engine.containerStore.tryGet(Id), undefined);
  } finally {
    await exited;
  }
});
