import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BerthError } from '../../../src/core/errors.js';
import { kernelAtLeast, profileToOci, seccompFor, type OciSeccomp } from '../../../src/runtime/seccomp/profile.js';
import { DEFAULT_SECCOMP_PROFILE } from '../../../src/runtime/seccomp/default-profile.js';
import { DEFAULT_CAPABILITIES } from '../../../src/runtime/security.js';
import { Tracked } from '../../helpers/tracked.js';

const tracked = new Tracked();
const caps = DEFAULT_CAPABILITIES;

/** Names allowed whatever the arguments. */
const allowed = (s: OciSeccomp) =>
  new Set(s.syscalls!.filter((c) => c.action === 'SCMP_ACT_ALLOW' && !c.args?.length).flatMap((c) => c.names));
const rulesFor = (s: OciSeccomp, name: string) => s.syscalls!.filter((c) => c.names.includes(name));

test('default profile, default capabilities: no mount, unshare, reboot...; the helper can still finish its plan', () => {
  const s = profileToOci(DEFAULT_SECCOMP_PROFILE, caps, 'amd64', '6.8.0-45-generic');
  assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(s.defaultErrnoRet, 1);
  assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const ok = allowed(s);
  for (const n of [
    'mount',
    'umount2',
    'unshare',
    'setns',
    'reboot',
    'bpf',
    'kexec_load',
    'open_by_handle_at',
    'init_module',
    'pivot_root',
    'keyctl',
    'userfaultfd',
  ]) {
    assert.equal(rulesFor(s, n).length, 0, `${n} has no rule, so gets EPERM`);
  }
  // the helper's syscalls after a seccomp step placed before the credential steps
  for (const n of [
    'setgroups',
    'setresgid',
    'setresuid',
    'capset',
    'prctl',
    'chdir',
    'execve',
    'close_range',
    'fcntl',
    'write',
    'poll',
    'exit_group',
    'brk',
    'mmap',
  ]) {
    assert.ok(ok.has(n), `${n} is allowed`);
  }
  assert.ok(ok.has('chroot'), 'CAP_SYS_CHROOT is a default capability');
  assert.ok(ok.has('ptrace') && ok.has('arch_prctl') && ok.has('modify_ldt'));
  assert.ok(!ok.has('set_tls') && !ok.has('s390_runtime_instr'), "other architectures' groups are left out");
  assert.deepEqual(rulesFor(s, 'clone'), [
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }] },
  ]);
  assert.deepEqual(rulesFor(s, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  assert.deepEqual(
    rulesFor(s, 'personality').map((c) => c.args![0]!.value),
    [0, 8, 0x20000, 0x20008, 0xffffffff],
  );
  assert.deepEqual(
    rulesFor(s, 'socket').map((c) => [c.args![0]!.op, c.args![0]!.value]),
    [
      ['SCMP_CMP_LT', 38],
      ['SCMP_CMP_EQ', 39],
      ['SCMP_CMP_GT', 40],
    ],
  );
});

test('capabilities and kernel version select groups as Docker does', () => {
  const admin = profileToOci(DEFAULT_SECCOMP_PROFILE, [...caps, 'CAP_SYS_ADMIN'], 'amd64', '6.8.0');
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'bpf'])
    assert.ok(allowed(admin).has(n), n);
  assert.ok(!rulesFor(admin, 'clone').some((c) => c.args), 'no clone flag filter with CAP_SYS_ADMIN');
  assert.ok(!rulesFor(admin, 'clone3').some((c) => c.action === 'SCMP_ACT_ERRNO'));
  assert.ok(allowed(profileToOci(DEFAULT_SECCOMP_PROFILE, ['CAP_SYS_BOOT'], 'amd64', '6.8')).has('reboot'));
  assert.ok(allowed(profileToOci(DEFAULT_SECCOMP_PROFILE, ['CAP_SYS_PTRACE'], 'amd64', '6.8')).has('kcmp'));
  assert.ok(!allowed(profileToOci(DEFAULT_SECCOMP_PROFILE, [], 'amd64', '6.8')).has('chroot'));
  assert.ok(
    !allowed(profileToOci(DEFAULT_SECCOMP_PROFILE, caps, 'amd64', '4.4.0')).has('ptrace'),
    'ptrace needs kernel 4.8',
  );
  const arm = profileToOci(DEFAULT_SECCOMP_PROFILE, caps, 'arm64', '6.8');
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(allowed(arm).has('set_tls') && !allowed(arm).has('arch_prctl'));
  assert.ok(profileToOci(DEFAULT_SECCOMP_PROFILE, caps).syscalls!.length > 10, 'defaults to the host');
});

test('malformed profiles: the error says what is wrong and where', () => {
  const sys = (over: object) => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ERRNO' },
      { names: ['write'], action: 'SCMP_ACT_ERRNO', ...over },
    ],
  });
  const cases: Array<[unknown, string]> = [
    ['x', 'profile: expected an object, got string'],
    [{}, 'defaultAction: missing'],
    [{ defaultAction: 'SCMP_ACT_NOPE' }, 'defaultAction: unknown action "SCMP_ACT_NOPE"'],
    [
      { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 },
      'defaultErrnoRet: expected a non-negative integer, got -1',
    ],
    [sys({ action: 'X' }), 'syscalls[1].action: unknown action "X"'],
    [sys({ errnoRet: 5000 }), 'syscalls[1].errnoRet: 5000 is out of range (at most 4095)'],
    [sys({ names: ['write', 3] }), 'syscalls[1].names[1]: expected a string, got number'],
    [sys({ names: [] }), 'syscalls[1].names: no syscall names'],
    [sys({ name: 'pread64' }), 'syscalls[1]: both "name" and "names" are given'],
    [sys({ args: {} }), 'syscalls[1].args: expected an array, got object'],
    [
      sys({ args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }),
      'syscalls[1].args[0].index: 6 is out of range (at most 5)',
    ],
    [sys({ args: [{ index: 0, value: 1, op: 'EQ' }] }), 'syscalls[1].args[0].op: unknown operator "EQ"'],
    [
      sys({ args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }),
      `syscalls[1].args[0].value: ${2 ** 60} is beyond 2^53`,
    ],
    [
      sys({ args: [{ index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }] }),
      'syscalls[1].args[0].value: expected a non-negative integer, got 1.5',
    ],
    [sys({ includes: { minKernel: '5' } }), 'syscalls[1].includes.minKernel: invalid kernel version "5"'],
    [sys({ excludes: { caps: 'CAP_SYS_ADMIN' } }), 'syscalls[1].excludes.caps: expected an array, got string'],
    [
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        archMap: [{ architecture: 'SCMP_ARCH_X86_64' }],
      },
      'archMap: both "architectures" and "archMap"',
    ],
    [
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_AMD64'] },
      'architectures[0]: unknown architecture "SCMP_ARCH_AMD64"',
    ],
    [
      { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NOPE'] },
      'flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NOPE"',
    ],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => profileToOci(input, caps, 'amd64', '6.8'),
      (e: unknown) => {
        assert.ok(
          e instanceof BerthError && e.kind === 'InvalidArgument' && e.code === 'invalid_seccomp_profile',
          String(e),
        );
        assert.ok(
          e.message.startsWith(`seccomp profile: ${message}`),
          `${e.message}\n  expected: seccomp profile: ${message}`,
        );
        return true;
      },
    );
  }
});

test('older profile forms: "name", null lists, architectures instead of archMap', () => {
  const s = profileToOci(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ name: 'read', action: 'SCMP_ACT_ALLOW', args: null }],
    },
    caps,
    'amd64',
    '6.8',
  );
  assert.deepEqual(s, {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
  });
  const t = profileToOci({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: null }, caps, 'amd64', '6.8');
  assert.deepEqual(t, { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [] });
});

test('seccompFor: default, builtin, unconfined, a profile file, and file errors', () => {
  const dflt = seccompFor(undefined, caps)!;
  assert.deepEqual(dflt, profileToOci(DEFAULT_SECCOMP_PROFILE, caps));
  assert.deepEqual(seccompFor('builtin', caps), dflt);
  assert.equal(seccompFor('unconfined', caps), undefined);
  const { root } = tracked.newRoot('berth-seccomp');
  const file = `${root}/profile.json`;
  fs.writeFileSync(
    file,
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    }),
  );
  assert.deepEqual(seccompFor(file, caps)!.syscalls, [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }]);
  assert.throws(
    () => seccompFor(`${root}/missing.json`, caps),
    (e: unknown) =>
      e instanceof BerthError &&
      e.kind === 'NotFound' &&
      e.message.startsWith(`read seccomp profile "${root}/missing.json": ENOENT`),
  );
  fs.writeFileSync(file, '{"defaultAction": ');
  assert.throws(
    () => seccompFor(file, caps),
    (e: unknown) => e instanceof BerthError && e.message.startsWith(`seccomp profile "${file}": invalid JSON:`),
  );
  fs.writeFileSync(
    file,
    JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_DENY' }] }),
  );
  assert.throws(() => seccompFor(file, caps), {
    message: `seccomp profile "${file}": syscalls[0].action: unknown action "SCMP_ACT_DENY"`,
  });
  assert.throws(() => seccompFor('', caps), /empty profile path/);
});

test('kernelAtLeast ignores minor revisions and suffixes', () => {
  const cases: Array<[string, string, boolean]> = [
    ['4.8.0', '4.8', true],
    ['4.8-rc5', '4.8', true],
    ['4.7.10', '4.8', false],
    ['5.0.0-gentoo', '4.8', true],
    ['3.12.25', '4.8', false],
    ['6.18.44-fc-v657', '6.18', true],
    ['6.18.44', '6.19', false],
    ['junk', '4.8', false],
  ];
  for (const [rel, min, want] of cases) assert.equal(kernelAtLeast(rel, min), want, `${rel} >= ${min}`);
});
