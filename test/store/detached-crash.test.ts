/**
 * A `berth run -d` killed (SIGKILL) after its container's monitor started but
 * before it recorded the start: the record still says "created" while the
 * monitor runs the container (state.json). Whatever happens next, in whatever
 * order (`rm -f` while it runs, the container ending by itself and its
 * monitor's `container cleanup`, a later `rm`), nothing of it may be left: no
 * record, no mount, and no berth/<id> cgroup in any hierarchy. Used to leave
 * the empty cgroup behind: `rm -f` saw the container ended (the monitor's
 * final state) and removed it without settling it, and the monitor's clean-up
 * then found no container, or a "created" one it took for never started.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { alive, berth, berthOk, mountsUnder, waitFor } from '../helpers/berth.js';
import { berthKilledAt } from '../helpers/killed-at.js';
import { Tracked } from '../helpers/tracked.js';

const tracked = new Tracked();
const { root } = tracked.newRoot('berth-detached-crash');
/** Every container id and monitor pid seen, to reclaim them whatever happens. */
const ids = new Set<string>();
const monitors = new Set<number>();

/**
 * The container's cgroup dirs, in every hierarchy (v1: /sys/fs/cgroup/<h>/berth/<id>; v2: /sys/fs/cgroup/berth/<id>).
 */
function cgroupDirs(id: string): string[] {
  const bases = ['/sys/fs/cgroup', ...fs.readdirSync('/sys/fs/cgroup').map((h) => `/sys/fs/cgroup/${h}`)];
  return bases.map((b) => `${b}/berth/${id}`).filter((d) => fs.existsSync(d));
}

function containerIds(): string[] {
  try {
    return fs.readdirSync(`${root}/containers`).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
}

function idOf(name: string): string {
  const id = berthOk(root, ['inspect', '--format', '{{.Id}}', name]).trim();
  ids.add(id);
  return id;
}

function monitorOf(id: string): { Status: string; MonitorPid: number } {
  const s = JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as {
    Status: string;
    MonitorPid: number;
  };
  monitors.add(s.MonitorPid);
  return s;
}

/** Until the monitor is gone (it ends by becoming `berth container cleanup`, which must have finished too). */
async function monitorGone(pid: number): Promise<void> {
  await waitFor(() => (alive(pid) ? undefined : true), 15000);
}

/** Take back whatever is left, also after a failure: containers, their processes and cgroups, mounts. */
async function reclaim(): Promise<void> {
  for (const id of containerIds()) {
    ids.add(id);
    berth(root, ['rm', '-f', id]);
  }
  const end = Date.now() + 10000;
  while ([...monitors].some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  for (const m of monitors) if (alive(m)) process.kill(m, 'SIGKILL');
  for (const id of ids) {
    for (const d of cgroupDirs(id)) {
      for (let i = 0; i < 200; i++) {
        const procs = fs.readFileSync(`${d}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
        if (!procs.length) break;
        for (const p of procs) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        fs.rmdirSync(d);
      } catch {
        /* reported by the test */
      }
    }
  }
  for (const m of mountsUnder(root).reverse()) spawnSync('umount', ['-l', m]);
}

after(reclaim);

/** Nothing of the container left: record, mounts, cgroup. */
function assertGone(id: string, what: string): void {
  assert.deepEqual(cgroupDirs(id), [], `${what}: its cgroup is removed in every hierarchy`);
  assert.deepEqual(mountsUnder(root), [], `${what}: nothing mounted`);
  assert.deepEqual(containerIds(), [], `${what}: no container left`);
}

/**
 * `run -d NAME ARGS...` killed just before it records the start (its rename of the record: the monitor runs by then).
 */
async function runDetachedKilled(name: string, args: string[]): Promise<{ id: string; monitor: number }> {
  const r = await berthKilledAt(
    tracked,
    1,
    ['--root', root, 'run', '-d', '--name', name, 'base', ...args],
    /^renameSync .*\/config\.v2\.json$/,
  );
  assert.ok(r.killed, `run -d was killed before recording the start: ${r.out}`);
  const id = idOf(name);
  // (berth goes on once the command runs, the monitor writes its state right after: wait for it)
  await waitFor(() => fs.existsSync(`${root}/containers/${id}/state.json`) || undefined);
  return { id, monitor: monitorOf(id).MonitorPid };
}

before(() => {
  berthOk(root, ['image', 'from-host', 'base', 'sleep', 'true']);
});

test(
  'run -d killed after its monitor started, before recording the start; rm -f removes the container and its cgroup',
  { timeout: 60000 },
  async () => {
    try {
      const { id, monitor } = await runDetachedKilled('k1', ['sleep', '1000']);
      assert.equal(berthOk(root, ['inspect', '--format', '{{.State.Status}}', id]).trim(), 'running');
      assert.notDeepEqual(cgroupDirs(id), [], 'it runs in its cgroup');
      berthOk(root, ['rm', '-f', 'k1']);
      assertGone(id, 'right after rm -f');
      await monitorGone(monitor);
      assertGone(id, "once its monitor's clean-up ended");
    } finally {
      await reclaim();
    }
  },
);

test(
  'run -d killed before recording the start, the container ends by itself: its clean-up removes the cgroup, rm the rest',
  { timeout: 60000 },
  async () => {
    try {
      const { id, monitor } = await runDetachedKilled('k2', ['true']);
      await monitorGone(monitor);
      assert.deepEqual(cgroupDirs(id), [], "the monitor's clean-up removed the cgroup");
      assert.deepEqual(mountsUnder(root), [], 'and unmounted it');
      assert.equal(
        berthOk(root, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id]).trim(),
        'exited 0',
      );
      berthOk(root, ['rm', 'k2']);
      assertGone(id, 'after rm');
    } finally {
      await reclaim();
    }
  },
);

test(
  'run -d killed at each filesystem change, then rm -f: nothing is left, the cgroup included',
  { timeout: 10 * 60 * 1000 },
  async (t) => {
    const points: string[] = [];
    try {
      for (let k = 1; ; k++) {
        const r = await berthKilledAt(tracked, k, [
          '--root',
          root,
          'run',
          '-d',
          '--name',
          'k3',
          'base',
          'sleep',
          '1000',
        ]);
        const here = containerIds();
        for (const id of here) {
          ids.add(id);
          if (fs.existsSync(`${root}/containers/${id}/state.json`)) monitorOf(id);
        }
        if (here.length) berthOk(root, ['rm', '-f', 'k3']);
        for (const m of monitors) await monitorGone(m);
        for (const id of ids) assertGone(id, `run -d ${r.out || 'not killed'}, then rm -f`);
        if (!r.killed) break;
        points.push(r.out);
      }
      t.diagnostic(`${points.length} kill points`);
      assert.ok(
        points.some((p) => /^killed at renameSync .*\/containers\/[0-9a-f]{64}\/config\.v2\.json$/m.test(p)),
        'killed once the monitor ran, before the start was recorded',
      );
      assert.ok(
        points.some((p) => /^killed at (mkdir|writeFile)Sync \/sys\/fs\/cgroup\//m.test(p)),
        'killed once its cgroup was made, before the monitor started',
      );
    } finally {
      await reclaim();
    }
  },
);
