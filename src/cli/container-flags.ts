import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import type { ImageStore } from '../image/store.js';
import type { CreateOptions } from '../container/store.js';
import type { HostConfig } from '../container/types.js';
import type { HealthConfig } from '../image/config.js';
import { availableParallelism } from 'node:os';
import {
  checkLimits,
  detectCgroups,
  parseBytes,
  parseCpus,
  parseMemorySwap,
  swapAccounting,
  type Limits,
} from '../runtime/cgroups/cgroups.js';
import { parseBind } from '../container/spec.js';
import { DEFAULT_CAPABILITIES, capabilitySet } from '../runtime/security.js';
import { seccompFor } from '../runtime/seccomp/profile.js';
import { parseSignal } from '../container/lifecycle.js';

/** Flags shared by `run` and `create`, named as Docker's. */
export const createFlags = {
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  rm: { type: 'boolean' },
  detach: { type: 'boolean', short: 'd' },
  name: { type: 'string' },
  cidfile: { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  'env-file': { type: 'string', multiple: true },
  workdir: { type: 'string', short: 'w' },
  user: { type: 'string', short: 'u' },
  hostname: { type: 'string', short: 'h' },
  entrypoint: { type: 'string' },
  'read-only': { type: 'boolean' },
  volume: { type: 'string', short: 'v', multiple: true },
  tmpfs: { type: 'string', multiple: true },
  network: { type: 'string', default: 'none' },
  net: { type: 'string' },
  runtime: { type: 'string' },
  'group-add': { type: 'string', multiple: true },
  'cap-add': { type: 'string', multiple: true },
  'cap-drop': { type: 'string', multiple: true },
  privileged: { type: 'boolean' },
  'security-opt': { type: 'string', multiple: true },
  restart: { type: 'string' },
  'log-opt': { type: 'string', multiple: true },
  'log-driver': { type: 'string' },
  init: { type: 'boolean' },
  label: { type: 'string', short: 'l', multiple: true },
  'stop-signal': { type: 'string' },
  'stop-timeout': { type: 'string' },
  'health-cmd': { type: 'string' },
  'health-interval': { type: 'string' },
  'health-timeout': { type: 'string' },
  'health-start-period': { type: 'string' },
  'health-retries': { type: 'string' },
  'no-healthcheck': { type: 'boolean' },
  memory: { type: 'string', short: 'm' },
  'memory-swap': { type: 'string' },
  'memory-reservation': { type: 'string' },
  cpus: { type: 'string' },
  'cpu-shares': { type: 'string', short: 'c' },
  'cpuset-cpus': { type: 'string' },
  'cpuset-mems': { type: 'string' },
  'pids-limit': { type: 'string' },
  'oom-kill-disable': { type: 'boolean' },
  ulimit: { type: 'string', multiple: true },
  device: { type: 'string', multiple: true },
} as const;

/** `--device HOST[:CONTAINER][:PERMISSIONS]` as Docker's DeviceMapping (permissions a subset of rwm, default rwm). */
export function parseDevice(v: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = v.split(':');
  let perms = 'rwm';
  if (parts.length > 1 && /^[rwm]+$/.test(parts[parts.length - 1]!)) perms = parts.pop()!;
  if (parts.length > 2 || !parts[0]!.startsWith('/') || (parts[1] !== undefined && !parts[1].startsWith('/')))
    throw invalid('invalid_device', `invalid device specification: ${v}`);
  return { PathOnHost: parts[0]!, PathInContainer: parts[1] ?? parts[0]!, CgroupPermissions: perms };
}

/** `--ulimit name=soft[:hard]` as Docker's Ulimits (nofile, nproc, core, ...). */
export function parseUlimit(v: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  const names = [
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
  if (!m || !names.includes(m[1]!))
    throw invalid(
      'invalid_ulimit',
      `invalid ulimit ${JSON.stringify(v)}: name=soft[:hard] with name one of ${names.join(', ')}`,
    );
  const soft = Number(m[2]),
    hard = m[3] !== undefined ? Number(m[3]) : soft;
  if (soft > hard && hard !== -1)
    throw invalid('invalid_ulimit', `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** The resource flags given (--memory, --cpus, ...), parsed; what is not given stays unset. */
export function limitFlags(o: Opts): Limits {
  const str = (k: string) => o[k] as string | undefined;
  const l: Limits = {};
  if (str('memory') !== undefined) l.memory = parseBytes(str('memory')!, 'memory');
  if (str('memory-swap') !== undefined) l.memorySwap = parseMemorySwap(str('memory-swap')!);
  if (str('memory-reservation') !== undefined)
    l.memoryReservation = parseBytes(str('memory-reservation')!, 'memory-reservation');
  if (str('cpus') !== undefined) l.nanoCpus = parseCpus(str('cpus')!).nanoCpus;
  if (str('cpu-shares') !== undefined) {
    if (!/^\d+$/.test(str('cpu-shares')!))
      throw invalid(
        'invalid_cpu_shares',
        `invalid argument ${JSON.stringify(str('cpu-shares'))} for "--cpu-shares": a number`,
      );
    l.cpuShares = Number(str('cpu-shares'));
  }
  if (str('cpuset-cpus') !== undefined) l.cpusetCpus = str('cpuset-cpus');
  if (str('cpuset-mems') !== undefined) l.cpusetMems = str('cpuset-mems');
  if (str('pids-limit') !== undefined) {
    if (!/^-?\d+$/.test(str('pids-limit')!))
      throw invalid(
        'invalid_pids_limit',
        `invalid argument ${JSON.stringify(str('pids-limit'))} for "--pids-limit": a number`,
      );
    l.pidsLimit = Number(str('pids-limit'));
  }
  if (o['oom-kill-disable']) l.oomKillDisable = true;
  return l;
}

/** Limits checked as Docker's daemon checks them (warnings to stderr), as HostConfig fields. */
export function checkedResources(l: Limits, update = false): Partial<HostConfig> {
  if (!Object.keys(l).length) return {};
  const { limits, warnings } = checkLimits(
    l,
    { cpus: availableParallelism(), swapAccounting: swapAccounting(detectCgroups()) },
    update,
  );
  for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
  return {
    Memory: limits.memory ?? 0,
    MemorySwap: limits.memorySwap ?? 0,
    MemoryReservation: limits.memoryReservation ?? 0,
    NanoCpus: limits.nanoCpus ?? 0,
    CpuShares: limits.cpuShares ?? 0,
    CpusetCpus: limits.cpusetCpus ?? '',
    CpusetMems: limits.cpusetMems ?? '',
    PidsLimit: limits.pidsLimit ?? null,
    OomKillDisable: limits.oomKillDisable ?? null,
  };
}

function resources(o: Opts): Partial<HostConfig> {
  const ulimits = ((o.ulimit as string[] | undefined) ?? []).map(parseUlimit);
  const devices = ((o.device as string[] | undefined) ?? []).map(parseDevice);
  return {
    ...checkedResources(limitFlags(o)),
    Ulimits: ulimits.length ? ulimits : null,
    Devices: devices.length ? devices : null,
  };
}

/** A Go duration ("1m30s", "500ms", "2h") in nanoseconds, as Docker's --health-* flags take them. */
export function parseDuration(flag: string, v: string): number {
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (v === '0') return 0;
  if (!/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v))
    throw invalid(
      'invalid_duration',
      `invalid argument ${JSON.stringify(v)} for "--${flag}" flag: time: invalid duration ${JSON.stringify(v)}`,
    );
  let ns = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(m[1]) * unit[m[2]!]!;
  return Math.round(ns);
}

/** The image's HEALTHCHECK, overridden field by field by --health-* flags, or disabled by --no-healthcheck. */
function healthcheck(img: HealthConfig | null | undefined, o: Opts): HealthConfig | null {
  const flags = ['health-cmd', 'health-interval', 'health-timeout', 'health-start-period', 'health-retries'].filter(
    (f) => o[f] !== undefined,
  );
  if (o['no-healthcheck']) {
    if (flags.length) throw invalid('invalid_healthcheck', '--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!flags.length) return img ?? null;
  const h: HealthConfig = { ...(img ?? {}) };
  if (o['health-cmd'] !== undefined) h.Test = ['CMD-SHELL', o['health-cmd'] as string];
  const dur = (f: string, k: 'Interval' | 'Timeout' | 'StartPeriod') => {
    if (o[f] === undefined) return;
    const ns = parseDuration(f, o[f] as string);
    if (ns !== 0 && ns < 1e6) throw invalid('invalid_healthcheck', `--${f} cannot be less than 1ms`);
    h[k] = ns;
  };
  dur('health-interval', 'Interval');
  dur('health-timeout', 'Timeout');
  dur('health-start-period', 'StartPeriod');
  if (o['health-retries'] !== undefined) {
    const r = Number(o['health-retries']);
    if (!Number.isInteger(r) || r < 0) throw invalid('invalid_healthcheck', '--health-retries cannot be negative');
    h.Retries = r;
  }
  return h;
}

/** `--restart no|on-failure[:N]|always|unless-stopped` as Docker's RestartPolicy. */
export function parseRestart(v: string | undefined, autoRemove: boolean): NonNullable<HostConfig['RestartPolicy']> {
  if (!v || v === 'no') return { Name: 'no', MaximumRetryCount: 0 };
  const [name, count] = v.split(':') as [string, string?];
  if (name !== 'on-failure' && name !== 'always' && name !== 'unless-stopped')
    throw invalid(
      'invalid_restart',
      `invalid restart policy ${JSON.stringify(v)}: no, on-failure[:max-retries], always or unless-stopped`,
    );
  if (count !== undefined && (name !== 'on-failure' || !/^\d+$/.test(count)))
    throw invalid(
      'invalid_restart',
      `invalid restart policy ${JSON.stringify(v)}: only on-failure takes a maximum retry count`,
    );
  if (autoRemove) throw invalid('invalid_restart', 'conflicting options: --restart and --rm');
  return { Name: name, MaximumRetryCount: count ? Number(count) : 0 };
}

/** `--log-opt max-size=10m --log-opt max-file=3` (json-file is the only driver). */
function logConfig(driver: string | undefined, opts: string[]): NonNullable<HostConfig['LogConfig']> {
  if (driver && driver !== 'json-file')
    throw invalid('unsupported', `log driver ${JSON.stringify(driver)}: only json-file is supported`);
  const cfg: Record<string, string> = {};
  for (const o of opts) {
    const i = o.indexOf('=');
    const k = i < 0 ? o : o.slice(0, i);
    if (k !== 'max-size' && k !== 'max-file')
      throw invalid(
        'invalid_log_opt',
        `unknown log opt ${JSON.stringify(k)} for log driver json-file (max-size, max-file)`,
      );
    cfg[k] = o.slice(i + 1);
  }
  return { Type: 'json-file', Config: cfg };
}

function labels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

type Opts = Record<string, string | boolean | string[] | boolean[] | undefined>;

export function envFromFile(path: string): string[] {
  const out: string[] = [];
  for (const raw of fs.readFileSync(path, 'utf8').split('\n')) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    out.push(line.includes('=') ? line : process.env[line] !== undefined ? `${line}=${process.env[line]}` : line);
  }
  return out;
}

/** `-e K=V` sets; `-e K` takes K from berth's environment (dropped if unset), as Docker. */
function mergeEnv(base: string[], add: string[]): string[] {
  const env = [...base];
  for (const e of add) {
    const kv = e.includes('=') ? e : process.env[e] !== undefined ? `${e}=${process.env[e]}` : undefined;
    if (!kv) continue;
    const k = kv.slice(0, kv.indexOf('='));
    const i = env.findIndex((x) => x.startsWith(`${k}=`));
    if (i >= 0) env[i] = kv;
    else env.push(kv);
  }
  return env;
}

/**
 * `--security-opt`: no-new-privileges[:true|false], seccomp=unconfined|builtin|FILE (the file's
 * profile is checked and stored in the container's SecurityOpt as JSON, as Docker's CLI does).
 */
function securityOpts(opts: string[]): string[] | null {
  const out: string[] = [];
  for (const o of opts) {
    if (/^no-new-privileges([:=](true|false))?$/.test(o)) {
      if (!/false$/.test(o)) out.push('no-new-privileges');
      continue;
    }
    const m = /^seccomp[:=](.*)$/s.exec(o);
    if (m) {
      const v = m[1]!;
      if (v === 'unconfined' || v === 'builtin') {
        out.push(`seccomp=${v}`);
        continue;
      }
      let text: string;
      try {
        text = fs.readFileSync(v, 'utf8');
      } catch (e) {
        throw invalid('invalid_seccomp_profile', `opening seccomp profile (${v}) failed: ${(e as Error).message}`);
      }
      seccompFor(text.trimStart().startsWith('{') ? text : '{', DEFAULT_CAPABILITIES); // checked now: a bad profile fails at create
      out.push(`seccomp=${JSON.stringify(JSON.parse(text))}`);
      continue;
    }
    throw invalid(
      'unsupported',
      `--security-opt ${JSON.stringify(o)} is not supported (no-new-privileges, seccomp=unconfined|builtin|FILE)`,
    );
  }
  return out.length ? out : null;
}

/** Turn run/create flags and IMAGE [CMD...] into what the engine needs. */
export function createOptionsFromFlags(
  store: ImageStore,
  args: string[],
  o: Opts,
): { imageArg: string; opts: CreateOptions } {
  const [imageArg, ...cmd] = args;
  if (!imageArg) throw invalid('usage', '"run"/"create" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  const id = store.resolve(imageArg);
  const img = store.images.get(id).config ?? {};
  const network = (o.net ?? o.network ?? 'none') as string;
  if (network !== 'none' && network !== 'host')
    throw invalid('unsupported', `network ${JSON.stringify(network)}: only "none" and "host" exist so far`);
  const runtime = (o.runtime as string | undefined) ?? 'berth';
  if (runtime !== 'berth' && runtime !== 'runc')
    throw invalid('unsupported', `unknown runtime ${JSON.stringify(runtime)} (berth or runc)`);
  let entrypoint = img.Entrypoint ?? [];
  let command = img.Cmd ?? [];
  if (o.entrypoint !== undefined) {
    entrypoint = o.entrypoint ? [o.entrypoint as string] : [];
    command = [];
  }
  if (cmd.length) command = cmd;
  const argv = [...entrypoint, ...command];
  if (argv.length === 0) throw invalid('no_command', 'No command specified');
  const fileEnv = ((o['env-file'] as string[] | undefined) ?? []).flatMap(envFromFile);
  const env = mergeEnv(img.Env ?? [], [...fileEnv, ...((o.env as string[] | undefined) ?? [])]);
  const binds = (o.volume as string[] | undefined) ?? [];
  binds.forEach(parseBind);
  const tmpfs: Record<string, string> = {};
  for (const t of (o.tmpfs as string[] | undefined) ?? []) {
    const i = t.indexOf(':');
    const dest = i < 0 ? t : t.slice(0, i);
    if (!dest.startsWith('/'))
      throw invalid('invalid_tmpfs', `invalid tmpfs ${JSON.stringify(t)}: the path must be absolute`);
    tmpfs[dest] = i < 0 ? '' : t.slice(i + 1);
  }
  const hostConfig: HostConfig = {
    Binds: binds.length ? binds : null,
    NetworkMode: network,
    AutoRemove: !!o.rm,
    ReadonlyRootfs: !!o['read-only'],
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : null,
    Runtime: runtime,
    GroupAdd: (o['group-add'] as string[] | undefined) ?? null,
    CapAdd: (o['cap-add'] as string[] | undefined) ?? null,
    CapDrop: (o['cap-drop'] as string[] | undefined) ?? null,
    Privileged: !!o.privileged,
    SecurityOpt: securityOpts((o['security-opt'] as string[] | undefined) ?? []),
    RestartPolicy: parseRestart(o.restart as string | undefined, !!o.rm),
    LogConfig: logConfig(o['log-driver'] as string | undefined, (o['log-opt'] as string[] | undefined) ?? []),
    Init: o.init ? true : null,
    ...resources(o),
  };
  const stopTimeout = o['stop-timeout'] as string | undefined;
  if (stopTimeout !== undefined && !/^-?\d+$/.test(stopTimeout))
    throw invalid('invalid_stop_timeout', `invalid --stop-timeout ${JSON.stringify(stopTimeout)}: seconds`);
  if (o['stop-signal']) parseSignal(o['stop-signal'] as string);
  capabilitySet(hostConfig.CapAdd ?? [], hostConfig.CapDrop ?? [], false); // unknown names fail at create, as Docker
  return {
    imageArg,
    opts: {
      ...(o.name ? { name: o.name as string } : {}),
      path: argv[0]!,
      args: argv.slice(1),
      hostConfig,
      config: {
        ...img,
        Hostname: (o.hostname as string | undefined) ?? '',
        User: (o.user as string | undefined) ?? img.User ?? '',
        Env: env,
        Cmd: command.length ? command : null,
        Entrypoint: entrypoint.length ? entrypoint : null,
        WorkingDir: (o.workdir as string | undefined) ?? img.WorkingDir ?? '',
        Image: imageArg,
        Tty: !!o.tty,
        OpenStdin: !!o.interactive,
        AttachStdin: !!o.interactive && !o.detach,
        AttachStdout: !o.detach,
        AttachStderr: !o.detach,
        Labels: { ...(img.Labels ?? {}), ...labels((o.label as string[] | undefined) ?? []) },
        ...(healthcheck(img.Healthcheck, o) ? { Healthcheck: healthcheck(img.Healthcheck, o) } : {}),
        ...(o['stop-signal'] ? { StopSignal: o['stop-signal'] as string } : {}),
        ...(stopTimeout !== undefined ? { StopTimeout: Number(stopTimeout) } : {}),
      },
    },
  };
}
