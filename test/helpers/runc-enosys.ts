/**
 * runc's -ENOSYS stub (libcontainer/seccomp/patchbpf), which runc prepends to the program
 * libseccomp exports: for each architecture of the filter (the native one always), a syscall
 * numbered above the largest one the profile names there returns ENOSYS, so that a libc falls
 * back from syscalls newer than the profile; everything else goes on to libseccomp's program.
 * On x86_64 the x32 bit picks the x86_64 or the x32 bound. runc skips the stub when the default
 * action lets calls through (ALLOW, LOG, TRACE). This builds the same decisions as instructions
 * (runc's layout differs only in where its jumps land).
 */
import type { Insn } from './cbpf.js';

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
const X32_BIT = 0x40000000;
const RET_ENOSYS = 0x00050000 | 38;

const ld = (k: number): Insn => ({ code: 0x20, jt: 0, jf: 0, k });
const jgt = (k: number, jt: number, jf: number): Insn => ({ code: 0x25, jt, jf, k });
const jset = (k: number, jt: number, jf: number): Insn => ({ code: 0x45, jt, jf, k });
const jeq = (k: number, jt: number, jf: number): Insn => ({ code: 0x15, jt, jf, k });
const ja = (k: number): Insn => ({ code: 0x05, jt: 0, jf: 0, k });
const ret = (k: number): Insn => ({ code: 0x06, jt: 0, jf: 0, k });

/** The largest syscall number named, per audit arch: `native` for the arch's own ABI, `x32` for x32 on x86_64. */
export type LastSyscalls = Map<number, { native?: number; x32?: number }>;

/** runc's findLastSyscalls: the largest number of any rule's name, per ABI (names an ABI lacks ignored). */
export function lastSyscalls(
  names: Iterable<string>,
  abis: ReadonlyArray<{ audit: number; x32: boolean; table: ReadonlyMap<string, number> }>,
): LastSyscalls {
  const all = [...names];
  const out: LastSyscalls = new Map();
  for (const abi of abis) {
    const largest = Math.max(0, ...all.map((n) => abi.table.get(n) ?? 0));
    if (largest === 0) continue;
    const entry = out.get(abi.audit) ?? {};
    if (abi.x32) entry.x32 = largest;
    else entry.native = largest;
    out.set(abi.audit, entry);
  }
  return out;
}

/** The stub; its last instruction jumps to the instruction after it, where libseccomp's program goes. */
export function enosysStub(last: LastSyscalls): Insn[] {
  // each section: ld nr; tests; `ja <filter>` (patched below); `ret ENOSYS`
  const sections: Array<{ audit: number; body: Insn[] }> = [];
  for (const [audit, { native, x32 }] of last) {
    const body: Insn[] = [ld(0)];
    if (audit === AUDIT_ARCH_X86_64 && native !== undefined && x32 !== undefined) {
      body.push(jset(X32_BIT, 1, 0), jgt(native, 2, 1), jgt(x32, 1, 0));
    } else if (audit === AUDIT_ARCH_X86_64) {
      body.push(native !== undefined ? jset(X32_BIT, 1, 0) : jset(X32_BIT, 0, 1), jgt((native ?? x32)!, 1, 0));
    } else {
      body.push(jgt(native!, 1, 0));
    }
    body.push(ja(0), ret(RET_ENOSYS));
    sections.push({ audit, body });
  }
  const head: Insn[] = [ld(4)];
  const dispatch = sections.length + 1;
  let offset = 0;
  sections.forEach((s, i) => {
    head.push(jeq(s.audit, dispatch - (i + 1) + offset, 0));
    offset += s.body.length;
  });
  head.push(ja(offset));
  const out = [...head];
  for (const s of sections) {
    out.push(...s.body);
    const jaAt = out.length - 2;
    out[jaAt] = ja(head.length + offset - (jaAt + 1));
  }
  return out;
}
