import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError } from '../../src/core/errors.js';
import { elfCompatible, readElf, readExecutable } from '../../src/image/elf.js';

const tmp = mkdtempSync(join(tmpdir(), 'berth-elf-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const put = (data: Buffer | string, name = `f${seq++}`) => {
  const p = join(tmp, name);
  writeFileSync(p, data, { mode: 0o755 });
  return p;
};

interface Spec {
  bits: 32 | 64;
  le: boolean;
  interp?: string;
  needed?: string[];
  rpath?: string;
  runpath?: string;
  soname?: string;
}
/** Field offsets in a built ELF, for malformed variants to patch. */
interface Layout {
  phoff: number;
  interpOff: number;
  strOff: number;
  dynOff: number;
  phent: number;
  w: number;
}

/** A minimal ELF: one PT_LOAD mapping the whole file at 0x10000, PT_INTERP, PT_DYNAMIC, a string table. */
function buildElf(s: Spec): { buf: Buffer; at: Layout; put: (off: number, v: number, size: number) => void } {
  const w = s.bits === 64 ? 8 : 4,
    eh = s.bits === 64 ? 64 : 52,
    phent = s.bits === 64 ? 56 : 32;
  const strs: string[] = [];
  let strLen = 1;
  const str = (x: string) => {
    const o = strLen;
    strs.push(x);
    strLen += Buffer.byteLength(x) + 1;
    return o;
  };
  const dyn: Array<[number, number]> = [];
  for (const n of s.needed ?? []) dyn.push([1, str(n)]);
  if (s.soname) dyn.push([14, str(s.soname)]);
  if (s.rpath) dyn.push([15, str(s.rpath)]);
  if (s.runpath) dyn.push([29, str(s.runpath)]);
  const phoff = eh,
    interpOff = phoff + 3 * phent;
  const interp = Buffer.from((s.interp ?? '') + '\0');
  const strOff = interpOff + interp.length;
  const dynOff = (strOff + strLen + 7) & ~7;
  const base = 0x10000;
  dyn.push([5, base + strOff], [10, strLen], [0, 0]);
  const size = dynOff + dyn.length * 2 * w;
  const buf = Buffer.alloc(size);
  const put = (off: number, v: number, n: number) => {
    if (n === 8) {
      if (s.le) buf.writeBigUInt64LE(BigInt(v), off);
      else buf.writeBigUInt64BE(BigInt(v), off);
    } else if (n === 4) {
      if (s.le) buf.writeUInt32LE(v >>> 0, off);
      else buf.writeUInt32BE(v >>> 0, off);
    } else if (s.le) buf.writeUInt16LE(v, off);
    else buf.writeUInt16BE(v, off);
  };
  buf.write('\x7fELF', 0, 'latin1');
  buf[4] = s.bits === 64 ? 2 : 1;
  buf[5] = s.le ? 1 : 2;
  buf[6] = 1;
  put(16, 3, 2);
  put(18, s.bits === 64 ? 62 : 3, 2);
  put(20, 1, 4);
  put(24 + w, phoff, w);
  put(24 + 3 * w + 4, eh, 2);
  put(24 + 3 * w + 6, phent, 2);
  put(24 + 3 * w + 8, 3, 2);
  const ph = (i: number, type: number, off: number, filesz: number) => {
    const o = phoff + i * phent;
    put(o, type, 4);
    if (s.bits === 64) {
      put(o + 8, off, 8);
      put(o + 16, base + off, 8);
      put(o + 32, filesz, 8);
      put(o + 40, filesz, 8);
    } else {
      put(o + 4, off, 4);
      put(o + 8, base + off, 4);
      put(o + 16, filesz, 4);
      put(o + 20, filesz, 4);
    }
  };
  ph(0, 1, 0, size);
  ph(1, s.interp ? 3 : 6 /* PT_PHDR stands in when there is no interpreter */, interpOff, interp.length);
  ph(2, 2, dynOff, dyn.length * 2 * w);
  interp.copy(buf, interpOff);
  let o = strOff + 1;
  for (const x of strs) o += buf.write(x + '\0', o);
  dyn.forEach(([tag, val], i) => {
    put(dynOff + i * 2 * w, tag, w);
    put(dynOff + i * 2 * w + w, val, w);
  });
  return { buf, at: { phoff, interpOff, strOff, dynOff, phent, w }, put };
}

const full: Omit<Spec, 'bits' | 'le'> = {
  interp: '/lib/ld-test.so.1',
  needed: ['liba.so.1', 'libb.so.2'],
  rpath: '$ORIGIN/../lib:/opt/x',
  runpath: '/run/path',
  soname: 'libself.so.3',
};

for (const [bits, le] of [
  [64, true],
  [64, false],
  [32, true],
  [32, false],
] as const) {
  test(`hand-built ELF${bits} ${le ? 'LSB' : 'MSB'} parses`, async () => {
    const e = await readElf(put(buildElf({ bits, le, ...full }).buf));
    assert.equal(e.bits, bits);
    assert.equal(e.littleEndian, le);
    assert.equal(e.interpreter, '/lib/ld-test.so.1');
    assert.deepEqual(e.needed, ['liba.so.1', 'libb.so.2']);
    assert.equal(e.rpath, '$ORIGIN/../lib:/opt/x');
    assert.equal(e.runpath, '/run/path');
    assert.equal(e.soname, 'libself.so.3');
    assert.equal(e.dynamic, true);
  });
}

test('long dynamic strings are read past the first chunk', async () => {
  const rpath = Array.from({ length: 80 }, (_, i) => `/opt/dir${i}`).join(':');
  const e = await readElf(put(buildElf({ bits: 64, le: true, needed: ['x.so'], rpath }).buf));
  assert.equal(e.rpath, rpath);
  assert.equal(e.interpreter, undefined);
});

type Mutate = (b: ReturnType<typeof buildElf>) => Buffer;
const malformed: Array<[string, Mutate, RegExp]> = [
  ['truncated ELF header', (b) => b.buf.subarray(0, 40), /truncated ELF header/],
  [
    'unknown class',
    (b) => {
      b.buf[4] = 9;
      return b.buf;
    },
    /unknown ELF class 9/,
  ],
  [
    'unknown data encoding',
    (b) => {
      b.buf[5] = 0;
      return b.buf;
    },
    /unknown ELF data encoding 0/,
  ],
  [
    'program header table past EOF',
    (b) => {
      b.put(32, b.buf.length - 10, 8);
      return b.buf;
    },
    /truncated program header table/,
  ],
  [
    'program header offset beyond 2^53',
    (b) => {
      b.buf.writeBigUInt64LE(2n ** 63n, 32);
      return b.buf;
    },
    /truncated program header table/,
  ],
  [
    'absurd program header count',
    (b) => {
      b.put(56, 60000, 2);
      return b.buf;
    },
    /truncated program header table/,
  ],
  [
    'PN_XNUM with section header past EOF',
    (b) => {
      b.put(56, 0xffff, 2);
      b.put(40, 1 << 20, 8);
      return b.buf;
    },
    /truncated section header 0/,
  ],
  [
    'PN_XNUM with absurd sh_info',
    (b) => {
      const sh = Buffer.alloc(64);
      sh.writeUInt32LE(0xffffffff, 44);
      b.put(56, 0xffff, 2);
      b.put(40, b.buf.length, 8);
      return Buffer.concat([b.buf, sh]);
    },
    /program header count 4294967295 exceeds/,
  ],
  [
    'program header entry too small',
    (b) => {
      b.put(54, 8, 2);
      return b.buf;
    },
    /entry size 8 is smaller than 56/,
  ],
  [
    'PT_INTERP past EOF',
    (b) => {
      b.put(b.at.phoff + b.at.phent + 8, b.buf.length + 100, 8);
      return b.buf;
    },
    /truncated PT_INTERP/,
  ],
  [
    'PT_INTERP not NUL-terminated',
    (b) => {
      b.buf.fill(0x41, b.at.interpOff, b.at.strOff);
      return b.buf;
    },
    /PT_INTERP is not NUL-terminated/,
  ],
  [
    'dynamic section past EOF',
    (b) => {
      b.put(b.at.phoff + 2 * b.at.phent + 8, b.buf.length - 8, 8);
      return b.buf;
    },
    /truncated dynamic section/,
  ],
  [
    'dynamic section absurdly large',
    (b) => {
      b.put(b.at.phoff + 2 * b.at.phent + 32, 2 ** 40, 8);
      return b.buf;
    },
    /PT_DYNAMIC size \d+ is too large/,
  ],
  [
    'dynamic strtab offset past EOF',
    (b) => {
      b.put(b.at.phoff + 32, 1 << 20, 8); // PT_LOAD claims 1 MiB of file
      b.put(b.at.dynOff + 16 * (full.needed!.length + 3) + 8, 0x10000 + b.buf.length + 4096, 8);
      return b.buf;
    },
    /dynamic string table at offset \d+ is past the end of the file/,
  ],
  [
    'DT_STRTAB outside every PT_LOAD',
    (b) => {
      b.put(b.at.dynOff + 16 * (full.needed!.length + 3) + 8, 0x10, 8);
      return b.buf;
    },
    /DT_STRTAB address 0x10 is not in any PT_LOAD segment/,
  ],
  [
    'DT_NEEDED offset beyond DT_STRSZ',
    (b) => {
      b.put(b.at.dynOff + 8, 1 << 20, 8);
      return b.buf;
    },
    /DT_NEEDED string offset 1048576 is outside the dynamic string table/,
  ],
  [
    'unterminated dynamic string',
    (b) => {
      b.buf.fill(0x61, b.at.strOff, b.at.dynOff);
      return b.buf;
    },
    /string at offset \d+ is not NUL-terminated/,
  ],
];

for (const [name, mutate, re] of malformed) {
  test(`malformed ELF: ${name}`, async () => {
    const p = put(mutate(buildElf({ bits: 64, le: true, ...full })));
    await assert.rejects(readElf(p), (err: unknown) => {
      assert.ok(err instanceof BerthError, String(err));
      assert.equal(err.kind, 'InvalidArgument');
      assert.match(err.message, re);
      assert.ok(err.message.startsWith(`read ELF "${p}": `), err.message);
      return true;
    });
  });
}

test('non-ELF, empty and missing files', async () => {
  await assert.rejects(
    readElf(put('hello world\n')),
    (e: BerthError) => e.code === 'not_elf' && /not an ELF file/.test(e.message),
  );
  await assert.rejects(
    readExecutable(put(Buffer.alloc(0))),
    (e: BerthError) => e.kind === 'InvalidArgument' && /not an ELF file or #! script/.test(e.message),
  );
  await assert.rejects(
    readElf(join(tmp, 'missing')),
    (e: BerthError) => e.kind === 'NotFound' && /read ELF ".*missing": ENOENT/.test(e.message),
  );
  await assert.rejects(readElf(tmp), (e: BerthError) => /not a regular file/.test(e.message));
});

test('#! scripts', async () => {
  assert.deepEqual(await readExecutable(put('#!/bin/sh -e\necho hi\n', 's1')), {
    kind: 'script',
    path: join(tmp, 's1'),
    interpreter: '/bin/sh',
    arg: '-e',
  });
  const env = await readExecutable(put('#!  /usr/bin/env   python3  \n'));
  assert.equal(env.kind === 'script' && `${env.interpreter}|${env.arg}`, '/usr/bin/env|python3');
  const bare = await readExecutable(put('#!/bin/bash'));
  assert.equal(bare.kind === 'script' && bare.arg, undefined);
  await assert.rejects(readExecutable(put('#!\n')), /empty #! interpreter/);
  await assert.rejects(readExecutable(put('#!/' + 'x'.repeat(300))), /longer than the 256-byte line limit/);
  assert.equal((await readExecutable(put('#!/bin/sh ' + 'a'.repeat(300)))).kind, 'script'); // a truncated argument is fine
  await assert.rejects(readElf(put('#!/bin/sh\n')), (e: BerthError) => e.code === 'not_elf');
});

/** DT_NEEDED, SONAME, RUNPATH/RPATH and interpreter as binutils' readelf reports them. */
function readelf(path: string) {
  const d = execFileSync('readelf', ['-dlW', path], { encoding: 'utf8' });
  const all = (tag: string) =>
    [...d.matchAll(new RegExp(`\\(${tag}\\)[^\\[\\n]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
  return {
    needed: all('NEEDED'),
    soname: all('SONAME')[0],
    runpath: all('RUNPATH')[0],
    rpath: all('RPATH')[0],
    interp: /interpreter: (\S+)\]/.exec(d)?.[1],
  };
}

const real = [
  '/bin/sh',
  '/usr/bin/ls',
  process.execPath,
  '/lib/x86_64-linux-gnu/libc.so.6',
  '/lib/x86_64-linux-gnu/libstdc++.so.6',
  '/bin/busybox',
];
for (const p of real) {
  test(`real object ${p} matches readelf`, { skip: !existsSync(p) }, async () => {
    const e = await readExecutable(p);
    assert.equal(e.kind, 'elf');
    if (e.kind !== 'elf') return;
    const want = readelf(p);
    assert.deepEqual(e.needed, want.needed);
    assert.equal(e.soname, want.soname);
    assert.equal(e.runpath, want.runpath);
    assert.equal(e.rpath, want.rpath);
    assert.equal(e.interpreter, want.interp);
    if (process.arch === 'x64') assert.deepEqual([e.bits, e.littleEndian, e.machine], [64, true, 62]);
  });
}

test(
  'static busybox has no interpreter and no libraries; node needs libc',
  { skip: !existsSync('/bin/busybox') },
  async () => {
    const bb = await readElf('/bin/busybox');
    assert.equal(bb.interpreter, undefined);
    assert.deepEqual(bb.needed, []);
    const node = await readElf(process.execPath);
    assert.ok(node.needed.includes('libc.so.6'));
    assert.ok(elfCompatible(bb, node));
    const elf32 = await readElf(put(buildElf({ bits: 32, le: true }).buf));
    assert.equal(elfCompatible(elf32, node), false);
  },
);
