import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { invalid } from '../core/errors.js';
import { buildSpec, type OciSpec } from '../runtime/spec.js';
import { execPlan, planFromSpec, preludePlan, type HostFacts, type MonitorPlan } from '../runtime/plan.js';
import { execProcess, refreshFastExecPlan } from './exec.js';
import type { HealthConfig } from '../image/config.js';
import { containerCgroupHost, CGROUP_PARENT, deviceRules, endCgroup, hostDevices, limitsOf, startCgroup } from './cgroup.js';
import { CPU_PERIOD_US, cfsQuota } from '../runtime/cgroup-limits.js';
import type { OciResources } from '../runtime/spec.js';
import { berthCommand, runHelper, startHelper, type HelperHandle, type HelperRun, type Stdio } from '../runtime/helper.js';
import { runRunc } from '../runtime/runc.js';
import { resolveUser } from '../runtime/user.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import { capabilitySet, noNewPrivileges, ownCapabilities, seccompOption } from '../runtime/security.js';
import { cachedSeccomp, type OciSeccomp } from '../runtime/seccomp.js';
import { compileSeccomp } from '../runtime/seccomp-bpf.js';
import { DEFAULT_PATH } from '../image/from-host.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { mark } from '../core/trace.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord, HostConfig } from './types.js';

export interface StartOptions {
  stdio: [Stdio, Stdio, Stdio];
  /** Made by prepareForeground while the container was being created. */
  early?: EarlyStart;
  /** Called once the container process runs: signals to its monitor (which forwards them), and its pid (0 if it already ended). */
  onStart?: (kill: (s: NodeJS.Signals) => void, pid: number) => void;
  /** Mount the union volatile (no sync at unmount) although the container stays: a build step, whose layer is made right after. */
  volatile?: boolean;
  /** Called with the monitor process once it is spawned (its stdout/stderr are readable with 'pipe' stdio). */
  onSpawn?: (monitor: ChildProcess) => void;
}

/** Parse `-v HOST:CTR[:ro|rw]`. Host paths must be absolute (named volumes come later). */
export function parseBind(v: string): { source: string; destination: string; readonly: boolean } {
  const parts = v.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalid('invalid_volume', `invalid volume specification: ${JSON.stringify(v)}`);
  const [source, destination, mode = 'rw'] = parts as [string, string, string?];
  if (!source.startsWith('/')) throw invalid('invalid_volume', `invalid volume specification: ${JSON.stringify(v)}: named volumes are not supported yet; use an absolute host path`);
  if (!destination.startsWith('/')) throw invalid('invalid_volume', `invalid volume specification: ${JSON.stringify(v)}: the container path must be absolute`);
  if (!/^(ro|rw)(,[a-z]+)*$/.test(mode)) throw invalid('invalid_volume', `invalid mode ${JSON.stringify(mode)} in ${JSON.stringify(v)}`);
  return { source, destination, readonly: mode.split(',').includes('ro') };
}

/** The OCI spec of a created container, resolved against its mounted rootfs. */
/** The spec and the compiled form of its seccomp filter (for the native helper). */
export function containerSpecAndFilter(containers: ContainerStore, c: ContainerRecord, rootfs: string, terminal: boolean): { spec: OciSpec; bpf?: Buffer } {
  const hc = containers.hostConfig(c.ID);
  const user = resolveUser(rootfs, c.Config.User, hc.GroupAdd ?? []);
  const env = [...(c.Config.Env ?? [])];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (!has('PATH')) env.unshift(DEFAULT_PATH);
  if (!has('HOSTNAME')) env.unshift(`HOSTNAME=${c.Config.Hostname}`);
  if (!has('HOME')) env.push(`HOME=${user.home}`);
  if (terminal && !has('TERM')) env.push('TERM=xterm');
  const binds = (hc.Binds ?? []).map(parseBind);
  for (const b of binds) if (!fs.existsSync(b.source)) fs.mkdirSync(b.source, { recursive: true, mode: 0o755 });
  const tmpfs = Object.entries(hc.Tmpfs ?? {}).map(([destination, o]) => ({ destination, options: ['nosuid', 'nodev', 'noexec', ...(o ? o.split(',') : [])] }));
  const own = ownCapabilities();
  // the working directory may pass through symlinks of the image: resolve it inside the rootfs, as Docker does
  const cwd = resolveInRoot(rootfs, c.Config.WorkingDir || '/').slice(rootfs.length) || '/';
  // a missing working directory is made (0755, root's), as Docker's daemon does at start
  if (cwd !== '/' && !fs.existsSync(rootfs + cwd)) fs.mkdirSync(rootfs + cwd, { recursive: true, mode: 0o755 });
  const caps = capabilitySet(hc.CapAdd ?? [], hc.CapDrop ?? [], !!hc.Privileged).filter((c) => own.has(c));
  const filter = containerSeccomp(containers, hc, caps);
  const spec = buildSpec({
    rootfs, args: [c.Path, ...c.Args], env, cwd, uid: user.uid, gid: user.gid,
    additionalGids: user.additionalGids, hostname: c.Config.Hostname ?? c.ID.slice(0, 12), terminal,
    readonlyRootfs: hc.ReadonlyRootfs, network: hc.NetworkMode,
    etcFiles: { hosts: c.HostsPath, hostname: c.HostnamePath, resolvConf: c.ResolvConfPath },
    binds, tmpfs,
    // only what berth itself holds (here CAP_SYS_RESOURCE is missing): asking for more fails capset
    capabilities: caps,
    privileged: !!hc.Privileged,
    noNewPrivileges: noNewPrivileges(hc.SecurityOpt),
    seccomp: filter?.seccomp,
    rlimits: rlimitsOf(hc),
    cgroup: { path: `/${CGROUP_PARENT}/${c.ID}`, resources: ociResources(hc) },
    devices: hostDevices(hc).map(({ access: _a, ...d }) => d),
  });
  return { spec, bpf: filter?.bpf };
}

/** --ulimit as OCI rlimits; a hard limit above berth's own fails here when berth cannot raise it (no CAP_SYS_RESOURCE). */
export function rlimitsOf(hc: HostConfig): Array<{ type: string; hard: number; soft: number }> {
  const out = (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard }));
  if (!out.length || ownCapabilities().has('CAP_SYS_RESOURCE')) return out;
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const NAMES: Record<string, string> = { RLIMIT_NOFILE: 'Max open files', RLIMIT_NPROC: 'Max processes', RLIMIT_CORE: 'Max core file size', RLIMIT_STACK: 'Max stack size', RLIMIT_MEMLOCK: 'Max locked memory', RLIMIT_CPU: 'Max cpu time', RLIMIT_FSIZE: 'Max file size', RLIMIT_DATA: 'Max data size', RLIMIT_AS: 'Max address space', RLIMIT_LOCKS: 'Max file locks', RLIMIT_SIGPENDING: 'Max pending signals', RLIMIT_MSGQUEUE: 'Max msgqueue size', RLIMIT_NICE: 'Max nice priority', RLIMIT_RTPRIO: 'Max realtime priority', RLIMIT_RTTIME: 'Max realtime timeout', RLIMIT_RSS: 'Max resident set' };
  for (const r of out) {
    const line = limits.split('\n').find((l) => l.startsWith(NAMES[r.type] ?? '\0'));
    const hard = line ? line.slice(26).trim().split(/\s+/)[1] : undefined;
    if (!hard || hard === 'unlimited') continue;
    const want = r.hard < 0 ? Infinity : r.hard;
    if (want > Number(hard)) throw invalid('ulimit_too_high', `--ulimit ${r.type.slice(7).toLowerCase()}=${r.soft}:${r.hard}: the hard limit is above berth's own (${hard}) and berth lacks CAP_SYS_RESOURCE to raise it`);
  }
  return out;
}

/** The container's limits in OCI's linux.resources (runc applies them; the helper's containers join the cgroup berth makes from the same HostConfig). */
export function ociResources(hc: HostConfig): OciResources {
  const l = limitsOf(hc);
  return {
    devices: deviceRules(hc)
      .map((r) => ({ allow: r.allow, ...(r.type !== 'a' ? { type: r.type } : {}), ...(r.major >= 0 ? { major: r.major } : {}), ...(r.minor >= 0 ? { minor: r.minor } : {}), access: r.access })),
    ...(l.memory || l.memoryReservation || l.memorySwap || l.oomKillDisable ? { memory: { ...(l.memory ? { limit: l.memory } : {}), ...(l.memoryReservation ? { reservation: l.memoryReservation } : {}), ...(l.memorySwap ? { swap: l.memorySwap } : {}), ...(l.oomKillDisable ? { disableOOMKiller: true } : {}) } } : {}),
    ...(l.nanoCpus || l.cpuShares || l.cpusetCpus || l.cpusetMems ? { cpu: { ...(l.cpuShares ? { shares: l.cpuShares } : {}), ...(l.nanoCpus ? { quota: cfsQuota(l.nanoCpus), period: CPU_PERIOD_US } : {}), ...(l.cpusetCpus ? { cpus: l.cpusetCpus } : {}), ...(l.cpusetMems ? { mems: l.cpusetMems } : {}) } } : {}),
    ...(l.pidsLimit && l.pidsLimit > 0 ? { pids: { limit: l.pidsLimit } } : {}),
  };
}

/**
 * Docker's default seccomp profile unless unconfined; --privileged is unconfined
 * unless a profile was given. With its compiled filter, cached in the store.
 */
export function containerSeccomp(containers: ContainerStore, hc: HostConfig, caps: readonly string[]): { seccomp: OciSeccomp; bpf: Buffer } | undefined {
  const opt = seccompOption(hc.SecurityOpt);
  if (hc.Privileged && (opt === undefined || opt === 'builtin')) return undefined;
  return cachedSeccomp(`${containers.images.paths.berth}/cache`, opt, caps, compileSeccomp);
}

/** A container's healthcheck as the monitor runs it (Docker's defaults: every 30 s, 30 s timeout, 3 retries), or none. */
export function healthSettings(h: HealthConfig | null | undefined): { cmd: string[]; intervalMs: number; timeoutMs: number; startPeriodMs: number; retries: number } | undefined {
  const test = h?.Test ?? [];
  if (!test.length || test[0] === 'NONE') return undefined;
  let cmd: string[];
  if (test[0] === 'CMD') cmd = test.slice(1);
  else if (test[0] === 'CMD-SHELL') cmd = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else throw invalid('invalid_healthcheck', `healthcheck: unknown test type ${JSON.stringify(test[0])} (NONE, CMD or CMD-SHELL)`);
  if (!cmd.length) return undefined;
  const ms = (ns: number | undefined, def: number) => (ns ? Math.max(1, Math.round(ns / 1e6)) : def);
  return { cmd, intervalMs: ms(h?.Interval, 30000), timeoutMs: ms(h?.Timeout, 30000), startPeriodMs: ms(h?.StartPeriod, 0), retries: h?.Retries || 3 };
}

/** How this host's cgroups are mounted, for the container's /sys/fs/cgroup (the hierarchies it joins, as runc mounts them). */
function cgroupFsLayout(): HostFacts['cgroupFs'] {
  const host = containerCgroupHost();
  if (host.version === 2) return 'v2';
  return host.hierarchies.map((h) => ({ name: h.mountPoint.slice(h.mountPoint.lastIndexOf('/') + 1), options: h.controllers.join(',') }));
}

/** What the plan needs to know about this host. */
export function hostFacts(): HostFacts {
  return {
    sourceIsDir: (src) => { try { return fs.statSync(src).isDirectory(); } catch { return true; } },
    kcore: fs.existsSync('/proc/kcore'),
    capLast: Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')),
    cgroupFs: cgroupFsLayout(),
  };
}

/** Docker's --log-opt max-size (go-units RAM size) and max-file. */
function logLimits(cfg: Record<string, string> = {}): { maxSize: number; maxFiles: number } {
  let maxSize = 0;
  if (cfg['max-size'] && cfg['max-size'] !== '-1') {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(cfg['max-size']);
    if (!m) throw invalid('invalid_log_opt', `invalid --log-opt max-size=${JSON.stringify(cfg['max-size'])}`);
    maxSize = Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
  }
  const maxFiles = cfg['max-file'] ? Number(cfg['max-file']) : 1;
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw invalid('invalid_log_opt', `invalid --log-opt max-file=${JSON.stringify(cfg['max-file'])}: a positive integer`);
  if (maxFiles > 1 && !maxSize) throw invalid('invalid_log_opt', '--log-opt max-file needs max-size');
  return { maxSize, maxFiles };
}

/** The monitor's healthcheck (an exec into the container on a timer), if the container has one. */
function healthPlan(containers: ContainerStore, c: ContainerRecord, facts: HostFacts, bpf: Buffer | undefined, cgroupProcs: readonly string[]): MonitorPlan['health'] {
  const hcheck = healthSettings(c.Config.Healthcheck);
  if (!hcheck) return undefined;
  const proc = execProcess(containers, c, { cmd: hcheck.cmd, tty: false, env: [], privileged: false, detach: false });
  return { ...hcheck, statePath: containers.healthPath(c.ID), plan: execPlan('monitored', proc, facts, { seccomp: bpf, cgroupProcs }) };
}

/**
 * Start a created container detached: its monitor (the native helper, in a
 * session of its own) outlives this process, holds the container's run lock,
 * logs its output in Docker's json-file format, applies the restart policy and,
 * when the container is done for good, unmounts it and runs `berth container
 * cleanup`, which records the end in config.v2.json (and removes a --rm container).
 * Resolves once the command has been exec'd.
 */
export async function startDetached(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const p = containers.images.paths;
  const hc = containers.hostConfig(c.ID);
  if (hc.Runtime === 'runc') throw invalid('unsupported', 'detached containers run with the native helper; --runtime runc runs in the foreground');
  const lock = await containers.lockForStart(c);
  let rootfs: string | undefined;
  try {
    fs.rmSync(containers.stopMarker(c.ID), { force: true });
    fs.rmSync(containers.statePath(c.ID), { force: true });
    rootfs = mountRootfs(p, c.MountID, { volatile: hc.AutoRemove });
    const { spec, bpf } = containerSpecAndFilter(containers, c, rootfs, !!c.Config.Tty);
    const logPath = containers.logPath(c.ID);
    const monitor: MonitorPlan = {
      log: { path: logPath, ...logLimits(hc.LogConfig?.Config) },
      statePath: containers.statePath(c.ID),
      restart: { name: hc.RestartPolicy?.Name ?? 'no', max: hc.RestartPolicy?.MaximumRetryCount ?? 0 },
      stopMarker: containers.stopMarker(c.ID),
      umount: rootfs,
      exitCommand: [berthCommand(), '--root', p.root, 'container', 'cleanup', c.ID],
      attach: { dir: containers.dir(c.ID), stdinOpen: !!c.Config.OpenStdin },
    };
    const cg = startCgroup(c.ID, hc);
    monitor.oomCounter = cg.oomCounter;
    const facts = hostFacts();
    monitor.health = healthPlan(containers, c, facts, bpf, cg.cgroup.procsFiles);
    const steps = planFromSpec(spec, facts, { monitor, init: !!hc.Init, seccomp: bpf, cgroupProcs: cg.cgroup.procsFiles });
    const run = runHelper(steps, ['ignore', 'ignore', 'ignore'], { detached: true, extraFds: [lock.descriptor] });
    const pid = await Promise.race([run.pid, run.exited.then(() => 0)]);
    await run.started;
    c.State = { ...c.State, Status: 'running', Running: true, Restarting: false, Paused: false, OOMKilled: false, Pid: pid, StartedAt: new Date().toISOString(), ExitCode: 0, Error: '', FinishedAt: c.State.FinishedAt };
    c.LogPath = logPath;
    containers.save(c);
    refreshFastExecPlan(containers, c);
    run.child.unref();
    for (const s of run.child.stdio) (s as { destroy?: () => void } | null)?.destroy?.();
  } catch (err) {
    // nothing runs: record why, as Docker does for a failed start
    if (rootfs) unmountRootfs(p, c.MountID);
    await endCgroup(c.ID).catch(() => false);
    c.State = { ...c.State, Status: c.State.Status === 'created' ? 'created' : 'exited', Running: false, Pid: 0, ExitCode: (err as { exitCode?: number }).exitCode ?? 125, Error: (err as Error).message };
    containers.save(c);
    throw err;
  } finally {
    lock.release(); // the monitor keeps its copy of the locked descriptor
  }
}

/** A foreground start begun while the container is still being created: its cgroup, and the helper already joining it. */
export interface EarlyStart {
  cgroup: ReturnType<typeof startCgroup>;
  helper: HelperHandle;
  /** The plan was sent (the helper runs the container) or ended (it exits). */
  sent: boolean;
  /** Undo: end the helper's plan, wait for it, remove the cgroup. */
  abort(): Promise<void>;
}

/**
 * `run` in the foreground with the native helper: make the cgroup and start the
 * helper on its prelude (die with berth, join the cgroup) before the container
 * exists, so the helper's cgroup migration overlaps creating the layers.
 */
export function prepareForeground(id: string, hc: HostConfig, stdio: [Stdio, Stdio, Stdio]): EarlyStart | undefined {
  if (hc.Runtime === 'runc') return undefined;
  // the helper (the container's monitor) joins the cgroup too: the pids limit leaves room for it
  const cgroup = startCgroup(id, hc, { monitorInside: true });
  mark('cgroup');
  let helper: HelperHandle;
  try {
    helper = startHelper(stdio);
  } catch (err) {
    void endCgroup(id).catch(() => false);
    throw err;
  }
  helper.send(preludePlan(cgroup.cgroup.procsFiles), false);
  const early: EarlyStart = {
    cgroup, helper, sent: false,
    abort: async () => {
      if (!early.sent) { early.sent = true; helper.send([], true); }
      await helper.exited;
      await endCgroup(id).catch(() => false);
    },
  };
  return early;
}

/**
 * Start a created container in the foreground and wait for it: mount the
 * union, run the helper, record state, unmount. Returns the exit code
 * (Docker's: the process's, 128+n when killed by signal n, 125/126/127 for
 * berth's own, cannot-execute and not-found failures).
 */
export async function startForeground(containers: ContainerStore, c: ContainerRecord, opts: StartOptions): Promise<number> {
  const p = containers.images.paths;
  mark('create container');
  const durable = !containers.hostConfig(c.ID).AutoRemove;
  let lock: Awaited<ReturnType<ContainerStore['lockForStart']>>;
  let rootfs: string;
  try {
    lock = await containers.lockForStart(c);
    rootfs = mountRootfs(p, c.MountID, { volatile: containers.hostConfig(c.ID).AutoRemove || !!opts.volatile });
  } catch (err) {
    await opts.early?.abort();
    throw err;
  }
  mark('mount overlay');
  try {
    const { spec, bpf } = containerSpecAndFilter(containers, c, rootfs, !!c.Config.Tty);
    let run: HelperRun & { child: { pid?: number } };
    if (containers.hostConfig(c.ID).Runtime === 'runc') {
      // the same spec as a bundle for runc, which stays as the monitor; it removes its state and the bundle when done
      run = runRunc(c.ID, spec, opts.stdio);
      mark('spec + runc bundle');
    } else {
      const early = opts.early;
      mark('spec');
      const cg = early?.cgroup ?? startCgroup(c.ID, containers.hostConfig(c.ID));
      if (!early) mark('cgroup');
      const facts = hostFacts();
      const steps = planFromSpec(spec, facts, {
        init: !!containers.hostConfig(c.ID).Init, seccomp: bpf, cgroupProcs: cg.cgroup.procsFiles, afterPrelude: !!early,
        health: healthPlan(containers, c, facts, bpf, cg.cgroup.procsFiles),
      });
      mark('plan');
      if (early) {
        early.sent = true;
        early.helper.send(steps, true);
        run = early.helper;
      } else run = runHelper(steps, opts.stdio);
    }
    opts.onSpawn?.(run.child as ChildProcess);
    const pid = await Promise.race([run.pid, run.exited.then(() => 0)]);
    mark('helper: spawn to fork');
    opts.onStart?.(run.kill, pid);
    let code: number;
    let error = '';
    try {
      await run.started;
      mark('helper: namespaces, mounts, exec');
      // running once the command runs (State.Pid is then the command, not the helper it was cloned from)
      c.State = { ...c.State, Status: 'running', Running: true, Pid: pid || run.child.pid || 0, StartedAt: new Date().toISOString(), ExitCode: 0, Error: '' };
      containers.save(c, durable);
      code = await run.exited;
      mark('container process ran');
    } catch (err) {
      code = (err as { exitCode?: number }).exitCode ?? 125;
      error = (err as Error).message;
      await run.exited;
      c.State = { ...c.State, Status: 'exited', Running: false, Pid: 0, ExitCode: code, Error: error, FinishedAt: new Date().toISOString() };
      containers.save(c, durable);
      throw err;
    }
    const oom = await endCgroup(c.ID);
    mark('cgroup removed');
    c.State = { ...c.State, Status: 'exited', Running: false, Pid: 0, ExitCode: code, Error: error, OOMKilled: oom, FinishedAt: new Date().toISOString() };
    containers.save(c, durable);
    return code;
  } finally {
    if (opts.early && !opts.early.sent) await opts.early.abort();
    await endCgroup(c.ID).catch(() => false);
    unmountRootfs(p, c.MountID);
    lock.release();
    mark('unmount');
  }
}
