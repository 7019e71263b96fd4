import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import * as native from '../../src/native/index.js';

/** URL of the compiled wrapper, for child processes and workers. */
const WRAPPER_URL = new URL('../../src/native/index.js', import.meta.url).href;

const tempDirs: string[] = [];
const mounted: string[] = [];

function tempDir(base = os.tmpdir()): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(base, 'berth-native-test-')));
  tempDirs.push(d);
  return d;
}

function doMount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  native.mount(source, target, fstype, flags, data);
  mounted.push(target);
}

function doUmount(target: string, flags = 0): void {
  native.umount2(target, flags);
  const i = mounted.lastIndexOf(target);
  if (i >= 0) mounted.splice(i, 1);
}

/** Mount points with fstype from /proc/self/mountinfo. */
function mountinfo(): { mountPoint: string; fstype: string; options: string }[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [pre = '', post = ''] = l.split(' - ');
      const f = pre.split(' ');
      const p = post.split(' ');
      return { mountPoint: unescape(f[4] ?? ''), options: f[5] ?? '', fstype: p[0] ?? '' };
    });
}

function isMounted(target: string): boolean {
  return mountinfo().some((m) => m.mountPoint === target);
}

function assertNativeError(fn: () => unknown, code: string, syscall: string, p?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(native.isNativeError(e), `not a NativeError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.errno, os.constants.errno[code as keyof typeof os.constants.errno]);
    assert.equal(e.syscall, syscall);
    if (p !== undefined) {
      assert.equal(e.path, p);
      assert.match(
        e.message,
        new RegExp(`^${syscall} "${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": ${code} \\(.+\\)$`),
      );
    }
    return true;
  });
}

after(() => {
  for (const m of mounted.reverse()) {
    try {
      native.umount2(m, native.MNT_DETACH);
    } catch {
      /* already gone */
    }
  }
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('mount/umount2', () => {
  test('tmpfs mount shows in mountinfo and disappears after umount2', () => {
    const dir = tempDir();
    const target = path.join(dir, 'mnt');
    fs.mkdirSync(target);
    doMount('tmpfs', target, 'tmpfs', native.MS_NOSUID | native.MS_NODEV, 'size=1m,mode=0755');
    const m = mountinfo().find((x) => x.mountPoint === target);
    assert.ok(m, 'tmpfs not in mountinfo');
    assert.equal(m.fstype, 'tmpfs');
    assert.match(m.options, /nosuid/);
    assert.match(m.options, /nodev/);
    fs.writeFileSync(path.join(target, 'f'), 'x');
    native.mount(null, target, null, native.MS_PRIVATE, null);
    doUmount(target, 0);
    assert.equal(isMounted(target), false);
    assert.equal(fs.existsSync(path.join(target, 'f')), false);
  });

  test('bind mount, read-only remount, detach', () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    fs.mkdirSync(src);
    fs.mkdirSync(dst);
    fs.writeFileSync(path.join(src, 'hello'), 'world');
    doMount(src, dst, null, native.MS_BIND, null);
    assert.ok(isMounted(dst));
    assert.equal(fs.readFileSync(path.join(dst, 'hello'), 'utf8'), 'world');
    native.mount(null, dst, null, native.MS_REMOUNT | native.MS_BIND | native.MS_RDONLY, null);
    assert.throws(() => fs.writeFileSync(path.join(dst, 'new'), 'x'), { code: 'EROFS' });
    fs.writeFileSync(path.join(src, 'new'), 'y'); // source stays writable
    assert.equal(fs.readFileSync(path.join(dst, 'new'), 'utf8'), 'y');
    doUmount(dst, native.MNT_DETACH);
    assert.equal(isMounted(dst), false);
    assert.equal(fs.existsSync(path.join(dst, 'hello')), false);
  });

  test('errors carry code, errno, syscall and path', () => {
    const dir = tempDir();
    const missing = path.join(dir, 'missing');
    assertNativeError(() => native.mount('tmpfs', missing, 'tmpfs', 0, null), 'ENOENT', 'mount', missing);
    assertNativeError(() => native.umount2(dir, 0), 'EINVAL', 'umount2', dir); // not a mount point
    assertNativeError(() => native.mount('tmpfs', dir, 'no-such-fs-type', 0, null), 'ENODEV', 'mount', dir);
  });
});

describe('argument checking', () => {
  test('wrong types throw TypeError, bad integers RangeError', () => {
    const anyNative = native as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(() => anyNative.mount!(1, '/x', null, 0, null), TypeError);
    assert.throws(() => anyNative.mount!(null, null, null, 0, null), TypeError);
    assert.throws(() => anyNative.mount!(null, '/x', null, '0', null), TypeError);
    assert.throws(() => native.mount(null, '/x', null, -1, null), RangeError);
    assert.throws(() => native.mount(null, '/x', null, 1.5, null), RangeError);
    assert.throws(() => native.mknod('/x\0y', native.S_IFIFO, 0, 0), TypeError);
    assert.throws(() => anyNative.lsetxattr!('/x', 'user.a', 'str', 0), TypeError);
    assert.throws(() => anyNative.flock!('0', native.LOCK_SH), TypeError);
    assert.throws(() => anyNative.crc64!(Buffer.alloc(8), 'abc'), TypeError);
    assert.throws(() => native.crc64(Buffer.alloc(7), Buffer.alloc(1)), TypeError);
    assert.throws(() => native.crc64(Buffer.alloc(8), Buffer.alloc(4), 5), RangeError);
    assert.throws(() => native.crc64(Buffer.alloc(8), Buffer.alloc(4), 2, 3), RangeError);
    assert.throws(() => native.crc64(new Uint8Array(8), new Uint16Array(4) as unknown as Uint8Array), TypeError);
  });

  test('ENOENT messages include the path', () => {
    const missing = path.join(tempDir(), 'nope', 'x');
    assertNativeError(() => native.mknod(missing, native.S_IFIFO | 0o644, 0, 0), 'ENOENT', 'mknod', missing);
    assertNativeError(() => native.llistxattr(missing), 'ENOENT', 'llistxattr', missing);
    assertNativeError(() => native.lgetxattr(missing, 'user.x'), 'ENOENT', 'lgetxattr', missing);
    assertNativeError(() => native.lsetxattr(missing, 'user.x', Buffer.from('v'), 0), 'ENOENT', 'lsetxattr', missing);
  });
});

describe('mknod', () => {
  test('char device 0/0 (overlay whiteout)', () => {
    const p = path.join(tempDir(), 'wh');
    native.mknod(p, native.S_IFCHR | 0o600, 0, 0);
    const st = fs.lstatSync(p);
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, 0);
    assertNativeError(() => native.mknod(p, native.S_IFCHR, 0, 0), 'EEXIST', 'mknod', p);
  });

  test('char device with major/minor uses makedev', () => {
    const p = path.join(tempDir(), 'null');
    native.mknod(p, native.S_IFCHR | 0o666, 1, 3);
    const st = fs.lstatSync(p);
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, (1 << 8) | 3);
  });

  test('fifo', () => {
    const p = path.join(tempDir(), 'fifo');
    native.mknod(p, native.S_IFIFO | 0o644, 0, 0);
    const st = fs.lstatSync(p);
    assert.ok(st.isFIFO());
    assert.equal(st.rdev, 0);
  });
});

describe('xattrs', () => {
  let dir = '';
  let trustedOk = false;

  before(() => {
    // Prefer a directory supporting both user.* and trusted.* (trusted needs
    // root, and older tmpfs lacks user.*); fall back to one with user.* only.
    const works = (p: string, name: string): boolean => {
      try {
        native.lsetxattr(p, name, Buffer.from('1'), 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const base of [os.tmpdir(), '/var/tmp']) {
      const d = tempDir(base);
      const probe = path.join(d, 'probe');
      fs.writeFileSync(probe, '');
      if (!works(probe, 'user.berth.probe')) continue;
      if (dir === '') dir = d;
      if (works(probe, 'trusted.berth.probe')) {
        dir = d;
        trustedOk = true;
        break;
      }
    }
  });

  test('unknown name or namespace gives null', (_t) => {
    if (dir === '') assert.fail('no directory with user.* xattr support');
    const f = path.join(dir, 'probe');
    assert.equal(native.lgetxattr(f, 'user.does.not.exist'), null); // ENODATA
    assert.equal(native.lgetxattr(f, 'bogusns.x'), null); // ENOTSUP
  });

  test('trusted.overlay.opaque round trip', (_t) => {
    if (!trustedOk) assert.fail('trusted.* xattrs unsupported here');
    const d = path.join(dir, 'opaque');
    fs.mkdirSync(d);
    native.lsetxattr(d, 'trusted.overlay.opaque', Buffer.from('y'), 0);
    assert.deepEqual(native.lgetxattr(d, 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.ok(native.llistxattr(d).includes('trusted.overlay.opaque'));
  });

  test('user.* values of any size, empty values, flags', (_t) => {
    if (dir === '') assert.fail('no directory with user.* xattr support');
    const f = path.join(dir, 'file');
    fs.writeFileSync(f, 'data');
    assert.equal(native.lgetxattr(f, 'user.missing'), null);

    native.lsetxattr(f, 'user.small', Buffer.from('abc'), native.XATTR_CREATE);
    assert.deepEqual(native.lgetxattr(f, 'user.small'), Buffer.from('abc'));
    assertNativeError(
      () => native.lsetxattr(f, 'user.small', Buffer.from('x'), native.XATTR_CREATE),
      'EEXIST',
      'lsetxattr',
      f,
    );
    assertNativeError(
      () => native.lsetxattr(f, 'user.nope', Buffer.from('x'), native.XATTR_REPLACE),
      'ENODATA',
      'lsetxattr',
      f,
    );
    native.lsetxattr(f, 'user.small', new Uint8Array([1, 2]), native.XATTR_REPLACE);
    assert.deepEqual(native.lgetxattr(f, 'user.small'), Buffer.from([1, 2]));

    const big = randomFillSync(Buffer.alloc(3000)); // larger than the initial read buffer
    native.lsetxattr(f, 'user.big', big, 0);
    assert.deepEqual(native.lgetxattr(f, 'user.big'), big);

    native.lsetxattr(f, 'user.empty', Buffer.alloc(0), 0);
    const empty = native.lgetxattr(f, 'user.empty');
    assert.ok(empty !== null);
    assert.equal(empty.length, 0);

    const names = native.llistxattr(f);
    for (const n of ['user.small', 'user.big', 'user.empty']) assert.ok(names.includes(n), n);
  });

  test('llistxattr with a long name list', (_t) => {
    if (dir === '') assert.fail('no directory with user.* xattr support');
    const f = path.join(dir, 'many');
    fs.writeFileSync(f, '');
    const want: string[] = [];
    for (let i = 0; i < 48; i++) {
      const n = `user.berth.test.attribute.number.${i}`;
      native.lsetxattr(f, n, Buffer.from([i]), 0);
      want.push(n);
    }
    const got = native.llistxattr(f).filter((n) => n.startsWith('user.'));
    assert.deepEqual([...got].sort(), [...want].sort());
  });

  test('l* calls do not follow symlinks', (_t) => {
    if (!trustedOk) assert.fail('trusted.* xattrs unsupported here');
    const target = path.join(dir, 'target');
    const link = path.join(dir, 'link');
    fs.writeFileSync(target, '');
    fs.symlinkSync(target, link);
    native.lsetxattr(link, 'trusted.berth.link', Buffer.from('L'), 0);
    assert.deepEqual(native.lgetxattr(link, 'trusted.berth.link'), Buffer.from('L'));
    assert.equal(native.lgetxattr(target, 'trusted.berth.link'), null);
    assert.ok(native.llistxattr(link).includes('trusted.berth.link'));
    assert.ok(!native.llistxattr(target).includes('trusted.berth.link'));
    // user.* is not permitted on symlinks
    assertNativeError(() => native.lsetxattr(link, 'user.x', Buffer.from('x'), 0), 'EPERM', 'lsetxattr', link);
  });
});

describe('flock', () => {
  let file = '';
  before(() => {
    file = path.join(tempDir(), 'lock');
    fs.writeFileSync(file, '');
  });

  test('exclusive vs non-blocking on two separately opened fds', () => {
    const a = fs.openSync(file, 'r+');
    const b = fs.openSync(file, 'r+');
    try {
      assert.equal(native.flock(a, native.LOCK_EX), true);
      assert.equal(native.flock(b, native.LOCK_EX | native.LOCK_NB), false);
      assert.equal(native.flock(b, native.LOCK_SH | native.LOCK_NB), false);
      assert.equal(native.flock(a, native.LOCK_UN), true);
      assert.equal(native.flock(b, native.LOCK_EX | native.LOCK_NB), true);
      assert.equal(native.flock(b, native.LOCK_UN), true);
      // shared locks coexist
      assert.equal(native.flock(a, native.LOCK_SH), true);
      assert.equal(native.flock(b, native.LOCK_SH | native.LOCK_NB), true);
      assert.equal(native.flock(b, native.LOCK_EX | native.LOCK_NB), false);
      native.flock(a, native.LOCK_UN);
      native.flock(b, native.LOCK_UN);
    } finally {
      fs.closeSync(a);
      fs.closeSync(b);
    }
  });

  test('interoperates with flock(1)', (_t) => {
    if (spawnSync('flock', ['--version']).error) assert.fail('flock(1) not installed');
    const fd = fs.openSync(file, 'r+');
    try {
      native.flock(fd, native.LOCK_EX);
      assert.equal(spawnSync('flock', ['-n', file, 'true']).status, 1);
      native.flock(fd, native.LOCK_UN);
      assert.equal(spawnSync('flock', ['-n', file, 'true']).status, 0);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('lock held by a child process is released when it is SIGKILLed', async () => {
    const script = `
      import * as fs from 'node:fs';
      const native = await import(process.env.BERTH_WRAPPER_URL);
      const fd = fs.openSync(process.env.BERTH_LOCK_FILE, 'r+');
      native.flock(fd, native.LOCK_EX);
      process.stdout.write('locked\\n');
      setInterval(() => {}, 1000);
    `;
    const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, BERTH_WRAPPER_URL: WRAPPER_URL, BERTH_LOCK_FILE: file },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_c, sig) => res(sig)));
    const fd = fs.openSync(file, 'r+');
    try {
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error('child did not lock in time')), 10_000);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('locked')) {
            clearTimeout(timer);
            res();
          }
        });
        child.once('exit', (c) => rej(new Error(`child exited early (${String(c)})`)));
      });
      assert.equal(native.flock(fd, native.LOCK_EX | native.LOCK_NB), false);
      assert.equal(native.flock(fd, native.LOCK_SH | native.LOCK_NB), false);
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      assert.equal(native.flock(fd, native.LOCK_EX | native.LOCK_NB), true);
      native.flock(fd, native.LOCK_UN);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      fs.closeSync(fd);
    }
  });

  test('bad fd throws EBADF', () => {
    assertNativeError(() => native.flock(1 << 30, native.LOCK_SH), 'EBADF', 'flock');
  });
});

describe('crc64 (Go hash/crc64 ISO)', () => {
  const MASK = (1n << 64n) - 1n;
  function reference(data: Uint8Array, prev = 0n): bigint {
    let crc = ~prev & MASK;
    for (const b of data) {
      crc ^= BigInt(b);
      for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ 0xd800000000000000n : crc >> 1n;
    }
    return ~crc & MASK;
  }

  test('check values', () => {
    assert.equal(native.crc64Of(Buffer.from('123456789')).toString('hex'), 'b90956c775a41001');
    assert.equal(native.crc64Of(Buffer.alloc(0)).toString('hex'), '0000000000000000');
    assert.equal(native.crc64Of(Buffer.from('a')).toString('hex'), '3420000000000000');
    assert.equal(native.crc64Of(Buffer.from('abc')).toString('hex'), '3776c42000000000');
  });

  test('matches a bit-at-a-time reference at every length/alignment', () => {
    const src = randomFillSync(Buffer.alloc(200));
    for (let off = 0; off < 9; off++) {
      for (let len = 0; len <= 100; len++) {
        const data = src.subarray(off, off + len);
        const want = reference(data).toString(16).padStart(16, '0');
        assert.equal(native.crc64Of(data).toString('hex'), want, `off=${off} len=${len}`);
        // same via offset/length arguments on the parent buffer
        const st = Buffer.alloc(8);
        native.crc64(st, src, off, len);
        assert.equal(st.toString('hex'), want);
      }
    }
  });

  test('incremental updates equal one-shot; state may be a subarray', () => {
    const data = randomFillSync(Buffer.alloc(1 << 20));
    const oneShot = native.crc64Of(data);
    const backing = Buffer.alloc(24, 0xff);
    const state = backing.subarray(8, 16).fill(0);
    let pos = 0;
    let step = 1;
    while (pos < data.length) {
      const n = Math.min(step, data.length - pos);
      if (step % 2 === 0) native.crc64(state, data, pos, n);
      else native.crc64(state, data.subarray(pos, pos + n));
      pos += n;
      step = (step * 7 + 3) % 9001;
    }
    assert.deepEqual(Buffer.from(state), oneShot);
    assert.equal(backing.subarray(0, 8).toString('hex'), 'ff'.repeat(8));
    assert.equal(backing.subarray(16).toString('hex'), 'ff'.repeat(8));
    // defaults: offset only -> to the end
    const st = Buffer.alloc(8);
    native.crc64(st, data, 0, 1000);
    native.crc64(st, data, 1000);
    assert.deepEqual(st, oneShot);
  });

  test('benchmark 64 MiB', (t) => {
    const data = randomFillSync(Buffer.alloc(64 << 20));
    native.crc64Of(data.subarray(0, 1 << 20)); // warm up
    const t0 = process.hrtime.bigint();
    const sum = native.crc64Of(data);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const msg = `crc64: 64 MiB in ${ms.toFixed(1)} ms = ${((64 * 1.048576) / ms).toFixed(2)} GB/s (${sum.toString('hex')})`;
    t.diagnostic(msg);
    console.log(msg);
  });
});

describe('worker_threads', () => {
  test('module loads and works in several workers concurrently', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then((n) => {
        parentPort.postMessage(n.crc64Of(Buffer.from('123456789')).toString('hex'));
      });
    `;
    const results = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<unknown>((res, rej) => {
            const w = new Worker(code, { eval: true, workerData: { url: WRAPPER_URL } });
            w.once('message', (m) => {
              res(m);
              void w.terminate();
            });
            w.once('error', rej);
          }),
      ),
    );
    assert.deepEqual(results, ['b90956c775a41001', 'b90956c775a41001', 'b90956c775a41001']);
    assert.equal(native.crc64Of(Buffer.from('123456789')).toString('hex'), 'b90956c775a41001');
  });
});
