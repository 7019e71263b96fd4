import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { alive, berth, berthOk, BERTH, REPO, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';

// The native launcher's `exec` (native/launcher/): it runs the plan berth wrote at start, or hands the
// command back to berth. To see which happened, the launcher is given /bin/false as "berth": a
// hand-back then exits 1 with no output.
const t = tempRoot('berth-exec-fast');
const root = t.root;
const LAUNCHER = `${REPO}/native/build/Release/berth-launcher`;
const ok = (args: string[]) => berthOk(root, args).trim();
const fast = (args: string[], opts: { input?: string } = {}) => {
  const r = spawnSync(LAUNCHER, ['/bin/false', '--root', root, 'exec', ...args], {
    input: opts.input ?? '',
    encoding: 'utf8',
  });
  return { code: r.status ?? 128 + 9, stdout: r.stdout, stderr: r.stderr };
};
/** Through berth with the launcher turned off: Node's exec. */
const viaNode = (args: string[]) => berth(root, ['exec', ...args], { env: { BERTH_NO_LAUNCHER: '1' } });
const handedBack = (args: string[]) =>
  assert.deepEqual(fast(args), { code: 1, stdout: '', stderr: '' }, `expected a hand-back for exec ${args.join(' ')}`);
const idOf = (name: string) => ok(['inspect', '--format', '{{.Id}}', name]);

before(() => {
  ok([
    'image',
    'from-host',
    'tools',
    'sh',
    'sleep',
    'cat',
    'env',
    'sort',
    'grep',
    'head',
    'id',
    'readlink',
    'hostname',
    'kill',
    'ls',
    'mkdir',
    'mv',
    'ln',
  ]);
  ok(['run', '-d', '--name', 'c1', 'tools', 'sleep', '1000']);
  ok([
    'run',
    '-d',
    '--name',
    'c2',
    '-u',
    '1:1',
    '--cap-drop',
    'chown',
    '-w',
    '/tmp',
    '-e',
    'A=b c',
    '--hostname',
    'two',
    'tools',
    'sleep',
    '1000',
  ]);
});
after(() => {
  const monitors: number[] = [];
  for (const c of berth(root, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean)) {
    try {
      monitors.push(
        (JSON.parse(fs.readFileSync(`${root}/containers/${c}/state.json`, 'utf8')) as { MonitorPid: number })
          .MonitorPid,
      );
    } catch {
      /* never started */
    }
    berth(root, ['rm', '-f', c]);
  }
  // a monitor ends by becoming `berth container cleanup` for a moment
  const end = Date.now() + 10000;
  while (monitors.some(alive) && Date.now() < end) spawnSync('sleep', ['0.1']);
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('a detached container gets a plan; exec runs it without berth, with the exit code of the command', () => {
  for (const c of ['c1', 'c2']) assert.ok(fs.existsSync(`${root}/containers/${idOf(c)}/exec.plan`));
  assert.deepEqual(fast(['c2', 'id']), { code: 0, stdout: 'uid=1 gid=1 groups=1\n', stderr: '' });
  assert.equal(fast(['c1', 'sh', '-c', 'echo out; echo err >&2; exit 3']).code, 3);
  assert.deepEqual(fast(['c1', 'sh', '-c', 'echo "$0" "$1"', 'a b', '--help']).stdout, 'a b --help\n');
  assert.equal(fast(['c1', 'sh', '-c', 'kill -9 $$']).code, 137);
  // by full ID, ID prefix and /name, as berth resolves them
  const id = idOf('c2');
  for (const ref of [id, id.slice(0, 12), '/c2']) assert.equal(fast([ref, 'hostname']).stdout, 'two\n');
});

test('the process is the one berth itself would start: same user, env, cwd, capabilities, seccomp, cgroups, namespaces', () => {
  const probe = [
    'sh',
    '-c',
    'env | sort; grep -E "^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)" /proc/self/status; cat /proc/self/cgroup; pwd; readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/ipc /proc/self/ns/cgroup; ls -l /proc/self/fd',
  ];
  for (const c of ['c1', 'c2']) {
    const f = fast([c, ...probe]);
    assert.equal(f.code, 0);
    const n = viaNode([c, ...probe]);
    assert.equal(n.code, 0, n.stderr);
    const strip = (s: string) =>
      s
        .replace(/ \d\d:\d\d /g, ' ')
        .replace(/(pipe|socket):\[\d+\]/g, '$1')
        .replace(/\/proc\/\d+\//g, '/proc/N/');
    assert.equal(strip(f.stdout), strip(n.stdout));
  }
  assert.match(fast(['c2', 'env']).stdout, /^A=b c$/m);
});

test("stdin is the terminal's only with -i; -t asks for a terminal (a pipe here, so the helper relays it)", () => {
  assert.equal(fast(['c1', 'cat'], { input: 'in\n' }).stdout, '');
  assert.equal(fast(['-i', 'c1', 'cat'], { input: 'in\n' }).stdout, 'in\n');
  assert.equal(fast(['--interactive', 'c1', 'cat'], { input: 'x' }).stdout, 'x');
  const r = fast(['-it', 'c1', 'sh', '-c', 'echo $TERM; test -t 0 && echo tty']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /xterm/);
});

test('any other form of the command goes to berth', () => {
  for (const args of [
    ['-e', 'A=1', 'c1', 'id'],
    ['-u', '0', 'c1', 'id'],
    ['-w', '/', 'c1', 'id'],
    ['-d', 'c1', 'id'],
    ['--privileged', 'c1', 'id'],
    ['-ix', 'c1', 'id'],
    ['--tty=true', 'c1', 'id'],
    ['--', 'c1', 'id'],
    ['c1'],
    ['', 'id'],
    ['nosuch', 'id'],
    ['g', 'id'],
  ])
    handedBack(args);
  assert.equal(spawnSync(LAUNCHER, ['/bin/false', '--root', root, 'ps']).status, 1);
  assert.equal(
    spawnSync(LAUNCHER, ['/bin/false', '--root', root, 'exec', 'c1', 'id'], {
      env: { ...process.env, BERTH_NO_LAUNCHER: '1' },
    }).status,
    1,
  );
  // through bin/berth, the hand-back reaches berth, which explains
  const r = berth(root, ['exec', 'nosuch', 'id']);
  assert.equal(r.code, 126);
  assert.match(r.stderr, /No such container: nosuch/);
});

test('a command that cannot run goes to berth, which says why (127, 126)', () => {
  handedBack(['c1', 'nosuch']);
  const r = berth(root, ['exec', 'c1', 'nosuch']);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /nosuch: executable file not found in \$PATH/);
});

test('the plan is used only while what it was made from holds; berth then plans again', () => {
  // the container's /etc/passwd changes: the user's groups and home may have
  ok(['exec', '-u', '0', 'c1', 'sh', '-c', 'echo app:x:7:7::/home/app:/bin/sh >> /etc/passwd']);
  handedBack(['c1', 'id']);
  assert.equal(ok(['exec', 'c1', 'id']), 'uid=0(root) gid=0(root) groups=0(root)');
  assert.equal(fast(['c1', 'id']).code, 0);
  // paused: berth refuses
  ok(['pause', 'c1']);
  handedBack(['c1', 'id']);
  assert.match(berth(root, ['exec', 'c1', 'id']).stderr, /is paused/);
  ok(['unpause', 'c1']);
  assert.equal(fast(['c1', 'id']).code, 0);
  // stopped (the plan names a process that is gone), then started again (a new process, a new plan)
  ok(['stop', '-t', '1', 'c1']);
  handedBack(['c1', 'id']);
  assert.match(berth(root, ['exec', 'c1', 'id']).stderr, /is not running/);
  ok(['start', 'c1']);
  assert.equal(fast(['c1', 'id']).code, 0);
});

test('a rebuilt berth plans again; an /etc/passwd that is a symlink gets no plan; a helper that cannot start hands back', () => {
  const id = idOf('c2');
  const plan = `${root}/containers/${id}/exec.plan`;
  // the plan names the helper and the bundle it was made with
  const text = fs.readFileSync(plan, 'latin1');
  assert.match(text, /^unchanged \d+ \d+ \d+ .*\/native\/build\/Release\/berth-helper$/m);
  assert.match(text, /^unchanged \d+ \d+ \d+ .*\/dist\/cli\/berth-cli\.cjs$/m);
  // a launcher with no helper beside it
  const lonely = fs.mkdtempSync('/var/tmp/berth-launcher-');
  try {
    fs.copyFileSync(LAUNCHER, `${lonely}/berth-launcher`);
    fs.chmodSync(`${lonely}/berth-launcher`, 0o755);
    const r = spawnSync(`${lonely}/berth-launcher`, ['/bin/false', '--root', root, 'exec', 'c2', 'id'], {
      encoding: 'utf8',
    });
    assert.deepEqual([r.status, r.stdout, r.stderr], [1, '', '']);
  } finally {
    fs.rmSync(lonely, { recursive: true, force: true });
  }
  // an image whose /etc/passwd is a symlink: users resolve through it inside the container, so no plan is kept
  // (an /etc that is a symlink becomes a directory in the union: the init layer has one)
  const dir = fs.mkdtempSync('/var/tmp/berth-etclink-');
  try {
    const exported = spawnSync(
      'sh',
      [
        '-c',
        `"$0" --root "$1" export c1 | tar -x -C "$2" && mkdir -p "$2/usr/etc" && mv "$2/etc/passwd" "$2/usr/etc/passwd" && ln -s ../usr/etc/passwd "$2/etc/passwd" && tar -c -C "$2" . | "$0" --root "$1" import - etclink`,
        BERTH,
        root,
        dir,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(exported.status, 0, exported.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const c3 = ok(['run', '-d', '--name', 'c3', 'etclink', 'sleep', '1000']);
  handedBack(['c3', 'id']);
  assert.equal(ok(['exec', 'c3', 'id']), 'uid=0(root) gid=0(root) groups=0(root)');
  assert.ok(!fs.existsSync(`${root}/containers/${c3}/exec.plan`));
  handedBack(['c3', 'id']);
  ok(['rm', '-f', 'c3']);
});

test('the command starts with default signal dispositions, whatever the caller ignored (as through Node)', () => {
  const probe = `trap "" INT QUIT; exec "$0" "$@"`;
  const cmd = ['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status'];
  const viaLauncher = spawnSync('sh', ['-c', probe, LAUNCHER, '/bin/false', '--root', root, 'exec', 'c1', ...cmd], {
    encoding: 'utf8',
  });
  const viaBerth = spawnSync('sh', ['-c', probe, BERTH, '--root', root, 'exec', 'c1', ...cmd], {
    encoding: 'utf8',
    env: { ...process.env, BERTH_NO_LAUNCHER: '1' },
  });
  assert.equal(viaLauncher.status, 0, viaLauncher.stderr);
  assert.equal(viaLauncher.stdout, viaBerth.stdout);
  assert.match(viaLauncher.stdout, /^SigIgn:\s+0+$/m);
});

test('a damaged or foreign plan is never run', () => {
  const plan = `${root}/containers/${idOf('c2')}/exec.plan`;
  const good = fs.readFileSync(plan);
  try {
    const text = good.toString('latin1');
    for (const bad of [
      text.replace('berth-exec-plan 1', 'berth-exec-plan 2'), // a newer format
      text.replace(/^caps /m, 'newfact x\ncaps '), // a fact this launcher cannot check
      text.replace(/^pid (\d+) (\d+)$/m, (_m, p: string, s: string) => `pid ${p} ${Number(s) + 1}`), // another process
      text.replace(/^pid (\d+) /m, `pid ${process.pid} `), // not the container
      text.replace(/^lock .*$/m, `lock ${plan}`), // a lock nobody holds
      text.replace(/^plan plain (\d+)$/m, (_m, n: string) => `plan plain ${Number(n) + 100000}`), // a length past the end
      text.slice(0, text.length - 10), // cut short
      text.replace(/^pid .*\n/m, ''), // no pid
      '',
    ]) {
      fs.writeFileSync(plan, Buffer.from(bad, 'latin1'));
      handedBack(['c2', 'id']);
    }
    fs.rmSync(plan);
    handedBack(['c2', 'id']);
  } finally {
    fs.writeFileSync(plan, good);
  }
  assert.equal(fast(['c2', 'id']).code, 0);
});

test('names win over ID prefixes, as in berth; an ambiguous prefix goes to berth', () => {
  const id1 = idOf('c1');
  // a container named like the start of c1's ID: berth resolves that string to the named one
  const prefix = id1.slice(0, 6);
  ok(['create', '--name', prefix, '--hostname', 'named', 'tools', 'sleep', '1000']);
  handedBack([prefix, 'hostname']); // it is not running: berth says so
  assert.match(berth(root, ['exec', prefix, 'hostname']).stderr, /is not running/);
  ok(['start', prefix]);
  assert.equal(fast([prefix, 'hostname']).stdout, 'named\n');
  ok(['rm', '-f', prefix]);
  assert.equal(fast([prefix, 'hostname']).code, 0);
  // a prefix of two containers' IDs: berth reports it (a second record, c1's with another ID and name)
  const twin = `${id1.slice(0, 12)}${id1[12] === '0' ? '1' : '0'}${id1.slice(13)}`;
  // (never started, on no mount: berth has nothing to clean up for it)
  const rec = JSON.parse(fs.readFileSync(`${root}/containers/${id1}/config.v2.json`, 'utf8')) as {
    ID: string;
    Name: string;
    State: { Status: string; Running: boolean; Pid: number };
  };
  fs.mkdirSync(`${root}/containers/${twin}`);
  try {
    fs.copyFileSync(`${root}/containers/${id1}/hostconfig.json`, `${root}/containers/${twin}/hostconfig.json`);
    fs.writeFileSync(
      `${root}/containers/${twin}/config.v2.json`,
      JSON.stringify({
        ...rec,
        ID: twin,
        Name: '/twin',
        MountID: 'f'.repeat(64),
        State: { ...rec.State, Status: 'created', Running: false, Pid: 0 },
      }),
    );
    handedBack([id1.slice(0, 12), 'id']);
    assert.match(berth(root, ['exec', id1.slice(0, 12), 'id']).stderr, /ambiguous/);
    assert.equal(fast([id1.slice(0, 13), 'id']).code, 0);
  } finally {
    fs.rmSync(`${root}/containers/${twin}`, { recursive: true });
  }
});

test('signals to the launcher reach the command; killing the launcher kills the exec', async () => {
  const p = spawn(
    LAUNCHER,
    [
      '/bin/false',
      '--root',
      root,
      'exec',
      'c1',
      'sh',
      '-c',
      'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  await Promise.race([
    waitFor(() => out.includes('ready') || undefined),
    exited.then((c) => assert.fail(`exec ended (${c}) before it was ready`)),
  ]);
  p.kill('SIGTERM');
  assert.equal(await exited, 5);
  assert.match(out, /got TERM/);
  // SIGKILL of the launcher: the helper dies with it, and the exec'd process with the helper
  const q = spawn(LAUNCHER, ['/bin/false', '--root', root, 'exec', 'c1', 'sleep', '777'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  q.kill('SIGKILL');
  await new Promise((r) => q.on('exit', r));
  const end = Date.now() + 5000;
  let left = '';
  while (Date.now() < end) {
    left = spawnSync('pgrep', ['-f', 'sleep 777'], { encoding: 'utf8' }).stdout.trim();
    if (!left) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(left, '', 'the exec outlived a killed launcher');
});

test('bin/berth sends exec (also after --root) to the launcher and the rest to Node', async () => {
  const script = fs.readFileSync(BERTH, 'utf8');
  assert.match(script, /berth-launcher/);
  // a foreground container: the first exec (Node) writes the plan, the next is fast
  const p = spawn(BERTH, ['--root', root, 'run', '--rm', '--name', 'fg', 'tools', 'sleep', '30'], { stdio: 'ignore' });
  try {
    let r = { code: -1, stdout: '', stderr: '' };
    for (let i = 0; i < 100 && r.code !== 0; i++) {
      r = berth(root, ['exec', 'fg', 'id']);
      if (r.code) spawnSync('sleep', ['0.1']);
    }
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fast(['fg', 'id']).code, 0);
    // without node on PATH only the launcher can have run these
    const noNode = { ...process.env, PATH: '/nonexistent' };
    for (const args of [
      ['--root', root, 'exec', 'fg', 'hostname'],
      [`--root=${root}`, 'exec', 'fg', 'hostname'],
    ]) {
      const q = spawnSync(BERTH, args, { env: noNode, encoding: 'utf8' });
      assert.equal(q.status, 0, q.stderr);
    }
    const q = spawnSync(BERTH, ['exec', 'fg', 'hostname'], { env: { ...noNode, BERTH_ROOT: root }, encoding: 'utf8' });
    assert.equal(q.status, 0, q.stderr);
    assert.notEqual(spawnSync(BERTH, ['--root', root, 'ps'], { env: noNode }).status, 0);
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.on('exit', r));
  }
});
