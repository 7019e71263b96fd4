import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';

// Docker's default capability set, masked and read-only paths, --cap-add/--cap-drop, --privileged, no-new-privileges.
const t = tempRoot('berth-sec');
const root = t.root;
before(() => {
  berthOk(root, ['image', 'from-host', 'base', 'sh', 'cat', 'grep', 'mount', 'ls', 'echo']);
});
after(() => {
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

const run = (args: string[]) => berth(root, ['run', '--rm', ...args]);
const status = (args: string[], field: string) => {
  const r = run([...args, 'base', 'cat', '/proc/self/status']);
  assert.equal(r.code, 0, r.stderr);
  return new RegExp(`^${field}:\\s*(\\S+)$`, 'm').exec(r.stdout)?.[1];
};
const DOCKER_DEFAULT = '00000000a80425fb'; // what `docker run` shows for CapBnd/CapEff as root

for (const runtime of ['berth', 'runc']) {
  test(`${runtime}: root gets Docker's default capabilities; a non-root user only the bounding set`, () => {
    const rt = ['--runtime', runtime];
    assert.equal(status(rt, 'CapBnd'), DOCKER_DEFAULT);
    assert.equal(status(rt, 'CapEff'), DOCKER_DEFAULT);
    assert.equal(status(rt, 'CapPrm'), DOCKER_DEFAULT);
    assert.equal(status([...rt, '-u', '1000'], 'CapEff'), '0000000000000000');
    assert.equal(status([...rt, '-u', '1000'], 'CapBnd'), DOCKER_DEFAULT);
  });
}

test('forbidden by default: mount, writing /proc/sys, reading masked /proc files', () => {
  const r = run([
    'base',
    'sh',
    '-c',
    'mount -t tmpfs x /mnt 2>/dev/null && echo mounted || echo no-mount; (echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo wrote || echo ro; cat /proc/keys /proc/timer_list 2>/dev/null | grep -c . ; ls /sys/firmware | grep -c .; exit 0',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['no-mount', 'ro', '0', '0']);
  const mounts = run(['base', 'cat', '/proc/self/mountinfo']).stdout;
  for (const p of ['/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware'].filter((p) =>
    fs.existsSync(p),
  ))
    assert.match(mounts, new RegExp(` ${p} `), `${p} masked`);
  for (const p of ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus'].filter((p) => fs.existsSync(p)))
    assert.match(mounts, new RegExp(` ${p} ro,`), `${p} read-only`);
});

test('--cap-add, --cap-drop, --privileged, --security-opt no-new-privileges', () => {
  assert.equal(run(['--cap-add', 'SYS_ADMIN', 'base', 'mount', '-t', 'tmpfs', 'x', '/mnt']).code, 0);
  const dropped = BigInt(`0x${status(['--cap-drop', 'NET_RAW', '--cap-drop', 'chown'], 'CapEff')}`);
  assert.equal(dropped & (1n << 13n), 0n, 'NET_RAW dropped');
  assert.equal(dropped & 1n, 0n, 'CHOWN dropped');
  assert.equal(status(['--cap-drop', 'ALL'], 'CapEff'), '0000000000000000');
  const own = BigInt(`0x${/^CapPrm:\s*(\S+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
  assert.equal(BigInt(`0x${status(['--privileged'], 'CapBnd')}`), own, '--privileged: every capability berth holds');
  assert.match(run(['--privileged', 'base', 'ls', '/sys/firmware']).stdout + 'x', /./);
  assert.doesNotMatch(run(['--privileged', 'base', 'cat', '/proc/self/mountinfo']).stdout, / \/proc\/keys /);
  assert.equal(status(['--security-opt', 'no-new-privileges'], 'NoNewPrivs'), '1');
  assert.equal(status([], 'NoNewPrivs'), '0');
  const bad = run(['--cap-add', 'NOT_A_CAP', 'base', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unknown capability: "NOT_A_CAP"/);
});

test('read-only binds are read-only all the way down: --network host /sys (with /sys/fs/cgroup), -v ...:ro with submounts', () => {
  const r = run(['--network', 'host', 'base', 'sh', '-c', 'cat /proc/self/mountinfo']);
  assert.equal(r.code, 0, r.stderr);
  const sysMounts = r.stdout.split('\n').filter((l) => / \/sys(\/| )/.test(l));
  assert.ok(sysMounts.length > 1, 'the host /sys tree with its submounts');
  // (the tmpfs that holds the cgroup hierarchies stays writable, as runc leaves it; the hierarchies are read-only)
  for (const l of sysMounts.filter((x) => !/ \/sys\/fs\/cgroup rw,.* - tmpfs /.test(x)))
    assert.match(l, / ro[, ]/, `read-only: ${l}`);
  assert.ok(
    sysMounts.some((l) => / \/sys\/fs\/cgroup\/memory ro,.* - cgroup /.test(l)),
    'the cgroup hierarchies are mounted read-only',
  );
});
