/**
 * The cgroup v2 device program, run by a small interpreter of the eBPF
 * instructions it uses, against v1's rule semantics (the last matching rule
 * decides, access a subset of the rule's, default deny). The kernel runs it
 * in test/runtime/cgroups/cgroups.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceProgram } from '../../../src/runtime/cgroups/device-bpf.js';
import { DEFAULT_DEVICE_RULES, type DeviceRule } from '../../../src/runtime/cgroups/cgroups.js';

type Req = { type: 'b' | 'c'; access: 'm' | 'r' | 'w' | 'rw' | 'rwm'; major: number; minor: number };

/** Run the program on one request (the fields of struct bpf_cgroup_dev_ctx); fails on anything it does not expect. */
function runProgram(prog: Buffer, r: Req): boolean {
  const acc = [...r.access].reduce((m, c) => m | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[c]!, 0);
  const ctx = [(acc << 16) | (r.type === 'b' ? 1 : 2), r.major, r.minor];
  const reg = new Array<bigint>(11).fill(0n);
  const n = prog.length / 8;
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    assert.ok(steps < 10000, 'no loops');
    const code = prog[pc * 8]!,
      dst = prog[pc * 8 + 1]! & 0xf,
      src = prog[pc * 8 + 1]! >> 4;
    const off = prog.readInt16LE(pc * 8 + 2),
      imm = BigInt(prog.readInt32LE(pc * 8 + 4));
    const u64 = (x: bigint) => BigInt.asUintN(64, x);
    switch (code) {
      case 0x61:
        assert.equal(src, 1);
        assert.ok([0, 4, 8].includes(off));
        reg[dst] = BigInt(ctx[off / 4]! >>> 0);
        break;
      case 0xbf:
        reg[dst] = reg[src]!;
        break;
      case 0xb7:
        reg[dst] = u64(imm);
        break;
      case 0x57:
        reg[dst] = reg[dst]! & u64(imm);
        break;
      case 0x77:
        reg[dst] = reg[dst]! >> imm;
        break;
      case 0x55:
        if (reg[dst] !== u64(imm)) {
          pc += off;
          assert.ok(off >= 0 && pc + 1 < n, 'a jump inside the program, forward');
        }
        break;
      case 0x95:
        assert.ok(reg[0] === 0n || reg[0] === 1n);
        return reg[0] === 1n;
      default:
        assert.fail(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  return assert.fail('ran off the end');
}

/** v1's answer for rules applied in order, each request checked against every rule (last match wins). */
function reference(rules: readonly DeviceRule[], r: Req): boolean {
  let verdict = false;
  for (const x of rules) {
    const typeOk = x.type === 'a' || x.type === r.type;
    const idOk = x.type === 'a' || ((x.major < 0 || x.major === r.major) && (x.minor < 0 || x.minor === r.minor));
    const accOk = [...r.access].every((c) => x.access.includes(c));
    if (typeOk && idOk && accOk) verdict = x.allow;
  }
  return verdict;
}

const requests: Req[] = [];
for (const type of ['b', 'c'] as const) {
  for (const access of ['m', 'r', 'w', 'rw', 'rwm'] as const) {
    for (const [major, minor] of [
      [1, 3],
      [1, 1],
      [1, 9],
      [5, 0],
      [5, 2],
      [136, 0],
      [136, 7],
      [10, 200],
      [8, 0],
      [4, 0],
      [0, 0],
      [4095, 1048575],
    ])
      requests.push({ type, access, major: major!, minor: minor! });
  }
}

test("Docker's default rules: the usual character devices, mknod of anything, nothing else", () => {
  const prog = deviceProgram(DEFAULT_DEVICE_RULES);
  for (const r of requests) assert.equal(runProgram(prog, r), reference(DEFAULT_DEVICE_RULES, r), JSON.stringify(r));
  const ok = (r: Req) => runProgram(prog, r);
  assert.ok(ok({ type: 'c', access: 'rw', major: 1, minor: 3 }));
  assert.ok(ok({ type: 'c', access: 'rw', major: 136, minor: 7 }));
  assert.ok(ok({ type: 'b', access: 'm', major: 8, minor: 0 }));
  assert.ok(!ok({ type: 'b', access: 'r', major: 8, minor: 0 }));
  assert.ok(!ok({ type: 'c', access: 'r', major: 1, minor: 1 })); // /dev/mem
});

test('added devices, partial access, privileged, and no rules at all', () => {
  const cases: DeviceRule[][] = [
    [
      ...DEFAULT_DEVICE_RULES,
      { allow: true, type: 'c', major: 1, minor: 1, access: 'r' },
      { allow: true, type: 'b', major: 8, minor: -1, access: 'rw' },
    ],
    [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }],
    [
      { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 1, access: 'rwm' },
    ],
    [{ allow: true, type: 'a', major: -1, minor: -1, access: 'r' }],
    [],
  ];
  for (const rules of cases) {
    const prog = deviceProgram(rules);
    for (const r of requests)
      assert.equal(runProgram(prog, r), reference(rules, r), `${JSON.stringify(rules)} ${JSON.stringify(r)}`);
  }
  const extra = deviceProgram(cases[0]!);
  assert.ok(runProgram(extra, { type: 'c', access: 'r', major: 1, minor: 1 }));
  assert.ok(!runProgram(extra, { type: 'c', access: 'w', major: 1, minor: 1 }));
  assert.ok(runProgram(extra, { type: 'b', access: 'rw', major: 8, minor: 3 }));
});

test('a rule that matches everything ends the program (the verifier refuses unreachable code); bad rules are refused', () => {
  const prog = deviceProgram([
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' },
  ]);
  // checked last to first: the deny-all comes first and is the last instruction pair
  assert.equal(prog.length, 7 * 8 + 2 * 8);
  assert.equal(prog.readUInt8(prog.length - 8), 0x95);
  assert.throws(() => deviceProgram([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rx' }]), /only r, w and m/);
  assert.throws(
    () => deviceProgram([{ allow: true, type: 'c', major: 2 ** 32, minor: 3, access: 'r' }]),
    /out of range/,
  );
});
