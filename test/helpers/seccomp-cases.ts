/**
 * Inputs for comparing seccomp compilers: argument vectors that sit at and around every value
 * a profile compares with, and profiles beyond Docker's default that use every operator,
 * action and rule shape the OCI format allows.
 */
import type { OciSeccomp, OciSeccompArg, OciSyscall } from '../../src/runtime/seccomp/profile.js';

const U64 = (v: bigint) => BigInt.asUintN(64, v);
const HI = 1n << 32n;
const ALL = (1n << 64n) - 1n;

/** Values that make one condition hold, fail, and sit on each side of its boundary, in each 32-bit word. */
function valuesFor(a: OciSeccompArg): bigint[] {
  const v = BigInt(a.value);
  if (a.op === 'SCMP_CMP_MASKED_EQ') {
    const want = BigInt(a.valueTwo ?? 0);
    const out = [want, U64(want | ~v), 0n, ALL];
    for (let bit = 0n; bit < 64n; bit++)
      if ((v >> bit) & 1n) out.push(want ^ (1n << bit), U64((want | ~v) ^ (1n << bit)));
    return out;
  }
  return [
    v,
    U64(v - 1n),
    U64(v + 1n),
    U64(v ^ HI),
    U64(v + HI),
    U64(v - HI),
    (v & 0xffffffffn) | (ALL ^ 0xffffffffn),
    0n,
    HI - 1n,
    HI,
    ALL,
  ];
}

/**
 * Six-argument vectors: all zero; each value alone in its argument; and for a rule that tests
 * several arguments, every combination of their values (so that ANDed conditions meet).
 */
export function argumentValues(s: OciSeccomp): bigint[][] {
  const seen = new Set<string>();
  const out: bigint[][] = [];
  const add = (args: bigint[]) => {
    const key = args.join(',');
    if (!seen.has(key)) {
      seen.add(key);
      out.push(args);
    }
  };
  add([0n, 0n, 0n, 0n, 0n, 0n]);
  for (const call of s.syscalls ?? []) {
    const conds = call.args ?? [];
    for (const a of conds) for (const v of valuesFor(a)) add(Object.assign([0n, 0n, 0n, 0n, 0n, 0n], { [a.index]: v }));
    const byIndex = new Map<number, bigint[]>();
    for (const a of conds) byIndex.set(a.index, [...(byIndex.get(a.index) ?? []), ...valuesFor(a)]);
    if (byIndex.size < 2) continue;
    let vectors: bigint[][] = [[0n, 0n, 0n, 0n, 0n, 0n]];
    for (const [index, values] of byIndex)
      vectors = vectors.flatMap((vec) => values.map((v) => Object.assign([...vec], { [index]: v })));
    vectors.forEach(add);
  }
  return out;
}

const cmp = (index: number, op: OciSeccompArg['op'], value: bigint, valueTwo?: bigint): OciSeccompArg => ({
  index,
  op,
  value: Number(value),
  ...(valueTwo === undefined ? {} : { valueTwo: Number(valueTwo) }),
});
const rule = (
  names: string[],
  action: OciSyscall['action'],
  args?: OciSeccompArg[],
  errnoRet?: number,
): OciSyscall => ({ names, action, ...(args ? { args } : {}), ...(errnoRet === undefined ? {} : { errnoRet }) });

/**
 * Profiles (already OCI objects) with every operator on 64-bit values, every action and the rule shapes runc has
 * special cases for.
 */
export function synthetic(): Array<[string, OciSeccomp]> {
  const operators: OciSyscall[] = [
    rule(['getppid'], 'SCMP_ACT_ALLOW', [cmp(1, 'SCMP_CMP_NE', 0x1_0000_0005n)]),
    rule(['getpgrp'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_LT', 0x1_0000_0000n)]),
    rule(['getuid'], 'SCMP_ACT_ALLOW', [cmp(2, 'SCMP_CMP_LE', 0xffff_ffffn)]),
    rule(['getgid'], 'SCMP_ACT_ALLOW', [cmp(3, 'SCMP_CMP_GE', 0x2_0000_0003n)]),
    rule(['geteuid'], 'SCMP_ACT_ALLOW', [cmp(4, 'SCMP_CMP_GT', 7n)]),
    rule(['getegid'], 'SCMP_ACT_ALLOW', [cmp(5, 'SCMP_CMP_EQ', 0x1_0000_0000n)]),
    rule(['umask'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_MASKED_EQ', 0xff00_0000_00ffn, 0x1200_0000_0034n)]),
    rule(['getsid'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_LE', 0n)]),
    rule(['getpgid'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_GE', 0x1f_ffff_ffff_ffffn)]),
    // masks: one word only, a value with bits outside the mask, no bits at all
    rule(['times'], 'SCMP_ACT_ALLOW', [cmp(1, 'SCMP_CMP_MASKED_EQ', 0xff_0000_0000n, 0x12_0000_0000n)]),
    rule(['alarm'], 'SCMP_ACT_ALLOW', [cmp(2, 'SCMP_CMP_MASKED_EQ', 0xf0n, 0xfffn)]),
    rule(['sync'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_MASKED_EQ', 0n, 5n)]),
    // conditions on two arguments are ANDed; two on one argument become two rules (runc)
    rule(['kill'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_EQ', 1n), cmp(1, 'SCMP_CMP_GT', 10n)]),
    rule(['tkill'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_EQ', 1n), cmp(0, 'SCMP_CMP_EQ', 2n)]),
    rule(['tgkill'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_GT', 1n), cmp(0, 'SCMP_CMP_LT', 2n)]),
    // several rules for one syscall, with other actions than the default
    rule(['dup'], 'SCMP_ACT_ERRNO', [cmp(0, 'SCMP_CMP_GE', 100n)], 12),
    rule(['dup2'], 'SCMP_ACT_TRAP', [cmp(0, 'SCMP_CMP_LT', 3n)]),
    rule(['dup2'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_EQ', 7n)]),
    rule(['read'], 'SCMP_ACT_ALLOW'),
    rule(['read'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_EQ', 3n)]),
    rule(['setuid'], 'SCMP_ACT_KILL_PROCESS'),
    rule(['setgid'], 'SCMP_ACT_LOG'),
    rule(['setpgid'], 'SCMP_ACT_TRACE', undefined, 9),
    rule(['setsid'], 'SCMP_ACT_TRACE'),
    rule(['close'], 'SCMP_ACT_ERRNO', undefined, 0),
    rule(['chdir'], 'SCMP_ACT_KILL'),
    rule(['fchdir'], 'SCMP_ACT_ERRNO', undefined, 1),
    // names one ABI lacks, and one no ABI has
    rule(['socketcall', 'epoll_ctl_old', 'no_such_syscall', 'exit_group'], 'SCMP_ACT_ALLOW'),
  ];
  const x86 = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
  return [
    [
      'every operator and action (deny by default, all three ABIs)',
      { defaultAction: 'SCMP_ACT_ERRNO', architectures: x86, syscalls: operators },
    ],
    [
      'every operator and action (allow by default: no ENOSYS stub; x86_64 only)',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: operators.map((r) =>
          r.action === 'SCMP_ACT_ALLOW' ? { ...r, action: 'SCMP_ACT_ERRNO', errnoRet: 77 } : r,
        ),
      },
    ],
    [
      'kill by default with errno 38 given (the ENOSYS stub still applies), x86_64 and x32',
      {
        defaultAction: 'SCMP_ACT_KILL_PROCESS',
        defaultErrnoRet: 38,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'],
        syscalls: operators,
      },
    ],
    [
      'socket and System V IPC calls by argument, without socketcall and ipc (i386 multiplexes them)',
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: x86,
        syscalls: [
          rule(['socket'], 'SCMP_ACT_ALLOW', [cmp(0, 'SCMP_CMP_EQ', 2n)]),
          rule(['connect', 'semget'], 'SCMP_ACT_ALLOW'),
          rule(['shmget'], 'SCMP_ACT_ERRNO', [cmp(0, 'SCMP_CMP_NE', 0n)], 13),
        ],
      },
    ],
    [
      'ENOSYS by default, i386 only besides x86_64',
      { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures: ['SCMP_ARCH_X86'], syscalls: operators },
    ],
  ];
}
