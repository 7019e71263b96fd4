import { endianness } from 'node:os';
import { invalid, unsupported } from '../../core/errors.js';
import type { OciSeccomp, OciSeccompArg, SeccompAction } from './profile.js';
import { syscallTable, X32_SYSCALL_BIT, type SeccompArch } from './syscalls.js';

/**
 * A seccomp BPF compiler with libseccomp's and runc's semantics, so that a
 * profile means here what it means under Docker:
 *
 * - The architecture is checked first; a syscall of an architecture the filter
 *   does not cover gets libseccomp's bad-arch action, KILL_THREAD. On x86_64,
 *   x32 calls (nr with bit 30) are filtered by the x32 table when the profile
 *   lists SCMP_ARCH_X32 (Docker's does), else they get the bad-arch action,
 *   except nr -1, which a tracer sets to skip a call (libseccomp lets it reach
 *   the default action).
 * - Names the architecture lacks are skipped. Rules whose action is the default
 *   action are dropped (runc). For one syscall, the first rule without
 *   conditions decides alone (libseccomp lets it replace all conditional rules);
 *   otherwise conditional rules are tried in profile order, the first match
 *   decides, and the default applies when none matches. (libseccomp merges them
 *   into a tree and rejects some conflicting sets instead.)
 * - A rule's conditions are ANDed; when two conditions test the same argument,
 *   each becomes its own rule, so they are ORed (runc does this).
 * - Arguments compare as 64-bit unsigned values, high and low words apart, on
 *   64-bit ABIs; on 32-bit ones (i386, x32, arm) only the low words of the
 *   argument and of the value count, as libseccomp compares there. A masked
 *   compare tests (arg & mask) == (value & mask), and a word whose mask is
 *   zero is not tested.
 * - runc's -ENOSYS stub: unless the default action allows (ALLOW, LOG, TRACE),
 *   syscalls numbered above the highest one the profile names return ENOSYS, so
 *   that libcs fall back from syscalls newer than the profile. (A defaultErrnoRet
 *   of 38 with another default action than ERRNO does not turn it off.)
 *
 * The program has no long conditional jumps: each syscall test jumps at most
 * a batch of <= 250 tests ahead, and every longer jump is an unconditional `ja`.
 */

/** The kernel's limit on one filter (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const BPF = {
  LD_W_ABS: 0x20,
  ALU_AND_K: 0x54,
  JA: 0x05,
  JEQ: 0x15,
  JGT: 0x25,
  JGE: 0x35,
  JSET: 0x45,
  RET_K: 0x06,
} as const;

export const AUDIT_ARCH = { X86_64: 0xc000003e, I386: 0x40000003, AARCH64: 0xc00000b7, ARM: 0x40000028 } as const;

const EPERM = 1;
const ENOSYS = 38;
const BATCH = 250;

/** One architecture as the kernel reports it in seccomp_data.arch, and the tables filtered under it. */
interface ArchSection {
  audit: number;
  arch: SeccompArch;
  x32?: boolean;
}

/** The architectures a CPU of the host's kind can run: the native one first. */
const FAMILIES: Record<string, ArchSection[]> = {
  x64: [
    { audit: AUDIT_ARCH.X86_64, arch: 'SCMP_ARCH_X86_64', x32: true },
    { audit: AUDIT_ARCH.I386, arch: 'SCMP_ARCH_X86' },
  ],
  arm64: [
    { audit: AUDIT_ARCH.AARCH64, arch: 'SCMP_ARCH_AARCH64' },
    { audit: AUDIT_ARCH.ARM, arch: 'SCMP_ARCH_ARM' },
  ],
};

/** ABIs whose arguments are 32-bit: libseccomp compares their low words only. */
const NARROW = new Set<SeccompArch>(['SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM']);

/**
 * Compile an OCI seccomp object into a BPF program (struct sock_filter[],
 * host byte order) for the helper's `seccomp` step, for this host's CPU
 * (`cpu` is Node's process.arch: "x64" or "arm64").
 *
 * The helper installs it with prctl(PR_SET_SECCOMP), which needs CAP_SYS_ADMIN
 * or no_new_privs, and every later helper syscall passes through it. So, as
 * runc: after `no-new-privs` when that is set (then right before exec), else
 * before the credential steps (groups, gid, uid, capset), whose syscalls
 * Docker's default profile allows, as it does chdir, execve, close_range and
 * fcntl (exec), write (errors), poll and prctl.
 */
export function compileSeccomp(s: OciSeccomp, cpu: string = process.arch): Buffer {
  const family = FAMILIES[cpu];
  if (!family) throw unsupported('seccomp_arch', `seccomp: no syscall table for architecture ${JSON.stringify(cpu)}`);
  for (const f of s.flags ?? []) {
    if (f !== 'SECCOMP_FILTER_FLAG_TSYNC') throw unsupported('seccomp_flag', `seccomp: flag ${f} is not supported`);
  }
  const listed = new Set(s.architectures ?? []);
  const defRet = actionValue(s.defaultAction, s.defaultErrnoRet, 'defaultAction');
  // (runc skips its stub only for those; when the default already is ENOSYS the stub changes nothing)
  const enosys =
    !['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(s.defaultAction) &&
    defRet !== (SECCOMP_RET.ERRNO | ENOSYS) >>> 0;
  const asm = new Asm();
  const sections = family.filter((a, i) => i === 0 || listed.has(a.arch)).map((a) => ({ ...a, start: asm.label() }));
  asm.ld(4);
  for (const sec of sections) {
    asm.jump(BPF.JEQ, sec.audit, 0, 1);
    asm.ja(sec.start);
  }
  asm.ret(SECCOMP_RET.KILL_THREAD); // libseccomp's default bad-arch action
  for (const sec of sections) {
    asm.bind(sec.start);
    asm.ld(0);
    const x32 = sec.x32 && listed.has('SCMP_ARCH_X32') ? asm.label() : undefined;
    if (sec.x32 && x32) {
      asm.jump(BPF.JGE, X32_SYSCALL_BIT, 0, 1);
      asm.ja(x32);
    } else if (sec.x32) {
      // x32 not filtered: bad arch, but for nr -1 (no rule has it, so the default action)
      asm.jump(BPF.JGE, X32_SYSCALL_BIT, 0, 3);
      asm.jump(BPF.JEQ, 0xffffffff, 0, 1);
      asm.ret(defRet);
      asm.ret(SECCOMP_RET.KILL_THREAD);
    }
    emitTable(asm, s, sec.arch, defRet, enosys);
    if (x32) {
      asm.bind(x32);
      emitTable(asm, s, 'SCMP_ARCH_X32', defRet, enosys);
    }
  }
  const prog = asm.assemble();
  if (prog.length / 8 > BPF_MAXINSNS)
    throw invalid(
      'seccomp_too_large',
      `seccomp: the filter has ${prog.length / 8} instructions, more than the kernel's ${BPF_MAXINSNS}`,
    );
  return prog;
}

/** The SECCOMP_RET_* value of an action. */
export function actionValue(action: SeccompAction, errnoRet: number | undefined, where: string): number {
  if (errnoRet !== undefined && !(Number.isInteger(errnoRet) && errnoRet >= 0 && errnoRet <= 4095)) {
    throw invalid('invalid_seccomp', `seccomp: ${where}: errno ${errnoRet} out of range`);
  }
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO':
      return SECCOMP_RET.ERRNO | (errnoRet ?? EPERM);
    // runc: a tracer sees errnoRet as the event message, EPERM when not given
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET.TRACE | (errnoRet ?? EPERM)) >>> 0;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET.LOG;
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_NOTIFY':
      throw unsupported(
        'seccomp_notify',
        `seccomp: ${where}: SCMP_ACT_NOTIFY needs a seccomp agent, which berth does not support`,
      );
    default:
      throw invalid('invalid_seccomp', `seccomp: ${where}: unknown action ${JSON.stringify(action)}`);
  }
}

interface Conditional {
  ret: number;
  args: OciSeccompArg[];
}

/** The call numbers of i386's socketcall(2) and ipc(2) (linux/net.h SYS_*, linux/ipc.h). */
const SOCKET_CALLS = (
  'socket bind connect listen accept getsockname getpeername socketpair send recv sendto recvfrom ' +
  'shutdown setsockopt getsockopt sendmsg recvmsg accept4 recvmmsg sendmmsg'
).split(' ');
const IPC_CALLS: Record<string, number> = {
  semop: 1,
  semget: 2,
  semctl: 3,
  semtimedop: 4,
  msgsnd: 11,
  msgrcv: 12,
  msgget: 13,
  msgctl: 14,
  shmat: 21,
  shmdt: 22,
  shmget: 23,
  shmctl: 24,
};

/**
 * Where a rule for `name` applies: its own number, and on i386, for a socket or
 * System V IPC call, socketcall or ipc with that call's number in argument 0
 * (libseccomp adds that rule: a libc may use either way in). runc's stub does
 * not count multiplexed names (libseccomp names them by pseudo numbers there).
 */
function targetsOf(
  name: string,
  table: ReadonlyMap<string, number>,
  arch: SeccompArch,
): Array<{ nr: number; mux?: number; counts: boolean }> {
  const out: Array<{ nr: number; mux?: number; counts: boolean }> = [];
  const sock = SOCKET_CALLS.indexOf(name) + 1;
  const mux =
    arch !== 'SCMP_ARCH_X86'
      ? undefined
      : sock
        ? { via: 'socketcall', code: sock }
        : IPC_CALLS[name]
          ? { via: 'ipc', code: IPC_CALLS[name]! }
          : undefined;
  if (mux) out.push({ nr: table.get(mux.via)!, mux: mux.code, counts: false });
  const nr = table.get(name);
  if (nr !== undefined) out.push({ nr, counts: !mux });
  return out;
}

/** Per syscall number: its unconditional action, or its conditional rules in order. */
function rulesOf(s: OciSeccomp, table: ReadonlyMap<string, number>, arch: SeccompArch, defRet: number) {
  const plain = new Map<number, number>();
  const cond = new Map<number, Conditional[]>();
  let last = -1;
  (s.syscalls ?? []).forEach((call, i) => {
    const targets = call.names.flatMap((n) => targetsOf(n, table, arch));
    for (const t of targets) if (t.counts) last = Math.max(last, t.nr);
    const ret = actionValue(call.action, call.errnoRet, `syscalls[${i}]`);
    if (ret === defRet) return;
    const args = call.args ?? [];
    args.forEach((a, j) => checkArg(a, `syscalls[${i}].args[${j}]`));
    const sameArg = new Set(args.map((a) => a.index)).size < args.length;
    const sets = args.length === 0 ? [[]] : sameArg ? args.map((a) => [a]) : [args];
    for (const { nr, mux } of targets) {
      for (const own of sets) {
        // multiplexed: argument 0 is the call's number, the other conditions stay as they are (libseccomp)
        const set =
          mux === undefined
            ? own
            : [{ index: 0, value: mux, op: 'SCMP_CMP_EQ' as const }, ...own.filter((a) => a.index !== 0)];
        if (set.length === 0) {
          if (!plain.has(nr)) plain.set(nr, ret);
          continue;
        }
        cond.set(nr, [...(cond.get(nr) ?? []), { ret, args: set }]);
      }
    }
  });
  for (const nr of plain.keys()) cond.delete(nr);
  return { plain, cond, last };
}

/** The filter for one syscall table; the accumulator holds the syscall number on entry. Ends in RET. */
function emitTable(asm: Asm, s: OciSeccomp, arch: SeccompArch, defRet: number, enosys: boolean): void {
  const { plain, cond, last } = rulesOf(s, syscallTable(arch), arch, defRet);
  if (enosys && last >= 0) {
    asm.jump(BPF.JGT, last, 0, 1);
    asm.ret((SECCOMP_RET.ERRNO | ENOSYS) >>> 0);
  }
  for (const [nr, rules] of [...cond].sort((a, b) => a[0] - b[0])) {
    const end = asm.label();
    asm.jump(BPF.JEQ, nr, 1, 0);
    asm.ja(end);
    for (const r of rules) {
      const next = asm.label();
      for (const a of r.args) emitCompare(asm, a, next, !NARROW.has(arch));
      asm.ret(r.ret);
      asm.bind(next);
    }
    asm.ret(defRet);
    asm.bind(end);
  }
  const byRet = new Map<number, number[]>();
  for (const [nr, ret] of plain) byRet.set(ret, [...(byRet.get(ret) ?? []), nr]);
  for (const [ret, nrs] of byRet) {
    nrs.sort((a, b) => a - b);
    for (let i = 0; i < nrs.length; i += BATCH) {
      const batch = nrs.slice(i, i + BATCH);
      batch.forEach((nr, j) => asm.jump(BPF.JEQ, nr, batch.length - j, 0));
      asm.jump(BPF.JA, 1, 0, 0);
      asm.ret(ret);
    }
  }
  asm.ret(defRet);
}

function checkArg(a: OciSeccompArg, where: string): void {
  if (!(Number.isInteger(a.index) && a.index >= 0 && a.index <= 5))
    throw invalid('invalid_seccomp', `seccomp: ${where}.index: ${a.index} is not 0-5`);
  for (const [k, v] of [
    ['value', a.value],
    ['valueTwo', a.valueTwo ?? 0],
  ] as const) {
    if (!(Number.isSafeInteger(v) && v >= 0))
      throw invalid('invalid_seccomp', `seccomp: ${where}.${k}: ${v} is not an unsigned integer below 2^53`);
  }
}

/**
 * Test one argument; fall through when it holds, jump to `fail` when not.
 * `wide`: a 64-bit ABI; else only the low words of argument and value count.
 */
function emitCompare(asm: Asm, a: OciSeccompArg, fail: Label, wide: boolean): void {
  const lo = 16 + 8 * a.index + (endianness() === 'LE' ? 0 : 4);
  const hi = 16 + 8 * a.index + (endianness() === 'LE' ? 4 : 0);
  if (!wide) return emitCompare32(asm, a, lo, fail);
  const [vh, vl] = words(a.value);
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      asm.ld(hi);
      asm.jump(BPF.JEQ, vh, 0, fail);
      asm.ld(lo);
      asm.jump(BPF.JEQ, vl, 0, fail);
      return;
    case 'SCMP_CMP_NE':
      asm.ld(hi);
      asm.jump(BPF.JEQ, vh, 0, 2);
      asm.ld(lo);
      asm.jump(BPF.JEQ, vl, fail, 0);
      return;
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      asm.ld(hi);
      asm.jump(BPF.JGT, vh, 3, 0);
      asm.jump(BPF.JEQ, vh, 0, fail);
      asm.ld(lo);
      asm.jump(a.op === 'SCMP_CMP_GT' ? BPF.JGT : BPF.JGE, vl, 0, fail);
      return;
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      asm.ld(hi);
      asm.jump(BPF.JGT, vh, fail, 0);
      asm.jump(BPF.JEQ, vh, 0, 2);
      asm.ld(lo);
      asm.jump(a.op === 'SCMP_CMP_LT' ? BPF.JGE : BPF.JGT, vl, fail, 0);
      return;
    case 'SCMP_CMP_MASKED_EQ': {
      const [wh, wl] = words(a.valueTwo ?? 0);
      if (vh !== 0) {
        asm.ld(hi);
        asm.and(vh);
        asm.jump(BPF.JEQ, (wh & vh) >>> 0, 0, fail);
      }
      if (vl !== 0) {
        asm.ld(lo);
        asm.and(vl);
        asm.jump(BPF.JEQ, (wl & vl) >>> 0, 0, fail);
      }
      return;
    }
    default:
      throw invalid('invalid_seccomp', `seccomp: unknown operator ${JSON.stringify(a.op)}`);
  }
}

/** emitCompare on a 32-bit ABI: the low word of the argument against the low word of the value. */
function emitCompare32(asm: Asm, a: OciSeccompArg, lo: number, fail: Label): void {
  const vl = words(a.value)[1];
  if (a.op === 'SCMP_CMP_MASKED_EQ') {
    if (vl === 0) return;
    asm.ld(lo);
    asm.and(vl);
    asm.jump(BPF.JEQ, (words(a.valueTwo ?? 0)[1] & vl) >>> 0, 0, fail);
    return;
  }
  asm.ld(lo);
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      asm.jump(BPF.JEQ, vl, 0, fail);
      return;
    case 'SCMP_CMP_NE':
      asm.jump(BPF.JEQ, vl, fail, 0);
      return;
    case 'SCMP_CMP_GT':
      asm.jump(BPF.JGT, vl, 0, fail);
      return;
    case 'SCMP_CMP_GE':
      asm.jump(BPF.JGE, vl, 0, fail);
      return;
    case 'SCMP_CMP_LT':
      asm.jump(BPF.JGE, vl, fail, 0);
      return;
    case 'SCMP_CMP_LE':
      asm.jump(BPF.JGT, vl, fail, 0);
      return;
    default:
      throw invalid('invalid_seccomp', `seccomp: unknown operator ${JSON.stringify(a.op)}`);
  }
}

function words(v: number): [hi: number, lo: number] {
  const b = BigInt(v);
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

interface Label {
  pos: number;
}
type Target = number | Label;

/** A tiny assembler: forward jumps to labels, resolved and range-checked at the end. */
class Asm {
  private insns: Array<{ code: number; jt: Target; jf: Target; k: number | Label }> = [];
  label(): Label {
    return { pos: -1 };
  }
  bind(l: Label): void {
    l.pos = this.insns.length;
  }
  ld(off: number): void {
    this.insns.push({ code: BPF.LD_W_ABS, jt: 0, jf: 0, k: off });
  }
  and(k: number): void {
    this.insns.push({ code: BPF.ALU_AND_K, jt: 0, jf: 0, k });
  }
  ret(k: number): void {
    this.insns.push({ code: BPF.RET_K, jt: 0, jf: 0, k });
  }
  ja(l: Label): void {
    this.insns.push({ code: BPF.JA, jt: 0, jf: 0, k: l });
  }
  jump(code: number, k: number, jt: Target, jf: Target): void {
    this.insns.push({ code, jt, jf, k });
  }

  assemble(): Buffer {
    const out = Buffer.alloc(this.insns.length * 8);
    const le = endianness() === 'LE';
    this.insns.forEach((insn, i) => {
      const rel = (t: Target, max: number): number => {
        const d = typeof t === 'number' ? t : t.pos - (i + 1);
        if (typeof t !== 'number' && t.pos < 0) throw new Error('seccomp: unbound label');
        if (d < 0 || d > max) throw new Error(`seccomp: jump of ${d} at instruction ${i} is out of range`);
        return d;
      };
      const k = typeof insn.k === 'number' ? insn.k : rel(insn.k, 0xffffffff);
      if (le) {
        out.writeUInt16LE(insn.code, i * 8);
        out.writeUInt32LE(k >>> 0, i * 8 + 4);
      } else {
        out.writeUInt16BE(insn.code, i * 8);
        out.writeUInt32BE(k >>> 0, i * 8 + 4);
      }
      out[i * 8 + 2] = rel(insn.jt, 255);
      out[i * 8 + 3] = rel(insn.jf, 255);
    });
    return out;
  }
}
