import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { invalid, wrap } from '../core/errors.js';
import { DOCKER_HUB_HOST } from './names.js';
import { type ProxyConfig, inCIDR, parseCIDR } from './proxy.js';

/**
 * How berth reaches a registry host, as dockerd's registry service decides it
 * (lookupV2Endpoints): for Docker Hub the mirrors first, then registry-1.docker.io; for any
 * other host https, and for an insecure one (insecure-registries, or 127.0.0.0/8 and ::1 by
 * default) https without verification, then http. A secure host's https gets the CAs and client
 * certificate of its certs.d directory.
 */
export interface RegistryConfig {
  /** daemon.json insecure-registries: host[:port] names, or CIDRs matched against the host's addresses. */
  insecureRegistries?: string[];
  /** daemon.json registry-mirrors: http(s) URLs (a path is a prefix) tried in order for Docker Hub's names. */
  mirrors?: string[];
  /** Proxies for registry and token requests (daemon.json proxies over the caller's environment). */
  proxies?: ProxyConfig;
  /** Where certs.d directories are, the first holding `<host[:port]>/` wins (default CERTS_DIRS). */
  certsDirs?: string[];
  /** Docker Hub's endpoint (default https://registry-1.docker.io/): only tests point it elsewhere. */
  dockerHubURL?: string;
}

/** berth's own certs.d, then Docker's: /etc/berth/certs.d/<host>/ takes the place of /etc/docker/certs.d/<host>/. */
export const CERTS_DIRS = ['/etc/berth/certs.d', '/etc/docker/certs.d'];

/** Docker's insecure networks when none are named: loopback. */
const DEFAULT_INSECURE_CIDRS = ['127.0.0.0/8', '::1/128'];

/** TLS material for one host, from its certs.d directory (PEM text). */
export interface TlsFiles {
  /** Extra CAs (*.crt), trusted besides the default ones. */
  ca?: string[];
  /** A client certificate and its key (client.cert + client.key: any NAME.cert with NAME.key). */
  cert?: string;
  key?: string;
}

export interface Endpoint {
  /** The base URL ("https://host:5000/", or a mirror's "https://mirror/prefix/"), ending in "/". */
  url: URL;
  /** https without verification (insecure registries). */
  insecureTLS: boolean;
  tls?: TlsFiles;
  /** A registry mirror: any failure to give a manifest moves on to the next endpoint. */
  mirror: boolean;
}

/** The endpoints to try for a registry host, in order. */
export async function endpointsFor(host: string, cfg: RegistryConfig = {}): Promise<Endpoint[]> {
  if (host === DOCKER_HUB_HOST) {
    const out: Endpoint[] = [];
    for (const m of cfg.mirrors ?? []) {
      const url = mirrorURL(m);
      const insecure = await isInsecure(url.host, cfg);
      const tls = url.protocol === 'https:' && !insecure ? readCertsDir(cfg, url.host) : undefined;
      out.push({ url, insecureTLS: url.protocol === 'https:' && insecure, ...(tls ? { tls } : {}), mirror: true });
    }
    // Docker Hub itself: the default trust only, as dockerd (no certs.d)
    const hub = new URL(cfg.dockerHubURL ?? `https://${DOCKER_HUB_HOST}/`);
    if (!hub.pathname.endsWith('/')) hub.pathname += '/';
    out.push({ url: hub, insecureTLS: false, mirror: false });
    return out;
  }
  const insecure = await isInsecure(host, cfg);
  const tls = insecure ? undefined : readCertsDir(cfg, host);
  const out: Endpoint[] = [
    { url: new URL(`https://${host}/`), insecureTLS: insecure, ...(tls ? { tls } : {}), mirror: false },
  ];
  if (insecure) out.push({ url: new URL(`http://${host}/`), insecureTLS: false, mirror: false });
  return out;
}

/**
 * A registry-mirrors entry as dockerd validates it (ValidateMirror): an http or https URL with no
 * credentials, query or fragment; its path, made to end in "/", is the prefix of /v2/.
 */
export function mirrorURL(value: string): URL {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid('registry_mirror', `invalid mirror: ${JSON.stringify(value)} is not a valid URI`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalid(
      'registry_mirror',
      `invalid mirror: unsupported scheme ${JSON.stringify(u.protocol.slice(0, -1))} in ${JSON.stringify(value)}`,
    );
  if (u.search || u.hash)
    throw invalid('registry_mirror', `invalid mirror: query or fragment at end of the URI ${JSON.stringify(value)}`);
  if (u.username || u.password)
    throw invalid('registry_mirror', `invalid mirror: username/password not allowed in URI ${JSON.stringify(value)}`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/**
 * An insecure-registries entry as dockerd accepts it: a CIDR, or a host[:port] without a scheme.
 * Returns the entry as it is matched (trimmed, no trailing "/").
 */
export function checkInsecureEntry(value: string): string {
  const v = value.trim().replace(/\/+$/, '');
  if (v.includes('://')) throw invalid('insecure_registry', `insecure registry ${value} should not contain '://'`);
  if (parseCIDR(v) || isIP(v)) return v;
  if (v.includes('/') || !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d+)?$/.test(v))
    throw invalid(
      'insecure_registry',
      `invalid insecure registry ${JSON.stringify(value)}: not a host[:port] or a CIDR`,
    );
  return v;
}

/**
 * dockerd's isSecureIndex, negated: a host named in insecure-registries (as written, with its port)
 * is insecure; else it is when any address it resolves to is in one of the insecure CIDRs
 * (loopback when none are named; named CIDRs add to loopback, as dockerd's defaults stay).
 */
export async function isInsecure(host: string, cfg: RegistryConfig): Promise<boolean> {
  const entries = (cfg.insecureRegistries ?? []).map((e) => e.trim().replace(/\/+$/, ''));
  const cidrs = [...DEFAULT_INSECURE_CIDRS, ...entries.filter((e) => parseCIDR(e))];
  if (entries.some((e) => !parseCIDR(e) && e.toLowerCase() === host.toLowerCase())) return true;
  const addrs = await addressesOf(hostOnly(host));
  return addrs.some((a) => cidrs.some((c) => inCIDR(a, c)));
}

/** "host:5000" -> "host", "[::1]:5000" -> "::1". */
export function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  return isIP(hostPort) === 6 ? hostPort : hostPort.replace(/:\d+$/, '');
}

async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  try {
    const { lookup } = createRequire(import.meta.url)('node:dns/promises') as typeof import('node:dns/promises');
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    // a name that does not resolve is not in any network: secure (the connection will say why it fails)
    return [];
  }
}

/**
 * The TLS files for `host` (host[:port]) from the first certs.d directory that has `<host>/`,
 * as Docker reads them (ReadCertsDirectory): every *.crt is a CA; NAME.cert is a client
 * certificate whose key must be NAME.key, and a NAME.key needs its NAME.cert.
 */
export function readCertsDir(cfg: RegistryConfig, host: string): TlsFiles | undefined {
  if (!host || host === '.' || host === '..' || host.includes('/'))
    throw invalid('registry_host', `invalid registry host ${JSON.stringify(host)}`);
  for (const base of cfg.certsDirs ?? CERTS_DIRS) {
    const dir = join(base, host);
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw wrap(`read ${dir}`, err);
    }
    return tlsFilesIn(dir, names);
  }
  return undefined;
}

function tlsFilesIn(dir: string, names: string[]): TlsFiles {
  const out: TlsFiles = {};
  const read = (n: string) => {
    try {
      return fs.readFileSync(join(dir, n), 'utf8');
    } catch (err) {
      throw wrap(`read ${join(dir, n)}`, err);
    }
  };
  const has = new Set(names);
  for (const n of names) {
    if (n.endsWith('.crt')) (out.ca ??= []).push(read(n));
    else if (n.endsWith('.cert')) {
      const key = `${n.slice(0, -'.cert'.length)}.key`;
      if (!has.has(key))
        throw invalid(
          'registry_certs',
          `missing key ${join(dir, key)} for client certificate ${join(dir, n)}. CA certificates must use the extension .crt`,
        );
      // the first pair (by name) is the client's certificate
      if (out.cert === undefined) {
        out.cert = read(n);
        out.key = read(key);
      }
    } else if (n.endsWith('.key')) {
      const cert = `${n.slice(0, -'.key'.length)}.cert`;
      if (!has.has(cert))
        throw invalid('registry_certs', `missing client certificate ${join(dir, cert)} for key ${join(dir, n)}`);
    }
  }
  return out;
}
