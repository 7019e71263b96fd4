import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import { parseBytes, parseCpus, parseMemorySwap } from '../engine/syntax.js';
import { exposedPorts, portBindings } from '../engine/ports.js';
import { checkDnsSearch, checkDnsServer, parseExtraHost } from '../engine/dns-syntax.js';
import type { ApiMount, ContainerCreateRequest, HealthConfig, HostConfig } from '../engine/container-types.js';
import { checkDevice, checkRestart, checkUlimit, ULIMIT_NAMES } from '../engine/container-validate.js';

/*
 * argv -> the API's {name, Config, HostConfig}, as the docker CLI's
 * cli/command/container/opts.go parse() does: flag syntax is read here, what
 * the values mean (merging the image, defaults, limits, policies) is the
 * engine's (engine/container-create.ts).
 */

/** Flags shared by `run` and `create`, named as Docker's. */
export const createFlags = {
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
  pull: { type: 'string', default: 'missing' },
  platform: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
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
  mount: { type: 'string', multiple: true },
  'volumes-from': { type: 'string', multiple: true },
  network: { type: 'string' },
  net: { type: 'string' },
  'network-alias': { type: 'string', multiple: true },
  ip: { type: 'string' },
  'mac-address': { type: 'string' },
  dns: { type: 'string', multiple: true },
  'dns-search': { type: 'string', multiple: true },
  'dns-option': { type: 'string', multiple: true },
  'dns-opt': { type: 'string', multiple: true },
  'add-host': { type: 'string', multiple: true },
  publish: { type: 'string', short: 'p', multiple: true },
  'publish-all': { type: 'boolean', short: 'P' },
  expose: { type: 'string', multiple: true },
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

type Opts = Record<string, string | boolean | string[] | boolean[] | undefined>;
type Env = Record<string, string | undefined>;

const list = (o: Opts, k: string) => (o[k] as string[] | undefined) ?? [];

/** `--device HOST[:CONTAINER][:PERMISSIONS]` as Docker's DeviceMapping (permissions a subset of rwm, default rwm). */
export function parseDevice(v: string): NonNullable<HostConfig['Devices']>[number] {
  const parts = v.split(':');
  let perms = 'rwm';
  if (parts.length > 1 && /^[rwm]+$/.test(parts[parts.length - 1]!)) perms = parts.pop()!;
  if (parts.length > 2) throw invalid('invalid_device', `invalid device specification: ${v}`);
  return checkDevice({ PathOnHost: parts[0]!, PathInContainer: parts[1] ?? parts[0]!, CgroupPermissions: perms }, v);
}

/** `--ulimit name=soft[:hard]` as Docker's Ulimits (nofile, nproc, core, ...). */
export function parseUlimit(v: string): NonNullable<HostConfig['Ulimits']>[number] {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v);
  if (!m)
    throw invalid(
      'invalid_ulimit',
      `invalid ulimit ${JSON.stringify(v)}: name=soft[:hard] with name one of ${ULIMIT_NAMES.join(', ')}`,
    );
  const soft = Number(m[2]);
  return checkUlimit({ Name: m[1]!, Soft: soft, Hard: m[3] !== undefined ? Number(m[3]) : soft });
}

/** `--restart no|on-failure[:N]|always|unless-stopped` as Docker's RestartPolicy (checked as the engine checks it). */
export function parseRestart(v: string | undefined, autoRemove: boolean): NonNullable<HostConfig['RestartPolicy']> {
  if (!v) return { Name: 'no', MaximumRetryCount: 0 };
  const [name, count] = v.split(':') as [string, string?];
  const policy = { Name: name, MaximumRetryCount: 0 } as NonNullable<HostConfig['RestartPolicy']>;
  checkRestart(policy, false, v); // the name first, as before the count
  if (count !== undefined && (name !== 'on-failure' || !/^\d+$/.test(count)))
    throw invalid(
      'invalid_restart',
      `invalid restart policy ${JSON.stringify(v)}: only on-failure takes a maximum retry count`,
    );
  return checkRestart({ ...policy, MaximumRetryCount: count ? Number(count) : 0 }, autoRemove, v);
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

function integerFlag(o: Opts, flag: string, re = /^-?\d+$/): number | undefined {
  const v = o[flag] as string | undefined;
  if (v === undefined) return undefined;
  if (!re.test(v))
    throw invalid(
      `invalid_${flag.replace(/-/g, '_')}`,
      `invalid argument ${JSON.stringify(v)} for "--${flag}": a number`,
    );
  return Number(v);
}

/** The resource flags given (--memory, --cpus, ...) as HostConfig fields; what is not given stays out. */
export function resourceFlags(o: Opts): Partial<HostConfig> {
  const str = (k: string) => o[k] as string | undefined;
  const r: Partial<HostConfig> = {};
  if (str('memory') !== undefined) r.Memory = parseBytes(str('memory')!, 'memory');
  if (str('memory-swap') !== undefined) r.MemorySwap = parseMemorySwap(str('memory-swap')!);
  if (str('memory-reservation') !== undefined)
    r.MemoryReservation = parseBytes(str('memory-reservation')!, 'memory-reservation');
  if (str('cpus') !== undefined) r.NanoCpus = parseCpus(str('cpus')!).nanoCpus;
  const shares = integerFlag(o, 'cpu-shares', /^\d+$/);
  if (shares !== undefined) r.CpuShares = shares;
  if (str('cpuset-cpus') !== undefined) r.CpusetCpus = str('cpuset-cpus');
  if (str('cpuset-mems') !== undefined) r.CpusetMems = str('cpuset-mems');
  const pids = integerFlag(o, 'pids-limit');
  if (pids !== undefined) r.PidsLimit = pids;
  if (o['oom-kill-disable']) r.OomKillDisable = true;
  return r;
}

/** The --health-* flags as a HealthConfig (the engine lays it over the image's), or Test ["NONE"]. */
function healthcheck(o: Opts): HealthConfig | undefined {
  const flags = ['health-cmd', 'health-interval', 'health-timeout', 'health-start-period', 'health-retries'].filter(
    (f) => o[f] !== undefined,
  );
  if (o['no-healthcheck']) {
    if (flags.length) throw invalid('invalid_healthcheck', '--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!flags.length) return undefined;
  const h: HealthConfig = {};
  if (o['health-cmd'] !== undefined) h.Test = ['CMD-SHELL', o['health-cmd'] as string];
  const dur = (f: string, k: 'Interval' | 'Timeout' | 'StartPeriod') => {
    if (o[f] !== undefined) h[k] = parseDuration(f, o[f] as string);
  };
  dur('health-interval', 'Interval');
  dur('health-timeout', 'Timeout');
  dur('health-start-period', 'StartPeriod');
  if (o['health-retries'] !== undefined) h.Retries = Number(o['health-retries']);
  return h;
}

/** KEY=VALUE lines of an --env-file; a bare KEY takes its value from berth's environment (kept as is when unset). */
export function envFromFile(path: string): string[] {
  return readEnvFile(path, process.env);
}

function readEnvFile(path: string, env: Env): string[] {
  const out: string[] = [];
  for (const raw of fs.readFileSync(path, 'utf8').split('\n')) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    out.push(line.includes('=') ? line : env[line] !== undefined ? `${line}=${env[line]}` : line);
  }
  return out;
}

/** `-e K` takes K from the caller's environment, dropped if unset, as the docker CLI. */
function expandEnv(list: string[], env: Env): string[] {
  return list.flatMap((e) => (e.includes('=') ? [e] : env[e] !== undefined ? [`${e}=${env[e]}`] : []));
}

function keyValues(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of items) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

/** --security-opt seccomp=FILE: the CLI reads the profile and sends its text, as the docker CLI does. */
function securityOpts(items: string[]): string[] {
  return items.map((o) => {
    const m = /^seccomp[:=](.*)$/s.exec(o);
    if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return o;
    try {
      return `seccomp=${fs.readFileSync(m[1]!, 'utf8')}`;
    } catch (e) {
      throw invalid('invalid_seccomp_profile', `opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
    }
  });
}

const TRUE = new Set(['', '1', 'true', 'True', 'TRUE']);
const FALSE = new Set(['0', 'false', 'False', 'FALSE']);

/**
 * `--mount type=bind|volume|tmpfs,source=,target=,readonly,...` as the docker CLI's
 * opts/mount.go reads it (CSV of key=value; a bare `readonly` or `volume-nocopy` is true).
 */
export function parseMountFlag(value: string): ApiMount {
  const m: Partial<ApiMount> & { Type: ApiMount['Type'] } = { Type: 'volume' };
  const bool = (k: string, v: string) => {
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw invalid('invalid_mount', `invalid value for ${k}: ${v}`);
  };
  for (const field of value.split(',')) {
    if (field === '') continue;
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).toLowerCase();
    const v = i < 0 ? '' : field.slice(i + 1);
    if (i < 0 && !['readonly', 'ro', 'volume-nocopy'].includes(key))
      throw invalid('invalid_mount', `invalid field '${field}' must be a key=value pair`);
    switch (key) {
      case 'type':
        if (v !== 'bind' && v !== 'volume' && v !== 'tmpfs') throw invalid('invalid_mount', `invalid mount type: ${v}`);
        m.Type = v;
        break;
      case 'source':
      case 'src':
        m.Source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = v;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = bool(key, v);
        break;
      case 'consistency':
        break;
      case 'bind-propagation':
        m.BindOptions = { ...m.BindOptions, Propagation: v };
        break;
      case 'volume-nocopy':
        m.VolumeOptions = { ...m.VolumeOptions, NoCopy: bool(key, v) };
        break;
      case 'volume-label': {
        const j = v.indexOf('=');
        m.VolumeOptions = {
          ...m.VolumeOptions,
          Labels: { ...m.VolumeOptions?.Labels, [j < 0 ? v : v.slice(0, j)]: j < 0 ? '' : v.slice(j + 1) },
        };
        break;
      }
      case 'tmpfs-size':
        m.TmpfsOptions = { ...m.TmpfsOptions, SizeBytes: parseBytes(v) };
        break;
      case 'tmpfs-mode': {
        const mode = Number.parseInt(v, 8);
        if (!/^[0-7]+$/.test(v) || mode > 0o7777) throw invalid('invalid_mount', `invalid value for ${key}: ${v}`);
        m.TmpfsOptions = { ...m.TmpfsOptions, Mode: mode };
        break;
      }
      default:
        throw invalid('invalid_mount', `unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw invalid('invalid_mount', 'target is required');
  return m as ApiMount;
}

function tmpfsFlags(items: string[]): Record<string, string> | null {
  if (!items.length) return null;
  const out: Record<string, string> = {};
  for (const t of items) {
    const i = t.indexOf(':');
    out[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  return out;
}

/** --network (--net): the default network (the bridge) unless given, as the docker CLI sends "default". */
export function networkFlag(o: Opts): HostConfig['NetworkMode'] {
  const given = (o.net ?? o.network) as string | undefined;
  return (given || 'default') as HostConfig['NetworkMode'];
}

/** --dns, --dns-search, --dns-option (--dns-opt), --add-host, checked as the docker CLI checks them. */
export function dnsFlags(o: Opts): Pick<HostConfig, 'Dns' | 'DnsSearch' | 'DnsOptions' | 'ExtraHosts'> {
  const flag = (name: string, check: (v: string) => string) => (v: string) => {
    try {
      return check(v);
    } catch (err) {
      throw invalid('usage', `invalid argument ${JSON.stringify(v)} for "--${name}" flag: ${(err as Error).message}`);
    }
  };
  const hosts = list(o, 'add-host').map(flag('add-host', (v) => (parseExtraHost(v), v)));
  return {
    Dns: list(o, 'dns').map(flag('dns', checkDnsServer)),
    DnsSearch: list(o, 'dns-search').map(flag('dns-search', checkDnsSearch)),
    DnsOptions: [...list(o, 'dns-option'), ...list(o, 'dns-opt')],
    ExtraHosts: hosts.length ? hosts : null,
  };
}

/** Turn run/create flags and IMAGE [CMD...] into the engine's create request. */
export function createRequestFromFlags(args: string[], o: Opts, env: Env = process.env): ContainerCreateRequest {
  const [image, ...cmd] = args;
  if (!image) throw invalid('usage', '"run"/"create" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  const stopTimeout = o['stop-timeout'] as string | undefined;
  if (stopTimeout !== undefined && !/^-?\d+$/.test(stopTimeout))
    throw invalid('invalid_stop_timeout', `invalid --stop-timeout ${JSON.stringify(stopTimeout)}: seconds`);
  const health = healthcheck(o);
  const hostConfig: Partial<HostConfig> = {
    Binds: list(o, 'volume').length ? list(o, 'volume') : null,
    NetworkMode: networkFlag(o),
    ...(list(o, 'publish').length ? { PortBindings: portBindings(list(o, 'publish')) } : {}),
    ...(o['publish-all'] ? { PublishAllPorts: true } : {}),
    ...dnsFlags(o),
    AutoRemove: !!o.rm,
    ReadonlyRootfs: !!o['read-only'],
    Tmpfs: tmpfsFlags(list(o, 'tmpfs')),
    ...(list(o, 'mount').length ? { Mounts: list(o, 'mount').map(parseMountFlag) } : {}),
    ...(list(o, 'volumes-from').length ? { VolumesFrom: list(o, 'volumes-from') } : {}),
    Runtime: ((o.runtime as string | undefined) ?? 'berth') as HostConfig['Runtime'],
    GroupAdd: (o['group-add'] as string[] | undefined) ?? null,
    CapAdd: (o['cap-add'] as string[] | undefined) ?? null,
    CapDrop: (o['cap-drop'] as string[] | undefined) ?? null,
    Privileged: !!o.privileged,
    SecurityOpt: securityOpts(list(o, 'security-opt')),
    RestartPolicy: parseRestart(o.restart as string | undefined, !!o.rm),
    LogConfig: {
      Type: ((o['log-driver'] as string | undefined) || 'json-file') as 'json-file',
      Config: keyValues(list(o, 'log-opt')),
    },
    Init: o.init ? true : null,
    ...resourceFlags(o),
    Ulimits: list(o, 'ulimit').map(parseUlimit),
    Devices: list(o, 'device').map(parseDevice),
  };
  return {
    ...(o.name ? { name: o.name as string } : {}),
    Config: {
      Image: image,
      ...(cmd.length ? { Cmd: cmd } : {}),
      ...(o.entrypoint !== undefined ? { Entrypoint: [o.entrypoint as string] } : {}),
      Env: expandEnv([...list(o, 'env-file').flatMap((f) => readEnvFile(f, env)), ...list(o, 'env')], env),
      ...(o.hostname !== undefined ? { Hostname: o.hostname as string } : {}),
      ...(o.user !== undefined ? { User: o.user as string } : {}),
      ...(o.workdir !== undefined ? { WorkingDir: o.workdir as string } : {}),
      Tty: !!o.tty,
      OpenStdin: !!o.interactive,
      AttachStdin: !!o.interactive && !o.detach,
      AttachStdout: !o.detach,
      AttachStderr: !o.detach,
      Labels: keyValues(list(o, 'label')),
      ...(list(o, 'expose').length
        ? { ExposedPorts: Object.fromEntries(exposedPorts(list(o, 'expose')).map((p) => [p, {}])) }
        : {}),
      ...(health ? { Healthcheck: health } : {}),
      ...(o['stop-signal'] ? { StopSignal: o['stop-signal'] as string } : {}),
      ...(stopTimeout !== undefined ? { StopTimeout: Number(stopTimeout) } : {}),
    },
    HostConfig: hostConfig,
    ...endpointFlags(o, hostConfig.NetworkMode!),
  };
}

/** --network-alias, --ip, --mac-address: the endpoint config of the network named by --network (the API's shape). */
function endpointFlags(o: Opts, network: string): Pick<ContainerCreateRequest, 'NetworkingConfig'> {
  const aliases = list(o, 'network-alias');
  const ip = o.ip as string | undefined;
  const mac = o['mac-address'] as string | undefined;
  if (!aliases.length && !ip && !mac) return {};
  return {
    NetworkingConfig: {
      EndpointsConfig: {
        [network]: {
          ...(aliases.length ? { Aliases: aliases } : {}),
          ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}),
          ...(mac ? { MacAddress: mac } : {}),
        },
      },
    },
  };
}
