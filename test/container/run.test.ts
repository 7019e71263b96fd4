import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { berth, berthOk, berthSpawn, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';

// Real containers from a from-host image: namespaces, pivot_root, overlay with init + rw layers.
const t = tempRoot('berth-run');
const root = t.root;
const PROGRAMS = ['sh', 'ls', 'cat', 'echo', 'hostname', 'id', 'rm', 'mkdir', 'touch', 'readlink', 'stat', 'sleep'];
before(() => {
  berthOk(root, ['image', 'from-host', 'base', ...PROGRAMS]);
});
after(() => {
  for (const m of mountsUnder(root).reverse()) {
    try {
      fs.rmSync(m, { recursive: false });
    } catch {
      /* reported below */
    }
  }
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
  t.remove();
});

const run = (args: string[], input?: string) =>
  berth(root, ['run', '--rm', ...args], input === undefined ? {} : { input });

test('the command is PID 1 with its own hostname, /proc, /dev, mounts and only fds 0-2', () => {
  const r = run([
    '-h',
    'box',
    'base',
    'sh',
    '-c',
    'echo $$; hostname; cat /proc/1/cmdline; echo; ls /proc/$$/fd; ls /; cat /proc/self/mountinfo; ls /dev',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [pid, host, cmdline, fds] = r.stdout.split('\n');
  assert.equal(pid, '1');
  assert.equal(host, 'box');
  assert.match(cmdline!, /^sh\0-c\0/);
  assert.equal(fds, '0');
  assert.match(r.stdout, /^0\n1\n2\n/m);
  for (const d of ['bin', 'etc', 'proc', 'sys', 'tmp', 'usr']) assert.match(r.stdout, new RegExp(`^${d}$`, 'm'));
  assert.match(
    r.stdout,
    / \/ rw,relatime - overlay overlay .*lowerdir=\/\S+\/overlay2\/l\/[A-Z2-7]{26}:\/\S+\/overlay2\/l\/[A-Z2-7]{26},upperdir=\/\S+\/overlay2\/[a-f0-9]{64}\/diff/,
  );
  for (const m of [
    '/proc rw,nosuid,nodev,noexec',
    '/dev rw,nosuid',
    '/dev/pts',
    '/sys ro,',
    '/dev/shm',
    '/dev/mqueue',
    '/etc/hosts',
    '/etc/hostname',
    '/etc/resolv.conf',
  ]) {
    assert.ok(r.stdout.includes(` ${m}`), `mount ${m} in:\n${r.stdout}`);
  }
  const points = r.stdout
    .split('\n')
    .filter((l) => / - /.test(l))
    .map((l) => l.split(' ')[4]!);
  assert.ok(points.length >= 10, r.stdout);
  assert.deepEqual(
    points.filter((p) => /^\/(var|work|run|home)\b/.test(p)),
    [],
    'no host mount points are visible',
  );
  for (const d of [
    'null',
    'zero',
    'full',
    'random',
    'urandom',
    'tty',
    'ptmx',
    'pts',
    'shm',
    'mqueue',
    'stdin',
    'stdout',
    'stderr',
    'fd',
  ])
    assert.match(r.stdout, new RegExp(`^${d}$`, 'm'), `/dev/${d}`);
});

test('default hostname is the short container id; /etc/hostname and /etc/hosts agree', () => {
  const r = run(['base', 'sh', '-c', 'hostname; cat /etc/hostname; cat /etc/hosts']);
  const [h, file] = r.stdout.split('\n');
  assert.match(h!, /^[a-f0-9]{12}$/);
  assert.equal(file, h);
  // on the default bridge, its address names it (Docker's line); with --network none, 127.0.1.1
  assert.match(r.stdout, new RegExp(`^172\\.\\d+\\.\\d+\\.\\d+\\t${h}$`, 'm'));
  const none = run(['--network', 'none', 'base', 'sh', '-c', 'hostname; cat /etc/hosts']).stdout;
  assert.match(none, new RegExp(`^127\\.0\\.1\\.1\\t${none.split('\n')[0]}$`, 'm'));
});

test('exit codes as Docker: the process status, 127 not found, 126 not executable, 128+n signals, 125 own errors', async () => {
  assert.equal(run(['base', 'sh', '-c', 'exit 3']).code, 3);
  const nf = run(['base', '/no/such']);
  assert.equal(nf.code, 127);
  assert.match(nf.stderr, /\/no\/such: executable file not found/);
  assert.equal(run(['base', '/etc/passwd']).code, 126);
  // PID 1 ignores signals it has no handler for, from inside its namespace (as in Docker): kill it from the host
  const sleeper = berthSpawn(root, ['run', '--name', 'sleeper', 'base', 'sleep', '30']);
  const pid = await waitFor(() => {
    const c = berth(root, ['ps', '-q', '--no-trunc']).stdout.trim();
    if (!c) return undefined;
    const rec = JSON.parse(fs.readFileSync(`${root}/containers/${c}/config.v2.json`, 'utf8'));
    return rec.State.Pid > 0 ? (rec.State.Pid as number) : undefined;
  });
  process.kill(pid, 'SIGKILL');
  const [code] = await once(sleeper, 'exit');
  assert.equal(code, 137);
  assert.match(berthOk(root, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']), /^sleeper Exited \(137\)/m);
  berthOk(root, ['rm', 'sleeper']);
  const bad = run(['--network', 'nosuchnet', 'base', 'true']);
  assert.equal(bad.code, 125);
  assert.equal(run(['--pull', 'never', 'nosuchimage']).code, 125);
});

test('Entrypoint/Cmd semantics, -e, --env-file, -w (created), -u', () => {
  const envFile = `${root}/env.list`;
  fs.writeFileSync(envFile, '# comment\nFROM_FILE=1\n');
  const r = run([
    '-e',
    'A=1',
    '--env-file',
    envFile,
    '-w',
    '/work/dir',
    '-u',
    'nobody',
    'base',
    'sh',
    '-c',
    'echo $A $FROM_FILE; pwd; id -u; id -g; echo $HOME',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['1 1', '/work/dir', '65534', '65534', '/nonexistent']);
  assert.equal(run(['-u', '1000:1001', 'base', 'id']).stdout.trim(), 'uid=1000 gid=1001 groups=1001');
  assert.match(run(['-u', 'nosuchuser', 'base', 'id']).stderr, /unable to find user nosuchuser/);
  // --entrypoint replaces the entrypoint and clears the image's Cmd; trailing args become the Cmd
  assert.equal(run(['--entrypoint', 'echo', 'base', 'hi', 'there']).stdout, 'hi there\n');
  assert.match(run(['--entrypoint', '', 'base']).stderr, /No command specified/);
});

test('stdin is forwarded with -i', () => {
  const r = run(['-i', 'base', 'cat'], 'from stdin\n');
  assert.equal(r.stdout, 'from stdin\n');
});

test('writes land in the rw layer; deletions of image files leave whiteouts; diff and commit see them', () => {
  const name = 'writer';
  const r = berth(root, [
    'run',
    '--name',
    name,
    'base',
    'sh',
    '-c',
    'echo data > /root/file; rm /bin/cat; mkdir /newdir',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const diff = berthOk(root, ['diff', name]);
  // with merged /usr (bin -> usr/bin, mirrored from the host) the deletion happens under /usr/bin
  const merged = fs.lstatSync('/bin').isSymbolicLink();
  const binDir = merged ? '/usr/bin' : '/bin';
  const expected = merged
    ? ['A /newdir', 'C /root', 'A /root/file', 'C /usr', 'C /usr/bin', 'D /usr/bin/cat']
    : ['C /bin', 'D /bin/cat', 'A /newdir', 'C /root', 'A /root/file'];
  assert.deepEqual(diff.trim().split('\n'), expected);
  const ps = berthOk(root, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  assert.match(ps, /^writer Exited \(0\)/m);
  const id = berthOk(root, ['ps', '-aq', '--no-trunc']).trim().split('\n')[0]!;
  const mountId = fs.readFileSync(`${root}/image/overlay2/layerdb/mounts/${id}/mount-id`, 'utf8');
  const upper = `${root}/overlay2/${mountId}/diff`;
  assert.equal(fs.readFileSync(`${upper}/root/file`, 'utf8'), 'data\n');
  const wh = fs.lstatSync(`${upper}${binDir}/cat`);
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout');
  assert.equal(fs.readFileSync(`${root}/image/overlay2/layerdb/mounts/${id}/init-id`, 'utf8'), `${mountId}-init`);
  assert.ok(fs.existsSync(`${root}/overlay2/${mountId}-init/diff/.dockerenv`));
  const img = berthOk(root, ['commit', '-m', 'msg', name, 'committed:1']).trim();
  const out = run(['committed:1', 'sh', '-c', 'read l < /root/file; echo $l; ls /bin/cat 2>/dev/null || echo gone']);
  assert.equal(out.stdout, 'data\ngone\n');
  const [inspect] = JSON.parse(berthOk(root, ['image', 'inspect', img]));
  assert.equal(inspect.RootFS.Layers.length, 2);
  assert.equal(inspect.Comment, 'msg');
  berthOk(root, ['rm', name]);
  assert.equal(fs.existsSync(upper), false);
  assert.equal(fs.existsSync(`${root}/image/overlay2/layerdb/mounts/${id}`), false);
  assert.match(berthOk(root, ['system', 'check']), /ok/);
});

test('--read-only, -v (rw and ro), --tmpfs', () => {
  const host = fs.mkdtempSync('/var/tmp/berth-vol-');
  try {
    fs.writeFileSync(`${host}/in`, 'host file\n');
    const r = run([
      '--read-only',
      '--tmpfs',
      '/scratch',
      '-v',
      `${host}:/data`,
      '-v',
      `${host}:/ro:ro`,
      'base',
      'sh',
      '-c',
      'cat /data/in; echo out > /data/out; touch /rootfile 2>/dev/null || echo rofs; touch /ro/x 2>/dev/null || echo ro-vol; touch /scratch/x && echo tmpfs-ok',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['host file', 'rofs', 'ro-vol', 'tmpfs-ok']);
    assert.equal(fs.readFileSync(`${host}/out`, 'utf8'), 'out\n');
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
});

test('--network none has only loopback, up; --network host sees the host interfaces', () => {
  const none = run(['--network', 'none', 'base', 'cat', '/proc/net/dev']).stdout;
  assert.deepEqual(
    none
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(':')[0]),
    ['lo'],
  );
  const flags = run(['--network', 'none', 'base', 'cat', '/sys/class/net/lo/operstate']).stdout.trim();
  assert.ok(flags === 'unknown' || flags === 'up', flags);
  const host = run(['--network', 'host', 'base', 'cat', '/proc/net/dev']).stdout;
  // (veths come and go with the containers of other tests on the bridge meanwhile)
  const steady = (text: string) =>
    text
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(':')[0]!)
      .filter((i) => !/^veth/.test(i))
      .sort();
  assert.deepEqual(steady(host), steady(fs.readFileSync('/proc/net/dev', 'utf8')));
});

test('create, then start -a; ps -a; rm', () => {
  const id = berthOk(root, ['create', '--name', 'later', 'base', 'echo', 'started']).trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  assert.match(berthOk(root, ['ps', '-a']), /later/);
  assert.match(berthOk(root, ['ps', '-a', '--format', '{{.Status}}']), /Created/);
  assert.equal(berthOk(root, ['start', '-a', 'later']), 'started\n');
  assert.equal(berthOk(root, ['rm', 'later']).trim(), 'later');
  assert.doesNotMatch(berthOk(root, ['ps', '-a']), /later/);
});

test('run --rm leaves no container, mount or layer behind', () => {
  const before = fs.readdirSync(`${root}/overlay2`).length;
  assert.equal(run(['base', 'sh', '-c', 'exit 0']).code, 0);
  assert.equal(fs.readdirSync(`${root}/overlay2`).length, before);
  assert.deepEqual(mountsUnder(root), []);
});

test('kill -9 of berth during a foreground run: the container dies with it; the next command cleans up', async () => {
  const b = berthSpawn(root, ['run', '--rm', '--name', 'orphan', 'base', 'sleep', '987']);
  await waitFor(() => (berth(root, ['ps', '-q']).stdout.trim() ? true : undefined));
  b.kill('SIGKILL');
  await once(b, 'exit');
  await waitFor(() => (spawnSync('pgrep', ['-f', 'sleep 987']).status !== 0 ? true : undefined));
  assert.equal(berthOk(root, ['ps', '-aq']), '', 'the --rm container is removed by the next command');
  assert.deepEqual(mountsUnder(root), []);
  assert.match(berthOk(root, ['system', 'check']), /ok/);
});

test("inspect shows a container in Docker's shape: State, Config, HostConfig, Mounts, GraphDriver", () => {
  const id = berthOk(root, [
    'create',
    '--name',
    'inspected',
    '-v',
    `${root}:/data:ro`,
    'base',
    'sh',
    '-c',
    'exit 4',
  ]).trim();
  const [c] = JSON.parse(berthOk(root, ['inspect', 'inspected']));
  assert.equal(c.Id, id);
  assert.equal(c.Name, '/inspected');
  assert.equal(c.State.Status, 'created');
  assert.deepEqual([c.Path, ...c.Args], ['sh', '-c', 'exit 4']);
  assert.deepEqual(c.Mounts, [
    { Type: 'bind', Source: root, Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' },
  ]);
  const mountId = fs.readFileSync(`${root}/image/overlay2/layerdb/mounts/${id}/mount-id`, 'utf8');
  assert.equal(c.GraphDriver.Data.UpperDir, `${root}/overlay2/${mountId}/diff`);
  assert.equal(c.GraphDriver.Data.LowerDir.split(':')[0], `${root}/overlay2/${mountId}-init/diff`);
  assert.equal(berth(root, ['start', '-a', 'inspected']).code, 4);
  assert.equal(
    berthOk(root, ['container', 'inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'inspected']).trim(),
    'exited 4',
  );
  assert.match(berth(root, ['container', 'inspect', 'base']).stderr, /No such container: base/);
  berthOk(root, ['rm', 'inspected']);
});
