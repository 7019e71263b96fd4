import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { checkDnsSearch, checkDnsServer } from '../container/etc-files.js';
import { BerthError, invalid, wrap } from '../core/errors.js';
import { type RegistryConfig, checkInsecureEntry, mirrorURL } from '../registry/hosts.js';
import { type ProxyConfig, parseProxyURL } from '../registry/proxy.js';

/**
 * The engine's configuration file in dockerd's daemon.json format (`/etc/berth/daemon.json`, or the
 * CLI's `--config-file`), read by the CLI (or a Node program) and given to Engine.open: the engine's
 * operations never read it themselves. berth uses `insecure-registries`, `registry-mirrors`,
 * `proxies`, `host-gateway-ip`, `dns`, `dns-search` and `dns-opts`; the other keys dockerd knows are
 * accepted and ignored, a key dockerd does not know is an error (as dockerd's "the following directives
 * don't match any configuration option").
 */
export type RegistrySettings = RegistryConfig;
export type { ProxyConfig } from '../registry/proxy.js';

export const DEFAULT_DAEMON_CONFIG = '/etc/berth/daemon.json';

/** daemon.json keys dockerd knows (its long flag names, plural where the file takes a list or map). */
const DOCKERD_KEYS = new Set(
  (
    'allow-direct-routing allow-nondistributable-artifacts api-cors-header authorization-plugins bip bip6 bridge ' +
    'bridge-accept-fwmark builder cdi-spec-dirs cgroup-parent cluster-advertise cluster-store cluster-store-opts ' +
    'config-file containerd containerd-namespace containerd-plugins-namespace cpu-rt-period cpu-rt-runtime ' +
    'data-root debug default-address-pools default-cgroupns-mode default-gateway default-gateway-v6 ' +
    'default-ipc-mode default-network-opts default-runtime default-shm-size default-ulimits ' +
    'disable-legacy-registry dns dns-opts dns-search exec-opts exec-root experimental features firewall-backend ' +
    'fixed-cidr fixed-cidr-v6 graph group host-gateway-ip host-gateway-ips hosts http-proxy https-proxy icc init ' +
    'init-path insecure-registries ip ip-forward ip-forward-no-drop ip-masq ip6tables iptables ipv6 isolation ' +
    'labels live-restore log-driver log-format log-level log-opts max-concurrent-downloads ' +
    'max-concurrent-uploads max-download-attempts metrics-addr min-api-version mtu network-control-plane-mtu ' +
    'network-diagnostic-port no-new-privileges no-proxy node-generic-resources oom-score-adjust pidfile proxies ' +
    'raw-logs registry-mirrors rootless runtimes seccomp-profile selinux-enabled shutdown-timeout storage-driver ' +
    'storage-opts swarm-default-advertise-addr tls tlscacert tlscert tlskey tlsverify userland-proxy ' +
    'userland-proxy-path userns-remap'
  ).split(' '),
);

const PROXY_KEYS: Record<string, keyof ProxyConfig> = {
  'http-proxy': 'httpProxy',
  'https-proxy': 'httpsProxy',
  'no-proxy': 'noProxy',
};

/**
 * What daemon.json says beyond registries: `host-gateway-ip`, the address `--add-host NAME:host-gateway` names
 * (dockerd's default, as berth's: the default bridge's gateway); `dns`, `dns-search`, `dns-opts`, a container's
 * resolv.conf settings when it gives none of that kind (as dockerd's).
 */
export interface DaemonSettings extends RegistrySettings {
  hostGatewayIP?: string;
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
}

/** Parse daemon.json text; every problem names `file` and the key. Pure. */
export function parseDaemonConfig(text: string, file: string): DaemonSettings {
  if (text.trim() === '') return {};
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw invalid('daemon_config', `${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j))
    throw invalid('daemon_config', `${file}: must be a JSON object ({"key": value, ...})`);
  const obj = j as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !DOCKERD_KEYS.has(k));
  if (unknown.length > 0)
    throw invalid(
      'daemon_config',
      `${file}: the following directives don't match any configuration option: ${unknown.join(', ')}`,
    );
  const out: DaemonSettings = {};
  const gw = obj['host-gateway-ip'];
  if (gw !== undefined && gw !== null) {
    if (typeof gw !== 'string' || !isIP(gw))
      throw invalid('daemon_config', `${file}: host-gateway-ip: must be an IP address, not ${JSON.stringify(gw)}`);
    out.hostGatewayIP = gw;
  }
  const dns = {
    servers: stringList(obj, 'dns', file)?.map((v) => checkIn(file, 'dns', () => checkDnsServer(v))),
    search: stringList(obj, 'dns-search', file)?.map((v) => checkIn(file, 'dns-search', () => checkDnsSearch(v))),
    options: stringList(obj, 'dns-opts', file),
  };
  if (dns.servers?.length || dns.search?.length || dns.options?.length)
    out.dns = Object.fromEntries(Object.entries(dns).filter(([, v]) => v?.length));
  const insecure = stringList(obj, 'insecure-registries', file);
  if (insecure) out.insecureRegistries = insecure;
  const mirrors = stringList(obj, 'registry-mirrors', file);
  if (mirrors) out.mirrors = mirrors;
  const p = obj.proxies;
  if (p !== undefined && p !== null) {
    if (typeof p !== 'object' || Array.isArray(p))
      throw invalid('daemon_config', `${file}: proxies: must be an object with http-proxy, https-proxy, no-proxy`);
    const proxies: ProxyConfig = {};
    for (const [k, v] of Object.entries(p as Record<string, unknown>)) {
      const field = PROXY_KEYS[k];
      if (!field)
        throw invalid(
          'daemon_config',
          `${file}: proxies: unknown key ${JSON.stringify(k)} (known: http-proxy, https-proxy, no-proxy)`,
        );
      if (typeof v !== 'string') throw invalid('daemon_config', `${file}: proxies.${k}: must be a string`);
      if (v !== '') proxies[field] = v;
    }
    if (Object.keys(proxies).length > 0) out.proxies = proxies;
  }
  // (the check copies every field: host-gateway-ip stays)
  return checkRegistrySettings(out, file) as DaemonSettings;
}

function checkIn(file: string, key: string, check: () => string): string {
  try {
    return check();
  } catch (err) {
    throw invalid('daemon_config', `${file}: ${key}: ${(err as Error).message}`);
  }
}

function stringList(obj: Record<string, unknown>, key: string, file: string): string[] | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((e) => typeof e !== 'string'))
    throw invalid('daemon_config', `${file}: ${key}: must be an array of strings`);
  return v as string[];
}

/**
 * Check registry settings (from daemon.json or a Node program's Engine.open) as dockerd checks its
 * flags: insecure-registries entries are host[:port] or CIDRs, mirrors http(s) URLs, proxies URLs.
 * Returns them with mirrors normalized (ending in "/"). `where` names the source in errors.
 */
export function checkRegistrySettings(cfg: RegistrySettings, where: string): RegistrySettings {
  const at = (key: string, err: unknown): never => {
    throw invalid('daemon_config', `${where}: ${key}: ${err instanceof BerthError ? err.message : String(err)}`);
  };
  const out: RegistrySettings = { ...cfg };
  if (cfg.insecureRegistries)
    out.insecureRegistries = cfg.insecureRegistries.map((e) => {
      try {
        return checkInsecureEntry(e);
      } catch (err) {
        return at('insecure-registries', err);
      }
    });
  if (cfg.mirrors)
    out.mirrors = cfg.mirrors.map((m) => {
      try {
        return mirrorURL(m).href;
      } catch (err) {
        return at('registry-mirrors', err);
      }
    });
  for (const k of ['httpProxy', 'httpsProxy'] as const) {
    const v = cfg.proxies?.[k];
    if (v) {
      try {
        parseProxyURL(v);
      } catch (err) {
        at(`proxies.${k === 'httpProxy' ? 'http-proxy' : 'https-proxy'}`, err);
      }
    }
  }
  return out;
}

/**
 * Read a daemon.json: a missing file at the default path means no settings; a missing file the
 * user named (`explicit`) is an error, as dockerd's --config-file.
 */
export function readDaemonConfig(file: string, explicit: boolean): DaemonSettings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw wrap(`unable to configure berth with file ${file}`, err);
  }
  return parseDaemonConfig(text, file);
}

/** Go's proxy variables: HTTP_PROXY, HTTPS_PROXY, NO_PROXY, each upper-case first, then lower-case. */
export function proxiesFromEnv(env: Record<string, string | undefined>): ProxyConfig {
  const get = (name: string) => env[name.toUpperCase()] || env[name] || undefined;
  const out: ProxyConfig = {};
  const http = get('http_proxy');
  const https = get('https_proxy');
  const no = get('no_proxy');
  if (http) out.httpProxy = http;
  if (https) out.httpsProxy = https;
  if (no) out.noProxy = no;
  return out;
}

/**
 * What the CLI gives Engine.open: daemon.json's settings, its proxies over the environment's
 * field by field (as dockerd sets its proxy environment from daemon.json), and certs.d
 * directories when the caller names them.
 */
export function registrySettings(opts: {
  configFile?: string;
  env: Record<string, string | undefined>;
  certsDirs?: string[];
}): DaemonSettings {
  const file = opts.configFile ?? DEFAULT_DAEMON_CONFIG;
  const cfg = readDaemonConfig(file, opts.configFile !== undefined);
  const proxies = { ...proxiesFromEnv(opts.env), ...cfg.proxies };
  const out: DaemonSettings = { ...cfg };
  if (Object.keys(proxies).length > 0) out.proxies = proxies;
  else delete out.proxies;
  if (opts.certsDirs) out.certsDirs = opts.certsDirs;
  return out;
}
