import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive, berth, berthOk, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';
import { Engine } from '../../src/engine/index.js';
import { lockWaitTuning, lockWakes } from '../../src/storage/lock-watch.js';
import { openWatches } from '../../src/native/inotify.js';

// Long waits of the engine take an AbortSignal, and the clean-up of a container waits for its run lock woken by
// the lock's release (its monitor's end), not by a timer.
const t = tempRoot('berth-engine-aborts');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
let engine: Engine;
const pids = new Set<number>();
const runD = (args: string[]) => {
  const id = ok(['run', '-d', ...args]);
  const s = JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number };
  pids.add(s.MonitorPid);
  return id;
};

/** Live `berth container cleanup` processes of this root. */
const cleanups = () =>
  fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes(root) && cmd.includes('cleanup') && alive(Number(p));
      } catch {
        return false;
      }
    });

before(async () => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'true', 'cat']);
  engine = await Engine.open({ root });
});
after(() => {
  lockWaitTuning.safetyMs = 1000;
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  const end = Date.now() + 10000;
  while ([...pids].some(alive) && Date.now() < end) spawnSync('sleep', ['0.1']);
  for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('cleanup waits for the run lock woken by the monitor letting go, not by a timer', async () => {
  lockWaitTuning.safetyMs = 600_000; // far beyond the test: only the event can wake the wait
  const id = runD(['base', 'sleep', '600']);
  const before = { ...lockWakes };
  const cs = engine.containerStore;
  const settled = cs.cleanup(id);
  while (openWatches().watches === 0) await sleep(1);
  assert.equal(cs.tryGet(id)?.State.Running, true, 'the monitor holds the lock: the clean-up waits');
  ok(['kill', id]); // the container ends, its monitor closes everything and execs its own clean-up
  await settled;
  assert.ok(lockWakes.event > before.event, 'woken by the release');
  assert.equal(lockWakes.safety, before.safety, 'no safety-net re-check ran');
  assert.deepEqual(openWatches(), { wds: 0, watches: 0 });
  assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]), 'exited 137');
  await waitFor(() => (cleanups().length === 0 ? true : undefined), 15000); // the monitor's own clean-up ends too
});

test('a detached container that ends by itself is settled as its monitor exits', async () => {
  const id = runD(['base', 'sh', '-c', 'sleep 0.2; exit 3']);
  const { StatusCode } = await engine.containers.wait(id);
  assert.equal(StatusCode, 3);
  await waitFor(() => (cleanups().length === 0 ? true : undefined), 15000);
  assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]), 'exited 3');
  assert.deepEqual(mountsUnder(`${root}/overlay2`), []);
});

test('cleanup and wait take an AbortSignal: aborted, they reject and leave nothing; the container goes on', async () => {
  const id = runD(['base', 'sleep', '600']);
  const ac = new AbortController();
  const cleaning = engine.containerStore.cleanup(id, undefined, ac.signal);
  const waiting = engine.containers.wait(id, { signal: ac.signal });
  while (openWatches().watches === 0) await sleep(1);
  ac.abort();
  await assert.rejects(cleaning, { kind: 'Unavailable', code: 'aborted' });
  await assert.rejects(waiting, { kind: 'Unavailable', code: 'aborted' });
  assert.deepEqual(openWatches(), { wds: 0, watches: 0 });
  assert.equal(ok(['inspect', '-f', '{{.State.Status}}', id]), 'running');
  await assert.rejects(engine.containers.wait(id, { condition: 'next-exit', signal: AbortSignal.abort() }), {
    code: 'aborted',
  });
  ok(['rm', '-f', id]);
});

test('exec start takes an AbortSignal: the caller stops waiting, the exec goes on and its end is recorded', async () => {
  const id = runD(['base', 'sleep', '600']);
  const { Id } = await engine.containers.execCreate(id, { Cmd: ['sleep', '600'], AttachStdout: true });
  const ac = new AbortController();
  const started = engine.containers.execStart(Id, { signal: ac.signal }, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = await waitFor(() => engine.containers.execInspect(Id).Pid || undefined);
  assert.ok(alive(pid));
  ac.abort();
  await assert.rejects(started, { kind: 'Unavailable', code: 'aborted' });
  assert.ok(alive(pid), 'the exec goes on (as with dockerd when its client goes away)');
  const i = engine.containers.execInspect(Id);
  assert.equal(i.Running, true);
  process.kill(pid, 'SIGKILL');
  await waitFor(() => (engine.containers.execInspect(Id).Running ? undefined : true));
  assert.equal(engine.containers.execInspect(Id).ExitCode, 137);
  // aborted before it starts: nothing runs, and it may still be started
  const { Id: later } = await engine.containers.execCreate(id, { Cmd: ['true'] });
  await assert.rejects(engine.containers.execStart(later, { signal: AbortSignal.abort() }), { code: 'aborted' });
  assert.equal(await engine.containers.execStart(later), 0);
  ok(['rm', '-f', id]);
});
