import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Engine } from '../../src/engine/engine.js';
import { FileLock } from '../../src/storage/lock.js';
import type { ContainerConfig } from '../../src/image/config.js';
import type { HostConfig } from '../../src/container/types.js';
import { REPO, tempRoot } from '../helpers/berth.js';

// The native launcher (native/launcher/berth-launcher.c) finds `berth exec`'s container itself, without Node:
// by name, then by a unique ID prefix. It must pick the container ContainerStore.resolve picks, and hand back
// (to berth, which then reports the error) wherever resolve throws. Each container here gets an exec plan
// whose only step sets RESOLVED=<its id>, with facts that hold (this process's pid, a lock it holds), so
// the launcher runs /usr/bin/env and its output names the container it chose; a hand-back runs /bin/false.
const LAUNCHER = `${REPO}/native/build/Release/berth-launcher`;
const t = tempRoot('berth-launcher-resolve');
after(() => t.remove());

const id = (head: string) => head + '0'.repeat(64 - head.length);
const containers = [
  { id: id('abc1'), name: 'web' },
  { id: id('abc2'), name: 'db' },
  // a name that is also a prefix of another container's ID
  { id: id('f00d'), name: 'abc2' },
  { id: id('de'), name: 'worker' },
];

const cases: [what: string, ref: string, want: string | 'error'][] = [
  ['exact name', 'web', id('abc1')],
  ['name with a leading slash', '/web', id('abc1')],
  ['unique ID prefix', 'f00d', id('f00d')],
  ['unique ID prefix that is nobody\u2019s name', 'abc1', id('abc1')],
  ['ambiguous ID prefix', 'abc', 'error'],
  ['a name that is also a prefix of another ID: the name wins', 'abc2', id('f00d')],
  ['full ID', id('abc2'), id('abc2')],
  ['full ID of the container whose prefix is a name', id('f00d'), id('f00d')],
  ['one-character prefix shared by none else', 'd', id('de')],
  ['a prefix of a name is not a name', 'wor', 'error'],
  ['an ID prefix with a slash is not an ID', '/abc1', 'error'],
  ['upper-case hex is not an ID prefix', 'ABC1', 'error'],
  ['no such container', 'nosuch', 'error'],
];

function starttime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** An exec plan for the launcher whose helper plan only sets RESOLVED=<id> (the launcher appends the exec). */
function execPlan(cid: string, lockPath: string): string {
  const env = `RESOLVED=${cid}`;
  const steps = `3:env,1:1,${env.length}:${env},`;
  return `berth-exec-plan 1\npid ${process.pid} ${starttime(process.pid)}\nlock ${lockPath}\nplan plain ${steps.length}\n${steps}\n`;
}

function viaLauncher(ref: string): string {
  const r = spawnSync(LAUNCHER, ['/bin/false', '--root', t.root, 'exec', ref, '/usr/bin/env'], { encoding: 'utf8' });
  const m = /^RESOLVED=([0-9a-f]{64})$/m.exec(r.stdout);
  if (m) return m[1]!;
  assert.deepEqual([r.status, r.stdout, r.stderr], [1, '', ''], `the launcher neither ran nor handed back ${ref}`);
  return 'error';
}

async function viaStore(engine: Engine, ref: string): Promise<string> {
  try {
    return engine.containerStore.resolve(ref).ID;
  } catch (err) {
    assert.ok(['NotFound', 'InvalidArgument'].includes((err as { kind?: string }).kind ?? ''), String(err));
    return 'error';
  }
}

test('the launcher and ContainerStore.resolve find the same container for every reference', async () => {
  const engine = await Engine.open({ root: t.root });
  for (const c of containers) {
    await engine.containerStore.create(undefined, {
      id: c.id,
      name: c.name,
      config: {} as ContainerConfig,
      hostConfig: {} as HostConfig,
      path: '',
      args: [],
    });
  }
  const lockPath = `${t.root}/launcher-resolve.lock`;
  const lock = FileLock.tryAcquire(lockPath, true);
  assert.ok(lock, 'the test holds the lock the plans name');
  try {
    for (const c of containers) fs.writeFileSync(`${t.root}/containers/${c.id}/exec.plan`, execPlan(c.id, lockPath));
    for (const [what, ref, want] of cases) {
      const ts = await viaStore(engine, ref);
      const c = viaLauncher(ref);
      assert.equal(ts, want, `ContainerStore.resolve, ${what} (${ref})`);
      assert.equal(c, want, `the launcher, ${what} (${ref})`);
    }
  } finally {
    lock.release();
  }
});
