import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';
import { capMask, encodePlan, execPlan, mountFlags, planFromSpec, MS } from '../../src/runtime/plan.js';
import { DEFAULT_CAPABILITIES, capabilitySet } from '../../src/runtime/security.js';

const input = (over: Partial<SpecInput> = {}): SpecInput => ({
  rootfs: '/m',
  args: ['sh', '-c', 'x'],
  env: ['PATH=/bin'],
  cwd: '/w/d',
  uid: 0,
  gid: 0,
  additionalGids: [],
  hostname: 'h',
  terminal: false,
  readonlyRootfs: false,
  network: 'none',
  etcFiles: { hosts: '/c/hosts', hostname: '/c/hostname', resolvConf: '/c/resolv' },
  binds: [{ source: '/host/data', destination: '/data', readonly: true }],
  tmpfs: [],
  capabilities: [...DEFAULT_CAPABILITIES],
  privileged: false,
  noNewPrivileges: false,
  ...over,
});
const host = { sourceIsDir: (p: string) => p === '/host/data', kcore: false, capLast: 40 };
const ops = (steps: string[][]) => steps.map((s) => s[0]);
const index = (steps: string[][], pred: (s: string[]) => boolean) => steps.findIndex(pred);

test('the plan: namespaces, fork, bind sources cloned before pivot_root, mounts after it, credentials, exec last', () => {
  const steps = planFromSpec(buildSpec(input()), host);
  assert.deepEqual(steps[0], ['die-with-parent']);
  // clone into every namespace but cgroup; the process joins its cgroup, then makes its cgroup namespace
  assert.deepEqual(steps[1], ['spawn', String(0x00020000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000)]);
  assert.deepEqual(steps[2], ['unshare', String(0x02000000)]);
  const pivot = index(steps, (s) => s[0] === 'pivot-root');
  assert.ok(index(steps, (s) => s[0] === 'clone-tree' && s[1] === '/host/data') < pivot);
  assert.ok(index(steps, (s) => s[0] === 'clone-tree' && s[1] === '/c/hosts') < pivot);
  assert.ok(
    index(steps, (s) => s[0] === 'mount' && s[2] === '/proc') > pivot,
    'proc is mounted by a path inside the container',
  );
  const attach = steps.find((s) => s[0] === 'attach-tree' && s[2] === '/data')!;
  assert.equal(Number(attach[3]) & MS.RDONLY, MS.RDONLY);
  assert.ok(index(steps, (s) => s[0] === 'mkdir' && s[1] === '/data') < index(steps, (s) => s === attach));
  assert.ok(index(steps, (s) => s[0] === 'touch' && s[1] === '/etc/hosts') >= 0, 'file bind targets are files');
  assert.ok(
    index(steps, (s) => s[0] === 'mask' && s[1] === '/proc/keys') >
      index(steps, (s) => s[0] === 'mount' && s[2] === '/proc'),
  );
  assert.ok(index(steps, (s) => s[0] === 'readonly' && s[1] === '/proc/sys') >= 0);
  assert.ok(
    index(steps, (s) => s[0] === 'drop-bounding') < index(steps, (s) => s[0] === 'uid'),
    'the bounding set shrinks while we may',
  );
  assert.ok(index(steps, (s) => s[0] === 'capset') > index(steps, (s) => s[0] === 'uid'));
  assert.ok(
    index(steps, (s) => s[0] === 'mkdir' && s[1] === '/w/d') < index(steps, (s) => s[0] === 'uid'),
    'the workdir is made as root',
  );
  assert.deepEqual(steps[steps.length - 1], ['exec', 'sh', '-c', 'x']);
  assert.ok(!ops(steps).includes('pty'));
  assert.ok(!steps.some((s) => s[0] === 'symlink' && s[2] === '/dev/core'), 'no /dev/core without /proc/kcore');
});

test('terminal, read-only rootfs, host network, privileged, no-new-privileges', () => {
  const tty = planFromSpec(buildSpec(input({ terminal: true })), host);
  assert.deepEqual(tty[1]![2], 'tty');
  assert.ok(ops(tty).includes('pty'));
  const ro = planFromSpec(buildSpec(input({ readonlyRootfs: true })), host);
  const remount = index(ro, (s) => s[0] === 'mount' && s[2] === '/' && (Number(s[4]) & MS.REMOUNT) !== 0);
  assert.ok(
    remount > index(ro, (s) => s[0] === 'mkdir' && s[1] === '/w/d'),
    'remounted read-only after the workdir exists',
  );
  const hostNet = buildSpec(input({ network: 'host' }));
  assert.ok(!hostNet.linux.namespaces.some((n) => n.type === 'network'));
  assert.ok(!ops(planFromSpec(hostNet, host)).includes('loopback-up'));
  const priv = planFromSpec(buildSpec(input({ privileged: true, capabilities: capabilitySet([], [], true) })), host);
  assert.ok(!ops(priv).includes('mask') && !ops(priv).includes('readonly') && !ops(priv).includes('drop-bounding'));
  assert.ok(ops(planFromSpec(buildSpec(input({ noNewPrivileges: true })), host)).includes('no-new-privs'));
});

test('capability sets as Docker computes them, and the capset mask', () => {
  assert.equal(capMask(DEFAULT_CAPABILITIES), 'a80425fb');
  assert.deepEqual(capabilitySet(['net_admin'], ['CAP_CHOWN'], false).includes('CAP_NET_ADMIN'), true);
  assert.equal(capabilitySet([], ['CHOWN'], false).includes('CAP_CHOWN'), false);
  assert.deepEqual(capabilitySet([], ['ALL'], false), []);
  assert.deepEqual(capabilitySet(['SYS_ADMIN'], ['ALL'], false), ['CAP_SYS_ADMIN']);
  assert.throws(() => capabilitySet(['BOGUS'], [], false), /unknown capability: "BOGUS"/);
  const user = buildSpec(input({ uid: 1000 }));
  assert.deepEqual(user.process.capabilities, { bounding: DEFAULT_CAPABILITIES, effective: [], permitted: [] });
});

test('mount options become flags and data; plans encode as netstrings', () => {
  assert.deepEqual(mountFlags(['nosuid', 'noexec', 'nodev', 'ro', 'mode=755', 'size=65536k', 'rprivate']), {
    flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY,
    data: 'mode=755,size=65536k',
  });
  assert.deepEqual(mountFlags(['rbind', 'ro', 'rw']), { flags: MS.BIND | MS.REC, data: '' });
  assert.equal(encodePlan([['exec', 'sh', ''], ['fork']]).toString(), '4:exec,1:2,2:sh,0:,4:fork,1:0,');
  assert.throws(() => encodePlan([['env', 'A=\0']]), /NUL/);
});

test('detached: the monitor logs, records state, restarts and cleans up; the container joins its cgroup before its cgroup namespace', () => {
  const monitor = {
    log: { path: '/c/x-json.log', maxSize: 1024, maxFiles: 3 },
    statePath: '/c/state.json',
    restart: { name: 'on-failure' as const, max: 2 },
    stopMarker: '/c/stopping',
    oomCounter: '/cg/memory.oom_control',
    umount: '/m',
    exitCommand: ['/b/berth', '--root', '/r', 'container', 'cleanup', 'x'],
  };
  const steps = planFromSpec(buildSpec(input()), host, {
    monitor,
    cgroupProcs: ['/cg/a/cgroup.procs', '/cg/b/cgroup.procs'],
    init: true,
    seccomp: Buffer.from('0600000000000000', 'hex'),
  });
  assert.ok(!ops(steps).includes('die-with-parent'), 'a detached container outlives berth');
  const spawn = index(steps, (s) => s[0] === 'spawn');
  for (const op of ['log-json', 'state-file', 'restart-policy', 'oom-counter', 'exit-umount', 'exit-command'])
    assert.ok(index(steps, (s) => s[0] === op) < spawn, `${op} configures the monitor`);
  assert.deepEqual(
    steps.find((s) => s[0] === 'restart-policy'),
    ['restart-policy', 'on-failure', '2', '/c/stopping'],
  );
  assert.deepEqual(
    steps.find((s) => s[0] === 'log-json'),
    ['log-json', '/c/x-json.log', '1024', '3'],
  );
  assert.deepEqual(steps[spawn + 1], ['join-cgroup', '/cg/a/cgroup.procs', '/cg/b/cgroup.procs']);
  assert.deepEqual(steps[spawn + 2], ['unshare', String(0x02000000)]);
  // seccomp while still root (no no-new-privileges), before the credential change; init right before exec
  assert.ok(index(steps, (s) => s[0] === 'seccomp') < index(steps, (s) => s[0] === 'groups'));
  assert.deepEqual(steps[steps.length - 2], ['init']);
  const nnp = planFromSpec(buildSpec(input({ noNewPrivileges: true })), host, {
    seccomp: Buffer.from('0600000000000000', 'hex'),
  });
  assert.ok(
    index(nnp, (s) => s[0] === 'seccomp') > index(nnp, (s) => s[0] === 'no-new-privs'),
    'with no_new_privs, seccomp goes last',
  );
});

test('exec: joins the namespaces of the container process (mount last), forks into its PID namespace, same process setup', () => {
  const proc = buildSpec(input({ uid: 1000, gid: 1000, terminal: true })).process;
  const steps = execPlan(42, proc, host, { cgroupProcs: ['/cg/cgroup.procs'] });
  assert.deepEqual(steps.slice(0, 9), [
    ['die-with-parent'],
    ['join-cgroup', '/cg/cgroup.procs'],
    ['setns', '/proc/42/ns/ipc'],
    ['setns', '/proc/42/ns/uts'],
    ['setns', '/proc/42/ns/net'],
    ['setns', '/proc/42/ns/pid'],
    ['setns', '/proc/42/ns/cgroup'],
    ['setns', '/proc/42/ns/mnt'],
    ['fork', 'tty'],
  ]);
  assert.deepEqual(steps[9], ['pty', 'noconsole'], 'an exec terminal is not the container console');
  assert.deepEqual(
    steps.find((s) => s[0] === 'uid'),
    ['uid', '1000'],
  );
  assert.deepEqual(steps[steps.length - 1], ['exec', 'sh', '-c', 'x']);
  assert.ok(!ops(execPlan(42, proc, host, { detached: true })).includes('die-with-parent'));
});

test('the cgroup filesystem: cgroup2 at /sys/fs/cgroup, or on v1 a tmpfs with each hierarchy read-only in its own dir', () => {
  const v1 = [
    { name: 'memory', options: 'memory' },
    { name: 'cpu,cpuacct', options: 'cpu,cpuacct' },
    { name: 'systemd', options: 'name=systemd' },
  ];
  const steps = planFromSpec(buildSpec(input()), { ...host, cgroupFs: v1 });
  const at = index(steps, (s) => s[0] === 'mount' && s[2] === '/sys/fs/cgroup');
  assert.ok(at > index(steps, (s) => s[0] === 'mount' && s[2] === '/sys'), 'after /sys');
  assert.equal(steps[at]![3], 'tmpfs');
  const mem = steps.find((s) => s[0] === 'mount' && s[2] === '/sys/fs/cgroup/memory')!;
  assert.deepEqual([mem[3], mem[5]], ['cgroup', 'memory']);
  assert.equal(Number(mem[4]) & MS.RDONLY, MS.RDONLY, 'read-only');
  assert.ok(steps.some((s) => s[0] === 'mount' && s[2] === '/sys/fs/cgroup/systemd' && s[5] === 'name=systemd'));
  const priv = planFromSpec(buildSpec(input({ privileged: true })), { ...host, cgroupFs: v1 }).find(
    (s) => s[0] === 'mount' && s[2] === '/sys/fs/cgroup/memory',
  )!;
  assert.equal(Number(priv[4]) & MS.RDONLY, 0, '--privileged: writable');
  const v2 = planFromSpec(buildSpec(input()), { ...host, cgroupFs: 'v2' }).filter(
    (s) => s[0] === 'mount' && s[2]!.startsWith('/sys/fs/cgroup'),
  );
  assert.deepEqual(
    v2.map((s) => [s[1], s[3]]),
    [['cgroup2', 'cgroup2']],
  );
});
