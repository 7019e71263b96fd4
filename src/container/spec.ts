import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import { copyUp, mountsOf, tmpfsMounts } from './mounts.js';
import { optionMount } from '../volume/store.js';
import { specNetwork } from './network.js';
import { buildSpec, type OciResources, type OciSpec } from '../runtime/spec.js';
import type { HostFacts } from '../runtime/plan.js';
import type { HealthConfig } from '../image/config.js';
import { containerCgroupHost, CGROUP_PARENT, deviceRules, hostDevices, limitsOf } from './cgroup.js';
import { CPU_PERIOD_US, cfsQuota } from '../runtime/cgroups/limits.js';
import { resolveUser } from '../runtime/user.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import { capabilitySet, noNewPrivileges, ownCapabilities, seccompOption } from '../runtime/security.js';
import { cachedSeccomp, type OciSeccomp } from '../runtime/seccomp/profile.js';
import { compileSeccomp } from '../runtime/seccomp/bpf.js';
import { DEFAULT_PATH } from '../image/from-host.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord, HostConfig } from './types.js';

/**
 * A container's OCI runtime spec, in one place: everything derived from its
 * config and host config (user, env, binds, capabilities, seccomp, rlimits,
 * cgroup resources, devices) is worked out here and handed to the pure
 * builder in runtime/spec.ts once. run.ts (start), exec.ts (exec and the fast
 * exec plan) and the healthcheck take their pieces from here.
 */
/** The OCI spec of a created container, resolved against its mounted rootfs. */
/** The spec and the compiled form of its seccomp filter (for the native helper). */
export function containerSpecAndFilter(
  containers: ContainerStore,
  c: ContainerRecord,
  rootfs: string,
  terminal: boolean,
): { spec: OciSpec; bpf?: Buffer } {
  const hc = containers.hostConfig(c.ID);
  const user = resolveUser(rootfs, c.Config.User, hc.GroupAdd ?? []);
  const env = [...(c.Config.Env ?? [])];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (!has('PATH')) env.unshift(DEFAULT_PATH);
  if (!has('HOSTNAME')) env.unshift(`HOSTNAME=${c.Config.Hostname}`);
  if (!has('HOME')) env.push(`HOME=${user.home}`);
  if (terminal && !has('TERM')) env.push('TERM=xterm');
  const mounts = mountsOf(c, hc).map((m) => ({
    m,
    // a volume with local driver options is mounted as they say (and gets no copy-up: its content is elsewhere)
    opts: m.Type === 'volume' ? containers.volumes.get(m.Name)?.Options : null,
  }));
  for (const { m, opts } of mounts) {
    // a bind's missing source is made, as Docker's -v does; an empty volume gets the image's content first
    if (m.Type === 'bind' && !fs.existsSync(m.Source)) fs.mkdirSync(m.Source, { recursive: true, mode: 0o755 });
    if (!opts) copyUp(rootfs, m);
  }
  const binds = mounts.map(({ m, opts }) => {
    if (!opts) return { source: m.Source, destination: m.Destination, readonly: !m.RW };
    const how = optionMount(opts);
    return how.bind
      ? { source: how.source, destination: m.Destination, readonly: !m.RW }
      : { source: how.source, destination: m.Destination, readonly: !m.RW, type: how.type, data: how.data };
  });
  const tmpfs = tmpfsMounts(hc);
  const own = ownCapabilities();
  // the working directory may pass through symlinks of the image: resolve it inside the rootfs, as Docker does
  const cwd = resolveInRoot(rootfs, c.Config.WorkingDir || '/').slice(rootfs.length) || '/';
  // a missing working directory is made (0755, root's), as Docker's daemon does at start
  if (cwd !== '/' && !fs.existsSync(rootfs + cwd)) fs.mkdirSync(rootfs + cwd, { recursive: true, mode: 0o755 });
  const caps = capabilitySet(hc.CapAdd ?? [], hc.CapDrop ?? [], !!hc.Privileged).filter((c) => own.has(c));
  const filter = containerSeccomp(containers, hc, caps);
  const spec = buildSpec({
    rootfs,
    args: [c.Path, ...c.Args],
    env,
    cwd,
    uid: user.uid,
    gid: user.gid,
    additionalGids: user.additionalGids,
    hostname: c.Config.Hostname ?? c.ID.slice(0, 12),
    terminal,
    readonlyRootfs: hc.ReadonlyRootfs,
    network: specNetwork(containers, c, hc.NetworkMode),
    etcFiles: { hosts: c.HostsPath, hostname: c.HostnamePath, resolvConf: c.ResolvConfPath },
    binds,
    tmpfs,
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

/**
 * --ulimit as OCI rlimits; a hard limit above berth's own fails here when berth cannot raise it (no CAP_SYS_RESOURCE).
 */
export function rlimitsOf(hc: HostConfig): Array<{ type: string; hard: number; soft: number }> {
  const out = (hc.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard }));
  if (!out.length || ownCapabilities().has('CAP_SYS_RESOURCE')) return out;
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const NAMES: Record<string, string> = {
    RLIMIT_NOFILE: 'Max open files',
    RLIMIT_NPROC: 'Max processes',
    RLIMIT_CORE: 'Max core file size',
    RLIMIT_STACK: 'Max stack size',
    RLIMIT_MEMLOCK: 'Max locked memory',
    RLIMIT_CPU: 'Max cpu time',
    RLIMIT_FSIZE: 'Max file size',
    RLIMIT_DATA: 'Max data size',
    RLIMIT_AS: 'Max address space',
    RLIMIT_LOCKS: 'Max file locks',
    RLIMIT_SIGPENDING: 'Max pending signals',
    RLIMIT_MSGQUEUE: 'Max msgqueue size',
    RLIMIT_NICE: 'Max nice priority',
    RLIMIT_RTPRIO: 'Max realtime priority',
    RLIMIT_RTTIME: 'Max realtime timeout',
    RLIMIT_RSS: 'Max resident set',
  };
  for (const r of out) {
    const line = limits.split('\n').find((l) => l.startsWith(NAMES[r.type] ?? '\0'));
    const hard = line ? line.slice(26).trim().split(/\s+/)[1] : undefined;
    if (!hard || hard === 'unlimited') continue;
    const want = r.hard < 0 ? Infinity : r.hard;
    if (want > Number(hard))
      throw invalid(
        'ulimit_too_high',
        `--ulimit ${r.type.slice(7).toLowerCase()}=${r.soft}:${r.hard}: the hard limit is above berth's own (${hard}) and berth lacks CAP_SYS_RESOURCE to raise it`,
      );
  }
  return out;
}

/**
 * The container's limits in OCI's linux.resources (runc applies them; the helper's containers join the cgroup berth
 * makes from the same HostConfig).
 */
export function ociResources(hc: HostConfig): OciResources {
  const l = limitsOf(hc);
  return {
    devices: deviceRules(hc).map((r) => ({
      allow: r.allow,
      ...(r.type !== 'a' ? { type: r.type } : {}),
      ...(r.major >= 0 ? { major: r.major } : {}),
      ...(r.minor >= 0 ? { minor: r.minor } : {}),
      access: r.access,
    })),
    ...(l.memory || l.memoryReservation || l.memorySwap || l.oomKillDisable
      ? {
          memory: {
            ...(l.memory ? { limit: l.memory } : {}),
            ...(l.memoryReservation ? { reservation: l.memoryReservation } : {}),
            ...(l.memorySwap ? { swap: l.memorySwap } : {}),
            ...(l.oomKillDisable ? { disableOOMKiller: true } : {}),
          },
        }
      : {}),
    ...(l.nanoCpus || l.cpuShares || l.cpusetCpus || l.cpusetMems
      ? {
          cpu: {
            ...(l.cpuShares ? { shares: l.cpuShares } : {}),
            ...(l.nanoCpus ? { quota: cfsQuota(l.nanoCpus), period: CPU_PERIOD_US } : {}),
            ...(l.cpusetCpus ? { cpus: l.cpusetCpus } : {}),
            ...(l.cpusetMems ? { mems: l.cpusetMems } : {}),
          },
        }
      : {}),
    ...(l.pidsLimit && l.pidsLimit > 0 ? { pids: { limit: l.pidsLimit } } : {}),
  };
}

/**
 * Docker's default seccomp profile unless unconfined; --privileged is unconfined
 * unless a profile was given. With its compiled filter, cached in the store.
 */
export function containerSeccomp(
  containers: ContainerStore,
  hc: HostConfig,
  caps: readonly string[],
): { seccomp: OciSeccomp; bpf: Buffer } | undefined {
  const opt = seccompOption(hc.SecurityOpt);
  if (hc.Privileged && (opt === undefined || opt === 'builtin')) return undefined;
  return cachedSeccomp(`${containers.images.paths.berth}/cache`, opt, caps, compileSeccomp);
}

/**
 * A container's healthcheck as the monitor runs it (Docker's defaults: every 30 s, 30 s timeout, 3 retries), or none.
 */
export function healthSettings(
  h: HealthConfig | null | undefined,
): { cmd: string[]; intervalMs: number; timeoutMs: number; startPeriodMs: number; retries: number } | undefined {
  const test = h?.Test ?? [];
  if (!test.length || test[0] === 'NONE') return undefined;
  let cmd: string[];
  if (test[0] === 'CMD') cmd = test.slice(1);
  else if (test[0] === 'CMD-SHELL') cmd = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else
    throw invalid(
      'invalid_healthcheck',
      `healthcheck: unknown test type ${JSON.stringify(test[0])} (NONE, CMD or CMD-SHELL)`,
    );
  if (!cmd.length) return undefined;
  const ms = (ns: number | undefined, def: number) => (ns ? Math.max(1, Math.round(ns / 1e6)) : def);
  return {
    cmd,
    intervalMs: ms(h?.Interval, 30000),
    timeoutMs: ms(h?.Timeout, 30000),
    startPeriodMs: ms(h?.StartPeriod, 0),
    retries: h?.Retries || 3,
  };
}

/**
 * How this host's cgroups are mounted, for the container's /sys/fs/cgroup (the hierarchies it joins, as runc mounts
 * them).
 */
function cgroupFsLayout(): HostFacts['cgroupFs'] {
  const host = containerCgroupHost();
  if (host.version === 2) return 'v2';
  return host.hierarchies.map((h) => ({
    name: h.mountPoint.slice(h.mountPoint.lastIndexOf('/') + 1),
    options: h.controllers.join(','),
  }));
}

/** What the plan needs to know about this host. */
export function hostFacts(): HostFacts {
  return {
    sourceIsDir: (src) => {
      try {
        return fs.statSync(src).isDirectory();
      } catch {
        return true;
      }
    },
    kcore: fs.existsSync('/proc/kcore'),
    capLast: Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')),
    cgroupFs: cgroupFsLayout(),
  };
}
