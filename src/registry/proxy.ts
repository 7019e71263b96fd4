import type * as net from 'node:net';
import { createRequire } from 'node:module';
import { BlockList, isIP } from 'node:net';
import { invalid, unavailable } from '../core/errors.js';

/**
 * HTTP proxies for registry and token requests, as Go's net/http (golang.org/x/net/http/httpproxy)
 * chooses them for dockerd: HTTPS_PROXY for https URLs, HTTP_PROXY for http ones, none for
 * "localhost", loopback addresses and hosts NO_PROXY names. An http request goes to the proxy
 * with its absolute URL; an https one through a CONNECT tunnel (openTunnel), so the TLS session
 * (and its verification, client certificate) is with the registry itself. The matching is pure.
 */
export interface ProxyConfig {
  /** The proxy for http:// requests ("http://proxy:3128"; a bare "proxy:3128" means http://). */
  httpProxy?: string;
  /** The proxy for https:// requests. */
  httpsProxy?: string;
  /** Comma-separated hosts, domains (".example.com", "*.example.com"), IPs, CIDRs, each with an optional port; "*" for all. */
  noProxy?: string;
}

/** A proxy URL as Go reads it: a scheme-less value means http://. Only http and https proxies are supported. */
export function parseProxyURL(value: string, what = 'proxy'): URL {
  let u: URL | undefined;
  try {
    u = new URL(value);
    // "proxy:3128" parses as scheme "proxy:" with no host: Go then tries http://
    if (!u.host) u = undefined;
  } catch {
    u = undefined;
  }
  if (!u) {
    try {
      u = new URL(`http://${value}`);
    } catch {
      throw invalid('proxy_url', `invalid ${what} URL ${JSON.stringify(value)}`);
    }
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw invalid(
      'proxy_url',
      `${what} ${JSON.stringify(value)}: unsupported proxy scheme ${JSON.stringify(u.protocol.slice(0, -1))}`,
    );
  return u;
}

/** The proxy for a request URL, or undefined to go direct. */
export function proxyFor(url: URL, cfg: ProxyConfig | undefined): URL | undefined {
  if (!cfg) return undefined;
  const value = url.protocol === 'https:' ? cfg.httpsProxy : url.protocol === 'http:' ? cfg.httpProxy : undefined;
  if (!value) return undefined;
  const host = bareHost(url.hostname);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (!useProxy(host, port, cfg.noProxy ?? '')) return undefined;
  return parseProxyURL(value, url.protocol === 'https:' ? 'https-proxy' : 'http-proxy');
}

/**
 * Whether a request to host:port goes through the proxy (Go's useProxy): never for "localhost"
 * or a loopback IP; not when NO_PROXY has "*", the IP, a CIDR holding it, or a domain it is or
 * ends with (".example.com" only sub-domains; "example.com" and "*.example.com" both), an
 * entry's port, when given, having to match too.
 */
export function useProxy(host: string, port: string, noProxy: string): boolean {
  host = bareHost(host).toLowerCase().replace(/\.$/, '');
  if (host === 'localhost') return false;
  const ipKind = isIP(host);
  if (ipKind && isLoopback(host)) return false;
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return false;
    // a CIDR: matches IP hosts in it (any port)
    const slash = entry.indexOf('/');
    if (slash >= 0) {
      if (ipKind && inCIDR(host, entry)) return false;
      continue;
    }
    const { host: eh, port: ep } = splitHostPort(entry);
    if (ep && ep !== port) continue;
    if (isIP(eh)) {
      if (ipKind && sameIP(eh, host)) return false;
      continue;
    }
    // "*.example.com" is ".example.com"; "example.com" also matches itself
    let suffix = eh.startsWith('*.') ? eh.slice(1) : eh;
    const matchItself = !suffix.startsWith('.');
    if (matchItself) suffix = `.${suffix}`;
    if (host.endsWith(suffix) || (matchItself && host === suffix.slice(1))) return false;
  }
  return true;
}

/** "[::1]" -> "::1"; anything else as it is. */
function bareHost(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** "host:port", "[v6]:port", "v6", "host" -> parts (a bare IPv6 address has no port). */
function splitHostPort(s: string): { host: string; port: string } {
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    const rest = s.slice(end + 1);
    return { host: s.slice(1, end), port: rest.startsWith(':') ? rest.slice(1) : '' };
  }
  if (isIP(s) === 6) return { host: s, port: '' };
  const i = s.lastIndexOf(':');
  return i >= 0 ? { host: s.slice(0, i), port: s.slice(i + 1) } : { host: s, port: '' };
}

function isLoopback(ip: string): boolean {
  return /^127\./.test(ip) || ip === '::1' || /^::ffff:127\./i.test(ip);
}

function sameIP(a: string, b: string): boolean {
  if (a === b) return true;
  const kind = isIP(a);
  if (kind !== isIP(b)) return false;
  const list = new BlockList();
  list.addAddress(a, kind === 6 ? 'ipv6' : 'ipv4');
  return list.check(b, kind === 6 ? 'ipv6' : 'ipv4');
}

/** Whether `ip` is in `cidr` ("10.0.0.0/8", "fd00::/8"); a malformed CIDR matches nothing (Go skips it). */
export function inCIDR(ip: string, cidr: string): boolean {
  const parsed = parseCIDR(cidr);
  if (!parsed) return false;
  const kind = isIP(ip);
  if (!kind) return false;
  const list = new BlockList();
  list.addSubnet(parsed.net, parsed.prefix, parsed.kind);
  return list.check(ip, kind === 6 ? 'ipv6' : 'ipv4');
}

/** "10.1.0.0/16" -> its parts, or undefined when it is not a CIDR. */
export function parseCIDR(s: string): { net: string; prefix: number; kind: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const kind = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (!kind || prefix > (kind === 4 ? 32 : 128)) return undefined;
  return { net: m[1]!, prefix, kind: kind === 4 ? 'ipv4' : 'ipv6' };
}

/** Proxy-Authorization for a proxy URL with user:password, as Go sends it. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** A connection to the proxy itself: plain TCP for http://, TLS (verified) for https://. */
export function dialProxy(proxy: URL): net.Socket {
  const load = createRequire(import.meta.url);
  const port = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const host = bareHost(proxy.hostname);
  if (proxy.protocol === 'https:') {
    const tls = load('node:tls') as typeof import('node:tls');
    return tls.connect({ host, port, ...(isIP(host) ? {} : { servername: host }) });
  }
  return (load('node:net') as typeof import('node:net')).connect({ host, port });
}

/**
 * A tunnel to host:port through the proxy (HTTP CONNECT): the socket once the proxy answered 200,
 * for the caller's TLS session with the registry. A refusal names the proxy and its status.
 */
export function openTunnel(proxy: URL, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  const target = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const auth = proxyAuthorization(proxy);
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: 'CONNECT',
      path: target,
      headers: { Host: target, 'User-Agent': 'berth/0.1', ...(auth ? { 'Proxy-Authorization': auth } : {}) },
      createConnection: () => dialProxy(proxy),
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(
        unavailable('proxy_timeout', `proxy ${proxy.host}: no answer to CONNECT ${target} for ${timeoutMs / 1000} s`),
      );
    });
    req.on('connect', (res, socket, head) => {
      req.setTimeout(0);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(
          unavailable(
            'proxy_refused',
            `proxy ${proxy.host} refused CONNECT ${target}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
          ),
        );
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      // a proxy that answers CONNECT with a plain response (not an upgrade) refused it
      res.resume();
      reject(unavailable('proxy_refused', `proxy ${proxy.host} refused CONNECT ${target}: ${res.statusCode}`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof Error && 'kind' in err) reject(err);
      else reject(unavailable('proxy_unreachable', `proxy ${proxy.host}: ${err.code ?? err.message}`, err));
    });
    req.end();
  });
}
