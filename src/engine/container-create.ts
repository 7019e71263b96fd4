/**
 * What dockerd decides when it creates a container: the image's config merged
 * under the caller's (daemon/commit.go's merge), defaults, and every check of
 * the HostConfig. Reads the image store and the host's cgroup setup; writes
 * nothing.
 */
import { invalid } from '../core/errors.js';
import type { ImageID } from '../core/digest.js';
import type { ImageStore } from '../image/store.js';
import type { ContainerConfig, HealthConfig } from '../image/config.js';
import type { CreateOptions } from '../container/store-write.js';
import type { HostConfig } from '../container/types.js';
import { mountRequests, parseVolumesFrom } from '../container/mounts.js';
import { parseSignal } from '../container/lifecycle.js';
import { capabilitySet } from '../runtime/security.js';
import { checkDnsSearch, checkDnsServer, parseExtraHost } from '../container/etc-files.js';
import type { ContainerCreateRequest } from './container-types.js';
import { userNetwork } from './network-endpoints.js';
import { checkNetworkName } from '../network/store.js';
import {
  checkDevice,
  checkHealthcheck,
  checkLogConfig,
  checkResources,
  checkRestart,
  checkSecurityOpts,
  checkUlimit,
  givenLimits,
} from './container-validate.js';

/** A checked create request: what the store needs to make the container, and the warnings for the caller. */
export interface CreatePlan {
  imageId: ImageID;
  opts: CreateOptions;
  warnings: string[];
}

/** Image Env under the caller's: a caller's K=V replaces the image's K (entries without "=" are dropped). */
function mergeEnv(base: readonly string[], add: readonly string[]): string[] {
  const env = [...base];
  for (const kv of add) {
    const i = kv.indexOf('=');
    if (i < 0) continue;
    const at = env.findIndex((x) => x.startsWith(`${kv.slice(0, i)}=`));
    if (at >= 0) env[at] = kv;
    else env.push(kv);
  }
  return env;
}

/** The caller's healthcheck over the image's, field by field; Test ["NONE"] disables it. */
function mergeHealthcheck(img: HealthConfig | null | undefined, user: HealthConfig | null | undefined) {
  if (!user) return img ?? null;
  if (user.Test?.[0] === 'NONE') return { Test: ['NONE'] };
  const h: HealthConfig = { ...(img ?? {}) };
  for (const [k, v] of Object.entries(user) as Array<[keyof HealthConfig, never]>)
    if (v !== undefined && !(Array.isArray(v) && !(v as unknown[]).length) && v !== 0) h[k] = v;
  return checkHealthcheck(h);
}

/** Entrypoint [""] (the docker CLI's `--entrypoint ""`) resets the image's entrypoint and command. */
function command(img: ContainerConfig, c: Partial<ContainerConfig>): { entrypoint: string[]; cmd: string[] } {
  let entrypoint = img.Entrypoint ?? [];
  let cmd = img.Cmd ?? [];
  if (c.Entrypoint) {
    entrypoint = c.Entrypoint.filter((x, i) => i > 0 || x !== '');
    cmd = [];
  }
  if (c.Cmd?.length) cmd = c.Cmd;
  return { entrypoint, cmd };
}

function checkTmpfs(t: Record<string, string> | null | undefined): Record<string, string> | null {
  for (const dest of Object.keys(t ?? {}))
    if (!dest.startsWith('/'))
      throw invalid('invalid_tmpfs', `invalid tmpfs ${JSON.stringify(dest)}: the path must be absolute`);
  return t && Object.keys(t).length ? { ...t } : null;
}

/** A container's network when its create request names none: the bridge, as Docker's. */
export const DEFAULT_NETWORK: HostConfig['NetworkMode'] = 'bridge';

/**
 * host, none, the default bridge (`bridge`, `default`, or none named), `container:NAME|ID`, or a user network's name
 * (checked in planCreate).
 */
function networkMode(mode: string | undefined): HostConfig['NetworkMode'] {
  const m = mode || DEFAULT_NETWORK;
  if (m === 'default') return 'bridge';
  if (m === 'container' || m.startsWith('container:')) {
    if (m.length <= 'container:'.length)
      throw invalid('invalid_network', 'Invalid network mode: invalid container format container:<name|id>');
    return m;
  }
  if (m !== 'none' && m !== 'host' && m !== 'bridge') checkNetworkName(m);
  return m;
}

/** dockerd's checks of a `container:` network mode against what the joined container decides (its messages). */
function checkContainerMode(h: Partial<HostConfig>, c: Partial<ContainerConfig>): void {
  const conflicting = (what: string) => invalid('conflicting_options', `conflicting options: ${what}`);
  if (c.Hostname) throw conflicting('hostname and the network mode');
  if (h.Dns?.length) throw conflicting('dns and the network mode');
  if (h.ExtraHosts?.length) throw conflicting('custom host-to-IP mapping and the network mode');
  if (Object.keys(h.PortBindings ?? {}).length || h.PublishAllPorts)
    throw conflicting('port publishing and the container type network mode');
  if (Object.keys(c.ExposedPorts ?? {}).length) throw conflicting('port exposing and the container type network mode');
}

/** Dns, DnsSearch, DnsOptions and ExtraHosts checked, as Docker stores them ([] and null when none). */
function dnsSettings(h: Partial<HostConfig>): Pick<HostConfig, 'Dns' | 'DnsSearch' | 'DnsOptions' | 'ExtraHosts'> {
  for (const e of h.ExtraHosts ?? []) parseExtraHost(e);
  return {
    Dns: (h.Dns ?? []).map(checkDnsServer),
    DnsOptions: [...(h.DnsOptions ?? [])],
    DnsSearch: (h.DnsSearch ?? []).map(checkDnsSearch),
    ExtraHosts: h.ExtraHosts?.length ? [...h.ExtraHosts] : null,
  };
}

/** HostConfig.PortBindings checked ("80/tcp" keys, numeric host ports); only the bridge publishes ports. */
function checkPortBindings(
  pb: HostConfig['PortBindings'],
  network: HostConfig['NetworkMode'],
  all: boolean,
): HostConfig['PortBindings'] {
  const keys = Object.keys(pb ?? {});
  if (!keys.length) {
    if (all && (network === 'none' || network === 'host'))
      throw invalid('invalid_port', `-P publishes ports on a bridge or user network, not with --network ${network}`);
    return undefined;
  }
  if (network === 'none' || network === 'host')
    throw invalid('invalid_port', `-p publishes ports on a bridge or user network, not with --network ${network}`);
  const out: NonNullable<HostConfig['PortBindings']> = {};
  for (const k of keys) {
    const m = /^(\d+)\/(tcp|udp|sctp)$/.exec(k);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535)
      throw invalid(
        'invalid_port',
        `invalid port ${JSON.stringify(k)} in PortBindings: PORT/tcp, PORT/udp or PORT/sctp`,
      );
    out[k] = (pb![k] ?? []).map((b) => {
      const hp = b.HostPort ?? '';
      if (hp !== '' && !(/^\d+$/.test(hp) && Number(hp) >= 1 && Number(hp) <= 65535))
        throw invalid('invalid_port', `invalid host port ${JSON.stringify(hp)} for ${k}: a port in 1-65535`);
      return { HostIp: b.HostIp ?? '', HostPort: hp };
    });
  }
  return out;
}

function hostConfig(h: Partial<HostConfig>, c: Partial<ContainerConfig>): { hc: HostConfig; warnings: string[] } {
  const network = networkMode(h.NetworkMode);
  if (network.startsWith('container:')) checkContainerMode(h, c);
  const dns = dnsSettings(h);
  const ports = checkPortBindings(h.PortBindings, network, !!h.PublishAllPorts);
  const runtime = h.Runtime || 'berth';
  if (runtime !== 'berth' && runtime !== 'runc')
    throw invalid('unsupported', `unknown runtime ${JSON.stringify(runtime)} (berth or runc)`);
  mountRequests({ Binds: h.Binds ?? null, Mounts: h.Mounts ?? null, Tmpfs: h.Tmpfs ?? null }, []);
  for (const v of h.VolumesFrom ?? []) parseVolumesFrom(v);
  capabilitySet(h.CapAdd ?? [], h.CapDrop ?? [], false); // unknown names fail at create, as Docker
  const { resources, warnings } = checkResources(givenLimits(h));
  const ulimits = (h.Ulimits ?? []).map(checkUlimit);
  const devices = (h.Devices ?? []).map((d) => checkDevice(d));
  return {
    warnings,
    hc: {
      Binds: h.Binds?.length ? [...h.Binds] : null,
      ...(h.Mounts?.length ? { Mounts: h.Mounts.map((m) => ({ ...m })) } : {}),
      ...(h.VolumesFrom?.length ? { VolumesFrom: [...h.VolumesFrom] } : {}),
      NetworkMode: network,
      ...(ports ? { PortBindings: ports } : {}),
      ...(h.PublishAllPorts && network !== 'none' && network !== 'host' && !network.startsWith('container:')
        ? { PublishAllPorts: true }
        : {}),
      ...dns,
      AutoRemove: !!h.AutoRemove,
      ReadonlyRootfs: !!h.ReadonlyRootfs,
      Tmpfs: checkTmpfs(h.Tmpfs),
      Runtime: runtime,
      GroupAdd: h.GroupAdd?.length ? [...h.GroupAdd] : null,
      CapAdd: h.CapAdd?.length ? [...h.CapAdd] : null,
      CapDrop: h.CapDrop?.length ? [...h.CapDrop] : null,
      Privileged: !!h.Privileged,
      SecurityOpt: checkSecurityOpts(h.SecurityOpt),
      RestartPolicy: checkRestart(h.RestartPolicy, !!h.AutoRemove),
      LogConfig: checkLogConfig(h.LogConfig),
      Init: h.Init ? true : null,
      ...resources,
      Ulimits: ulimits.length ? ulimits : null,
      Devices: devices.length ? devices : null,
    },
  };
}

function portKeys(pb: HostConfig['PortBindings']): Record<string, Record<string, never>> {
  return Object.fromEntries(Object.keys(pb ?? {}).map((k) => [k, {}]));
}

/** Check a create request and merge the image's config into it. */
export function planCreate(store: ImageStore, req: ContainerCreateRequest): CreatePlan {
  const c = req.Config;
  if (!c?.Image) throw invalid('usage', 'create a container: Config.Image is required');
  const { hc, warnings } = hostConfig(req.HostConfig ?? {}, c);
  Object.assign(hc, userNetwork(store.paths.root, hc.NetworkMode, req.NetworkingConfig?.EndpointsConfig));
  const imageId = store.resolve(c.Image);
  const img = store.images.get(imageId).config ?? {};
  const { entrypoint, cmd } = command(img, c);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw invalid('no_command', 'No command specified');
  if (c.StopTimeout !== undefined && !Number.isInteger(c.StopTimeout))
    throw invalid('invalid_stop_timeout', `invalid --stop-timeout ${JSON.stringify(c.StopTimeout)}: seconds`);
  if (c.StopSignal) parseSignal(c.StopSignal);
  const health = mergeHealthcheck(img.Healthcheck, c.Healthcheck);
  const config: ContainerConfig = {
    ...img,
    Hostname: c.Hostname ?? '',
    User: c.User || img.User || '',
    Env: mergeEnv(img.Env ?? [], c.Env ?? []),
    Cmd: cmd.length ? cmd : null,
    Entrypoint: entrypoint.length ? entrypoint : null,
    WorkingDir: c.WorkingDir || img.WorkingDir || '',
    Image: c.Image,
    Tty: !!c.Tty,
    OpenStdin: !!c.OpenStdin,
    AttachStdin: !!c.AttachStdin,
    AttachStdout: !!c.AttachStdout,
    AttachStderr: !!c.AttachStderr,
    Labels: { ...(img.Labels ?? {}), ...(c.Labels ?? {}) },
    // published ports are exposed too, as Docker's
    ...(c.ExposedPorts || img.ExposedPorts || hc.PortBindings
      ? { ExposedPorts: { ...img.ExposedPorts, ...c.ExposedPorts, ...portKeys(hc.PortBindings) } }
      : {}),
    ...(health ? { Healthcheck: health } : {}),
    ...(c.StopSignal || img.StopSignal ? { StopSignal: c.StopSignal || img.StopSignal } : {}),
    ...(c.StopTimeout !== undefined ? { StopTimeout: c.StopTimeout } : {}),
  };
  const opts: CreateOptions = {
    ...(req.name ? { name: req.name } : {}),
    path: argv[0]!,
    args: argv.slice(1),
    hostConfig: hc,
    config,
    imageVolumes: true,
  };
  return { imageId, opts, warnings };
}
