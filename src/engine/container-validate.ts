/**
 * The checks dockerd makes of a container's HostConfig and Config before it
 * creates or updates one. Pure: each takes the API value and returns it
 * normalised, or throws an InvalidArgument BerthError naming what was wrong.
 */
import { availableParallelism } from 'node:os';
import { invalid } from '../core/errors.js';
import type { HostConfig } from '../container/types.js';
import type { HealthConfig } from '../image/config.js';
import { checkLimits, detectCgroups, swapAccounting, type Limits } from '../runtime/cgroups/cgroups.js';
import { limitsOf } from '../container/cgroup.js';
import { DEFAULT_CAPABILITIES } from '../runtime/security.js';
import { seccompFor } from '../runtime/seccomp/profile.js';

type RestartPolicy = NonNullable<HostConfig['RestartPolicy']>;
type Ulimit = NonNullable<HostConfig['Ulimits']>[number];
type Device = NonNullable<HostConfig['Devices']>[number];

export const ULIMIT_NAMES = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
  'as',
];

/** A restart policy; `spec` is how the caller wrote it (for the message). AutoRemove excludes any policy but no. */
export function checkRestart(p: Partial<RestartPolicy> | undefined, autoRemove: boolean, spec?: string): RestartPolicy {
  const name = p?.Name || 'no';
  const count = p?.MaximumRetryCount ?? 0;
  const shown = JSON.stringify(spec ?? name);
  if (name !== 'no' && name !== 'on-failure' && name !== 'always' && name !== 'unless-stopped')
    throw invalid(
      'invalid_restart',
      `invalid restart policy ${shown}: no, on-failure[:max-retries], always or unless-stopped`,
    );
  if (!Number.isInteger(count) || count < 0 || (count > 0 && name !== 'on-failure'))
    throw invalid('invalid_restart', `invalid restart policy ${shown}: only on-failure takes a maximum retry count`);
  if (name === 'no') return { Name: 'no', MaximumRetryCount: 0 };
  if (autoRemove) throw invalid('invalid_restart', 'conflicting options: --restart and --rm');
  return { Name: name, MaximumRetryCount: count };
}

export function checkUlimit(u: Ulimit): Ulimit {
  if (!ULIMIT_NAMES.includes(u.Name) || !Number.isInteger(u.Soft) || !Number.isInteger(u.Hard))
    throw invalid(
      'invalid_ulimit',
      `invalid ulimit ${JSON.stringify(`${u.Name}=${u.Soft}:${u.Hard}`)}: name=soft[:hard] with name one of ${ULIMIT_NAMES.join(', ')}`,
    );
  if (u.Soft > u.Hard && u.Hard !== -1)
    throw invalid(
      'invalid_ulimit',
      `ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`,
    );
  return { Name: u.Name, Soft: u.Soft, Hard: u.Hard };
}

export function checkDevice(d: Partial<Device>, spec?: string): Device {
  const host = d.PathOnHost ?? '';
  const inside = d.PathInContainer || host;
  const perms = d.CgroupPermissions || 'rwm';
  if (!host.startsWith('/') || !inside.startsWith('/') || !/^[rwm]+$/.test(perms))
    throw invalid('invalid_device', `invalid device specification: ${spec ?? `${host}:${inside}:${perms}`}`);
  return { PathOnHost: host, PathInContainer: inside, CgroupPermissions: perms };
}

/** Docker's ValidateHealthcheck: durations 0 (the default) or at least 1ms, retries not negative. */
export function checkHealthcheck(h: HealthConfig): HealthConfig {
  const flags = { Interval: 'health-interval', Timeout: 'health-timeout', StartPeriod: 'health-start-period' } as const;
  for (const [k, flag] of Object.entries(flags) as Array<[keyof typeof flags, string]>) {
    const ns = h[k];
    if (ns !== undefined && ns !== 0 && ns < 1e6)
      throw invalid('invalid_healthcheck', `--${flag} cannot be less than 1ms`);
  }
  if (h.Retries !== undefined && (!Number.isInteger(h.Retries) || h.Retries < 0))
    throw invalid('invalid_healthcheck', '--health-retries cannot be negative');
  return h;
}

/** json-file is the only log driver; its options are max-size and max-file. */
export function checkLogConfig(lc: Partial<NonNullable<HostConfig['LogConfig']>> | undefined) {
  const driver = lc?.Type || 'json-file';
  if (driver !== 'json-file')
    throw invalid('unsupported', `log driver ${JSON.stringify(driver)}: only json-file is supported`);
  const cfg = lc?.Config ?? {};
  for (const k of Object.keys(cfg))
    if (k !== 'max-size' && k !== 'max-file')
      throw invalid(
        'invalid_log_opt',
        `unknown log opt ${JSON.stringify(k)} for log driver json-file (max-size, max-file)`,
      );
  return { Type: 'json-file' as const, Config: { ...cfg } };
}

/**
 * SecurityOpt as the docker CLI sends it: no-new-privileges[:true|false],
 * seccomp=unconfined|builtin|<profile JSON> (the profile is checked now, so a
 * bad one fails at create).
 */
export function checkSecurityOpts(opts: readonly string[] | null | undefined): string[] | null {
  const out: string[] = [];
  for (const o of opts ?? []) {
    if (/^no-new-privileges([:=](true|false))?$/.test(o)) {
      if (!/false$/.test(o)) out.push('no-new-privileges');
      continue;
    }
    const m = /^seccomp[:=](.*)$/s.exec(o);
    if (!m)
      throw invalid(
        'unsupported',
        `--security-opt ${JSON.stringify(o)} is not supported (no-new-privileges, seccomp=unconfined|builtin|FILE)`,
      );
    const v = m[1]!;
    if (v !== 'unconfined' && v !== 'builtin') {
      seccompFor(v.trimStart().startsWith('{') ? v : '{', DEFAULT_CAPABILITIES);
      out.push(`seccomp=${JSON.stringify(JSON.parse(v))}`);
    } else out.push(`seccomp=${v}`);
  }
  return out.length ? out : null;
}

/** The resource fields set (0 and null are unset), as cgroup Limits. */
export function givenLimits(hc: Partial<HostConfig>): Limits {
  const l = limitsOf(hc as HostConfig);
  if (hc.OomKillDisable === false) delete l.oomKillDisable;
  for (const k of Object.keys(l) as Array<keyof Limits>) if (l[k] === undefined) delete l[k];
  return l;
}

/** Limits checked as dockerd checks them on this host; what it cannot apply is dropped with a warning. */
export function checkResources(l: Limits, update = false): { resources: Partial<HostConfig>; warnings: string[] } {
  if (!Object.keys(l).length) return { resources: {}, warnings: [] };
  const { limits, warnings } = checkLimits(
    l,
    { cpus: availableParallelism(), swapAccounting: swapAccounting(detectCgroups()) },
    update,
  );
  return {
    warnings,
    resources: {
      Memory: limits.memory ?? 0,
      MemorySwap: limits.memorySwap ?? 0,
      MemoryReservation: limits.memoryReservation ?? 0,
      NanoCpus: limits.nanoCpus ?? 0,
      CpuShares: limits.cpuShares ?? 0,
      CpusetCpus: limits.cpusetCpus ?? '',
      CpusetMems: limits.cpusetMems ?? '',
      PidsLimit: limits.pidsLimit ?? null,
      OomKillDisable: limits.oomKillDisable ?? null,
    },
  };
}
