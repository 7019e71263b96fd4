/**
 * berth's seccomp compiler against the real thing. test/runtime/seccomp/libseccomp-export.c builds each
 * filter with libseccomp (the installed libseccomp-dev, as runc builds it) and exports its BPF;
 * runc's -ENOSYS stub goes in front (helpers/runc-enosys.ts). Both programs then run in
 * helpers/cbpf.ts for every syscall number libseccomp knows on x86_64, x32 and i386, the holes
 * between them and numbers past the end, and, for every syscall, with argument values at and
 * around every value the profile compares with. Any difference is a failure: berth is wrong
 * until shown otherwise. libseccomp's own tables are checked against berth's too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileToOci, type OciSeccomp } from '../../../src/runtime/seccomp/profile.js';
import { compileSeccomp } from '../../../src/runtime/seccomp/bpf.js';
import { DEFAULT_SECCOMP_PROFILE } from '../../../src/runtime/seccomp/default-profile.js';
import { syscallTable, X32_SYSCALL_BIT, type SeccompArch } from '../../../src/runtime/seccomp/syscalls.js';
import { CAPS, DEFAULT_CAPABILITIES } from '../../../src/runtime/security.js';
import { REPO } from '../../helpers/berth.js';
import { decode, encode, run, seccompData, verify, type Insn } from '../../helpers/cbpf.js';
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, enosysStub, lastSyscalls } from '../../helpers/runc-enosys.js';
import { argumentValues, synthetic } from '../../helpers/seccomp-cases.js';

const x86 = process.arch === 'x64';
const AUDIT_ARCH_AARCH64 = 0xc00000b7;

interface Abi {
  arch: SeccompArch;
  lib: string;
  audit: number;
  x32: boolean;
  byNr: Map<number, string>;
  byName: Map<string, number>;
}
let dir: string;
let exe: string;
let abis: Abi[];

before(() => {
  if (!x86) return;
  dir = fs.mkdtempSync(join(tmpdir(), 'berth-libseccomp-'));
  exe = join(dir, 'libseccomp-export');
  execFileSync(
    'cc',
    ['-O2', '-Wall', '-Werror', '-o', exe, join(REPO, 'test/runtime/seccomp/libseccomp-export.c'), '-lseccomp'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  abis = (
    [
      ['SCMP_ARCH_X86_64', 'x86_64', AUDIT_ARCH_X86_64, false],
      ['SCMP_ARCH_X32', 'x32', AUDIT_ARCH_X86_64, true],
      ['SCMP_ARCH_X86', 'x86', AUDIT_ARCH_I386, false],
    ] as const
  ).map(([arch, lib, audit, x32]) => {
    const byNr = new Map<number, string>();
    for (const line of execFileSync(exe, ['table', lib], { encoding: 'utf8' }).trim().split('\n')) {
      const [nr, name] = line.split(' ');
      byNr.set(Number(nr), name!);
    }
    return { arch, lib, audit, x32, byNr, byName: new Map([...byNr].map(([nr, name]) => [name, nr])) };
  });
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The plan libseccomp-export reads: the OCI object as runc hands it to libseccomp, one rule a name. */
function plan(s: OciSeccomp): string {
  const lines = [`default ${s.defaultAction} ${s.defaultErrnoRet ?? -1}`];
  for (const a of s.architectures ?? []) lines.push(`arch ${a.replace(/^SCMP_ARCH_/, '').toLowerCase()}`);
  for (const call of s.syscalls ?? []) {
    const args = call.args ?? [];
    const conds = args.map((a) => `${a.index} ${a.op} ${a.value} ${a.valueTwo ?? 0}`).join(' ');
    for (const name of call.names)
      lines.push(`rule ${call.action} ${call.errnoRet ?? -1} ${name} ${args.length} ${conds}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

/** libseccomp's program for `s`, behind runc's stub unless the default action lets calls through. */
function reference(s: OciSeccomp): Insn[] {
  const program = decode(execFileSync(exe, ['filter'], { input: plan(s), maxBuffer: 1 << 24 }));
  if (['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(s.defaultAction)) return program;
  const listed = new Set(['SCMP_ARCH_X86_64', ...(s.architectures ?? [])]);
  const names = [...new Set((s.syscalls ?? []).flatMap((c) => c.names))];
  const tables = abis
    .filter((a) => listed.has(a.arch))
    .map((a) => ({ audit: a.audit, x32: a.x32, table: resolveNames(a.lib, names) }));
  return [...enosysStub(lastSyscalls(names, tables)), ...program];
}

/**
 * name -> number as libseccomp resolves names on an ABI (runc's GetSyscallFromNameByArch); negative: pseudo or unknown.
 */
function resolveNames(lib: string, names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of execFileSync(exe, ['resolve', lib], { input: names.join('\n'), encoding: 'utf8' })
    .trim()
    .split('\n')) {
    const [name, nr] = line.split(' ');
    out.set(name!, Number(nr));
  }
  return out;
}

/** Every number to try on an ABI: all libseccomp knows, the holes, and past the end of both tables. */
function numbers(abi: Abi): number[] {
  const base = abi.x32 ? X32_SYSCALL_BIT : 0;
  const lib = [...abi.byNr.keys()];
  const berth = [...syscallTable(abi.arch).values()];
  const out = new Set(lib);
  // numbers only berth's (newer) table names are left out: libseccomp 2.5.4 does not know them,
  // and runc's stub, built from the names it knows, ends below them
  const berthOnly = new Set(berth.filter((nr) => !abi.byNr.has(nr)));
  const top = Math.max(...lib, ...berth);
  for (let nr = base; nr <= Math.max(...lib); nr++) if (!berthOnly.has(nr)) out.add(nr);
  for (let nr = top + 1; nr <= top + 64; nr++) out.add(nr);
  for (const far of [base + 0x3fff, X32_SYSCALL_BIT - 1, 0x7fffffff, 0xffffffff]) out.add(far);
  return [...out].sort((a, b) => a - b);
}

interface Diff {
  abi: string;
  nr: number;
  name: string;
  args: string;
  berth: string;
  libseccomp: string;
}

function compare(label: string, s: OciSeccomp): { checked: number; diffs: Diff[] } {
  const ours = compileSeccomp(s, 'x64');
  verify(ours);
  const theirs = reference(s);
  verify(encode(theirs));
  const mine = decode(ours);
  const vectors = argumentValues(s);
  const diffs: Diff[] = [];
  let checked = 0;
  const hex = (v: number) => `0x${v.toString(16)}`;
  for (const abi of abis) {
    for (const nr of numbers(abi)) {
      for (const args of vectors) {
        const data = seccompData({ nr, arch: abi.audit, args });
        const a = run(mine, data),
          b = run(theirs, data);
        checked++;
        if (a !== b)
          diffs.push({
            abi: abi.lib,
            nr,
            name: abi.byNr.get(nr) ?? '?',
            args: args.map((v) => `0x${v.toString(16)}`).join(','),
            berth: hex(a),
            libseccomp: hex(b),
          });
      }
    }
  }
  for (const audit of [AUDIT_ARCH_AARCH64, 0]) {
    const data = seccompData({ nr: 0, arch: audit });
    assert.equal(run(mine, data), run(theirs, data), `${label}: bad-arch action for arch ${hex(audit)}`);
  }
  return { checked, diffs };
}

function assertSame(label: string, s: OciSeccomp): void {
  const { checked, diffs } = compare(label, s);
  assert.ok(checked > 1000, `${label}: ${checked} cases`);
  // one line per syscall and pair of results, with the first arguments that gave it
  const groups = new Map<string, string>();
  for (const d of diffs) {
    const key = `${d.abi} ${d.nr} (${d.name}): berth ${d.berth}, libseccomp ${d.libseccomp}`;
    if (!groups.has(key)) groups.set(key, `${key}, e.g. args ${d.args}`);
  }
  assert.deepEqual([...groups.values()].slice(0, 30), [], `${label}: ${diffs.length} of ${checked} cases differ`);
}

const ALL_CAPS = Object.keys(CAPS);
const dflt = (caps: readonly string[], kernel = '6.8') => profileToOci(DEFAULT_SECCOMP_PROFILE, caps, 'amd64', kernel);

test(
  "syscall tables: every number libseccomp knows on x86_64, x32 and i386 is the same in berth's tables",
  { skip: !x86 },
  () => {
    for (const abi of abis) {
      const ours = syscallTable(abi.arch);
      assert.ok(abi.byNr.size > 300, `${abi.lib}: libseccomp knows ${abi.byNr.size} syscalls`);
      const wrong = [...abi.byName]
        .filter(([name, nr]) => ours.get(name) !== nr)
        .map(([name, nr]) => `${name}: libseccomp ${nr}, berth ${ours.get(name)}`);
      assert.deepEqual(wrong, [], abi.lib);
      // the names berth has beyond libseccomp (syscalls newer than it) sit on numbers it leaves free
      const clash = [...ours]
        .filter(([name, nr]) => !abi.byName.has(name) && abi.byNr.has(nr))
        .map(([name, nr]) => `${name} ${nr}: libseccomp's ${abi.byNr.get(nr)}`);
      assert.deepEqual(clash, [], abi.lib);
    }
  },
);

for (const [label, caps, kernel] of [
  ['default capabilities', DEFAULT_CAPABILITIES, '6.8'],
  ['default capabilities + CAP_SYS_ADMIN', [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], '6.8'],
  ['all capabilities', ALL_CAPS, '6.8'],
  ['no capabilities, kernel 4.4', [], '4.4'],
] as const) {
  test(
    `Docker's default profile, ${label}: the same action as libseccomp + runc for every syscall and argument`,
    { skip: !x86 },
    () => {
      assertSame(label, dflt(caps, kernel));
    },
  );
}

for (const [label, s] of synthetic()) {
  test(`${label}: the same action as libseccomp + runc for every syscall and argument`, { skip: !x86 }, () => {
    assertSame(label, s);
  });
}
