import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { alive, berth, berthOk, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';

// Who runs a container after restart (its light monitor, nothing else), and run locks that go with their container.
const t = tempRoot('berth-runlock');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
const locks = () =>
  fs
    .readdirSync(`${root}/berth/locks`)
    .filter((f) => f.startsWith('ctr-'))
    .map((f) => f.slice(4))
    .sort();
const existing = () => ok(['ps', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean).sort();

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
});
after(() => {
  for (const c of existing()) berth(root, ['rm', '-f', c]);
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

/** Live processes whose command line mentions the container (the monitor's `container cleanup <id>`, a berth). */
function processesNaming(id: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (alive(Number(pid)) && (cmd.includes(id) || cmd.includes('container cleanup'))) out.push(`${pid} ${cmd}`);
  }
  return out;
}

const monitorOf = (id: string) =>
  JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number; Pid: number };

test("after restart the monitor alone runs the container: the old run's clean-up does not wait for the new run", async () => {
  const id = ok(['run', '-d', 'base', 'sleep', '600']);
  for (let i = 0; i < 3; i++) {
    const old = monitorOf(id).MonitorPid;
    ok(['restart', '-t', '0', id]);
    const now = monitorOf(id);
    assert.notEqual(now.MonitorPid, old);
    assert.ok(alive(now.MonitorPid) && alive(now.Pid));
    // the old monitor became `berth container cleanup` (Node) when its run ended: it must end by itself
    await waitFor(() => (processesNaming(id).length === 0 ? true : undefined), 15000).catch(() =>
      assert.fail(`left running after restart:\n${processesNaming(id).join('\n')}`),
    );
    assert.match(fs.readFileSync(`/proc/${now.MonitorPid}/cmdline`, 'utf8'), /berth-helper/);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}}', id]), 'running');
  }
  assert.deepEqual(locks(), [id]);
  ok(['stop', '-t', '0', id]);
  assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]), 'exited 137');
  await waitFor(() => (processesNaming(id).length === 0 ? true : undefined), 15000);
  ok(['rm', id]);
  assert.deepEqual(locks(), []);
});

test('run, start, exec, restart, stop, rm cycles leave run locks only for containers that exist', async () => {
  const kept = ok(['create', '--name', 'kept', 'base', 'true']);
  for (let i = 0; i < 4; i++) {
    ok(['run', '--rm', 'base', 'true']);
    const rmd = ok(['run', '-d', '--rm', 'base', 'true']);
    berth(root, ['wait', rmd]); // (it may be gone already)
    const d = ok(['run', '-d', 'base', 'sleep', '600']);
    ok(['exec', d, 'true']);
    ok(['restart', '-t', '0', d]);
    ok(['exec', d, 'true']);
    ok(['stop', '-t', '0', d]);
    ok(['start', d]);
    ok(['rm', '-f', d]);
    const c = ok(['create', 'base', 'sh', '-c', 'exit 2']);
    assert.equal(berth(root, ['start', '-a', c]).code, 2);
    ok(['rm', c]);
    assert.equal(berth(root, ['start', '-a', kept]).code, 0);
  }
  // the clean-ups of --rm containers end on their own: afterwards only the existing container has a lock
  await waitFor(() => (processesNaming('container cleanup').length === 0 ? true : undefined), 15000);
  ok(['ps', '-a']);
  assert.deepEqual(existing(), [kept]);
  assert.deepEqual(locks(), [kept]);
  ok(['rm', 'kept']);
  assert.deepEqual(locks(), []);
  assert.deepEqual(
    fs.readdirSync(`${root}/berth/locks`).filter((f) => !f.startsWith('ctr-')),
    [],
    'no other lock file either',
  );
});

test('load leaves no per-layer lock files behind', () => {
  const other = tempRoot('berth-runlock-load');
  try {
    const tar = `${other.root}.tar`;
    ok(['save', '-o', tar, 'base']);
    berthOk(other.root, ['load', '-i', tar]);
    fs.rmSync(tar);
    assert.deepEqual(fs.readdirSync(`${other.root}/berth/locks`), []);
  } finally {
    other.remove();
  }
});

test('a lock file left for a container that no longer exists is removed by the next command', () => {
  const stray = `${root}/berth/locks/ctr-${'ab'.repeat(32)}`;
  fs.writeFileSync(stray, '');
  ok(['ps']);
  assert.equal(fs.existsSync(stray), false);
});
