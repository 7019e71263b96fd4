/**
 * A classic-BPF interpreter for seccomp filters, with the static checks the kernel's
 * seccomp_check_filter makes, so that tests can run a program on any seccomp_data.
 * It knows every instruction seccomp accepts (loads from seccomp_data, scratch memory,
 * ALU, jumps, returns), not only the ones berth emits: libseccomp's programs run here too.
 */
import assert from 'node:assert/strict';
import { endianness } from 'node:os';

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** struct seccomp_data's size: nr, arch, instruction_pointer, args[6]. */
const DATA_SIZE = 64;
const MEMWORDS = 16;
const LE = endianness() === 'LE';

/** The instructions of a struct sock_filter[] in host byte order. */
export function decode(p: Buffer): Insn[] {
  assert.equal(p.length % 8, 0, `a BPF program is a whole number of 8-byte instructions, got ${p.length} bytes`);
  const out: Insn[] = [];
  for (let o = 0; o < p.length; o += 8) {
    out.push({
      code: LE ? p.readUInt16LE(o) : p.readUInt16BE(o),
      jt: p[o + 2]!,
      jf: p[o + 3]!,
      k: LE ? p.readUInt32LE(o + 4) : p.readUInt32BE(o + 4),
    });
  }
  return out;
}

/** Encode instructions as a struct sock_filter[] in host byte order. */
export function encode(insns: readonly Insn[]): Buffer {
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    if (LE) {
      out.writeUInt16LE(x.code, i * 8);
      out.writeUInt32LE(x.k >>> 0, i * 8 + 4);
    } else {
      out.writeUInt16BE(x.code, i * 8);
      out.writeUInt32BE(x.k >>> 0, i * 8 + 4);
    }
    out[i * 8 + 2] = x.jt;
    out[i * 8 + 3] = x.jf;
  });
  return out;
}

const ALU_OPS = new Set([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0]);
const JMP_OPS = new Set([0x10, 0x20, 0x30, 0x40]);

/**
 * What the kernel's checker demands: known opcodes, aligned loads inside seccomp_data, jumps inside the program, RET
 * last.
 */
export function verify(p: Buffer, maxInsns = 4096): void {
  const insns = decode(p);
  const n = insns.length;
  assert.ok(n > 0 && n <= maxInsns, `${n} instructions`);
  insns.forEach(({ code, jt, jf, k }, i) => {
    const cls = code & 0x07;
    if (code === 0x20) assert.ok(k % 4 === 0 && k < DATA_SIZE, `load of seccomp_data offset ${k} at ${i}`);
    else if (code === 0x80 || code === 0x81 || code === 0x00 || code === 0x01 || code === 0x07 || code === 0x87) {
      /* len, imm, tax, txa */
    } else if (code === 0x60 || code === 0x61 || code === 0x02 || code === 0x03)
      assert.ok(k < MEMWORDS, `scratch word ${k} at ${i}`);
    else if (cls === 0x04)
      assert.ok(
        ALU_OPS.has(code & 0xf0) && !((code & 0xf0) === 0x30 && !(code & 0x08) && k === 0),
        `ALU ${code} at ${i}`,
      );
    else if (code === 0x05) assert.ok(i + 1 + k < n, `ja at ${i} leaves the program`);
    else if (cls === 0x05)
      assert.ok(JMP_OPS.has(code & 0xf0) && i + 1 + Math.max(jt, jf) < n, `jump ${code} at ${i} leaves the program`);
    else assert.ok(code === 0x06 || code === 0x16, `opcode ${code} at ${i}`);
  });
  assert.ok([0x06, 0x16].includes(insns[n - 1]!.code), 'the program ends in RET');
}

/** seccomp_data: the syscall number, AUDIT_ARCH_*, and up to six 64-bit arguments. */
export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: readonly bigint[];
}

export function seccompData(d: SeccompData): Buffer {
  const b = Buffer.alloc(DATA_SIZE);
  const u32 = (v: number, o: number) => (LE ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o));
  const u64 = (v: bigint, o: number) =>
    LE ? b.writeBigUInt64LE(BigInt.asUintN(64, v), o) : b.writeBigUInt64BE(BigInt.asUintN(64, v), o);
  u32(d.nr, 0);
  u32(d.arch, 4);
  u64(d.ip ?? 0n, 8);
  (d.args ?? []).forEach((a, i) => u64(a, 16 + 8 * i));
  return b;
}

/** Run a decoded program on seccomp_data; the value it returns (SECCOMP_RET_*). */
export function run(insns: readonly Insn[], data: Buffer): number {
  const word = (o: number) => (LE ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const mem = new Uint32Array(MEMWORDS);
  let A = 0,
    X = 0;
  for (let pc = 0; ;) {
    const x = insns[pc++];
    assert.ok(x, `the program ran off its end at ${pc - 1}`);
    const { code, jt, jf, k } = x;
    switch (code & 0x07) {
      case 0x00:
        A =
          code === 0x20
            ? word(k)
            : code === 0x00
              ? k
              : code === 0x80
                ? DATA_SIZE
                : code === 0x60
                  ? mem[k]!
                  : fail(code);
        break;
      case 0x01:
        X = code === 0x01 ? k : code === 0x81 ? DATA_SIZE : code === 0x61 ? mem[k]! : fail(code);
        break;
      case 0x02:
        mem[k] = A;
        break;
      case 0x03:
        mem[k] = X;
        break;
      case 0x04:
        A = alu(code, A, code & 0x08 ? X : k);
        break;
      case 0x05: {
        if (code === 0x05) {
          pc += k;
          break;
        }
        const v = code & 0x08 ? X : k;
        const op = code & 0xf0;
        const ok =
          op === 0x10 ? A === v : op === 0x20 ? A > v : op === 0x30 ? A >= v : op === 0x40 ? (A & v) !== 0 : fail(code);
        pc += ok ? jt : jf;
        break;
      }
      case 0x06:
        return (code === 0x16 ? A : k) >>> 0;
      case 0x07:
        if (code === 0x07) X = A;
        else A = X;
        break;
    }
  }
}

function alu(code: number, a: number, v: number): number {
  switch (code & 0xf0) {
    case 0x00:
      return (a + v) >>> 0;
    case 0x10:
      return (a - v) >>> 0;
    case 0x20:
      return Number((BigInt(a) * BigInt(v)) & 0xffffffffn);
    case 0x30:
      return Math.floor(a / v) >>> 0;
    case 0x40:
      return (a | v) >>> 0;
    case 0x50:
      return (a & v) >>> 0;
    case 0x60:
      return v >= 32 ? 0 : (a << v) >>> 0;
    case 0x70:
      return v >= 32 ? 0 : a >>> v;
    case 0x80:
      return -a >>> 0;
    case 0x90:
      return (a % v) >>> 0;
    case 0xa0:
      return (a ^ v) >>> 0;
    default:
      return fail(code);
  }
}

function fail(code: number): never {
  assert.fail(`unknown BPF opcode 0x${code.toString(16)}`);
}
