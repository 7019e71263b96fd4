import { invalid } from '../../core/errors.js';
import type { DeviceRule } from './cgroups.js';

/**
 * Device rules on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
 * attached to the container's cgroup, which the kernel runs on every open and
 * mknod of a device node (v2 has no devices controller). As runc and crun do,
 * berth generates the instructions itself, so no compiler or libbpf is needed.
 *
 * The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
 * u32 minor; }` with access_type = (access << 16) | type (type: 1 block, 2 char;
 * access: 1 mknod, 2 read, 4 write) and returns 1 to allow, 0 to deny (EPERM).
 * Rules are checked last to first and the first that matches decides, so a
 * later rule overrides an earlier one as on v1 (Docker's rules: deny all, then
 * allow some); a request matches a rule when its access is a subset of the
 * rule's. Nothing matching is denied.
 */

const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };

// eBPF opcodes (linux/bpf_common.h, linux/bpf.h)
const LDX_MEM_W = 0x61; // dst = *(u32 *)(src + off)
const ALU64_MOV_X = 0xbf; // dst = src
const ALU64_MOV_K = 0xb7; // dst = imm
const ALU64_AND_K = 0x57; // dst &= imm
const ALU64_RSH_K = 0x77; // dst >>= imm
const JMP_JNE_K = 0x55; // if dst != imm: pc += off
const JMP_EXIT = 0x95;

type Insn = [code: number, dst: number, src: number, off: number, imm: number];

function accessMask(access: string): number {
  let m = 0;
  for (const c of access) {
    const bit = ACC[c];
    if (bit === undefined)
      throw invalid('invalid_device_rule', `device rule access ${JSON.stringify(access)}: only r, w and m`);
    m |= bit;
  }
  return m;
}

/** The instructions for `rules` (8 bytes each, little-endian), ready for BPF_PROG_LOAD. */
export function deviceProgram(rules: readonly DeviceRule[]): Buffer {
  // r2 = access_type, r3 = device type, r4 = access, r5 = major, r6 = minor
  const insns: Insn[] = [
    [LDX_MEM_W, 2, 1, 0, 0],
    [ALU64_MOV_X, 3, 2, 0, 0],
    [ALU64_AND_K, 3, 0, 0, 0xffff],
    [ALU64_MOV_X, 4, 2, 0, 0],
    [ALU64_RSH_K, 4, 0, 0, 16],
    [LDX_MEM_W, 5, 1, 4, 0],
    [LDX_MEM_W, 6, 1, 8, 0],
  ];
  for (const r of [...rules].reverse()) {
    // each check jumps past the rest of this rule's block when it fails
    const checks: Insn[][] = [];
    if (r.type !== 'a') checks.push([[JMP_JNE_K, 3, 0, 0, r.type === 'b' ? DEV_BLOCK : DEV_CHAR]]);
    const mask = accessMask(r.access || 'rwm');
    if (mask !== 7)
      checks.push([
        [ALU64_MOV_X, 7, 4, 0, 0],
        [ALU64_AND_K, 7, 0, 0, ~mask & 7],
        [JMP_JNE_K, 7, 0, 0, 0],
      ]);
    if (r.type !== 'a' && r.major >= 0) checks.push([[JMP_JNE_K, 5, 0, 0, checkedId(r.major, 'major')]]);
    if (r.type !== 'a' && r.minor >= 0) checks.push([[JMP_JNE_K, 6, 0, 0, checkedId(r.minor, 'minor')]]);
    const block = checks.flat();
    const end = block.length + 2; // the verdict: r0 = allow, exit
    block.forEach((insn, i) => {
      if (insn[0] === JMP_JNE_K) insn[3] = end - (i + 1);
    });
    insns.push(...block, [ALU64_MOV_K, 0, 0, 0, r.allow ? 1 : 0], [JMP_EXIT, 0, 0, 0, 0]);
    // a rule that matches everything decides everything left (the verifier refuses unreachable code)
    if (block.length === 0) return encode(insns);
  }
  insns.push([ALU64_MOV_K, 0, 0, 0, 0], [JMP_EXIT, 0, 0, 0, 0]);
  return encode(insns);
}

function encode(insns: Insn[]): Buffer {
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, dst, src, off, imm], i) => {
    out.writeUInt8(code, i * 8);
    out.writeUInt8(((src & 0xf) << 4) | (dst & 0xf), i * 8 + 1);
    out.writeInt16LE(off, i * 8 + 2);
    out.writeInt32LE(imm | 0, i * 8 + 4);
  });
  return out;
}

function checkedId(n: number, what: string): number {
  if (!Number.isInteger(n) || n > 0x7fffffff)
    throw invalid('invalid_device_rule', `device rule ${what} ${n} is out of range`);
  return n;
}
