/**
 * Hostile images against `berth run`: images built in code (a static busybox base plus one layer
 * of symlinks and odd files on top), loaded with `berth load`, run as real containers. Whatever an
 * image holds, a container either starts with every mount inside its own rootfs, or fails with
 * exit 125 and a message naming the path. Sentinels on the host (a dir under /var/tmp, /etc/shadow,
 * /etc/hosts, /etc/resolv.conf) are never mounted over, written or changed; no mount outlives a run.
 */
import { MASKED_PATHS, READONLY_PATHS } from '../../src/runtime/security.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { alive, BERTH, berthOk, mountsUnder, tempRoot, type RunResult } from '../helpers/berth.js';
import { dockerArchive, hdr, makeTar } from '../helpers/archive.js';
import type { TarHeader } from '../../src/archive/tar-header.js';

const t = tempRoot('berth-hostile-run');
const root = t.root;
/** The host sentinel dir (symlink targets in the images point here) and a bind source. */
const sentinel = fs.mkdtempSync('/var/tmp/berth-sentinel-');
const hostDir = fs.mkdtempSync('/var/tmp/berth-hostile-src-');
const hostFile = `${hostDir}.file`;
const S = sentinel; // short, for symlink targets

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// ---- host snapshots ------------------------------------------------------------------------------

/** Every entry under a dir (and the dir itself): type, mode, owner, size, mtime, ctime, content digest. */
function snapshot(path: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      out.push(`${rel} missing`);
      return;
    }
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    const parts = [
      rel,
      type,
      (st.mode & 0o7777n).toString(8),
      `${st.uid}:${st.gid}`,
      `size=${st.size}`,
      `mtime=${st.mtimeNs}`,
      `ctime=${st.ctimeNs}`,
      `ino=${st.ino}`,
    ];
    if (type === 'file') parts.push(`sha256=${sha(fs.readFileSync(p))}`);
    if (type === 'symlink') parts.push(`-> ${fs.readlinkSync(p)}`);
    out.push(parts.join(' '));
    if (type === 'dir') for (const n of fs.readdirSync(p).sort()) walk(join(p, n), `${rel}/${n}`);
  };
  walk(path, path);
  return out;
}

const WATCHED = () => [
  sentinel,
  '/etc/shadow',
  '/etc/passwd',
  '/etc/group',
  '/etc/hosts',
  '/etc/hostname',
  '/etc/resolv.conf',
];
function hostState(): string[] {
  return WATCHED().flatMap(snapshot);
}
/** Mount points on the host (this test's mount namespace) at or under a path. */
function hostMountsAt(path: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === path || m.startsWith(`${path}/`));
}

// ---- images ---------------------------------------------------------------------------------------

type Entry = [TarHeader, (string | Buffer)?];
const dir = (name: string, mode = 0o755): Entry => [hdr(`${name}/`, { type: 'dir', mode })];
const file = (name: string, body: string | Buffer, mode = 0o644): Entry => [hdr(name, { mode }), body];
const symlink = (name: string, target: string): Entry => [
  hdr(name, { type: 'symlink', linkname: target, mode: 0o777 }),
];

const PASSWD =
  'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\nsomeuser:x:1000:1000::/home/someuser:/bin/sh\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\nsomeuser:x:1000:\n';

/** The base layer: static busybox with a symlink per applet, a few dirs, passwd and group. */
function baseLayer(): Buffer {
  const applets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((a) => a && a !== 'busybox');
  return makeTar([
    dir('bin'),
    file('bin/busybox', fs.readFileSync('/bin/busybox'), 0o755),
    ...applets.map((a) => symlink(`bin/${a}`, 'busybox')),
    dir('etc'),
    file('etc/passwd', PASSWD),
    file('etc/group', GROUP),
    file('etc/hosts', 'image hosts\n'),
    dir('dev'),
    dir('dev/pts'),
    dir('proc'),
    dir('sys'),
    dir('root', 0o700),
    dir('tmp', 0o1777),
    dir('home'),
    dir('home/someuser'),
    dir('var'),
    dir('var/tmp', 0o1777),
    dir('mnt'),
  ]);
}

/** Deterministic "binary garbage": bytes from a hash chain (NULs, invalid UTF-8, colons, newlines). */
function garbage(n: number): Buffer {
  const out: Buffer[] = [];
  let h = Buffer.from('seed');
  for (let len = 0; len < n; len += 32) {
    h = createHash('sha256').update(h).digest();
    out.push(h);
  }
  return Buffer.concat(out).subarray(0, n);
}

/** One line per user until past 4 MiB + 1 KiB, someuser last. */
function hugePasswd(): string {
  const lines: string[] = ['root:x:0:0:root:/root:/bin/sh'];
  let size = 0;
  for (let i = 0; size < (4 << 20) + 1024; i++) {
    const l = `user${i}:x:${100000 + i}:${100000 + i}::/home/user${i}:/bin/sh`;
    lines.push(l);
    size += l.length + 1;
  }
  lines.push('someuser:x:1000:1000::/home/someuser:/bin/sh');
  return `${lines.join('\n')}\n`;
}

const MALFORMED = Buffer.concat([
  garbage(3000),
  Buffer.from('\n'),
  Buffer.from(
    [
      'root:x:0:0:root:/root:/bin/sh',
      'short:x:5', // missing fields
      'nofields',
      '::::::', // empty name and ids
      'neg:x:-1:-1::/:/bin/sh',
      'huge:x:99999999999999999999:1::/:/bin/sh',
      'maxu:x:4294967295:4294967295::/:/bin/sh', // (uid_t)-1 is "no change" to setresuid
      'frac:x:1.5:1::/:/bin/sh',
      'good:x:1234:1234::/home/good:/bin/sh',
      '',
    ].join('\n'),
  ),
  garbage(500),
]);

/** Each hostile image: its top layer on the busybox base. */
function hostileLayers(): Record<string, Entry[]> {
  return {
    'proc-to-etc': [symlink('proc', '/etc')],
    'proc-to-host': [symlink('proc', S)],
    'sys-to-host': [symlink('sys', S)],
    'dev-to-host': [symlink('dev', S)],
    'devpts-to-host': [dir('dev'), symlink('dev/pts', S)],
    'hosts-to-shadow': [dir('etc'), symlink('etc/hosts', '/etc/shadow'), symlink('etc/hostname', `${S}/file`)],
    'resolv-to-host': [dir('etc'), symlink('etc/resolv.conf', `${S}/file`)],
    'etc-to-host': [symlink('etc', S)],
    'data-to-host': [
      symlink('data', S),
      symlink('reldata', `../../../../../../..${S}`),
      dir('etc'),
      symlink('etc/link', `${S}/file`),
    ],
    'passwd-to-host': [
      dir('etc'),
      symlink('etc/passwd', `${S}/passwd`),
      symlink('etc/group', `../../../../../../..${S}/group`),
    ],
    'passwd-fifo': [
      dir('etc'),
      [hdr('etc/passwd', { type: 'fifo', mode: 0o644 })],
      [hdr('etc/group', { type: 'fifo', mode: 0o644 })],
    ],
    'passwd-huge': [dir('etc'), file('etc/passwd', hugePasswd())],
    'passwd-lenient': [
      dir('etc'),
      file(
        'etc/passwd',
        [
          'root:x:0:0:root:/root:/bin/sh',
          'hex:x:0x10:0x10::/:/bin/sh',
          'exp:x:1e3:1e3::/:/bin/sh',
          'spaced:x: 7 : 7 ::/:/bin/sh',
          'plus:x:+8:+8::/:/bin/sh',
          '',
        ].join('\n'),
      ),
    ],
    'passwd-malformed': [
      dir('etc'),
      file('etc/passwd', MALFORMED),
      file('etc/group', Buffer.concat([garbage(700), Buffer.from('\ngood:x:1234:\n')])),
    ],
  };
}

// ---- running ----------------------------------------------------------------------------------------

/** `berth run --rm` with a timeout (a FIFO /etc/passwd must not hang berth). */
function run(args: string[], timeoutMs = 120_000): RunResult {
  const r = spawnSync(BERTH, ['--root', root, 'run', '--rm', ...args], {
    maxBuffer: 1 << 28,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  return {
    code: r.status ?? 128 + 9,
    stdout: r.stdout?.toString() ?? '',
    stderr: (r.stderr?.toString() ?? '') + (r.error ? `\n${r.error.message}` : ''),
  };
}

/** Mount points and fs types from a container's /proc/self/mountinfo (the part before "---"). */
function containerMounts(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of stdout.split('\n---\n')[0]!.split('\n')) {
    const f = l.split(' ');
    const dash = f.indexOf('-');
    if (dash > 0) m.set(f[4]!, f[dash + 1]!);
  }
  return m;
}

const DEFAULT_MOUNTS: Record<string, string> = {
  '/': 'overlay',
  '/proc': 'proc',
  '/dev': 'tmpfs',
  '/dev/pts': 'devpts',
  '/sys': 'sysfs',
  '/dev/mqueue': 'mqueue',
  '/dev/shm': 'tmpfs',
  '/etc/resolv.conf': '*',
  '/etc/hostname': '*',
  '/etc/hosts': '*',
};

/** The container has exactly the default mounts (plus `extra`), each of the right type, at the right place. */
function assertOwnMounts(stdout: string, extra: string[] = []): void {
  const m = containerMounts(stdout);
  // Docker's masked and read-only paths are mounted over where the host has them (src/runtime/security.ts)
  const security = [...MASKED_PATHS, ...READONLY_PATHS].filter((p) => fs.existsSync(p));
  // the container's cgroups: a tmpfs at /sys/fs/cgroup with each hierarchy in it (v1), or cgroup2 there (v2)
  const cgroupFs = ['/sys/fs/cgroup', ...[...m.keys()].filter((p) => p.startsWith('/sys/fs/cgroup/'))];
  for (const p of cgroupFs.slice(1)) assert.equal(m.get(p), 'cgroup', `${p} is a cgroup hierarchy`);
  const want = [...Object.keys(DEFAULT_MOUNTS), ...security, ...cgroupFs, ...extra].sort();
  assert.deepEqual([...m.keys()].sort(), want, `container mounts:\n${stdout}`);
  for (const [p, ty] of Object.entries(DEFAULT_MOUNTS)) if (ty !== '*') assert.equal(m.get(p), ty, `${p} is ${ty}`);
}

/** Either the container ran (check its output), or berth refused with 125 and a message naming `path`. */
function startedOrRefused(r: RunResult, path: string, check: (stdout: string) => void): 'started' | 'refused' {
  if (r.code === 0) {
    check(r.stdout);
    return 'started';
  }
  assert.equal(r.code, 125, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(r.stderr.includes(path), `the error names ${path}: ${r.stderr}`);
  return 'refused';
}

/** Prints mountinfo, then a marker, then whatever `more` prints; tries writes through the image's links. */
const MOUNTINFO = 'cat /proc/self/mountinfo; echo ---;';

let hostBefore: string[];

before(
  () => {
    fs.writeFileSync(`${sentinel}/file`, 'sentinel file\n');
    fs.writeFileSync(`${sentinel}/passwd`, 'root:x:0:0:root:/root:/bin/sh\nhostuser:x:4242:4242::/hosthome:/bin/sh\n');
    fs.writeFileSync(`${sentinel}/group`, 'root:x:0:\nhostgrp:x:4242:\n');
    fs.mkdirSync(`${sentinel}/sub`);
    fs.writeFileSync(`${sentinel}/sub/deep`, 'deep\n');
    fs.writeFileSync(`${hostDir}/from-host`, 'bind source\n');
    fs.writeFileSync(hostFile, 'bind source file\n');
    // times in the past, so a write in the same second as the snapshot would still show
    for (const p of [
      `${sentinel}/file`,
      `${sentinel}/passwd`,
      `${sentinel}/group`,
      `${sentinel}/sub/deep`,
      `${sentinel}/sub`,
      sentinel,
    ])
      fs.utimesSync(p, 1_600_000_000, 1_600_000_000);
    const base = baseLayer();
    const images = Object.entries(hostileLayers()).map(([tag, entries]) => ({
      layers: [base, makeTar(entries)],
      tags: [`hostile:${tag}`],
    }));
    images.push({ layers: [base], tags: ['hostile:base'] });
    const out = berthOk(root, ['load'], { input: dockerArchive(images) });
    assert.equal(out.split('\n').filter((l) => l.startsWith('Loaded image: ')).length, images.length, out);
    hostBefore = hostState();
  },
  { timeout: 300_000 },
);

after(() => {
  try {
    for (const m of mountsUnder(root).sort().reverse()) spawnSync('umount', ['-l', m]);
    for (const m of [...hostMountsAt(sentinel), ...hostMountsAt(hostDir)].sort().reverse())
      spawnSync('umount', ['-l', m]);
  } finally {
    t.remove();
    fs.rmSync(sentinel, { recursive: true, force: true });
    fs.rmSync(hostDir, { recursive: true, force: true });
    fs.rmSync(hostFile, { force: true });
  }
});

/** After every case: the host is unchanged and nothing is left mounted. */
function assertHostUntouched(): void {
  assert.deepEqual(hostState(), hostBefore, 'host sentinels (content, mtime, ctime, listing) are unchanged');
  assert.deepEqual(mountsUnder(root), [], 'no mount under the data root outlives the run');
  assert.deepEqual(hostMountsAt(sentinel), [], 'nothing is mounted on the sentinel');
  assert.deepEqual(hostMountsAt(hostDir), [], 'nothing is mounted on the bind source');
  assert.deepEqual(hostMountsAt('/etc'), [], 'nothing is mounted under the host /etc');
}

/** Also try to write through the path the image aims at the host, from inside the container. */
const SCRIBBLE = `for p in ${S} ${S}/file ${S}/sub/deep /etc/shadow; do echo scribble >> $p 2>/dev/null; done; mkdir -p ${S}/new 2>/dev/null; echo x > ${S}/sub/new 2>/dev/null; true`;

describe('hostile images: special dirs and /etc files that are symlinks', () => {
  test('base image runs (sanity)', () => {
    const r = run(['hostile:base', 'sh', '-c', `${MOUNTINFO} id -u; cat /etc/hosts`]);
    assert.equal(r.code, 0, r.stderr);
    assertOwnMounts(r.stdout);
    assert.match(r.stdout, /---\n0\n127\.0\.0\.1\tlocalhost/);
    assertHostUntouched();
  });

  for (const tag of ['proc-to-etc', 'proc-to-host', 'sys-to-host', 'dev-to-host', 'devpts-to-host']) {
    test(`${tag}: /proc, /sys, /dev, /dev/pts are the container's own mounts`, () => {
      const r = run([
        `hostile:${tag}`,
        'sh',
        '-c',
        `${MOUNTINFO} cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /etc; ls /dev/pts; cat /sys/kernel/ostype 2>/dev/null || ls /sys; ${SCRIBBLE}`,
      ]);
      const how = startedOrRefused(r, tag.split('-')[0] === 'devpts' ? '/dev/pts' : `/${tag.split('-')[0]}`, (out) => {
        assertOwnMounts(out);
        const after = out.split('\n---\n')[1]!;
        assert.match(after, /^sh -c cat \/proc\/self\/mountinfo/, "PID 1 seen through the container's own /proc");
        assert.match(after, /^passwd$/m, "/etc is the image's /etc (nothing mounted over it)");
        assert.match(after, /^ptmx$/m, '/dev/pts is a devpts');
      });
      process.stderr.write(`hostile ${tag}: ${how}\n`);
      assertHostUntouched();
    });
  }

  test("/etc/hosts -> /etc/shadow, /etc/hostname -> host file: the container gets its own files, the host's are never read or written", () => {
    const shadow = fs.readFileSync('/etc/shadow', 'utf8');
    const r = run([
      '-h',
      'hostilebox',
      'hostile:hosts-to-shadow',
      'sh',
      '-c',
      `${MOUNTINFO} cat /etc/hosts; cat /etc/hostname; echo evil >> /etc/hosts; echo evil >> /etc/hostname; ${SCRIBBLE}`,
    ]);
    startedOrRefused(r, '/etc/hosts', (out) => {
      assertOwnMounts(out);
      const after = out.split('\n---\n')[1]!;
      assert.match(after, /^127\.0\.0\.1\tlocalhost$/m);
      // its address on the default bridge names it
      assert.match(after, /^172\.\d+\.\d+\.\d+\thostilebox$/m);
      assert.match(after, /^hostilebox$/m);
      const firstShadow = shadow.split('\n').find((l) => l.includes(':'));
      if (firstShadow) assert.ok(!after.includes(firstShadow), 'host /etc/shadow is not visible');
      assert.ok(!after.includes('sentinel file'), 'host sentinel file is not visible');
    });
    assertHostUntouched();
  });

  test("/etc/resolv.conf -> host sentinel file: a bind of berth's resolv.conf, the sentinel untouched", () => {
    const r = run([
      'hostile:resolv-to-host',
      'sh',
      '-c',
      `${MOUNTINFO} cat /etc/resolv.conf; echo nameserver 6.6.6.6 >> /etc/resolv.conf; ${SCRIBBLE}`,
    ]);
    startedOrRefused(r, '/etc/resolv.conf', (out) => {
      assertOwnMounts(out);
      assert.ok(!out.includes('sentinel file'), out);
    });
    assertHostUntouched();
  });

  test("/etc -> host dir: the init layer's /etc shadows the link; writes stay in the container", () => {
    const r = run([
      '-u',
      '0',
      'hostile:etc-to-host',
      'sh',
      '-c',
      `${MOUNTINFO} ls /etc; cat /etc/hosts; echo new > /etc/newfile; rm -f /etc/passwd /etc/file; ${SCRIBBLE}`,
    ]);
    startedOrRefused(r, '/etc', (out) => {
      assertOwnMounts(out);
      const after = out.split('\n---\n')[1]!;
      assert.doesNotMatch(after, /^(file|sub|passwd|group)$/m, "the host dir is not the container's /etc");
      assert.match(after, /127\.0\.0\.1\tlocalhost/);
    });
    // a user name would have to come from the host dir's passwd: it must not be found
    const named = run(['-u', 'hostuser', 'hostile:etc-to-host', 'id']);
    assert.equal(named.code, 125, named.stdout + named.stderr);
    assert.match(named.stderr, /unable to find user hostuser/);
    assertHostUntouched();
  });
});

describe('hostile images: bind, tmpfs and workdir targets', () => {
  test('-v HOSTDIR:/data where /data -> host sentinel dir: refused (125 naming /data) or mounted inside the rootfs', () => {
    for (const target of ['/data', '/reldata']) {
      const r = run([
        '-v',
        `${hostDir}:${target}`,
        'hostile:data-to-host',
        'sh',
        '-c',
        `${MOUNTINFO} ls ${target}/; ${SCRIBBLE}`,
      ]);
      startedOrRefused(r, target, (out) => {
        // started: the bind sits at the link's target resolved inside the container
        assert.match(out.split('\n---\n')[1]!, /^from-host$/m);
      });
      assertHostUntouched();
    }
  });

  test('-v HOSTDIR:/data/sub (a path through the link): refused naming /data, or inside the rootfs', () => {
    const r = run(['-v', `${hostDir}:/data/sub`, 'hostile:data-to-host', 'sh', '-c', `${MOUNTINFO} ls /data/sub/`]);
    startedOrRefused(r, '/data', (out) => assert.match(out.split('\n---\n')[1]!, /^from-host$/m));
    assertHostUntouched();
  });

  test('-v FILE:/etc/link where /etc/link -> host sentinel file: refused naming /etc/link, or inside the rootfs', () => {
    const r = run([
      '-v',
      `${hostFile}:/etc/link`,
      'hostile:data-to-host',
      'sh',
      '-c',
      `${MOUNTINFO} cat /etc/link; echo evil >> /etc/link`,
    ]);
    startedOrRefused(r, '/etc/link', (out) => assert.match(out.split('\n---\n')[1]!, /^bind source file$/m));
    assertHostUntouched();
    assert.equal(fs.readFileSync(hostFile, 'utf8').split('\n')[0], 'bind source file');
  });

  test('--tmpfs /data where /data -> host sentinel dir: refused naming /data, or inside the rootfs', () => {
    const r = run(['--tmpfs', '/data', 'hostile:data-to-host', 'sh', '-c', `${MOUNTINFO} touch /data/x; ls /data`]);
    startedOrRefused(r, '/data', (out) => assert.match(out.split('\n---\n')[1]!, /^x$/m));
    assertHostUntouched();
  });

  test('-w /data where /data -> host sentinel dir: runs in the container (as Docker: the link resolved in the rootfs) or refused naming /data', () => {
    const r = run(['-w', '/data', 'hostile:data-to-host', 'sh', '-c', `${MOUNTINFO} pwd; touch x; ls`]);
    startedOrRefused(r, '/data', (out) =>
      assert.doesNotMatch(out.split('\n---\n')[1]!, /^(file|passwd|sub)$/m, 'the host dir is not the workdir'),
    );
    assertHostUntouched();
  });

  test('-v targets with .. components stay inside the rootfs', () => {
    const targets = [`/../../../..${S}`, `/tmp/../../..${S}/x`, '/mnt/../mnt2/./sub/..'];
    const args = targets.flatMap((d) => ['-v', `${hostDir}:${d}`]);
    const r = run([...args, 'hostile:base', 'sh', '-c', `${MOUNTINFO} ls ${S} ${S}/x /mnt2; ${SCRIBBLE}`]);
    startedOrRefused(r, targets[0]!, (out) => {
      const mounts = [...containerMounts(out).keys()];
      for (const p of [S, `${S}/x`, '/mnt2'])
        assert.ok(mounts.includes(p), `${p} mounted in the container: ${mounts.join(' ')}`);
      assert.equal(out.split('\n---\n')[1]!.match(/^from-host$/gm)?.length, 3);
    });
    assertHostUntouched();
    // what the container wrote went to the bind source, never to the host path it named
    assert.equal(fs.existsSync(`${hostDir}/new`) || fs.existsSync(`${hostDir}/file`), true);
    fs.rmSync(`${hostDir}/new`, { recursive: true, force: true });
    fs.rmSync(`${hostDir}/file`, { force: true });
    fs.rmSync(`${hostDir}/sub`, { recursive: true, force: true });
  });

  test('-v with .. through an image symlink: /data/../mnt is refused naming the path, or bound inside the rootfs', () => {
    const r = run(['-v', `${hostDir}:/data/../mnt`, 'hostile:data-to-host', 'sh', '-c', `${MOUNTINFO} ls /mnt`]);
    startedOrRefused(r, '/data', (out) => assert.match(out.split('\n---\n')[1]!, /^from-host$/m));
    assertHostUntouched();
  });
});

describe('hostile images: /etc/passwd and /etc/group for -u', () => {
  test('/etc/passwd and /etc/group -> host files: names are looked up inside the rootfs only', () => {
    for (const u of ['hostuser', '0:hostgrp', '1000:hostgrp']) {
      const r = run(['-u', u, 'hostile:passwd-to-host', 'id']);
      assert.equal(r.code, 125, `-u ${u}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /unable to find (user hostuser|group hostgrp)/);
    }
    const r = run(['-u', '0', 'hostile:passwd-to-host', 'sh', '-c', 'id -u; echo $HOME']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '0\n/\n');
    assertHostUntouched();
  });

  test('/etc/passwd and /etc/group are FIFOs: berth does not hang on them', () => {
    const t0 = Date.now();
    const named = run(['-u', 'someuser', 'hostile:passwd-fifo', 'id'], 60_000);
    assert.ok(Date.now() - t0 < 55_000, 'returned before the timeout');
    assert.equal(named.code, 125, named.stdout + named.stderr);
    assert.match(named.stderr, /unable to find user someuser|\/etc\/passwd/);
    // (not `id`: inside the container it would block opening the FIFO itself)
    const numeric = run(
      ['-u', '1000:1000', 'hostile:passwd-fifo', 'grep', '-E', '^(Uid|Gid):', '/proc/self/status'],
      60_000,
    );
    assert.equal(numeric.code, 0, numeric.stderr);
    assert.equal(numeric.stdout, 'Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n');
    assertHostUntouched();
  });

  test('a /etc/passwd over 4 MiB with -u someuser: runs as that user or fails naming /etc/passwd', () => {
    const r = run(['-u', 'someuser', 'hostile:passwd-huge', 'id', '-u']);
    startedOrRefused(r, '/etc/passwd', (out) => assert.equal(out, '1000\n'));
    assert.doesNotMatch(r.stderr, /at |Error:|RangeError/, 'no stack trace');
    assertHostUntouched();
  });

  test('a /etc/passwd over 4 MiB does not stop a container that names no user, or a numeric -u (Docker runs them)', () => {
    // passwd only supplies HOME (and the gid of a numeric user); without -u the container is root
    for (const args of [[], ['-u', '0'], ['-u', '1000:1000']]) {
      const r = run([...args, 'hostile:passwd-huge', 'id', '-u']);
      assert.equal(r.code, 0, `${args.join(' ') || '(no -u)'}: exit ${r.code}: ${r.stderr}`);
    }
  });

  test('a malformed /etc/passwd (binary garbage, missing fields, negative and huge ids): -u 0 and -u good work, bad entries are not users', () => {
    const zero = run(['-u', '0', 'hostile:passwd-malformed', 'sh', '-c', 'id -u; id -g']);
    assert.equal(zero.code, 0, zero.stderr);
    assert.equal(zero.stdout, '0\n0\n');
    const noUser = run(['hostile:passwd-malformed', 'id', '-u']);
    assert.equal(noUser.code, 0, noUser.stderr);
    assert.equal(noUser.stdout, '0\n');
    const good = run(['-u', 'good', 'hostile:passwd-malformed', 'sh', '-c', 'id -u; id -g; echo $HOME']);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout, '1234\n1234\n/home/good\n');
    const grp = run(['-u', 'good:good', 'hostile:passwd-malformed', 'sh', '-c', 'id -u; id -g']);
    assert.equal(grp.stdout, '1234\n1234\n', grp.stderr);
    const root = run(['-u', 'root', 'hostile:passwd-malformed', 'id', '-u']);
    assert.equal(root.stdout, '0\n', root.stderr);
    for (const u of ['neg', 'huge', 'maxu', 'short', 'nofields', 'frac']) {
      const r = run(['-u', u, 'hostile:passwd-malformed', 'id']);
      assert.equal(r.code, 125, `-u ${u}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`unable to find user ${u}`));
    }
    for (const u of ['4294967295', '99999999999999999999', '-1']) {
      const r = run(['-u', u, 'hostile:passwd-malformed', 'id']);
      assert.equal(r.code, 125, `-u ${u}: ${r.stdout}${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assertHostUntouched();
  });
});

describe('hostile images: lenient id parsing', () => {
  // berth follows glibc's nss_files: a line whose uid/gid is not plain decimal is not a user
  test('ids that are not plain decimal ("0x10", "1e3", " 7 ", "+8") are not taken as 16, 1000, 7, 8', () => {
    const got = [
      ['hex', 16],
      ['exp', 1000],
      ['spaced', 7],
      ['plus', 8],
    ].map(([u, lenient]) => {
      const r = run(['-u', String(u), 'hostile:passwd-lenient', 'id', '-u']);
      return `-u ${u}: ${r.code === 0 ? `uid ${r.stdout.trim()}` : `exit ${r.code}`}${r.stdout.trim() === String(lenient) ? ' (lenient)' : ''}`;
    });
    assert.deepEqual(
      got.filter((g) => g.endsWith('(lenient)')),
      [],
      got.join('\n'),
    );
    assertHostUntouched();
  });
});

describe('hostile containers: file descriptors, and links the container makes', () => {
  test("only fds 0-2 are open in the container process (sh, and an exec'd PID 1), also with binds", () => {
    const binds = ['-v', `${hostDir}:/b1`, '-v', `${hostDir}:/b2:ro`, '-v', `${hostFile}:/b3`];
    // (`ls` is not the last command: busybox sh would exec it, and PID 1 would be ls with its own dir fd)
    const sh = run([...binds, 'hostile:base', 'sh', '-c', 'ls /proc/$$/fd; echo ---; ls /proc/1/fd; echo $$']);
    assert.equal(sh.code, 0, sh.stderr);
    assert.equal(sh.stdout, '0\n1\n2\n---\n0\n1\n2\n1\n');
    // PID 1 is ls itself: its fds are 0-2 plus the one it opened to read the listed directory
    const ls = run([...binds, 'hostile:base', 'ls', '-l', '/proc/1/fd']);
    assert.equal(ls.code, 0, ls.stderr);
    const fds = ls.stdout
      .split('\n')
      .map((l) => /\s(\d+) -> (.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [Number(m![1]), m![2]!] as const);
    assert.deepEqual(
      fds.map(([n]) => n).filter((n) => n <= 2),
      [0, 1, 2],
      ls.stdout,
    );
    for (const [n, target] of fds)
      if (n > 2) assert.equal(target, '/proc/1/fd', `fd ${n} -> ${target} leaked into the container`);
    const selfFd = run(['hostile:base', 'ls', '/proc/self/fd']);
    assert.deepEqual(
      selfFd.stdout
        .trim()
        .split('\n')
        .map(Number)
        .filter((n) => n > 3),
      [],
      selfFd.stdout,
    );
    assertHostUntouched();
  });

  test('links to host files made in a container stay links: diff, commit, save and export never read through them', () => {
    const name = 'linker';
    const r = berthRun([
      'run',
      '--name',
      name,
      'hostile:base',
      'sh',
      '-c',
      `ln -s /etc/shadow /leak; ln -s ${S}/file /etc/hostlink; ln -s ../../../../..${S} /tmp/up`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    try {
      assert.deepEqual(berthOk(root, ['diff', name]).trim().split('\n'), [
        'C /etc',
        'A /etc/hostlink',
        'A /leak',
        'C /tmp',
        'A /tmp/up',
      ]);
      const img = berthOk(root, ['commit', name, 'hostile:linked']).trim();
      assert.match(img, /^sha256:[0-9a-f]{64}$/);
      const work = fs.mkdtempSync('/var/tmp/berth-hostile-save-');
      try {
        berthOk(root, ['save', '-o', `${work}/save.tar`, 'hostile:linked']);
        berthOk(root, ['export', '-o', `${work}/export.tar`, name]);
        const manifest = JSON.parse(spawnSync('tar', ['-xOf', `${work}/save.tar`, 'manifest.json']).stdout.toString());
        const top = manifest[0].Layers[manifest[0].Layers.length - 1];
        const layer = spawnSync('tar', ['-xOf', `${work}/save.tar`, top], { maxBuffer: 1 << 28 }).stdout;
        fs.writeFileSync(`${work}/top.tar`, layer);
        for (const tarFile of [`${work}/top.tar`, `${work}/export.tar`]) {
          const listing = spawnSync('tar', ['-tvf', tarFile], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
          assert.match(listing, /^l\S+ .* \.?\/?leak -> \/etc\/shadow$/m, listing);
          assert.match(listing, new RegExp(`^l\\S+ .* \\.?/?etc/hostlink -> ${S}/file$`, 'm'));
          assert.match(listing, new RegExp(`^l\\S+ .* \\.?/?tmp/up -> \\.\\./\\.\\./\\.\\./\\.\\./\\.\\.${S}$`, 'm'));
          const bytes = fs.readFileSync(tarFile);
          assert.ok(!bytes.includes('sentinel file'), `${tarFile} holds no sentinel content`);
          const shadowLine = fs
            .readFileSync('/etc/shadow', 'utf8')
            .split('\n')
            .find((l) => l.includes(':'));
          if (shadowLine) assert.ok(!bytes.includes(shadowLine), `${tarFile} holds no host shadow content`);
        }
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
      // the committed image's links resolve inside its containers
      const seen = run([
        'hostile:linked',
        'sh',
        '-c',
        'cat /leak 2>&1 || echo no-shadow; cat /etc/hostlink 2>&1 || echo no-sentinel',
      ]);
      assert.equal(seen.code, 0, seen.stderr);
      assert.match(seen.stdout, /no-shadow/);
      assert.match(seen.stdout, /no-sentinel/);
    } finally {
      berthRun(['rm', name]);
    }
    assertHostUntouched();
  });
});

/** Alive and not a zombie (an orphan nobody reaps yet is as good as gone). */
async function waitFor<T>(f: () => T | undefined, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) return undefined;
    await sleep(50);
  }
}

describe('hostile containers: processes', () => {
  // Found by this test: the helper sets PR_SET_PDEATHSIG(SIGKILL) in the container process right after
  // fork, but the kernel clears the parent-death signal when credentials change (setresgid/setresuid
  // in the "gid"/"uid" steps), so a container run with -u <non-root> keeps running after berth (and so
  // its monitor) is killed: an orphan that reapStale then treats as exited while it still runs.
  for (const user of ['0', '1000:1000']) {
    test(
      `a container (-u ${user}) dies when berth is killed: PDEATHSIG must survive the uid/gid change`,
      { timeout: 60_000 },
      async () => {
        const name = `orphan-${user.replace(':', '-')}`;
        const child = spawn(
          BERTH,
          ['--root', root, 'run', '--name', name, '-u', user, 'hostile:base', 'sleep', '300'],
          { stdio: 'ignore' },
        );
        let pid = 0;
        try {
          pid =
            (await waitFor(() => {
              for (const id of fs.readdirSync(`${root}/containers`)) {
                try {
                  const rec = JSON.parse(fs.readFileSync(`${root}/containers/${id}/config.v2.json`, 'utf8'));
                  if (rec.Name === `/${name}` && rec.State.Pid > 0) return rec.State.Pid as number;
                } catch {
                  /* being written */
                }
              }
              return undefined;
            }, 20_000)) ?? 0;
          assert.ok(pid > 0, 'the container started');
          // wait for the exec (not just the fork)
          const execd = await waitFor(() => {
            try {
              return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000300\u0000' ? true : undefined;
            } catch {
              return undefined;
            }
          }, 20_000);
          assert.ok(execd, 'sleep runs as the container process');
          child.kill('SIGKILL');
          await once(child, 'exit');
          const gone = await waitFor(() => (alive(pid) ? undefined : true), 10_000);
          assert.ok(gone, `container process ${pid} (-u ${user}) still runs 10 s after berth was killed`);
        } finally {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          if (pid > 0 && alive(pid)) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
          await waitFor(() => (pid > 0 && alive(pid) ? undefined : true), 5000);
          berthRun(['rm', '-f', name]);
        }
        assertHostUntouched();
      },
    );
  }
});

function berthRun(args: string[]): RunResult {
  const r = spawnSync(BERTH, ['--root', root, ...args], {
    maxBuffer: 1 << 28,
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  return { code: r.status ?? 137, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}
