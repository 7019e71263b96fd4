/**
 * Confinement parity with Docker. test/interop/probe.c (built here, static) tries the things a
 * container must not do: mount, unshare, keyctl, loading a module, reboot, raw sockets, writing
 * /proc/sys, reading /proc/kcore, ptrace, setting the hostname or the clock, opening a host disk,
 * bpf, ... It runs as root with default settings in a berth container and in a docker container
 * (a private dockerd 20.10 with runc) from the same one-file rootfs. The rule: every check Docker
 * denies, berth denies too. Checks Docker allows (CAP_NET_RAW, CAP_SYS_CHROOT, CAP_MKNOD, ptrace
 * of one's own child) may be allowed by berth as well.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { REPO, berth, berthOk, mountsUnder } from '../helpers/berth.js';
import { Scope, docker, dockerOk, runOk, since, startDockerd, tarDir, type Dockerd } from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`probe.test: ${since(T0)} in all\n`);
});

type State = 'allowed' | 'denied' | 'skipped' | 'error';
interface Result {
  state: State;
  detail: string;
}
type Report = Map<string, Result>;

const IMAGE = 'probeimg';
let root: string;
let dockerd: Dockerd;
let hostArgs: string[];
let ofBerth: Report;
let ofDocker: Report;

/** `<check> <state> <detail>` lines; `#` lines are comments. */
function parse(stdout: string): Report {
  const out: Report = new Map();
  for (const line of stdout.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+) (allowed|denied|skipped|error) (.*)$/.exec(line);
    if (!m) throw new Error(`probe: unparsable line ${JSON.stringify(line)}`);
    out.set(m[1]!, { state: m[2] as State, detail: m[3]! });
  }
  return out;
}

/**
 * A block device the host itself can open read-only ("MAJ:MIN"), so that a container opening it
 * is refused by the container's confinement, not by the host's (here /dev/vda is refused to root).
 */
function openableBlockDevice(): string {
  for (const name of fs.readdirSync('/sys/class/block').sort()) {
    try {
      fs.closeSync(fs.openSync(`/dev/${name}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
      return fs.readFileSync(`/sys/class/block/${name}/dev`, 'utf8').trim();
    } catch {
      /* try the next one */
    }
  }
  return '8:0';
}

before(
  () => {
    const work = scope.tempDir('probe');
    const rootfs = join(work, 'rootfs');
    fs.mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    fs.chmodSync(join(rootfs, 'tmp'), 0o1777);
    runOk('cc', ['-O2', '-Wall', '-static', '-o', join(rootfs, 'probe'), join(REPO, 'test/interop/probe.c')]);
    const tar = tarDir(rootfs, join(work, 'probe.tar'));
    hostArgs = [hostname(), fs.readlinkSync('/proc/self/ns/uts'), openableBlockDevice()];

    root = scope.tempDir('probe-berth');
    berthOk(root, ['import', tar, IMAGE]);
    dockerd = startDockerd(scope, 'probe', join(work, 'docker'));
    dockerOk(dockerd.host, ['import', tar, IMAGE]);

    const b = berth(root, ['run', '--rm', IMAGE, '/probe', ...hostArgs]);
    assert.equal(b.code, 0, `berth run: ${b.stderr}`);
    ofBerth = parse(b.stdout);
    const d = docker(dockerd.host, ['run', '--rm', '--network', 'none', IMAGE, '/probe', ...hostArgs]);
    assert.equal(d.code, 0, `docker run: ${d.stderr}\n${dockerd.log().slice(-2000)}`);
    ofDocker = parse(d.stdout);
    console.log(table());
  },
  { timeout: 300_000 },
);

function table(): string {
  const names = [...new Set([...ofDocker.keys(), ...ofBerth.keys()])];
  const w = Math.max(...names.map((n) => n.length));
  const cell = (r?: Result) => (r ? `${r.state} ${r.detail}` : 'missing').padEnd(44);
  const rows = names.map((n) => {
    const flag = ofDocker.get(n)?.state === 'denied' && ofBerth.get(n)?.state !== 'denied' ? '  <-- berth weaker' : '';
    return `${n.padEnd(w)}  ${cell(ofDocker.get(n))}${cell(ofBerth.get(n))}${flag}`;
  });
  return [
    `probe ${hostArgs.join(' ')}`,
    `${'check'.padEnd(w)}  ${'docker'.padEnd(44)}${'berth'.padEnd(44)}`,
    ...rows,
  ].join('\n');
}

test('the probe ran every check in both containers', () => {
  assert.ok(ofDocker.size >= 40, `docker: ${ofDocker.size} checks`);
  assert.deepEqual([...ofBerth.keys()], [...ofDocker.keys()]);
  for (const [rt, rep] of [
    ['docker', ofDocker],
    ['berth', ofBerth],
  ] as const) {
    assert.deepEqual(
      [...rep].filter(([, r]) => r.state === 'error').map(([n, r]) => `${n}: ${r.detail}`),
      [],
      `${rt}: probe errors`,
    );
  }
});

test('the probe tells denied from allowed: Docker denies the classic escapes and allows its default capabilities', () => {
  // If the probe misclassified everything as denied, the parity rule below would pass vacuously.
  const denied = [
    'mount_tmpfs',
    'mount_proc',
    'umount',
    'unshare_mnt',
    'unshare_net',
    'add_key',
    'keyctl',
    'reboot',
    'swapon',
    'acct',
    'settimeofday',
    'adjtimex',
    'clock_settime',
    'sethostname',
    'proc_sys_write',
    'sys_write',
    'open_blk',
    'open_kmsg',
    'bpf',
    'open_by_handle_at',
    'personality_norandom',
    'ptrace_foreign',
  ];
  const allowed = ['chroot', 'raw_inet', 'raw_packet', 'mknod_blk', 'ptrace_child', 'personality_linux32'];
  for (const n of denied) assert.equal(ofDocker.get(n)?.state, 'denied', `docker ${n}: ${ofDocker.get(n)?.detail}`);
  for (const n of allowed) assert.equal(ofDocker.get(n)?.state, 'allowed', `docker ${n}: ${ofDocker.get(n)?.detail}`);
});

test('berth denies everything Docker denies', () => {
  const weaker = [...ofDocker]
    .filter(([n, r]) => r.state === 'denied' && ofBerth.get(n)?.state !== 'denied')
    .map(([n, r]) => `${n}: docker ${r.detail}, berth ${ofBerth.get(n)?.state} ${ofBerth.get(n)?.detail}`);
  assert.deepEqual(weaker, [], `berth allows what Docker denies:\n${weaker.join('\n')}`);
});

test('nothing is left behind: no berth mounts, no docker containers', () => {
  assert.deepEqual(mountsUnder(root), []);
  assert.equal(dockerOk(dockerd.host, ['ps', '-aq']).trim(), '');
  assert.equal(berthOk(root, ['ps', '-aq']).trim(), '');
});
