import { invalid } from '../core/errors.js';
import type { OciMount, OciSpec } from './spec.js';
import { CAPS } from './security.js';
import { compileSeccomp } from './seccomp/bpf.js';

/**
 * The native helper's plan: a list of steps it executes in order, one syscall
 * each, deciding nothing. Built here from an OCI spec, so what a container gets
 * is decided (and unit-tested) in TypeScript.
 */
export type Step = [op: string, ...args: string[]];

const NS_FLAGS: Record<string, number> = {
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
};

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  NOATIME: 1024,
  BIND: 4096,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  STRICTATIME: 1 << 24,
};

const FLAG_OPTS: Record<string, [set: number, clear?: boolean]> = {
  ro: [MS.RDONLY],
  rro: [MS.RDONLY],
  rw: [MS.RDONLY, true],
  nosuid: [MS.NOSUID],
  nodev: [MS.NODEV],
  noexec: [MS.NOEXEC],
  strictatime: [MS.STRICTATIME],
  noatime: [MS.NOATIME],
  bind: [MS.BIND],
  rbind: [MS.BIND | MS.REC],
};
const PROPAGATION = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);

/** Split OCI mount options into mount(2) flags and the data string. */
export function mountFlags(options: readonly string[] = []): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTS[o];
    if (f) flags = f[1] ? flags & ~f[0] : flags | f[0];
    else if (!PROPAGATION.has(o)) data.push(o);
  }
  return { flags, data: data.join(',') };
}

const DEVICES: Array<[name: string, major: number, minor: number]> = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

/**
 * Steps, in order: namespaces; fork (the parent stays as monitor; the child is
 * PID 1); make every mount private; open bind sources (host paths) while the
 * host is visible; pivot_root into the rootfs; then mount /proc, /dev, ... by
 * paths that now resolve inside the container (a symlink in the image cannot
 * point a mount at the host; the helper also refuses symlink targets); devices;
 * bind the opened sources; hostname, credentials, cwd, env, exec.
 */
export interface HostFacts {
  /** Whether a bind source is a directory (else a file target is created). */
  sourceIsDir: (hostPath: string) => boolean;
  /** Whether the host has /proc/kcore (then /dev/core links to it). */
  kcore: boolean;
  /** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
  capLast: number;
  /** How to mount the cgroup filesystem in a container: cgroup2, or each v1 hierarchy (dir name, mount options). */
  cgroupFs?: 'v2' | Array<{ name: string; options: string }>;
}

/** A capability set as a hex bit mask (the helper's capset argument). */
export function capMask(names: readonly string[]): string {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPS[n]!);
  return m.toString(16);
}

/** What a detached container's monitor does besides waiting: logs, state, restarts, clean-up. */
export interface MonitorPlan {
  /** Docker's json-file log and its rotation (--log-opt max-size, max-file; 0 = no limit). */
  log: { path: string; maxSize: number; maxFiles: number };
  /** Where the monitor writes the container's state as JSON (running, restarting, exited). */
  statePath: string;
  restart: { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; max: number };
  /** Exists when a user stopped the container: then it is never restarted. */
  stopMarker: string;
  /** A cgroup file with an "oom_kill N" line (memory.oom_control, memory.events). */
  oomCounter?: string;
  /** Unmounted when the container is done for good. */
  umount: string;
  /** Run (exec'd by the monitor) when the container is done for good: berth's clean-up. */
  exitCommand: string[];
  /**
   * Where the monitor listens for `attach` clients (attach.sock in this dir); with stdinOpen (-i) they may write the
   * container's stdin.
   */
  attach?: { dir: string; stdinOpen: boolean };
  /**
   * A healthcheck: the monitor runs `plan` (an exec into the container) every interval and writes Docker's Health to
   * statePath.
   */
  health?: {
    intervalMs: number;
    timeoutMs: number;
    startPeriodMs: number;
    retries: number;
    statePath: string;
    plan: Step[];
  };
}

export interface PlanOptions {
  /** Detached: the monitor outlives berth; without it the container dies with berth. */
  monitor?: MonitorPlan;
  /** cgroup.procs files the container's process joins before its cgroup namespace is made. */
  cgroupProcs?: readonly string[];
  /** --init: PID 1 is a reaper that runs the command as its child. */
  init?: boolean;
  /** A compiled seccomp filter (BPF). */
  seccomp?: Buffer;
  /** The helper already ran `preludePlan`: it dies with berth and is in the cgroup, which the container inherits. */
  afterPrelude?: boolean;
  /** A healthcheck for a foreground container (a detached one has it in `monitor`). */
  health?: MonitorPlan['health'];
}

/**
 * The first steps of a foreground container, sent while berth still creates
 * it: die with berth, and join the cgroup. The monitor joins (the container,
 * cloned from it, inherits the cgroup): a cgroup migration waits out an RCU
 * grace period, and this way that wait overlaps berth's own work instead of
 * delaying the container's exec.
 */
export function preludePlan(cgroupProcs: readonly string[]): Step[] {
  return [['die-with-parent'], ...(cgroupProcs.length ? [['join-cgroup', ...cgroupProcs] as Step] : [])];
}

function namespaceFlags(spec: OciSpec): number {
  let ns = 0;
  for (const n of spec.linux.namespaces) {
    if (n.path && n.type === 'network') continue; // joined after the clone (joinedNetns)
    if (n.path)
      throw invalid('unsupported', `joining namespace ${n.type} by path is not supported by the native helper`);
    const f = NS_FLAGS[n.type];
    if (f === undefined) throw invalid('unsupported', `namespace ${n.type} is not supported`);
    ns |= f;
  }
  return ns;
}

/** The network namespace the container joins by path (one berth made and connected: the bridge network's). */
function joinedNetns(spec: OciSpec): string | undefined {
  return spec.linux.namespaces.find((n) => n.type === 'network' && n.path)?.path;
}

export function planFromSpec(
  spec: OciSpec,
  host: HostFacts = { sourceIsDir: () => true, kcore: true, capLast: 40 },
  opts: PlanOptions = {},
): Step[] {
  const steps: Step[] = [];
  const ns = namespaceFlags(spec);
  const m = opts.monitor;
  if (m) {
    steps.push(['log-json', m.log.path, String(m.log.maxSize), String(m.log.maxFiles)]);
    steps.push(['state-file', m.statePath]);
    steps.push(['restart-policy', m.restart.name, String(m.restart.max), m.stopMarker]);
    if (m.oomCounter) steps.push(['oom-counter', m.oomCounter]);
    steps.push(['exit-umount', m.umount]);
    steps.push(['exit-command', ...m.exitCommand]);
    if (m.attach) steps.push(['attach-socket', m.attach.dir]);
    if (m.attach?.stdinOpen) steps.push(['stdin-open']);
  } else if (!opts.afterPrelude) {
    steps.push(['die-with-parent']);
  }
  const h = m?.health ?? opts.health;
  if (h)
    steps.push([
      'health',
      String(h.intervalMs),
      String(h.timeoutMs),
      String(h.startPeriodMs),
      String(h.retries),
      h.statePath,
      encodePlan(h.plan).toString(),
    ]);
  // the container's process joins its cgroup before it makes its cgroup namespace, so that cgroup is the namespace's
  // root
  const cgroupNs = ns & NS_FLAGS.cgroup!;
  if (!(ns & NS_FLAGS.pid!)) throw invalid('unsupported', 'a container needs its own PID namespace');
  steps.push(spec.process.terminal ? ['spawn', String(ns & ~cgroupNs), 'tty'] : ['spawn', String(ns & ~cgroupNs)]);
  // a network namespace made beforehand is joined by the container (the monitor stays in the host's), while the
  // host's paths are still visible
  const netns = joinedNetns(spec);
  if (netns) steps.push(['join-netns', netns]);
  if (opts.cgroupProcs?.length && !opts.afterPrelude) steps.push(['join-cgroup', ...opts.cgroupProcs]);
  if (cgroupNs) steps.push(['unshare', String(cgroupNs)]);
  steps.push(['mount', '', '/', '', String(MS.REC | MS.PRIVATE), '']);
  // the rootfs must be a mount point for pivot_root
  steps.push(['mount', spec.root.path, spec.root.path, '', String(MS.BIND | MS.REC), '']);
  const binds: Array<{ index: number; m: OciMount }> = [];
  for (const m of spec.mounts) {
    if (m.type !== 'bind') continue;
    binds.push({ index: binds.length, m });
    steps.push(['clone-tree', m.source, (m.options ?? []).includes('rbind') ? '1' : '0']);
  }
  steps.push(['pivot-root', spec.root.path]);
  let bi = 0;
  for (const m of spec.mounts) {
    const { flags, data } = mountFlags(m.options);
    if (m.type === 'bind') {
      const b = binds[bi++]!;
      steps.push(...mkdirSteps(parentOf(m.destination)));
      steps.push(host.sourceIsDir(b.m.source) ? ['mkdir', m.destination, '493'] : ['touch', m.destination, '420']);
      steps.push(['attach-tree', String(b.index), m.destination, String(flags)]);
      continue;
    }
    if (m.type === 'cgroup') {
      steps.push(...cgroupFsSteps(m.destination, flags, host.cgroupFs));
      continue;
    }
    steps.push(...mkdirSteps(m.destination));
    steps.push(['mount', m.source, m.destination, m.type, String(flags), data]);
    if (m.destination === '/dev') {
      for (const [name, major, minor] of DEVICES) {
        steps.push(['mknod', `/dev/${name}`, String(0o20000 | 0o666), String(major), String(minor)]);
        steps.push(['chmod', `/dev/${name}`, String(0o666)]);
      }
      // /dev/console only with a terminal (the pty step binds it); /dev/core only where /proc/kcore exists (as runc)
      const links: Array<[string, string]> = [
        ['/dev/fd', '/proc/self/fd'],
        ['/dev/stdin', '/proc/self/fd/0'],
        ['/dev/stdout', '/proc/self/fd/1'],
        ['/dev/stderr', '/proc/self/fd/2'],
      ];
      if (host.kcore) links.push(['/dev/core', '/proc/kcore']);
      for (const [l, t] of links) steps.push(['symlink', t, l]);
    }
    if (m.destination === '/dev/pts') steps.push(['symlink', 'pts/ptmx', '/dev/ptmx']);
  }
  // --device: the node made inside the container (the devices cgroup lets it be opened)
  for (const d of spec.linux.devices ?? []) {
    steps.push(...mkdirSteps(parentOf(d.path)));
    steps.push([
      'mknod',
      d.path,
      String((d.type === 'b' ? 0o60000 : 0o20000) | (d.fileMode ?? 0o666)),
      String(d.major),
      String(d.minor),
    ]);
    steps.push(['chmod', d.path, String(d.fileMode ?? 0o666)]);
    steps.push(['chown', d.path, String(d.uid ?? 0), String(d.gid ?? 0)]);
  }
  steps.push(...mkdirSteps(spec.process.cwd));
  for (const p of spec.linux.maskedPaths ?? []) steps.push(['mask', p]);
  for (const p of spec.linux.readonlyPaths ?? []) steps.push(['readonly', p]);
  if (spec.process.terminal) steps.push(['pty']);
  if (spec.root.readonly) steps.push(['mount', '', '/', '', String(MS.REMOUNT | MS.BIND | MS.RDONLY), '']);
  if (ns & NS_FLAGS.network! || netns) steps.push(['loopback-up']);
  if (ns & NS_FLAGS.uts!) steps.push(['hostname', spec.hostname]);
  const seccomp = opts.seccomp ?? (spec.linux.seccomp ? compileSeccomp(spec.linux.seccomp) : undefined);
  steps.push(...processSteps(spec.process, host, { ...opts, seccomp }));
  return steps;
}

/**
 * The container process's own setup, the same for the container and for an
 * exec in it: limits, capabilities, seccomp, credentials, cwd, env, exec.
 */
export function processSteps(
  proc: OciSpec['process'],
  host: Pick<HostFacts, 'capLast'>,
  opts: Pick<PlanOptions, 'seccomp' | 'init'> = {},
): Step[] {
  const steps: Step[] = [];
  for (const r of proc.rlimits ?? [])
    steps.push(['rlimit', String(RLIMITS[r.type] ?? -1), String(r.soft), String(r.hard)]);
  const caps = proc.capabilities;
  if (caps) {
    // drop from the bounding set while we still may (CAP_SETPCAP), then set the others after the uid change
    const keep = new Set(caps.bounding.map((c) => CAPS[c]));
    const drop = Array.from({ length: host.capLast + 1 }, (_, i) => i).filter((i) => !keep.has(i));
    if (drop.length) steps.push(['drop-bounding', ...drop.map(String)]);
  }
  // seccomp needs CAP_SYS_ADMIN or no_new_privs: without no_new_privs it goes in while berth is still root
  // (the profile must allow the credential syscalls that follow, as Docker's does; runc orders it the same way)
  if (opts.seccomp && !proc.noNewPrivileges) steps.push(['seccomp', opts.seccomp.toString('hex')]);
  steps.push(['groups', ...(proc.user.additionalGids ?? []).map(String)]);
  steps.push(['gid', String(proc.user.gid)]);
  steps.push(['uid', String(proc.user.uid)]);
  if (caps) steps.push(['capset', capMask(caps.effective), capMask(caps.permitted), capMask([])]);
  if (proc.noNewPrivileges) steps.push(['no-new-privs']);
  steps.push(['chdir', proc.cwd]);
  for (const e of proc.env) steps.push(['env', e]);
  if (opts.seccomp && proc.noNewPrivileges) steps.push(['seccomp', opts.seccomp.toString('hex')]);
  if (opts.init) steps.push(['init']);
  if (proc.args.length === 0) throw invalid('no_command', 'no command specified');
  steps.push(['exec', ...proc.args]);
  return steps;
}

/**
 * Join a running container's namespaces (by its PID 1) and run a process there:
 * `exec`. With pid "monitored", the namespaces are those of the process the
 * running monitor watches (a healthcheck's plan, run by the monitor).
 */
export function execPlan(
  pid: number | 'monitored',
  proc: OciSpec['process'],
  host: Pick<HostFacts, 'capLast'>,
  opts: Pick<PlanOptions, 'seccomp' | 'cgroupProcs'> & { detached?: boolean } = {},
): Step[] {
  const steps: Step[] = opts.detached || pid === 'monitored' ? [] : [['die-with-parent']];
  // cgroup files are host paths: joined before the mount namespace changes what paths mean
  if (opts.cgroupProcs?.length) steps.push(['join-cgroup', ...opts.cgroupProcs]);
  for (const ns of ['ipc', 'uts', 'net', 'pid', 'cgroup', 'mnt'])
    steps.push(pid === 'monitored' ? ['setns-target', ns] : ['setns', `/proc/${pid}/ns/${ns}`]);
  // a new PID namespace applies to children: fork; the parent stays as this exec's monitor
  steps.push(proc.terminal ? ['fork', 'tty'] : ['fork']);
  if (proc.terminal) steps.push(['pty', 'noconsole']);
  steps.push(...processSteps(proc, host, { seccomp: opts.seccomp }));
  return steps;
}

/**
 * The cgroup filesystem at `dest` (as runc does): cgroup2 there, or on v1 a
 * tmpfs with each hierarchy mounted (read-only unless privileged) in its own dir.
 */
export function cgroupFsSteps(dest: string, flags: number, fsKind: HostFacts['cgroupFs']): Step[] {
  if (!fsKind) return [];
  const steps: Step[] = [...mkdirSteps(dest)];
  if (fsKind === 'v2') {
    steps.push(['mount', 'cgroup2', dest, 'cgroup2', String(flags), '']);
    return steps;
  }
  steps.push([
    'mount',
    'tmpfs',
    dest,
    'tmpfs',
    String((flags & ~MS.RDONLY) | MS.NOSUID | MS.NODEV | MS.NOEXEC),
    'mode=755',
  ]);
  for (const h of fsKind) {
    steps.push(['mkdir', `${dest}/${h.name}`, '493']);
    steps.push(['mount', 'cgroup', `${dest}/${h.name}`, 'cgroup', String(flags), h.options]);
  }
  return steps; // the tmpfs itself stays writable, as runc leaves it
}

/** mkdir of each component of an absolute path (as `mkdir -p`), resolved inside the container. */
export function mkdirSteps(path: string): Step[] {
  const out: Step[] = [];
  let cur = '';
  for (const part of path.split('/').filter(Boolean)) {
    cur += `/${part}`;
    out.push(['mkdir', cur, '493']);
  }
  return out;
}

function parentOf(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** Netstring encoding of a plan: for each step, "op", "argc", then the arguments. */
export function encodePlan(steps: Step[]): Buffer {
  const parts: Buffer[] = [];
  const ns = (s: string) => {
    const b = Buffer.from(s);
    parts.push(Buffer.from(`${b.length}:`), b, Buffer.from(','));
  };
  for (const [op, ...args] of steps) {
    ns(op);
    ns(String(args.length));
    for (const a of args) {
      if (a.includes('\0')) throw invalid('nul_in_argument', `${op}: argument contains a NUL byte`);
      ns(a);
    }
  }
  return Buffer.concat(parts);
}
