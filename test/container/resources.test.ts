import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';
import { detectCgroups } from '../../src/runtime/cgroups/cgroups.js';

// Resource limits on real cgroups (v1 here), OOM, pids, pause, update, stats, ulimits, device rules.
const t = tempRoot('berth-res');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
const host = detectCgroups();
const mountOf = (ctrl: string) =>
  host.version === 1 ? host.hierarchies.find((h) => h.controllers.includes(ctrl))!.mountPoint : host.root;
const cgFile = (id: string, ctrl: string, file: string) =>
  fs.readFileSync(`${mountOf(ctrl)}/berth/${id}/${file}`, 'utf8').trim();
const berthCgroups = () =>
  fs
    .readdirSync(`${mountOf('memory')}/berth`, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'cat', 'head', 'true', 'mknod', 'dd']);
});
after(() => {
  // (other test files run containers at the same time: only this root's containers are checked)
  const ids = berth(root, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  for (const c of ids) berth(root, ['rm', '-f', c]);
  assert.deepEqual(
    berthCgroups().filter((n) => ids.includes(n)),
    [],
    'no cgroups left',
  );
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('limits land in the container cgroup; the container sees its cgroup as its root; the cgroup goes when it stops', () => {
  const id = ok([
    'run',
    '-d',
    '-m',
    '64m',
    '--memory-reservation',
    '32m',
    '--cpus',
    '0.5',
    '--cpu-shares',
    '512',
    '--cpuset-cpus',
    '0',
    '--pids-limit',
    '30',
    'base',
    'sleep',
    '60',
  ]);
  assert.equal(cgFile(id, 'memory', 'memory.limit_in_bytes'), String(64 << 20));
  assert.equal(cgFile(id, 'memory', 'memory.soft_limit_in_bytes'), String(32 << 20));
  if (fs.existsSync(`${mountOf('memory')}/berth/${id}/memory.memsw.limit_in_bytes`))
    assert.equal(
      cgFile(id, 'memory', 'memory.memsw.limit_in_bytes'),
      String(128 << 20),
      'swap defaults to 2x memory, as Docker',
    );
  assert.equal(cgFile(id, 'cpu', 'cpu.cfs_quota_us'), '50000');
  assert.equal(cgFile(id, 'cpu', 'cpu.shares'), '512');
  assert.equal(cgFile(id, 'cpuset', 'cpuset.cpus'), '0');
  assert.equal(cgFile(id, 'pids', 'pids.max'), '30');
  const pid = Number(ok(['inspect', '-f', '{{.State.Pid}}', id]));
  assert.ok(cgFile(id, 'memory', 'cgroup.procs').split('\n').map(Number).includes(pid));
  assert.match(ok(['exec', id, 'cat', '/proc/self/cgroup']), /memory:\/$/m, 'cgroup namespace: its own cgroup is /');
  // its /sys/fs/cgroup shows its own limits (what JVMs and Go runtimes read), read-only
  if (host.version === 1)
    assert.equal(
      ok(['exec', id, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/pids/pids.max']),
      `${64 << 20}\n30`,
    );
  assert.notEqual(berth(root, ['exec', id, 'sh', '-c', 'echo 1 > /sys/fs/cgroup/pids/pids.max']).code, 0, 'read-only');
  assert.ok(cgFile(id, 'memory', 'cgroup.procs').split('\n').length >= 1);
  assert.equal(
    ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}', id]),
    `${64 << 20} 500000000 30`,
  );
  ok(['rm', '-f', id]);
  assert.ok(!berthCgroups().includes(id), 'cgroup removed');
  assert.equal(berth(root, ['run', '--rm', '-m', '1m', 'base', 'true']).code, 125, 'below 6MB, as Docker');
  assert.match(berth(root, ['run', '--rm', '--cpus', '99', 'base', 'true']).stderr, /Range of CPUs/);
});

test('an OOM kill shows as exit 137 and OOMKilled; a fork bomb stops at --pids-limit', async () => {
  const r = berth(root, [
    'run',
    '--name',
    'oom',
    '-m',
    '16m',
    '--memory-swap',
    '16m',
    'base',
    'sh',
    '-c',
    'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done',
  ]);
  assert.equal(r.code, 137);
  assert.equal(ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom']), 'true 137');
  const d = ok([
    'run',
    '-d',
    '-m',
    '16m',
    '--memory-swap',
    '16m',
    'base',
    'sh',
    '-c',
    'sleep 0.3; x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done',
  ]);
  await waitFor(() => (ok(['inspect', '-f', '{{.State.Status}}', d]) === 'exited' ? true : undefined), 15000);
  assert.equal(
    ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', d]),
    'true 137',
    'detached: the monitor saw the OOM kill',
  );
  // the shell dies when fork fails (dash: "Cannot fork", exit 2) long before 40 children
  const bomb = berth(root, [
    'run',
    '--rm',
    '--pids-limit',
    '10',
    'base',
    'sh',
    '-c',
    'n=0; while [ $n -lt 40 ]; do sleep 3 & n=$((n+1)); done; echo all-forked',
  ]);
  assert.doesNotMatch(bomb.stdout, /all-forked/);
  assert.match(bomb.stderr, /Cannot fork|Resource temporarily unavailable/i, 'forks beyond the limit fail');
  ok(['rm', 'oom', d]);
});

test('pause freezes every process, unpause thaws; stop and rm -f work on a paused container', async () => {
  const id = ok(['run', '-d', '--name', 'paused1', 'base', 'sh', '-c', 'while :; do :; done']);
  ok(['pause', 'paused1']);
  assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'paused1']), 'running true');
  assert.match(ok(['ps', '--format', '{{.Status}}', '--filter', 'name=paused1']), /\(Paused\)/);
  assert.equal(ok(['ps', '-q', '--filter', 'status=paused']), id.slice(0, 12));
  assert.equal(cgFile(id, 'freezer', 'freezer.state'), 'FROZEN');
  const pid = Number(ok(['inspect', '-f', '{{.State.Pid}}', 'paused1']));
  const ticks = () => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[11]);
  const t0 = ticks();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(ticks(), t0, 'no CPU time while frozen');
  assert.notEqual(berth(root, ['exec', 'paused1', 'true']).code, 0, 'no exec into a paused container');
  ok(['unpause', 'paused1']);
  assert.equal(cgFile(id, 'freezer', 'freezer.state'), 'THAWED');
  ok(['pause', 'paused1']);
  ok(['stop', '-t', '1', 'paused1']);
  assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'paused1']), 'exited false');
  ok(['start', 'paused1']);
  ok(['pause', 'paused1']);
  ok(['rm', '-f', 'paused1']);
  assert.ok(!berthCgroups().includes(id));
});

test('update changes the limits of a running container and its HostConfig; stats reports usage against the limit', () => {
  const id = ok(['run', '-d', '--name', 'upd', '-m', '64m', 'base', 'sh', '-c', 'while :; do :; done']);
  ok(['update', '--memory', '128m', '--memory-swap', '256m', '--cpus', '0.25', '--pids-limit', '50', 'upd']);
  assert.equal(cgFile(id, 'memory', 'memory.limit_in_bytes'), String(128 << 20));
  assert.equal(cgFile(id, 'cpu', 'cpu.cfs_quota_us'), '25000');
  assert.equal(cgFile(id, 'pids', 'pids.max'), '50');
  assert.equal(
    ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', 'upd']),
    `${128 << 20} 250000000`,
  );
  assert.equal(berth(root, ['update', 'upd']).code, 1, 'no flags');
  // one sample is half a second of a busy loop on a machine that may be busy too: a few tries to see it near its quota
  let s: string[] = [];
  let cpu = 0;
  for (let i = 0; i < 10; i++) {
    s = ok(['stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}', 'upd']).split('|');
    cpu = Number(s[1]!.replace('%', ''));
    assert.ok(cpu < 40, `CPU % never above the 25% quota: ${s[1]}`);
    if (cpu > 5) break;
  }
  assert.equal(s[0], 'upd');
  assert.ok(cpu > 5, `CPU % near the 25% quota: ${s[1]}`);
  assert.match(s[2]!, /^[\d.]+[KM]iB \/ 128MiB$/);
  assert.equal(s[3], '1');
  assert.match(
    ok(['stats', '--no-stream']),
    /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/m,
  );
  ok(['rm', '-f', 'upd']);
});

test('--ulimit sets rlimits (never above the hard limit berth holds without CAP_SYS_RESOURCE); device rules deny disks', () => {
  assert.match(
    ok(['run', '--rm', '--ulimit', 'nofile=512:1024', 'base', 'sh', '-c', 'ulimit -n; ulimit -Hn']),
    /^512\n1024$/,
  );
  const own = /^Max open files\s+\d+\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1]!;
  const capEff = BigInt(`0x${/^CapEff:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
  if (!(capEff & (1n << 24n))) {
    const high = berth(root, ['run', '--rm', '--ulimit', `nofile=${Number(own) + 1}`, 'base', 'true']);
    assert.equal(high.code, 125);
    assert.match(high.stderr, /CAP_SYS_RESOURCE/);
  }
  assert.equal(berth(root, ['run', '--rm', '--ulimit', 'bogus=1', 'base', 'true']).code, 125);
  // mknod is allowed (CAP_MKNOD, "b *:* m"); opening the disk is not (devices cgroup)
  const r = berth(root, [
    'run',
    '--rm',
    'base',
    'sh',
    '-c',
    'mknod /tmp/d b 7 0 && echo made; dd if=/tmp/d of=/dev/null bs=1 count=1 2>&1 | head -1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^made\n.*Operation not permitted/m);
  // --device: the node in the container, and the cgroup allows exactly the given access (both runtimes)
  for (const rt of ['berth', 'runc']) {
    const d = berth(root, [
      'run',
      '--rm',
      '--runtime',
      rt,
      '--device',
      '/dev/loop0:/dev/xdisk:r',
      'base',
      'sh',
      '-c',
      'dd if=/dev/xdisk of=/dev/null bs=512 count=1 2>/dev/null && echo read-ok; dd if=/dev/zero of=/dev/xdisk bs=1 count=0 2>&1',
    ]);
    assert.equal(d.code, 1, `${rt}: ${d.stderr}`);
    assert.match(d.stdout, /^read-ok\ndd: failed to open '\/dev\/xdisk': Operation not permitted/m, rt);
  }
  assert.match(berth(root, ['run', '--rm', '--device', '/dev/nope', 'base', 'true']).stderr, /\/dev\/nope/);
});
