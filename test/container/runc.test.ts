import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { BERTH, berth, berthOk, berthSpawn, mountsUnder, tempRoot, type RunResult, waitFor } from '../helpers/berth.js';
import { settledAfterHangup, tmuxServer } from '../helpers/tmux.js';
import {
  RUNC_BUNDLES,
  RUNC_STATE,
  runcConfig,
  exitCodeOfStartError,
  logErrors,
  DEFAULT_CAPABILITIES,
} from '../../src/runtime/runc.js';
import { buildSpec } from '../../src/runtime/spec.js';

// --runtime runc: the same OCI spec as the native helper's, run by runc from a bundle. Each probe runs
// in both runtimes and the observable containers are compared.
const t = tempRoot('berth-runc');
const root = t.root;
const PROGRAMS = [
  'sh',
  'ls',
  'cat',
  'echo',
  'hostname',
  'id',
  'env',
  'sort',
  'pwd',
  'touch',
  'sleep',
  'stat',
  'readlink',
  'tty',
];
const RUNTIMES = ['berth', 'runc'] as const;

/** What runc leaves behind if it leaks: bundles, runc state, cgroups named berth-<id>. */
function leftovers(): string[] {
  const ls = (d: string) => {
    try {
      return fs.readdirSync(d).map((n) => `${d}/${n}`);
    } catch {
      return [];
    }
  };
  const cgroups: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name.startsWith('berth-')) cgroups.push(`${d}/${e.name}`);
      else if (depth < 6) walk(`${d}/${e.name}`, depth + 1);
    }
  };
  try {
    walk('/sys/fs/cgroup', 0);
  } catch {
    /* no cgroupfs */
  }
  return [...ls(RUNC_BUNDLES), ...ls(RUNC_STATE), ...cgroups];
}

let initial: string[] = [];
before(() => {
  initial = leftovers();
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
  assert.deepEqual(
    leftovers().filter((l) => !initial.includes(l)),
    [],
    'no runc bundle, state or cgroup may outlive the tests',
  );
  t.remove();
});

const run = (rt: string, args: string[], input?: string): RunResult =>
  berth(root, ['run', '--rm', '--runtime', rt, ...args], input === undefined ? {} : { input });
/** The same run in both runtimes: [berth, runc]. */
const both = (args: string[], input?: string) => RUNTIMES.map((rt) => run(rt, args, input)) as [RunResult, RunResult];

test("runcConfig adds Docker's capabilities, device rules, a cgroup under berth's own, private propagation", () => {
  const spec = buildSpec({
    rootfs: '/r',
    args: ['sh'],
    env: ['PATH=/bin'],
    cwd: '/',
    uid: 0,
    gid: 0,
    additionalGids: [],
    hostname: 'h',
    terminal: false,
    readonlyRootfs: false,
    network: 'none',
    etcFiles: { hosts: '/h', hostname: '/n', resolvConf: '/c' },
    binds: [],
    tmpfs: [],
    capabilities: [...DEFAULT_CAPABILITIES],
    privileged: false,
    noNewPrivileges: false,
  });
  const c = runcConfig(spec, 'abc');
  assert.deepEqual(c.process.capabilities.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(c.process.capabilities.effective, DEFAULT_CAPABILITIES);
  assert.equal(c.linux.cgroupsPath, 'berth-abc');
  assert.deepEqual(c.linux.resources.devices?.[0], { allow: false, access: 'rwm' });
  assert.equal(c.linux.rootfsPropagation, 'rprivate');
  assert.deepEqual(c.mounts, spec.mounts);
  assert.deepEqual(c.root, spec.root);
  assert.deepEqual(c.process.capabilities, spec.process.capabilities, 'runc gets the capabilities buildSpec decided');
  const userSpec = buildSpec({
    rootfs: '/r',
    args: ['sh'],
    env: ['PATH=/bin'],
    cwd: '/',
    uid: 1000,
    gid: 1000,
    additionalGids: [],
    hostname: 'h',
    terminal: false,
    readonlyRootfs: false,
    network: 'none',
    etcFiles: { hosts: '/h', hostname: '/n', resolvConf: '/c' },
    binds: [],
    tmpfs: [],
    capabilities: [...DEFAULT_CAPABILITIES],
    privileged: false,
    noNewPrivileges: false,
  });
  const user = runcConfig(userSpec, 'abc');
  assert.deepEqual(user.process.capabilities.bounding, DEFAULT_CAPABILITIES);
  assert.deepEqual(user.process.capabilities.effective, []);
  assert.deepEqual(user.process.capabilities.permitted, []);
  assert.equal(
    exitCodeOfStartError(
      'runc run failed: unable to start container process: exec: "/no/such": stat /no/such: no such file or directory',
    ),
    127,
  );
  assert.equal(
    exitCodeOfStartError(
      'runc run failed: unable to start container process: exec: "x": executable file not found in $PATH',
    ),
    127,
  );
  assert.equal(
    exitCodeOfStartError('runc run failed: unable to start container process: exec: "/etc": permission denied'),
    126,
  );
  assert.equal(
    exitCodeOfStartError(
      'runc run failed: unable to start container process: error during container init: error mounting "/x" to rootfs at "/etc": not a directory',
    ),
    125,
  );
  assert.deepEqual(logErrors('{"level":"warning","msg":"w"}\nnot json\n{"level":"error","msg":"e"}\n'), ['e']);
});

test('same identity, hostname, PID 1 command line, env, cwd in both runtimes', () => {
  const [a, b] = both([
    '-h',
    'box',
    '-w',
    '/work/dir',
    '-e',
    'A=1',
    'base',
    'sh',
    '-c',
    'id; hostname; cat /proc/1/cmdline; echo; pwd; echo $$; env | sort',
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout, a.stdout);
  assert.match(b.stdout, /^uid=0\(root\) gid=0\(root\) groups=0\(root\)\nbox\nsh\0-c\0id; .*\n\/work\/dir\n1\n/);
  assert.match(b.stdout, /^A=1$/m);
  assert.match(b.stdout, /^HOSTNAME=box$/m);
  const users = both(['-u', '1000:1001', 'base', 'id']);
  assert.equal(users[1].stdout, users[0].stdout);
  assert.equal(users[1].stdout.trim(), 'uid=1000 gid=1001 groups=1001');
  // the default hostname is the short container id (different containers): the shape agrees
  const [h1, h2] = both(['base', 'sh', '-c', 'hostname; cat /etc/hostname']).map((r) => r.stdout.split('\n'));
  for (const h of [h1!, h2!]) {
    assert.match(h[0]!, /^[a-f0-9]{12}$/);
    assert.equal(h[1], h[0]);
  }
});

test('same mount points, types and options', () => {
  const probe = 'cat /proc/self/mountinfo';
  const points = (r: RunResult) =>
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const f = l.split(' ');
        const sep = f.indexOf('-');
        // mount point, per-mount options, fs type (ids, sources and super options differ between runs)
        return `${f[4]} ${f[5]} ${f[sep + 1]}`;
      })
      .sort();
  for (const extra of [[], ['--read-only', '--tmpfs', '/scratch'], ['--network', 'host']]) {
    const [a, b] = both([...extra, 'base', 'sh', '-c', probe]);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(points(b), points(a), `mounts with ${extra.join(' ') || 'defaults'}`);
    assert.ok(points(b).length >= 10);
  }
});

test("/dev: the same nodes, links and mounts, except the helper's empty /dev/console and its unconditional /dev/core", () => {
  const probe =
    'ls /dev; stat -c "%n %F %t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; readlink /dev/fd /dev/stdin /dev/stdout /dev/stderr /dev/ptmx';
  const [a, b] = both(['base', 'sh', '-c', probe]);
  assert.equal(b.code, 0, b.stderr);
  const lines = (r: RunResult) => new Set(r.stdout.split('\n').filter(Boolean));
  const onlyHelper = [...lines(a)].filter((l) => !lines(b).has(l));
  const onlyRunc = [...lines(b)].filter((l) => !lines(a).has(l));
  // runc makes /dev/console only for a terminal, and /dev/core only when the host has /proc/kcore
  const known = ['console', ...(fs.existsSync('/proc/kcore') ? [] : ['core'])];
  assert.deepEqual(onlyRunc, []);
  assert.deepEqual(
    onlyHelper.filter((l) => !known.includes(l)),
    [],
  );
  assert.match(b.stdout, /^\/dev\/null character special file 1:3 666$/m);
});

test(
  'exit codes: the status, 127 not found, 126 not executable, 128+n when killed from the host',
  { timeout: 120_000 },
  async () => {
    for (const rt of RUNTIMES) {
      assert.equal(run(rt, ['base', 'sh', '-c', 'exit 3']).code, 3, rt);
      const nf = run(rt, ['base', '/no/such']);
      assert.equal(nf.code, 127, `${rt}: ${nf.stderr}`);
      assert.match(nf.stderr, /\/no\/such/);
      assert.equal(run(rt, ['base', 'nosuchcommand']).code, 127, rt);
      assert.equal(run(rt, ['base', '/etc/passwd']).code, 126, rt);
      const ps = berthOk(root, ['ps', '-a', '-q']);
      assert.equal(ps, '', 'run --rm removed the failed containers');
    }
    for (const rt of RUNTIMES) {
      const name = `sleeper-${rt}`;
      const sleeper = berthSpawn(root, ['run', '--runtime', rt, '--name', name, 'base', 'sleep', '30']);
      const pid = await waitFor(() => pidOf(name));
      // State.Pid is the container's PID 1 (sleep), not the monitor's
      assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\0/, rt);
      process.kill(pid, 'SIGKILL');
      const [code] = await once(sleeper, 'exit');
      assert.equal(code, 137, rt);
      assert.match(
        berthOk(root, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']),
        new RegExp(`^${name} Exited \\(137\\)`, 'm'),
      );
      berthOk(root, ['rm', name]);
    }
  },
);

test('signals to berth reach the container in both runtimes', { timeout: 60_000 }, async () => {
  for (const rt of RUNTIMES) {
    const name = `trap-${rt}`;
    const child = berthSpawn(root, [
      'run',
      '--rm',
      '--name',
      name,
      '--runtime',
      rt,
      'base',
      'sh',
      '-c',
      'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done',
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // berth forwards signals once it has recorded the container as running (it drops those that come earlier)
    await waitFor(() => (out.includes('ready') && pidOf(name) ? true : undefined));
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 7, rt);
    assert.match(out, /got-term/, rt);
  }
});

test("stdin with -i; the runc container's stdio are runc's pipes", () => {
  const [a, b] = both(['-i', 'base', 'cat'], 'from stdin\n');
  assert.equal(a.stdout, 'from stdin\n');
  assert.equal(b.stdout, 'from stdin\n');
  assert.match(
    run('runc', ['base', 'readlink', '/proc/self/fd/0', '/proc/self/fd/1']).stdout,
    /^pipe:\[\d+\]\npipe:\[\d+\]\n$/,
  );
});

test("-it with runc: runc's pty from the container's devpts as stdio and /dev/console; the exit code comes back", () => {
  const r = spawnSync('script', ['-qfec', `${BERTH} --root ${root} run --rm -it --runtime runc base sh`, '/dev/null'], {
    input: 'tty; readlink /proc/$$/fd/0 /proc/$$/fd/2; stat -c "%F %t" /dev/console; exit 5\n',
    encoding: 'utf8',
  });
  assert.equal(r.status, 5, r.stdout + r.stderr);
  assert.match(r.stdout, /^\/dev\/pts\/0\r?$/m);
  assert.match(r.stdout, /^\/dev\/pts\/0\r?\n\/dev\/pts\/0\r?$/m);
  assert.match(r.stdout, /^character special file 88\r?$/m, '/dev/console is the pty (major 136 = 0x88)');
});

test(
  'kill -9 of berth: the runc container dies with it, runc state and bundle go; the next command reaps the rest',
  { timeout: 60_000 },
  async () => {
    const b = berthSpawn(root, ['run', '--rm', '--runtime', 'runc', '--name', 'orphan-runc', 'base', 'sleep', '988']);
    await waitFor(() => pidOf('orphan-runc'));
    b.kill('SIGKILL');
    await once(b, 'exit');
    await waitFor(() =>
      spawnSync('pgrep', ['-f', 'sleep 988']).status !== 0 && leftovers().every((l) => initial.includes(l))
        ? true
        : undefined,
    );
    assert.equal(berthOk(root, ['ps', '-aq']), '', 'the --rm container is removed by the next command');
    assert.deepEqual(mountsUnder(root), []);
  },
);

test('closing the terminal ends a runc foreground container too', { timeout: 60_000 }, async () => {
  const session = 'hup';
  const server = tmuxServer('berth-runc');
  server.tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '80',
    '-y',
    '20',
    `${BERTH} --root ${root} run --rm -it --runtime runc base sh`,
  );
  try {
    await server.waitScreen(session, /^#/m); // the shell runs
  } finally {
    server.kill();
  }
  // berth asks runc to kill and delete the container, then unmounts and removes it
  const left = await settledAfterHangup(root, () => leftovers().every((l) => initial.includes(l)));
  assert.equal(left, '', 'berth, runc and the container are gone');
  assert.deepEqual(mountsUnder(root), []);
  assert.equal(berthOk(root, ['ps', '-aq']), '', 'the --rm container was removed');
});

test('-v (rw and ro), --read-only, --tmpfs behave the same', () => {
  const host = fs.mkdtempSync('/var/tmp/berth-runc-vol-');
  try {
    fs.writeFileSync(`${host}/in`, 'host file\n');
    for (const rt of RUNTIMES) {
      const r = run(rt, [
        '--read-only',
        '--tmpfs',
        '/scratch',
        '-v',
        `${host}:/data`,
        '-v',
        `${host}:/ro:ro`,
        '-v',
        `${host}/in:/etc/in-file:ro`,
        'base',
        'sh',
        '-c',
        `cat /data/in /etc/in-file; echo ${rt} > /data/out-${rt}; touch /rootfile 2>/dev/null || echo rofs; touch /ro/x 2>/dev/null || echo ro-vol; touch /scratch/x && echo tmpfs-ok`,
      ]);
      assert.equal(r.code, 0, `${rt}: ${r.stderr}`);
      assert.deepEqual(r.stdout.trim().split('\n'), ['host file', 'host file', 'rofs', 'ro-vol', 'tmpfs-ok'], rt);
      assert.equal(fs.readFileSync(`${host}/out-${rt}`, 'utf8'), `${rt}\n`);
    }
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
});

test("--network none: only lo, up; --network host: the host's interfaces", () => {
  const ifs = (r: RunResult) =>
    r.stdout
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(':')[0]);
  const [a, b] = both(['--network', 'none', 'base', 'sh', '-c', 'cat /proc/net/dev']);
  assert.deepEqual(ifs(b), ['lo']);
  assert.deepEqual(ifs(b), ifs(a));
  const [oa, ob] = both(['--network', 'none', 'base', 'cat', '/sys/class/net/lo/operstate']);
  assert.equal(ob.stdout, oa.stdout);
  const [ha, hb] = both(['--network', 'host', 'base', 'cat', '/proc/net/dev']);
  // (veths come and go with the containers of other tests on the bridge meanwhile)
  const steady = (r: RunResult) =>
    ifs(r)
      .filter((i) => !/^veth/.test(i!))
      .sort();
  assert.deepEqual(steady(hb), steady(ha));
  assert.ok(ifs(hb).length >= 1);
});

test("runc containers get Docker's default capabilities; a non-root user none effective", () => {
  const caps = (r: RunResult) =>
    Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('Cap'))
        .map((l) => l.split(/:\s+/) as [string, string]),
    );
  const root0 = caps(run('runc', ['base', 'cat', '/proc/self/status']));
  assert.equal(root0.CapEff, '00000000a80425fb');
  assert.equal(root0.CapBnd, '00000000a80425fb');
  const nobody = caps(run('runc', ['-u', 'nobody', 'base', 'cat', '/proc/self/status']));
  assert.equal(nobody.CapEff, '0000000000000000');
  assert.equal(nobody.CapBnd, '00000000a80425fb');
});

test('create --runtime runc, then start -a; the runtime is kept in hostconfig.json', () => {
  const id = berthOk(root, [
    'create',
    '--runtime',
    'runc',
    '--name',
    'later-runc',
    'base',
    'sh',
    '-c',
    'echo started; cat /proc/self/status',
  ]).trim();
  assert.equal(JSON.parse(fs.readFileSync(`${root}/containers/${id}/hostconfig.json`, 'utf8')).Runtime, 'runc');
  const out = berthOk(root, ['start', '-a', 'later-runc']);
  assert.match(out, /^started\n/);
  assert.match(out, /^CapEff:\s+00000000a80425fb$/m, 'ran under runc');
  assert.match(berthOk(root, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']), /^later-runc Exited \(0\)/m);
  assert.match(berthOk(root, ['start', '-a', 'later-runc']), /^started\n/, 'started again');
  berthOk(root, ['rm', 'later-runc']);
  assert.equal(fs.existsSync(`${RUNC_BUNDLES}/${id}`), false);
  assert.equal(fs.existsSync(`${RUNC_STATE}/${id}`), false);
});

test('a failed start leaves no bundle, state, cgroup or mount; run --rm costs', (t) => {
  const leak = () => leftovers().filter((l) => !initial.includes(l));
  assert.equal(run('runc', ['-v', '/etc/hostname:/etc:ro', 'base', 'true']).code, 125);
  assert.deepEqual(leak(), []);
  assert.deepEqual(mountsUnder(root), []);
  const ms: Record<string, number[]> = { berth: [], runc: [] };
  for (let i = 0; i < 5; i++) {
    for (const rt of RUNTIMES) {
      const t0 = performance.now();
      assert.equal(run(rt, ['base', 'sh', '-c', 'exit 0']).code, 0);
      ms[rt]!.push(performance.now() - t0);
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  t.diagnostic(
    `run --rm base sh -c 'exit 0', median of 5: berth ${median(ms.berth!).toFixed(0)} ms, runc ${median(ms.runc!).toFixed(0)} ms`,
  );
  assert.deepEqual(leak(), []);
});

/** State.Pid of a running container, by name (read from its record, as berth ps would). */
function pidOf(name: string): number | undefined {
  for (const id of fs.readdirSync(`${root}/containers`)) {
    try {
      const rec = JSON.parse(fs.readFileSync(`${root}/containers/${id}/config.v2.json`, 'utf8'));
      if (rec.Name === `/${name}` && rec.State.Running && rec.State.Pid > 0) return rec.State.Pid as number;
    } catch {
      /* being written or removed */
    }
  }
  return undefined;
}
