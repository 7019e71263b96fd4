import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Engine } from '../../src/engine/index.js';
import type { ImageID } from '../../src/core/digest.js';
import { startDetached } from '../../src/container/run.js';
import { stopContainer } from '../../src/container/lifecycle.js';
import { BERTH, berth, berthOk, mountsUnder, tempRoot, type RunResult } from '../helpers/berth.js';

// Many requests at once, from several berth processes and from one process: no rename or state change is lost, no
// two containers get one name, and no operation changes the process's cwd (a relative data root works).
const t = tempRoot('berth-concurrency');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
const all = () => ok(['ps', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean);

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
});
after(() => {
  for (const c of all()) berth(root, ['rm', '-f', c]);
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

/** berth as a child process that runs alongside others. */
function berthAsync(args: string[], cwd?: string, r = root): Promise<RunResult> {
  return new Promise((res) => {
    const c = spawn(BERTH, ['--root', r, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => res({ code: code ?? 137, stdout, stderr }));
  });
}

const okAll = async (runs: Array<Promise<RunResult>>) => {
  for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
};

interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number };
}
const inspect = (ids: string[]) => JSON.parse(ok(['inspect', ...ids])) as Inspected[];

test('a relative data root: run, run --rm and rm work (nothing changes the cwd the root is relative to)', () => {
  const rel = (args: string[]) => spawnSync(BERTH, ['--root', 'rel', ...args], { cwd: root, encoding: 'utf8' });
  for (const args of [
    ['image', 'from-host', 'base', 'sh', 'true'],
    ['run', '--rm', 'base', 'true'],
    ['run', '--rm', 'base', 'sh', '-c', 'echo x > /written'],
    ['run', '--name', 'kept', 'base', 'true'],
    ['rm', 'kept'],
  ]) {
    const r = rel(args);
    assert.equal(r.status, 0, `berth --root rel ${args.join(' ')}: ${r.stderr}`);
  }
  assert.equal(rel(['ps', '-a', '-q']).stdout, '');
  assert.deepEqual(mountsUnder(`${root}/rel`), []);
  assert.deepEqual(fs.readdirSync(`${root}/rel/containers`), []);
});

test('a dozen berth processes at once: starts, renames and stops of 12 containers all stay recorded', async () => {
  const ids = Array.from({ length: 12 }, (_, i) => ok(['create', '--name', `c${i}`, 'base', 'sleep', '600']));
  // each container is started and renamed at the same time, by two processes
  await okAll(ids.flatMap((id, i) => [berthAsync(['start', id]), berthAsync(['rename', id, `r${i}`])]));
  let got = inspect(ids);
  assert.deepEqual(
    got.map((c) => [c.Name, c.State.Status]),
    ids.map((_, i) => [`/r${i}`, 'running']),
  );
  // then stopped while renamed again
  await okAll(ids.flatMap((id, i) => [berthAsync(['stop', '-t', '0', id]), berthAsync(['rename', id, `s${i}`])]));
  got = inspect(ids);
  assert.deepEqual(
    got.map((c) => [c.Name, c.State.Status, c.State.Running]),
    ids.map((_, i) => [`/s${i}`, 'exited', false]),
  );
  await okAll(ids.map((id) => berthAsync(['rm', id])));
});

test('one process, many engine calls at once: starts, renames and stops of 12 containers all stay recorded', async () => {
  const ids = Array.from({ length: 12 }, (_, i) => ok(['create', '--name', `p${i}`, 'base', 'sleep', '600']));
  const engine = await Engine.open({ root });
  const cs = engine.containerStore;
  await Promise.all(ids.flatMap((id, i) => [startDetached(cs, cs.resolve(id)), cs.rename(cs.resolve(id), `q${i}`)]));
  assert.deepEqual(
    ids.map((id) => [cs.resolve(id).Name, cs.resolve(id).State.Status]),
    ids.map((_, i) => [`/q${i}`, 'running']),
  );
  await Promise.all(
    ids.flatMap((id, i) => [stopContainer(cs, cs.resolve(id), { timeout: 0 }), cs.rename(cs.resolve(id), `z${i}`)]),
  );
  assert.deepEqual(
    inspect(ids).map((c) => [c.Name, c.State.Status]),
    ids.map((_, i) => [`/z${i}`, 'exited']),
  );
  await Promise.all(ids.map((id) => cs.remove(cs.resolve(id))));
  assert.deepEqual(all(), []);
});

test('60 unnamed containers created at once get 60 different names (40 in one process, 20 in other processes)', async () => {
  const template = ok(['create', 'base', 'true']);
  const engine = await Engine.open({ root });
  const cs = engine.containerStore;
  const tpl = cs.resolve(template);
  const opts = { config: tpl.Config, hostConfig: cs.hostConfig(template), path: 'true', args: [] };
  await cs.remove(tpl);
  const [inProcess, processes] = await Promise.all([
    Promise.all(Array.from({ length: 40 }, () => cs.create(tpl.Image as ImageID, opts))),
    Promise.all(Array.from({ length: 20 }, () => berthAsync(['create', 'base', 'true']))),
  ]);
  for (const r of processes) assert.equal(r.code, 0, r.stderr);
  const names = cs.list().map((c) => c.Name);
  assert.equal(names.length, 60);
  assert.equal(new Set(names).size, 60, `duplicates: ${names.filter((n, i) => names.indexOf(n) !== i).join(' ')}`);
  for (const n of names) assert.match(n, /^\/[a-z]+_[a-z]+\d?$/);
  assert.equal(inProcess.length, 40);
  await okAll([berthAsync(['container', 'prune', '-f'])]);
  assert.deepEqual(all(), []);
});
