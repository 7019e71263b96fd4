import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { hexOf, sha256 } from '../../core/digest.js';
import { invalid, wrap } from '../../core/errors.js';
import { DEFAULT_SECCOMP_PROFILE } from './default-profile.js';

/**
 * Seccomp as Docker does it: a profile in Docker's JSON format (the OCI
 * `linux.seccomp` object plus an archMap and groups of syscalls that apply only
 * with some capabilities, architectures or kernels) becomes the OCI object for
 * one container (profileToOci); seccomp-bpf.ts compiles that into BPF.
 */

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** Architectures libseccomp knows (OCI `architectures`). */
export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
] as const;

export const SECCOMP_FLAGS = [
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
] as const;

/** One argument comparison. For SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo. */
export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}
export interface OciSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
}
/** The OCI runtime spec's `linux.seccomp`. */
export interface OciSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSyscall[];
}

/** Conditions of a profile group: capabilities (all needed), Docker arch names ("amd64"), kernel "<major>.<minor>". */
export interface ProfileFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}
export interface ProfileSyscall {
  names?: string[];
  /** Older profiles: one name. */
  name?: string;
  action: SeccompAction;
  errnoRet?: number;
  args?: OciSeccompArg[];
  comment?: string;
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}
/** Docker's seccomp profile format (profiles/seccomp/default.json). */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  flags?: string[];
  syscalls?: ProfileSyscall[];
}

/** Node's process.arch as Docker names architectures (Go's GOARCH, as libseccomp spells it). */
const DOCKER_ARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: 'x86',
  arm: 'arm',
  arm64: 'arm64',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};
const ARCH_TO_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  x86: 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X',
  riscv64: 'SCMP_ARCH_RISCV64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
};

/** This host's architecture in Docker's naming ("amd64", "arm64", ...). */
export function hostArch(): string {
  return DOCKER_ARCH[process.arch] ?? process.arch;
}

/**
 * The OCI seccomp object for a container, as Docker computes it from a
 * profile: the archMap entry of `arch` gives `architectures`; a syscall group
 * is kept when all its includes.caps are in `caps` (the bounding set), its
 * includes.arches has `arch` and the kernel is at least includes.minKernel,
 * and none of its excludes match. The input is validated; errors say where.
 */
export function profileToOci(
  profileJson: unknown,
  caps: readonly string[],
  arch = hostArch(),
  kernel = release(),
): OciSeccomp {
  return convert(profileJson, caps, arch, kernel, 'seccomp profile');
}

/**
 * The seccomp object for `--security-opt seccomp=<opt>`: none given (or
 * "builtin") is Docker's default profile, "unconfined" none, anything else a
 * path to a profile in Docker's format. The caller handles --privileged: as
 * Docker, a privileged container runs unconfined unless a profile was given.
 */
export function seccompFor(opt: string | undefined, caps: readonly string[]): OciSeccomp | undefined {
  // (a value starting with "{" is the profile's JSON text)
  if (opt === undefined || opt === 'builtin') return profileToOci(DEFAULT_SECCOMP_PROFILE, caps);
  if (opt === 'unconfined') return undefined;
  if (opt === '')
    throw invalid(
      'invalid_seccomp_profile',
      'seccomp: empty profile path (use a file path, "unconfined" or "builtin")',
    );
  if (opt.trimStart().startsWith('{')) {
    // the profile itself, as `create` stores it in HostConfig.SecurityOpt (Docker's CLI sends the file's content too)
    let json: unknown;
    try {
      json = JSON.parse(opt);
    } catch (e) {
      throw invalid('invalid_seccomp_profile', `seccomp profile: invalid JSON: ${(e as Error).message}`);
    }
    return convert(json, caps, hostArch(), release(), 'seccomp profile');
  }
  const label = `seccomp profile ${JSON.stringify(opt)}`;
  let text: string;
  try {
    text = readFileSync(opt, 'utf8');
  } catch (e) {
    throw wrap(`read ${label}`, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid('invalid_seccomp_profile', `${label}: invalid JSON: ${(e as Error).message}`);
  }
  return convert(json, caps, hostArch(), release(), label);
}

function convert(input: unknown, caps: readonly string[], arch: string, kernel: string, label: string): OciSeccomp {
  const bad = (where: string, msg: string): never => {
    throw invalid('invalid_seccomp_profile', `${label}: ${where}: ${msg}`);
  };
  const p = object(input, 'profile', bad);
  if (p.defaultAction === undefined) bad('defaultAction', 'missing');
  const out: OciSeccomp = { defaultAction: oneOf(p.defaultAction, SECCOMP_ACTIONS, 'defaultAction', 'action', bad) };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = errno(p.defaultErrnoRet, 'defaultErrnoRet', bad);
  const architectures = list(p.architectures, 'architectures', bad).map((a, i) =>
    oneOf(a, SECCOMP_ARCHES, `architectures[${i}]`, 'architecture', bad),
  );
  const archMap = list(p.archMap, 'archMap', bad).map((e, i) => {
    const o = object(e, `archMap[${i}]`, bad);
    return [
      oneOf(o.architecture, SECCOMP_ARCHES, `archMap[${i}].architecture`, 'architecture', bad),
      ...list(o.subArchitectures, `archMap[${i}].subArchitectures`, bad).map((a, j) =>
        oneOf(a, SECCOMP_ARCHES, `archMap[${i}].subArchitectures[${j}]`, 'architecture', bad),
      ),
    ];
  });
  if (architectures.length && archMap.length) bad('archMap', 'both "architectures" and "archMap" are given; use one');
  out.architectures = archMap.length ? (archMap.find((a) => a[0] === ARCH_TO_SCMP[arch]) ?? []) : architectures;
  if (p.flags !== undefined)
    out.flags = list(p.flags, 'flags', bad).map((f, i) => oneOf(f, SECCOMP_FLAGS, `flags[${i}]`, 'flag', bad));
  out.syscalls = [];
  const has = (c: string) => caps.includes(c);
  list(p.syscalls, 'syscalls', bad).forEach((raw, i) => {
    const where = `syscalls[${i}]`;
    const s = object(raw, where, bad);
    const names = list(s.names, `${where}.names`, bad).map((n, j) => string(n, `${where}.names[${j}]`, bad));
    if (s.name !== undefined && s.name !== '') {
      if (names.length) bad(where, 'both "name" and "names" are given; use "names"');
      names.push(string(s.name, `${where}.name`, bad));
    }
    if (!names.length) bad(`${where}.names`, 'no syscall names');
    const call: OciSyscall = { names, action: oneOf(s.action, SECCOMP_ACTIONS, `${where}.action`, 'action', bad) };
    if (s.errnoRet !== undefined) call.errnoRet = errno(s.errnoRet, `${where}.errnoRet`, bad);
    if (s.args !== undefined && s.args !== null)
      call.args = list(s.args, `${where}.args`, bad).map((a, j) => arg(a, `${where}.args[${j}]`, bad));
    if (s.comment !== undefined) string(s.comment, `${where}.comment`, bad);
    const inc = filter(s.includes, `${where}.includes`, bad),
      exc = filter(s.excludes, `${where}.excludes`, bad);
    if (exc.arches.includes(arch) || exc.caps.some(has) || (exc.minKernel && kernelAtLeast(kernel, exc.minKernel)))
      return;
    if (
      (inc.arches.length && !inc.arches.includes(arch)) ||
      !inc.caps.every(has) ||
      (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel))
    )
      return;
    out.syscalls!.push(call);
  });
  return out;
}

type Bad = (where: string, msg: string) => never;

function object(v: unknown, where: string, bad: Bad): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(where, `expected an object, got ${kind(v)}`);
  return v as Record<string, unknown>;
}

/** A JSON array; absent or null is empty (as Go decodes it). */
function list(v: unknown, where: string, bad: Bad): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(where, `expected an array, got ${kind(v)}`);
  return v as unknown[];
}

function string(v: unknown, where: string, bad: Bad): string {
  if (typeof v !== 'string') bad(where, `expected a string, got ${kind(v)}`);
  return v as string;
}

function oneOf<T extends string>(v: unknown, known: readonly T[], where: string, what: string, bad: Bad): T {
  const s = string(v, where, bad);
  if (!known.includes(s as T)) bad(where, `unknown ${what} ${JSON.stringify(s)}`);
  return s as T;
}

/** A non-negative integer JSON can carry exactly (below 2^53). */
function uint(v: unknown, where: string, bad: Bad, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    bad(where, `expected a non-negative integer, got ${JSON.stringify(v) ?? kind(v)}`);
  if ((v as number) > max)
    bad(
      where,
      max === Number.MAX_SAFE_INTEGER
        ? `${v} is beyond 2^53 and cannot be read exactly from JSON`
        : `${v} is out of range (at most ${max})`,
    );
  return v as number;
}

/** The kernel takes at most MAX_ERRNO (4095) from a filter. */
const errno = (v: unknown, where: string, bad: Bad) => uint(v, where, bad, 4095);

function arg(v: unknown, where: string, bad: Bad): OciSeccompArg {
  const a = object(v, where, bad);
  const out: OciSeccompArg = {
    index: uint(a.index, `${where}.index`, bad, 5),
    value: uint(a.value ?? 0, `${where}.value`, bad),
    op: oneOf(a.op, SECCOMP_OPERATORS, `${where}.op`, 'operator', bad),
  };
  if (a.valueTwo !== undefined) out.valueTwo = uint(a.valueTwo, `${where}.valueTwo`, bad);
  return out;
}

function filter(v: unknown, where: string, bad: Bad): { caps: string[]; arches: string[]; minKernel?: string } {
  if (v === undefined || v === null) return { caps: [], arches: [] };
  const f = object(v, where, bad);
  const out: { caps: string[]; arches: string[]; minKernel?: string } = {
    caps: list(f.caps, `${where}.caps`, bad).map((c, i) => string(c, `${where}.caps[${i}]`, bad)),
    arches: list(f.arches, `${where}.arches`, bad).map((c, i) => string(c, `${where}.arches[${i}]`, bad)),
  };
  if (f.minKernel !== undefined && f.minKernel !== '') {
    const k = string(f.minKernel, `${where}.minKernel`, bad);
    if (!/^\d{1,3}\.\d{1,3}$/.test(k) || /^0+\.0+$/.test(k))
      bad(`${where}.minKernel`, `invalid kernel version ${JSON.stringify(k)}, expected "<kernel>.<major>"`);
    out.minKernel = k;
  }
  return out;
}

/** Whether a kernel release ("6.8.0-45-generic") is at least "<kernel>.<major>"; minor revisions are ignored. */
export function kernelAtLeast(rel: string, min: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const [k, j] = min.split('.').map(Number) as [number, number];
  const rk = Number(m[1]),
    rj = Number(m[2]);
  return rk > k || (rk === k && rj >= j);
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * The seccomp object and its compiled filter for an option and capability set,
 * cached in `dir` (converting and compiling Docker's profile costs ~15 ms in a
 * cold process; a cached copy is one small read). The key covers everything
 * the result depends on: the option (a profile's JSON included), capabilities,
 * architecture, kernel release and the cache format.
 */
export function cachedSeccomp(
  dir: string,
  opt: string | undefined,
  caps: readonly string[],
  compile: (s: OciSeccomp) => Buffer,
): { seccomp: OciSeccomp; bpf: Buffer } | undefined {
  if (opt === 'unconfined') return undefined;
  // (digest.ts's sha256: the native addon's for this small input, when loaded, rather than loading node:crypto)
  const key = hexOf(
    sha256(
      JSON.stringify({
        v: 2,
        opt: opt ?? 'builtin',
        caps: [...caps].sort(),
        arch: hostArch(),
        kernel: release(),
        cpu: process.arch,
      }),
    ),
  );
  const file = `${dir}/seccomp-${key}.json`;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { seccomp: OciSeccomp; bpf: string };
    return { seccomp: c.seccomp, bpf: Buffer.from(c.bpf, 'base64') };
  } catch {
    /* not cached yet (or torn: rebuilt) */
  }
  const seccomp = seccompFor(opt, caps);
  if (!seccomp) return undefined;
  const bpf = compile(seccomp);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ seccomp, bpf: bpf.toString('base64') }), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* a cache only */
  }
  return { seccomp, bpf };
}
