import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { BerthError } from '../../../src/core/errors.js';
import { runHelper, StepError } from '../../../src/runtime/helper.js';
import { capMask, type Step } from '../../../src/runtime/plan.js';
import {
  profileToOci,
  seccompFor,
  type OciSeccomp,
  type OciSeccompArg,
  type SeccompOperator,
} from '../../../src/runtime/seccomp/profile.js';
import { actionValue, AUDIT_ARCH, compileSeccomp, SECCOMP_RET } from '../../../src/runtime/seccomp/bpf.js';
import { DEFAULT_SECCOMP_PROFILE } from '../../../src/runtime/seccomp/default-profile.js';
import { syscallTable, X32_SYSCALL_BIT } from '../../../src/runtime/seccomp/syscalls.js';
import { DEFAULT_CAPABILITIES } from '../../../src/runtime/security.js';
import { decode, run as runBpf, seccompData, verify } from '../../helpers/cbpf.js';
import { Tracked } from '../../helpers/tracked.js';

const tracked = new Tracked();
const x86 = process.arch === 'x64';
const EPERM = SECCOMP_RET.ERRNO | 1,
  ENOSYS = SECCOMP_RET.ERRNO | 38,
  ALLOW = SECCOMP_RET.ALLOW,
  KILL = SECCOMP_RET.KILL_THREAD;
const NR = (name: string, arch: 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X32' = 'SCMP_ARCH_X86_64') =>
  syscallTable(arch).get(name)!;
const dflt = (caps: readonly string[] = DEFAULT_CAPABILITIES) =>
  profileToOci(DEFAULT_SECCOMP_PROFILE, caps, 'amd64', '6.8');

function run(p: Buffer, nr: number, args: bigint[] = [], arch: number = AUDIT_ARCH.X86_64): number {
  return runBpf(decode(p), seccompData({ nr, arch, args }));
}

// ---- compiled programs --------------------------------------------------------------------------

test('the default profile compiles to a valid program well under the kernel limit', { skip: !x86 }, () => {
  for (const caps of [DEFAULT_CAPABILITIES, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], []]) {
    const p = compileSeccomp(dflt(caps));
    verify(p);
    assert.ok(p.length / 8 < 2000, `${p.length / 8} instructions`);
    // every syscall number of every architecture reaches a RET
    for (const base of [0, X32_SYSCALL_BIT]) for (let nr = 0; nr < 1100; nr++) run(p, base + nr);
    for (let nr = 0; nr < 1100; nr++) run(p, nr, [], AUDIT_ARCH.I386);
  }
  verify(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }));
  verify(
    compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }),
  );
});

test(
  'default profile decisions (emulated): x86_64, x32 and i386 tables, argument filters, ENOSYS above the table',
  { skip: !x86 },
  () => {
    const p = compileSeccomp(dflt());
    const CLONE_NEWUSER = 0x10000000n,
      SIGCHLD = 17n,
      CLONE_THREADS = 0x3d0f00n;
    const cases: Array<[string, number, bigint[], number, number?]> = [
      ['read', NR('read'), [], ALLOW],
      ['mount', NR('mount'), [], EPERM],
      ['unshare', NR('unshare'), [0n], EPERM],
      ['clone (fork)', NR('clone'), [SIGCHLD], ALLOW],
      ['clone (thread)', NR('clone'), [CLONE_THREADS], ALLOW],
      ['clone (new user ns)', NR('clone'), [CLONE_NEWUSER | SIGCHLD], EPERM],
      ['clone3', NR('clone3'), [], ENOSYS],
      ['personality(PER_LINUX)', NR('personality'), [0n], ALLOW],
      ['personality(query)', NR('personality'), [0xffffffffn], ALLOW],
      ['personality(ADDR_NO_RANDOMIZE)', NR('personality'), [0x40000n], EPERM],
      ['personality(query | 1<<32)', NR('personality'), [0x1ffffffffn], EPERM],
      ['socket(AF_INET)', NR('socket'), [2n], ALLOW],
      ['socket(AF_KCM)', NR('socket'), [41n], ALLOW],
      ['socket(38)', NR('socket'), [38n], EPERM],
      ['socket(39)', NR('socket'), [39n], ALLOW],
      ['socket(AF_VSOCK)', NR('socket'), [40n], EPERM],
      ['socket(AF_VSOCK | 1<<32): 64-bit compare, > 40, as libseccomp', NR('socket'), [(1n << 32n) | 40n], ALLOW],
      ['a hole below the highest syscall', 400, [], EPERM],
      ['a syscall newer than the profile', 1000, [], ENOSYS],
      ['x32 read', NR('read', 'SCMP_ARCH_X32'), [], ALLOW],
      ['x32 rt_sigaction', NR('rt_sigaction', 'SCMP_ARCH_X32'), [], ALLOW],
      ['x32 mount', NR('mount', 'SCMP_ARCH_X32'), [], EPERM],
      ['x32 beyond its table', X32_SYSCALL_BIT + 1000, [], ENOSYS],
      ['i386 getpid', 20, [], ALLOW, AUDIT_ARCH.I386],
      ['i386 socketcall', 102, [], ALLOW, AUDIT_ARCH.I386],
      ['i386 mount', 21, [], EPERM, AUDIT_ARCH.I386],
      ['i386 unshare', 310, [], EPERM, AUDIT_ARCH.I386],
      ['aarch64 on this CPU: bad arch', 63, [], KILL, AUDIT_ARCH.AARCH64],
    ];
    for (const [what, nr, args, want, arch] of cases) assert.equal(run(p, nr, args, arch), want, what);
    const admin = compileSeccomp(dflt([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']));
    assert.equal(run(admin, NR('mount')), ALLOW);
    assert.equal(run(admin, NR('clone'), [CLONE_NEWUSER]), ALLOW);
    assert.equal(run(admin, NR('clone3')), ALLOW);
  },
);

test("architectures the profile does not list get libseccomp's bad-arch action (kill)", { skip: !x86 }, () => {
  const only64 = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] });
  assert.equal(run(only64, 0), ALLOW);
  assert.equal(run(only64, X32_SYSCALL_BIT), KILL, 'x32');
  assert.equal(run(only64, 20, [], AUDIT_ARCH.I386), KILL, 'i386');
  const none = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [] });
  assert.equal(run(none, 0), ALLOW, 'the native architecture is always there');
  assert.equal(run(none, 20, [], AUDIT_ARCH.I386), KILL);
  const foreign = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_S390X'] });
  assert.equal(run(foreign, 0), ALLOW, 'architectures this CPU cannot run are ignored');
});

test(
  'rules: the first unconditional rule wins, default-action rules drop out, same-argument conditions are ORed',
  { skip: !x86 },
  () => {
    const eq = (index: number, value: number): OciSeccompArg => ({ index, value, op: 'SCMP_CMP_EQ' });
    const p = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [eq(0, 1)] },
        { names: ['getppid', 'no_such_syscall'], action: 'SCMP_ACT_ERRNO', errnoRet: 6 },
        { names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 7 },
        { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 8, args: [eq(0, 1), eq(0, 2)] },
        { names: ['getuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 9, args: [eq(0, 1), eq(1, 2)] },
        { names: ['getuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 10, args: [eq(0, 1)] },
        { names: ['getgid'], action: 'SCMP_ACT_ALLOW', args: [eq(0, 1)] },
      ],
    });
    verify(p);
    const E = (n: number) => SECCOMP_RET.ERRNO | n;
    assert.equal(run(p, NR('getppid'), [1n]), E(6));
    assert.equal(run(p, NR('getpid'), [1n]), E(8));
    assert.equal(run(p, NR('getpid'), [2n]), E(8));
    assert.equal(run(p, NR('getpid'), [3n]), ALLOW);
    assert.equal(run(p, NR('getuid'), [1n, 2n]), E(9), 'conditions on different arguments are ANDed');
    assert.equal(run(p, NR('getuid'), [1n, 3n]), E(10), 'then the next rule is tried');
    assert.equal(run(p, NR('getuid'), [2n, 2n]), ALLOW);
    assert.equal(run(p, 1000), ALLOW, 'no ENOSYS stub when the default allows');
    // deny by default: rules with the default action count only for the highest syscall number
    const d = (syscalls: OciSeccomp['syscalls'], defaultErrnoRet?: number) =>
      compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet, syscalls });
    const q = d([
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO' },
    ]);
    assert.equal(run(q, NR('write')), ALLOW);
    assert.equal(run(q, NR('getpid')), EPERM);
    assert.equal(run(q, NR('open')), EPERM);
    assert.equal(run(q, NR('getpid') + 1), ENOSYS);
    assert.equal(run(d([{ names: ['read'], action: 'SCMP_ACT_ALLOW' }], 38), 7), ENOSYS);
    assert.equal(run(d([{ names: ['read'], action: 'SCMP_ACT_ALLOW' }], 13), 7), ENOSYS, 'newer than the profile');
    assert.equal(run(d([{ names: ['read', 'rseq'], action: 'SCMP_ACT_ALLOW' }], 13), 7), SECCOMP_RET.ERRNO | 13);
  },
);

const VALUES = [
  0n,
  4n,
  5n,
  6n,
  0xffffffffn,
  0x100000000n,
  0x100000004n,
  0x100000005n,
  0x100000006n,
  0x200000000n,
  0x200000005n,
  0xffffffffffffffffn,
];
const V = 0x100000005n,
  MASK = 0xf000000ffn,
  WANT = 0x100000005n;
const OPS: Array<[SeccompOperator, (a: bigint) => boolean]> = [
  ['SCMP_CMP_EQ', (a) => a === V],
  ['SCMP_CMP_NE', (a) => a !== V],
  ['SCMP_CMP_GT', (a) => a > V],
  ['SCMP_CMP_GE', (a) => a >= V],
  ['SCMP_CMP_LT', (a) => a < V],
  ['SCMP_CMP_LE', (a) => a <= V],
  ['SCMP_CMP_MASKED_EQ', (a) => (a & MASK) === WANT],
];
const opProfile = (op: SeccompOperator): OciSeccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [
    {
      names: ['getppid'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 99,
      args: [
        op === 'SCMP_CMP_MASKED_EQ'
          ? { index: 1, value: Number(MASK), valueTwo: Number(WANT), op }
          : { index: 1, value: Number(V), op },
      ],
    },
  ],
});

test('argument comparisons on 64-bit values, every operator (emulated)', { skip: !x86 }, () => {
  for (const [op, holds] of OPS) {
    const p = compileSeccomp(opProfile(op));
    for (const a of VALUES)
      assert.equal(
        run(p, NR('getppid'), [0n, a]),
        holds(a) ? SECCOMP_RET.ERRNO | 99 : ALLOW,
        `${op} 0x${a.toString(16)}`,
      );
  }
});

test('actions, flags and hosts the compiler does not support', () => {
  const table: Array<[OciSeccomp['defaultAction'], number | undefined, number]> = [
    ['SCMP_ACT_ALLOW', undefined, 0x7fff0000],
    ['SCMP_ACT_KILL', undefined, 0],
    ['SCMP_ACT_KILL_THREAD', undefined, 0],
    ['SCMP_ACT_KILL_PROCESS', undefined, 0x80000000],
    ['SCMP_ACT_TRAP', undefined, 0x30000],
    ['SCMP_ACT_ERRNO', undefined, 0x50001],
    ['SCMP_ACT_ERRNO', 13, 0x5000d],
    ['SCMP_ACT_TRACE', undefined, 0x7ff00001],
    ['SCMP_ACT_TRACE', 7, 0x7ff00007],
    ['SCMP_ACT_LOG', undefined, 0x7ffc0000],
  ];
  for (const [a, e, want] of table) assert.equal(actionValue(a, e, 'x'), want, `${a} ${e}`);
  const unsupported = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof BerthError && e.kind === 'NotImplemented' && re.test(e.message));
  unsupported(() => compileSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY' }), /SCMP_ACT_NOTIFY/);
  unsupported(
    () => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] }),
    /SECCOMP_FILTER_FLAG_LOG/,
  );
  unsupported(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, 'riscv64'), /riscv64/);
  assert.ok(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'] }, 'x64'));
  assert.throws(
    () =>
      compileSeccomp(
        {
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 0, op: 'SCMP_CMP_EQ' }] }],
        },
        'x64',
      ),
    /syscalls\[0\]\.args\[0\]\.index: 9 is not 0-5/,
  );
  const arm = compileSeccomp(profileToOci(DEFAULT_SECCOMP_PROFILE, DEFAULT_CAPABILITIES, 'arm64', '6.8'), 'arm64');
  verify(arm);
  assert.equal(run(arm, syscallTable('SCMP_ARCH_AARCH64').get('mount')!, [], AUDIT_ARCH.AARCH64), EPERM);
  assert.equal(run(arm, syscallTable('SCMP_ARCH_AARCH64').get('openat')!, [], AUDIT_ARCH.AARCH64), ALLOW);
  assert.equal(run(arm, syscallTable('SCMP_ARCH_ARM').get('set_tls')!, [], AUDIT_ARCH.ARM), ALLOW);
});

test("syscall tables agree with this machine's kernel headers", () => {
  const headers: Array<[string, 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X32']> = [
    ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'SCMP_ARCH_X86_64'],
    ['/usr/include/x86_64-linux-gnu/asm/unistd_32.h', 'SCMP_ARCH_X86'],
    ['/usr/include/x86_64-linux-gnu/asm/unistd_x32.h', 'SCMP_ARCH_X32'],
  ];
  let checked = 0;
  for (const [file, arch] of headers) {
    if (!fs.existsSync(file)) continue;
    for (const [, name, expr] of fs.readFileSync(file, 'utf8').matchAll(/^#define __NR_(\w+) (.+)$/gm)) {
      const x32 = /__X32_SYSCALL_BIT \+ (\d+)/.exec(expr!);
      const nr = x32 ? X32_SYSCALL_BIT + Number(x32[1]) : Number(expr);
      assert.equal(syscallTable(arch).get(name!), nr, `${arch} ${name}`);
      checked++;
    }
  }
  assert.ok(checked === 0 || checked > 1000, `${checked} numbers checked`);
});

// ---- in the kernel: the helper installs the filter, then execs ----------------------------------

const PATH: Step = ['env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
const hex = (s: OciSeccomp) => compileSeccomp(s).toString('hex');

/** Run the helper with a plan; stdout and stderr as text. */
async function helper(steps: Step[]): Promise<{ code: number; out: string; err: string }> {
  const r = runHelper(steps, ['ignore', 'pipe', 'pipe']);
  tracked.children.add(r.child);
  let out = '',
    err = '';
  r.child.stdout!.on('data', (d: Buffer) => {
    out += d;
  });
  r.child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const closed = new Promise((res) => r.child.on('close', res));
  await r.started;
  const code = await r.exited;
  await closed;
  tracked.children.delete(r.child);
  return { code, out: out.trim(), err: err.trim() };
}
const sh = (cmd: string, s?: OciSeccomp) =>
  helper([...(s ? [['seccomp', hex(s)] as Step] : []), PATH, ['exec', '/bin/sh', '-c', cmd]]);

test('kernel: the default profile denies unshare (EPERM); unconfined allows it', { skip: !x86 }, async () => {
  const s = seccompFor(undefined, DEFAULT_CAPABILITIES)!;
  const ok = await sh('echo ok', s);
  assert.deepEqual([ok.code, ok.out], [0, 'ok']);
  for (const cmd of ['unshare -U true', 'unshare --mount true']) {
    const denied = await sh(cmd, s);
    assert.equal(denied.code, 1, cmd);
    assert.match(denied.err, /Operation not permitted/);
    assert.equal((await sh(cmd)).code, 0, `${cmd} unconfined`);
  }
  const arch = await sh('setarch linux32 uname -m; setarch x86_64 -R true', s);
  assert.equal(arch.out, 'i686', 'personality(PER_LINUX32) is allowed');
  assert.match(arch.err, /Operation not permitted/, 'personality(ADDR_NO_RANDOMIZE) is not');
});

test('kernel: errno, kill, trace and log actions', { skip: !x86 }, async () => {
  const { root } = tracked.newRoot('berth-seccomp');
  const deny = (action: OciSeccomp['defaultAction'], errnoRet?: number): OciSeccomp => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action, ...(errnoRet ? { errnoRet } : {}) }],
  });
  const eacces = await sh(`mkdir ${root}/a`, deny('SCMP_ACT_ERRNO', 13));
  assert.equal(eacces.code, 1);
  assert.match(eacces.err, /Permission denied/);
  assert.equal(fs.existsSync(`${root}/a`), false);
  for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP'] as const) {
    const killed = await helper([['fork'], ['seccomp', hex(deny(action))], ['exec', '/bin/mkdir', `${root}/b`]]);
    assert.equal(killed.code, 128 + 31, `${action}: SIGSYS`);
  }
  const traced = await sh(`mkdir ${root}/c`, deny('SCMP_ACT_TRACE'));
  assert.match(traced.err, /Function not implemented/, 'TRACE without a tracer is ENOSYS');
  assert.equal((await sh(`mkdir ${root}/d`, deny('SCMP_ACT_LOG'))).code, 0);
  assert.ok(fs.existsSync(`${root}/d`));
});

test(
  'kernel: where the step goes: before the credential steps (the profile allows them), or after no-new-privs',
  { skip: !x86 },
  async () => {
    const filter: Step = ['seccomp', hex(seccompFor(undefined, DEFAULT_CAPABILITIES)!)];
    const caps = capMask(DEFAULT_CAPABILITIES);
    const show: Step = [
      'exec',
      '/bin/sh',
      '-c',
      'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status | tr -s "\\t" " "',
    ];
    const early = await helper([
      ['fork'],
      filter,
      ['groups', '0'],
      ['gid', '0'],
      ['uid', '0'],
      ['capset', caps, caps, '0'],
      ['chdir', '/'],
      PATH,
      show,
    ]);
    assert.equal(early.code, 0, early.err);
    assert.match(early.out, /NoNewPrivs: 0\nSeccomp: 2/);
    // without CAP_SYS_ADMIN, installing a filter needs no_new_privs
    const late = runHelper(
      [['capset', caps, caps, '0'], filter, ['exec', '/bin/true']],
      ['ignore', 'ignore', 'ignore'],
    );
    tracked.children.add(late.child);
    await assert.rejects(
      late.started,
      (e: unknown) => e instanceof StepError && e.step === 'seccomp' && e.errno === 'EACCES',
    );
    await late.exited;
    const nnp = await helper([['capset', caps, caps, '0'], ['no-new-privs'], filter, PATH, show]);
    assert.equal(nnp.code, 0, nnp.err);
    assert.match(nnp.out, /NoNewPrivs: 1\nSeccomp: 2/);
  },
);

const PROBE = String.raw`
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
/* Each argument "abi:nr[:arg...]" (abi 64, x32 or i386) is one raw syscall; prints "ok" or "E<errno>" for each. */
static long int80(long nr, unsigned long *a) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4]) : "memory", "r8", "r9", "r10", "r11");
  return ret;
}
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *abi = strtok(argv[i], ":");
    unsigned long v[7] = {0};
    int n = 0;
    for (char *s; n < 7 && (s = strtok(NULL, ":")); ) v[n++] = strtoull(s, NULL, 0);
    long r;
    if (!strcmp(abi, "i386")) r = int80((long)v[0], v + 1);
    else {
      r = syscall((long)v[0] | (!strcmp(abi, "x32") ? 0x40000000L : 0), v[1], v[2], v[3], v[4], v[5], v[6]);
      if (r == -1) r = -errno;
    }
    printf(r < 0 && r > -4096 ? "%sE%ld" : "%sok", i > 1 ? " " : "", -r);
  }
  printf("\n");
  return 0;
}
`;
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

test(
  'kernel: i386 and x32 calls, the ENOSYS stub and every comparison, with raw syscalls',
  { skip: !x86 || !hasGcc },
  async (t) => {
    const { root } = tracked.newRoot('berth-seccomp');
    fs.writeFileSync(`${root}/probe.c`, PROBE);
    execFileSync('gcc', ['-O1', '-o', `${root}/probe`, `${root}/probe.c`], { stdio: 'pipe' });
    const probe = async (s: OciSeccomp | undefined, ...calls: string[]) => {
      const r = await helper([
        ['fork'],
        ...(s ? [['seccomp', hex(s)] as Step] : []),
        ['exec', `${root}/probe`, ...calls],
      ]);
      return r.code === 0 ? r.out.split(' ') : r.code;
    };
    const unconfined = await probe(undefined, 'i386:20', 'x32:39');
    if (!Array.isArray(unconfined)) return t.skip('this kernel runs no i386 syscalls (ia32_emulation=0)');
    const x32 = unconfined[1] === 'ok';
    const s = seccompFor(undefined, DEFAULT_CAPABILITIES)!;
    assert.deepEqual(await probe(s, '64:39', 'i386:20', '64:272:0', 'i386:310:0', 'x32:272:0', 'x32:39', '64:1000'), [
      'ok',
      'ok',
      'E1',
      'E1',
      'E1',
      x32 ? 'ok' : 'E38',
      'E38',
    ]);
    // a profile that knows no syscall past rseq (334): newer ones get ENOSYS, so libcs fall back
    const old = {
      ...s,
      syscalls: s
        .syscalls!.map((c) => ({ ...c, names: c.names.filter((n) => (NR(n) ?? 0) <= 334) }))
        .filter((c) => c.names.length),
    };
    assert.deepEqual(await probe(old, '64:434:1:0', '64:272:0'), ['E38', 'E1'], 'pidfd_open: ENOSYS, unshare: EPERM');
    assert.deepEqual(await probe(s, '64:434:1:0'), ['ok']);
    // architectures the profile leaves out are killed
    const only64: OciSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] };
    assert.deepEqual(await probe(only64, '64:39'), ['ok']);
    assert.equal(await probe(only64, 'i386:20'), 128 + 31);
    assert.equal(await probe(only64, 'x32:39'), 128 + 31);
    for (const [op, holds] of OPS) {
      const got = await probe(opProfile(op), ...VALUES.map((a) => `64:${NR('getppid')}:0:0x${a.toString(16)}`));
      assert.deepEqual(
        got,
        VALUES.map((a) => (holds(a) ? 'E99' : 'ok')),
        op,
      );
    }
  },
);
