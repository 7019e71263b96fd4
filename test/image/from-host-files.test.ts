import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BerthError } from '../../src/core/errors.js';
import { hostFileSet, findProgram, type HostEntry } from '../../src/image/from-host-files.js';
import { expandDst, parseLdCache, readLdCache, resolveLibraries, searchPathDirs } from '../../src/image/ld-resolve.js';

const T = fs.mkdtempSync(join(tmpdir(), 'berth-fromhost-'));
process.on('exit', () => fs.rmSync(T, { recursive: true, force: true }));
const d = (...p: string[]) => join(T, ...p);
const write = (p: string, data: string | Buffer, mode = 0o644) => {
  fs.mkdirSync(dirname(p), { recursive: true });
  fs.writeFileSync(p, data, { mode });
  return p;
};
const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const x64Debian = process.arch === 'x64' && fs.existsSync('/lib/x86_64-linux-gnu/libc.so.6');
const isBerth = (kind: string, re: RegExp) => (e: unknown) =>
  e instanceof BerthError && e.kind === kind && re.test(e.message);

// ---- fixtures: tiny objects built with gcc ------------------------------------------------------
const cc = (out: string, src: string, args: string[]) => {
  fs.mkdirSync(dirname(out), { recursive: true });
  execFileSync('gcc', ['-o', out, src, ...args], { stdio: 'pipe' });
  return out;
};
const rpath = (...dirs: string[]) => `-Wl,--disable-new-dtags,-rpath,${dirs.join(':')}`;
const runpath = (...dirs: string[]) => `-Wl,--enable-new-dtags,-rpath,${dirs.join(':')}`;
const exe = (name: string, lib: string, ...flags: string[]) =>
  cc(d('bin', name), d('src/main.c'), [
    '-Wl,--no-as-needed',
    `-L${d(lib === 'mid' ? 'M' : 'build')}`,
    `-l${lib}`,
    `-Wl,-rpath-link,${d('build')}`,
    ...flags,
  ]);

/** Turn the DT_DEBUG entry into a DT_RUNPATH naming the tail of the DT_RPATH string: an object with both. */
function addRunpath(file: string, rpathValue: string, tail: string) {
  const m = /\.dynamic\s+DYNAMIC\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(
    execFileSync('readelf', ['-SW', file], { encoding: 'utf8' }),
  )!;
  const b = fs.readFileSync(file),
    off = parseInt(m[1]!, 16),
    n = parseInt(m[2]!, 16) / 16;
  const ent = Array.from({ length: n }, (_, i) => off + 16 * i);
  const rp = ent.find((o) => b.readBigInt64LE(o) === 15n)!,
    dbg = ent.find((o) => b.readBigInt64LE(o) === 21n)!;
  b.writeBigInt64LE(29n, dbg);
  b.writeBigUInt64LE(b.readBigUInt64LE(rp + 8) + BigInt(rpathValue.length - tail.length), dbg + 8);
  fs.writeFileSync(file, b);
}

interface Case {
  name: string;
  path: string;
  leaf?: [string, string];
  error?: RegExp;
}
const cases: Case[] = [];
if (hasGcc) {
  write(d('src/leaf.c'), 'int leaf(void) { return 1; }\n');
  write(d('src/mid.c'), 'int leaf(void);\nint mid(void) { return leaf(); }\n');
  write(d('src/main.c'), 'int main(void) { return 0; }\n');
  fs.mkdirSync(d('empty'));
  const leaf = cc(d('build/libleaf.so'), d('src/leaf.c'), ['-shared', '-fPIC', '-nostdlib', '-Wl,-soname,libleaf.so']);
  for (const dir of ['A', 'B', 'C', 'e/lib/x86_64-linux-gnu/x86_64']) {
    fs.mkdirSync(d(dir), { recursive: true });
    fs.copyFileSync(leaf, d(dir, 'libleaf.so'));
  }
  const elf32 = Buffer.alloc(52); // an i386 ELF header, no program headers
  elf32.write('\x7fELF\x01\x01\x01', 'latin1');
  elf32.writeUInt16LE(3, 16);
  elf32.writeUInt16LE(3, 18);
  elf32.writeUInt32LE(1, 20);
  elf32.writeUInt16LE(52, 40);
  write(d('X32/libleaf.so'), elf32);
  write(d('TXT/libleaf.so'), 'INPUT(libleaf.so.1)\n');
  const mid = (dir: string, ...flags: string[]) =>
    cc(d(dir, 'libmid.so'), d('src/mid.c'), [
      '-shared',
      '-fPIC',
      '-nostdlib',
      '-Wl,-soname,libmid.so',
      `-L${d('build')}`,
      '-Wl,--no-as-needed',
      '-lleaf',
      ...flags,
    ]);
  mid('M');
  mid('MR', runpath(d('B')));
  mid('MP', rpath(d('C')));
  mid('M2', rpath('$ORIGIN/../C'));
  cases.push(
    { name: 'first RPATH dir wins', path: exe('rpath', 'leaf', rpath(d('A'), d('B'))), leaf: ['A', 'rpath'] },
    {
      name: 'incompatible and non-ELF candidates are skipped',
      path: exe('skip', 'leaf', rpath(d('X32'), d('TXT'), d('B'))),
      leaf: ['B', 'rpath'],
    },
    { name: 'RUNPATH', path: exe('runpath', 'leaf', runpath(d('B'), d('A'))), leaf: ['B', 'runpath'] },
    {
      name: "the program's RPATH applies to its dependencies' needs",
      path: exe('inherit', 'mid', rpath(d('M'), d('A'))),
      leaf: ['A', 'rpath'],
    },
    {
      name: "the program's RUNPATH does not",
      path: exe('noinherit', 'mid', runpath(d('M'), d('A'))),
      error: /library "libleaf.so" needed by ".*\/M\/libmid.so" not found/,
    },
    {
      name: "a dependency's RUNPATH disables the RPATH chain",
      path: exe('deprunpath', 'mid', rpath(d('MR'), d('A'))),
      leaf: ['B', 'runpath'],
    },
    {
      name: "a dependency's RPATH comes before the program's",
      path: exe('deprpath', 'mid', rpath(d('MP'), d('A'))),
      leaf: ['C', 'rpath'],
    },
    {
      name: "$ORIGIN in a dependency's RPATH is its directory",
      path: exe('deporigin', 'mid', rpath(d('M2'))),
      leaf: ['M2/../C', 'rpath'],
    },
    {
      name: 'DF_1_NODEFLIB skips the cache and default dirs',
      path: exe('nodeflib', 'leaf', rpath(d('A')), '-Wl,-z,nodefaultlib'),
      error: /library "libc.so.6" needed by ".*nodeflib" not found/,
    },
  );
  const both = exe('both', 'leaf', rpath(d('B'), d('A')));
  addRunpath(both, `${d('B')}:${d('A')}`, d('A'));
  cases.push({ name: 'DT_RPATH is ignored when DT_RUNPATH is present', path: both, leaf: ['A', 'runpath'] });
  exe('origin', 'leaf', runpath('$ORIGIN/../C'));
  fs.mkdirSync(d('links/deep'), { recursive: true });
  fs.symlinkSync('../../bin/origin', d('links/deep/origin'));
  cases.push({
    name: "the program's $ORIGIN is its real directory",
    path: d('links/deep/origin'),
    leaf: ['bin/../C', 'runpath'],
  });
  if (x64Debian)
    cases.push({
      name: '$LIB and $PLATFORM',
      path: exe('dst', 'leaf', runpath(`${d('e')}/$LIB/$PLATFORM`)),
      leaf: ['e/lib/x86_64-linux-gnu/x86_64', 'runpath'],
    });
}

/** What glibc's ld.so itself resolves: name -> path or "not found" (ldd without ldd). */
function ldTrace(path: string): Map<string, string> {
  const r = spawnSync(path, [], { env: { LD_TRACE_LOADED_OBJECTS: '1' }, cwd: d('empty'), encoding: 'utf8' });
  const out = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

for (const c of cases) {
  test(`resolve: ${c.name} (agrees with ld.so)`, async () => {
    const truth = ldTrace(c.path);
    if (c.error) {
      assert.ok([...truth.values()].includes('not found'), JSON.stringify([...truth]));
      await assert.rejects(resolveLibraries(c.path), isBerth('NotFound', c.error));
      return;
    }
    const objs = await resolveLibraries(c.path);
    const leaf = objs.find((o) => o.name === 'libleaf.so');
    assert.deepEqual([leaf?.path, leaf?.via], [`${T}/${c.leaf![0]}/libleaf.so`, c.leaf![1]]);
    for (const [name, p] of truth)
      assert.equal(objs.find((o) => o.name === name)?.path, p, `${name} as ld.so finds it`);
  });
}

test('DST expansion', () => {
  const ctx = { origin: '/o/bin', lib: 'lib64', platform: undefined };
  const table: Array<[string, string | undefined]> = [
    ['$ORIGIN/../lib', '/o/bin/../lib'],
    ['${ORIGIN}/x', '/o/bin/x'],
    ['$ORIGIN', '/o/bin'],
    ['/a/$ORIGINAL', '/a/$ORIGINAL'],
    ['/usr/$LIB/x', '/usr/lib64/x'],
    ['/p/${LIB}x', '/p/lib64x'],
    ['/p/$PLATFORM', undefined],
    ['/p/$FOO/$', '/p/$FOO/$'],
  ];
  for (const [input, want] of table) assert.equal(expandDst(input, ctx), want, input);
  assert.deepEqual(searchPathDirs('$ORIGIN/../lib::rel:/abs/:/abs:/p/$PLATFORM:$ORIGIN', ctx), [
    '/o/bin/../lib',
    '/abs',
    '/o/bin',
  ]);
});

// ---- ld.so.cache ----------------------------------------------------------------------------------
const ldconfigP = (cache?: string) =>
  new Set(
    execFileSync('ldconfig', ['-p', ...(cache ? ['-C', cache] : [])], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(' => '))
      .map((l) => l.trim().replace(/ \(.*\) => /, ' => ')),
  );
const asSet = (es: Array<{ name: string; path: string }>) => new Set(es.map((e) => `${e.name} => ${e.path}`));

test('the system ld.so.cache parses like ldconfig -p', { skip: !fs.existsSync('/etc/ld.so.cache') }, async () => {
  const ours = await readLdCache('/etc/ld.so.cache');
  assert.deepEqual(asSet(ours), ldconfigP());
  const libc = ours.find((e) => e.name === 'libc.so.6');
  if (x64Debian) assert.equal(libc?.path, '/lib/x86_64-linux-gnu/libc.so.6');
});

for (const format of ['new', 'compat', 'old']) {
  test(`ld.so.cache in ${format} format`, { skip: !hasGcc }, async () => {
    cc(d('cachelib/libftcache.so.1'), d('src/leaf.c'), [
      '-shared',
      '-fPIC',
      '-nostdlib',
      '-Wl,-soname,libftcache.so.1',
    ]);
    write(d('ld.so.conf'), `${d('cachelib')}\n`);
    const cache = d(`${format}.cache`);
    execFileSync('ldconfig', ['-X', '-c', format, '-C', cache, '-f', d('ld.so.conf')], { stdio: 'pipe' });
    const ours = await readLdCache(cache);
    assert.deepEqual(asSet(ours), ldconfigP(cache));
    assert.ok(asSet(ours).has(`libftcache.so.1 => ${d('cachelib/libftcache.so.1')}`));
  });
}

test('a library found only through the cache brings the cache along', { skip: !hasGcc }, async () => {
  const prog = cc(d('bin/cached'), d('src/main.c'), ['-Wl,--no-as-needed', `-L${d('cachelib')}`, '-l:libftcache.so.1']);
  const ldCache = d('new.cache');
  const objs = await resolveLibraries(prog, { ldCache });
  assert.deepEqual(
    objs.filter((o) => o.name === 'libftcache.so.1').map((o) => [o.path, o.via]),
    [[d('cachelib/libftcache.so.1'), 'cache']],
  );
  const set = await hostFileSet([prog], { ldCache });
  assert.deepEqual(
    set.entries.find((e) => e.path === 'etc/ld.so.cache'),
    { kind: 'file', path: 'etc/ld.so.cache', hostPath: ldCache, mode: 0o644 },
  );
  await assert.rejects(
    hostFileSet([prog], { ldCache: d('missing.cache') }),
    isBerth('NotFound', /library "libftcache.so.1" needed by ".*\/bin\/cached" not found/),
  );
});

test('corrupt ld.so.cache files give clear errors', async () => {
  const hdr = Buffer.alloc(48);
  hdr.write('glibc-ld.so.cache1.1');
  hdr.writeUInt32LE(1000, 20);
  hdr[28] = 2;
  const bad: Array<[Buffer, RegExp]> = [
    [Buffer.from('garbage'), /unknown format/],
    [hdr.subarray(0, 30), /truncated header/],
    [hdr, /1000 entries do not fit/],
    [Buffer.concat([Buffer.from('ld.so-1.7.0\0'), Buffer.from([9, 0, 0, 0])]), /9 entries do not fit/],
  ];
  for (const [buf, re] of bad) assert.throws(() => parseLdCache(buf, '/x'), isBerth('Corrupt', re));
  hdr.writeUInt32LE(1, 20);
  assert.throws(
    () => parseLdCache(Buffer.concat([hdr, Buffer.alloc(24, 0xff)]), '/x'),
    isBerth('Corrupt', /string offset \d+ is outside/),
  );
});

// ---- file sets of real host programs ----------------------------------------------------------------
const byPath = (es: HostEntry[]) => new Map(es.map((e) => [e.path, e]));
/** Follow a path through the image's own entries, symlinks resolved inside the image. */
function resolveIn(es: HostEntry[], p: string): HostEntry | undefined {
  const m = byPath(es);
  let todo = p.split('/'),
    done: string[] = [],
    last: HostEntry | undefined,
    links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const e = m.get([...done, c].join('/'));
    if (!e || ++links > 100) return undefined;
    if (e.kind === 'symlink') {
      if (e.target.startsWith('/')) done = [];
      todo = [...e.target.split('/'), ...todo];
      continue;
    }
    done.push(c);
    last = e;
  }
  return last;
}
/** Sorted, unique, every parent a dir entry, every entry mirroring the host; and each `paths` reaches its host file. */
function assertImage(es: HostEntry[], paths: string[], root = '/') {
  const names = es.map((e) => e.path);
  assert.deepEqual(
    names,
    [...new Set(names)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
  );
  const m = byPath(es);
  for (const e of es) {
    if (e.path.includes('/')) assert.equal(m.get(dirname(e.path))?.kind, 'dir', `parent of ${e.path}`);
    const host = join(root, e.path);
    if (e.kind === 'symlink') assert.equal(e.target, fs.readlinkSync(host), e.path);
    if (e.kind === 'file' && e.path !== 'etc/ld.so.cache')
      assert.deepEqual([e.hostPath, e.mode], [host, fs.statSync(host).mode & 0o7777]);
  }
  for (const p of paths) {
    const e = resolveIn(es, p);
    assert.equal(e?.kind, 'file', `${p} resolves to a file in the image`);
    if (e?.kind === 'file' && root === '/') assert.equal(fs.realpathSync(e.hostPath), fs.realpathSync(p), p);
  }
}
/** The program, its interpreter and every library ld.so loads for it. */
const loaded = (prog: string) => {
  const r = spawnSync(prog, ['--version'], { env: { LD_TRACE_LOADED_OBJECTS: '1' }, encoding: 'utf8' });
  return [prog, ...[...r.stdout.matchAll(/^\s*(?:\S+ => )?(\/\S+) \(0x/gm)].map((m) => m[1]!)];
};

const programs = ['sh', 'ls', process.execPath];
test(`host programs ${programs.join(', ')}: interpreter, libc and symlinks`, async () => {
  const { entries } = await hostFileSet(programs);
  const wanted = programs.flatMap((p) =>
    loaded(p.startsWith('/') ? p : execFileSync('which', [p], { encoding: 'utf8' }).trim()),
  );
  assertImage(entries, wanted);
  const interp = wanted.find((p) => /ld-linux/.test(p));
  assert.ok(
    interp && wanted.some((p) => p.endsWith('/libc.so.6')) && wanted.some((p) => p.includes('libstdc++')),
    wanted.join(' '),
  );
  const m = byPath(entries);
  for (const top of ['bin', 'sbin', 'lib', 'lib64']) {
    const st = fs.lstatSync(join('/', top), { throwIfNoEntry: false });
    if (st?.isSymbolicLink())
      assert.deepEqual(m.get(top), { kind: 'symlink', path: top, target: fs.readlinkSync(join('/', top)) });
    else assert.equal(m.get(top)?.kind, 'dir');
  }
  for (const [p, mode] of [
    ['proc', 0o755],
    ['root', 0o700],
    ['tmp', 0o1777],
    ['dev', 0o755],
  ] as const)
    assert.deepEqual(m.get(p), { kind: 'dir', path: p, mode });
  assert.equal(
    (m.get('etc/passwd') as { data: Buffer }).data.toString(),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
  );
  assert.equal((m.get('etc/group') as { data: Buffer }).data.toString(), 'root:x:0:\nnogroup:x:65534:\n');
  assert.equal(m.get('etc/ld.so.cache'), undefined);
});

test('static busybox needs no interpreter or libraries', { skip: !fs.existsSync('/bin/busybox') }, async () => {
  const { entries } = await hostFileSet(['/bin/busybox']);
  assertImage(entries, ['/bin/busybox']);
  assert.deepEqual(
    entries.filter((e) => /\.so/.test(e.path)),
    [],
  );
});

test('scripts bring their interpreters, #!/usr/bin/env NAME brings NAME', async () => {
  const a = write(d('scripts/a.sh'), '#!/bin/sh -e\necho a\n', 0o755);
  const b = write(d('scripts/b'), '#!/usr/bin/env node\nconsole.log(1)\n', 0o755);
  const c = write(d('scripts/c'), `#!${a}\n`, 0o755);
  const { entries } = await hostFileSet([c, b]);
  assertImage(entries, [
    a,
    b,
    c,
    '/bin/sh',
    '/usr/bin/env',
    await findProgram('node'),
    ...loaded(fs.realpathSync('/bin/sh')),
  ]);
});

test('errors name what is missing', async () => {
  await assert.rejects(
    hostFileSet(['no-such-program-xyz']),
    isBerth('NotFound', /program "no-such-program-xyz" not found/),
  );
  await assert.rejects(hostFileSet([d('nope')]), isBerth('NotFound', /program ".*nope" not found/));
  await assert.rejects(hostFileSet(['a/b']), isBerth('InvalidArgument', /name in PATH or an absolute path/));
  await assert.rejects(
    hostFileSet([write(d('scripts/bad'), '#!/no/such/interp\n', 0o755)]),
    isBerth('NotFound', /interpreter of ".*bad" "\/no\/such\/interp" not found/),
  );
  await assert.rejects(
    hostFileSet([write(d('scripts/data'), 'plain text\n', 0o755)]),
    isBerth('InvalidArgument', /not an ELF file or #! script/),
  );
});

test('root: paths and absolute symlinks resolve inside it', { skip: !fs.existsSync('/bin/busybox') }, async () => {
  const R = d('root');
  fs.mkdirSync(join(R, 'usr/bin'), { recursive: true });
  fs.copyFileSync(fs.realpathSync('/bin/busybox'), join(R, 'usr/bin/busybox'));
  fs.chmodSync(join(R, 'usr/bin/busybox'), 0o755);
  fs.symlinkSync('usr/bin', join(R, 'bin'));
  fs.symlinkSync('busybox', join(R, 'usr/bin/sh'));
  write(join(R, 'opt/app/run'), '#!/bin/sh\necho hi\n', 0o755);
  fs.mkdirSync(join(R, 'usr/local/bin'), { recursive: true });
  fs.symlinkSync('/usr/bin/busybox', join(R, 'usr/local/bin/bb'));
  const { entries } = await hostFileSet(['/opt/app/run', '/usr/local/bin/bb', 'sh'], { root: R });
  assertImage(entries, ['/opt/app/run', '/usr/local/bin/bb', '/bin/sh'], R);
  const m = byPath(entries);
  assert.deepEqual(m.get('usr/bin/busybox'), {
    kind: 'file',
    path: 'usr/bin/busybox',
    hostPath: join(R, 'usr/bin/busybox'),
    mode: 0o755,
  });
  assert.deepEqual([m.get('bin')?.kind, m.get('lib')?.kind], ['symlink', 'dir']);
  assert.deepEqual(m.get('usr/local/bin/bb'), {
    kind: 'symlink',
    path: 'usr/local/bin/bb',
    target: '/usr/bin/busybox',
  });
  for (const p of ['/opt/app/run', '/usr/local/bin/bb', '/bin/sh'])
    assert.ok((resolveIn(entries, p) as { hostPath?: string }).hostPath?.startsWith(R + '/'), p);
});

/** Write a file set out as a directory tree. */
function materialize(es: HostEntry[], dir: string) {
  for (const e of es) {
    const p = join(dir, e.path);
    if (e.kind === 'dir') fs.mkdirSync(p);
    else if (e.kind === 'symlink') fs.symlinkSync(e.target, p);
    else if (e.kind === 'file') fs.copyFileSync(e.hostPath, p);
    else fs.writeFileSync(p, e.data);
    if (e.kind !== 'symlink') fs.chmodSync(p, e.mode);
  }
}

const canChroot = spawnSync('chroot', ['/', '/bin/true']).status === 0;
test('the file set runs in a chroot', { skip: !canChroot && 'chroot not permitted' }, async () => {
  const script = write(d('scripts/hello'), '#!/usr/bin/env node\nconsole.log(6 * 7)\n', 0o755);
  const { entries } = await hostFileSet(['sh', 'ls', script]);
  const dir = d('image');
  fs.mkdirSync(dir);
  materialize(entries, dir);
  const run = (...argv: string[]) =>
    execFileSync('chroot', [dir, ...argv], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  assert.equal(run('/bin/sh', '-c', 'echo ok').trim(), 'ok');
  assert.match(run('/usr/bin/ls', '/'), /usr/);
  assert.equal(run(script).trim(), '42');
});
