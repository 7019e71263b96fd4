/**
 * The engine's operations that have no daemon counterpart, called directly:
 * a foreground run with the caller's stdio (--rm after it), host-path copies,
 * the monitor's clean-up; and what a failed start leaves: wait's Error, the
 * failing step's kind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Engine } from '../../src/engine/engine.js';
import { BerthError, type ErrorKind } from '../../src/core/errors.js';
import { checkPruneFilters } from '../../src/engine/containers.js';
import { parseSignal, splitRepoTag } from '../../src/engine/syntax.js';
import { berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';

const tmp = tempRoot('berth-engine-fg');
let engine: Engine;

before(async () => {
  berthOk(tmp.root, ['image', 'from-host', 'base', 'sh', 'sleep', 'true', 'cat']);
  engine = await Engine.open({ root: tmp.root });
});

/** Processes working in the root: monitors end by becoming `berth container cleanup` for a moment. */
function processesIn(root: string): string[] {
  return fs.readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(root);
    } catch {
      return false;
    }
  });
}

after(async () => {
  for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  for (let end = Date.now() + 10_000; processesIn(tmp.root).length && Date.now() < end;)
    await new Promise((r) => setTimeout(r, 50));
  tmp.remove();
});

function isError(kind: ErrorKind, code?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof BerthError, `a BerthError, not ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    if (code) assert.equal(e.code, code, e.message);
    return true;
  };
}

test('foreground: createForeground then runForeground runs it here, with its exit code; --rm removes it after', async () => {
  const out = `${tmp.root}/out.txt`;
  const fd = fs.openSync(out, 'w');
  try {
    const plan = engine.containers.plan({
      Config: { Image: 'base', Cmd: ['sh', '-c', 'echo hello; exit 4'] },
      HostConfig: { AutoRemove: true },
    });
    const prepared = await engine.containers.createForeground(plan, ['ignore', fd, 'inherit']);
    assert.match(prepared.Id, /^[0-9a-f]{64}$/);
    let started = false;
    const code = await engine.containers.runForeground(prepared, {
      stdio: ['ignore', fd, 'inherit'],
      onStart: () => (started = true),
    });
    assert.equal(code, 4);
    assert.ok(started);
    await assert.rejects(engine.containers.inspect(prepared.Id), isError('NotFound'));
  } finally {
    fs.closeSync(fd);
  }
  assert.equal(fs.readFileSync(out, 'utf8'), 'hello\n');
  assert.deepEqual(mountsUnder(tmp.root), []);
});

test('foreground: a created container by name (start -a); a running one is refused', async () => {
  await engine.containers.create({ name: 'fg-b', Config: { Image: 'base', Cmd: ['sh', '-c', 'exit 3'] } });
  assert.equal(await engine.containers.runForeground('fg-b', { stdio: ['ignore', 'ignore', 'ignore'] }), 3);
  assert.equal(((await engine.containers.inspect('fg-b')).State as { ExitCode: number }).ExitCode, 3);
  const { Id } = await engine.containers.create({ name: 'fg-run', Config: { Image: 'base', Cmd: ['sleep', '30'] } });
  await engine.containers.start(Id);
  await assert.rejects(
    engine.containers.runForeground('fg-run', { stdio: ['ignore', 'ignore', 'ignore'] }),
    isError('Conflict', 'already_running'),
  );
  await engine.containers.remove(Id, { force: true });
  await engine.containers.remove('fg-b');
});

test('copies between a container and host paths, both ways', async () => {
  const { Id } = await engine.containers.create({ name: 'cp-c', Config: { Image: 'base', Cmd: ['true'] } });
  const src = `${tmp.root}/host-file`;
  fs.writeFileSync(src, 'from the host\n');
  const put = await engine.containers.copyFromHost('cp-c', src, '/copied');
  assert.equal(put.bytes, 14);
  const back = `${tmp.root}/back`;
  const got = await engine.containers.copyToHost(Id, '/copied', back);
  assert.equal(got.bytes, 14);
  assert.equal(fs.readFileSync(back, 'utf8'), 'from the host\n');
  await assert.rejects(engine.containers.copyToHost(Id, '/no/such', `${tmp.root}/x`), isError('NotFound'));
  await assert.rejects(engine.containers.copyFromHost('no-such-ctr', src, '/x'), isError('NotFound'));
  await engine.containers.remove(Id);
  assert.deepEqual(mountsUnder(tmp.root), []);
});

test('wait: Error names why the start failed, as dockerd fills it from State.Error; an aborted wait rejects', async () => {
  const missing = await engine.containers.create({ Config: { Image: 'base', Cmd: ['/no/such/program'] } });
  await assert.rejects(engine.containers.start(missing.Id), isError('NotFound', 'helper_exec'));
  const w = await engine.containers.wait(missing.Id);
  assert.equal(w.StatusCode, 127);
  assert.match(w.Error?.Message ?? '', /\/no\/such\/program: executable file not found/);

  // not executable: EACCES is Forbidden (not InvalidArgument), exit 126 as docker run
  const noexec = await engine.containers.create({ Config: { Image: 'base', Cmd: ['/etc/passwd'] } });
  await assert.rejects(engine.containers.start(noexec.Id), isError('Forbidden', 'helper_exec'));
  assert.equal((await engine.containers.wait(noexec.Id)).StatusCode, 126);

  // a run that ended well has no Error
  const ok = await engine.containers.create({ Config: { Image: 'base', Cmd: ['true'] } });
  await engine.containers.start(ok.Id);
  assert.deepEqual(await engine.containers.wait(ok.Id), { StatusCode: 0 });
  // a start that succeeds after a failed one clears it
  const sleeper = await engine.containers.create({ Config: { Image: 'base', Cmd: ['sleep', '30'] } });
  await engine.containers.start(sleeper.Id);
  const ac = new AbortController();
  const waiting = engine.containers.wait(sleeper.Id, { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('context canceled')), 200);
  await assert.rejects(waiting, { kind: 'Unavailable', code: 'aborted', message: /aborted \(context canceled\)/ });
  await engine.containers.kill(sleeper.Id);
  assert.deepEqual(await engine.containers.wait(sleeper.Id), { StatusCode: 137 });
  for (const id of [missing.Id, noexec.Id, ok.Id, sleeper.Id]) await engine.containers.remove(id);
});

test('cleanup (what a monitor execs): settles a container whose run ended, ends at once for an unknown one', async () => {
  const { Id } = await engine.containers.create({ Config: { Image: 'base', Cmd: ['sh', '-c', 'exit 2'] } });
  await engine.containers.start(Id);
  await engine.containers.cleanup(Id); // waits for the run lock, then records the end
  const c = await engine.containers.inspect(Id);
  assert.equal((c.State as { Running: boolean }).Running, false);
  assert.equal((c.State as { ExitCode: number }).ExitCode, 2);
  await engine.containers.cleanup('0'.repeat(64));
  await engine.containers.cleanup('not-a-container');
  await engine.containers.remove(Id);
  assert.deepEqual(await engine.containers.settle(), []);
});

test('syntax a client parses before it calls: signals, repo:tag, prune filters', () => {
  assert.equal(parseSignal('term'), 15);
  assert.deepEqual(splitRepoTag('app:v1'), { repo: 'docker.io/library/app', tag: 'v1' });
  assert.deepEqual(splitRepoTag('localhost:5000/app'), { repo: 'localhost:5000/app' });
  assert.throws(() => splitRepoTag(`app@sha256:${'a'.repeat(64)}`), isError('InvalidArgument', 'invalid_reference'));
  checkPruneFilters({ label: ['a=b'], until: ['1h'] });
  assert.throws(() => checkPruneFilters({ colour: ['red'] }), isError('InvalidArgument'));
});
