import type * as http from 'node:http';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { BerthError, unavailable } from '../core/errors.js';
import type { TlsFiles } from './hosts.js';
import { type ProxyConfig, dialProxy, openTunnel, proxyAuthorization, proxyFor } from './proxy.js';

/**
 * HTTP for registries on Node's http/https modules rather than fetch: each request
 * takes its own TLS options (no verification for insecure registries, certs.d's CAs
 * and client certificate) and proxies (http through the proxy, https through a
 * CONNECT tunnel: proxy.ts), redirects are followed here so credentials are dropped
 * when a redirect leaves the registry's host, and bodies stream to the layer code.
 * node:http and node:https are imported when first needed: a command that reaches
 * no registry does not pay for loading them at start-up.
 */
export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body, to be read or resumed (dump) by the caller. */
  body: http.IncomingMessage;
  /** The URL that answered (after redirects). */
  url: URL;
}

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  method?: Method;
  headers?: Record<string, string>;
  /**
   * A request body: bytes, or a stream piped as it comes (a stream cannot be sent
   * twice, so such a request is not redirected: a redirect answer is returned as it is).
   */
  body?: Buffer | NodeJS.ReadableStream;
  /** https without verifying the certificate (insecure registries). */
  insecureTLS?: boolean;
  /** Extra CAs and a client certificate for https (a certs.d directory); for the registry's own host. */
  tls?: TlsFiles;
  /** Proxies; none when absent (the engine reads no environment: the caller says). */
  proxies?: ProxyConfig;
  /** Idle time, in ms, after which a request fails, also while its body is read (default 60 s). */
  timeoutMs?: number;
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function request(url: URL, opts: RequestOptions = {}): Promise<Response> {
  let cur = url;
  let headers = { ...opts.headers };
  const max = opts.maxRedirects ?? 10;
  for (let hop = 0; ; hop++) {
    const res = await once(cur, headers, opts);
    if (!REDIRECTS.has(res.status) || !res.headers.location) return res;
    if (opts.body && !Buffer.isBuffer(opts.body)) return res;
    res.body.resume();
    if (hop >= max)
      throw unavailable('registry_redirects', `${opts.method ?? 'GET'} ${url}: stopped after ${max} redirects`);
    const next = new URL(res.headers.location, cur);
    if (next.protocol !== 'http:' && next.protocol !== 'https:')
      throw unavailable('registry_redirect', `${url}: redirect to unsupported URL ${JSON.stringify(next.href)}`);
    // the registry's credentials stay with the registry (a blob store elsewhere gets none); its TLS
    // settings go on, as one Go transport's do for dockerd
    if (next.host !== cur.host) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    cur = next;
  }
}

async function once(url: URL, headers: Record<string, string>, opts: RequestOptions): Promise<Response> {
  const load = createRequire(import.meta.url);
  const https = url.protocol === 'https:';
  const timeout = opts.timeoutMs ?? idleTimeoutMs();
  const proxy = proxyFor(url, opts.proxies);
  const tlsOpts = https ? tlsOptions(url, opts) : {};
  let target: URL | { host: string; port: number; path: string } = url;
  let extra: http.RequestOptions = {};
  if (proxy && https) {
    // a tunnel through the proxy, then TLS with the registry over it (SNI, verification as direct)
    const port = Number(url.port || 443);
    const socket = await openTunnel(proxy, bare(url.hostname), port, timeout);
    const tls = load('node:tls') as typeof import('node:tls');
    const conn = tls.connect({ socket, ...tlsOpts });
    extra = { createConnection: () => conn, headers: { Host: url.host } };
  } else if (proxy) {
    // plain http: the proxy gets the absolute URL
    const auth = proxyAuthorization(proxy);
    target = { host: bare(proxy.hostname), port: Number(proxy.port || 80), path: url.href };
    extra = {
      headers: { Host: url.host, ...(auth ? { 'Proxy-Authorization': auth } : {}) },
      ...(proxy.protocol === 'https:' ? { createConnection: () => dialProxy(proxy) } : {}),
    };
  }
  const mod = (https ? load('node:https') : load('node:http')) as typeof import('node:https');
  return new Promise((resolve, reject) => {
    let answer: http.IncomingMessage | undefined;
    const cb = (res: http.IncomingMessage) => {
      answer = res;
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
    };
    const options: http.RequestOptions = {
      method: opts.method ?? 'GET',
      ...(proxy ? {} : tlsOpts),
      ...extra,
      headers: { 'User-Agent': 'berth/0.1', ...extra.headers, ...headers },
      // (a connection of our own is not pooled: with createConnection, no agent)
      ...(extra.createConnection ? {} : { agent: false }),
    };
    const req = target instanceof URL ? mod.request(target, options, cb) : mod.request({ ...target, ...options }, cb);
    // the socket's idle time: waiting for the answer and, after it, between body chunks (a stalled body
    // fails with this error, not a bare "aborted")
    req.setTimeout(timeout, () => {
      const err = unavailable(
        'registry_timeout',
        `${opts.method ?? 'GET'} ${url}: nothing received for ${timeout / 1000} s`,
      );
      answer?.destroy(err);
      req.destroy(err);
    });
    req.on('error', (err) => reject(err instanceof BerthError ? err : networkError(url, err)));
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      // a failing source ends the request with its error (the caller sees it, not a short upload)
      body.on('error', (err) => req.destroy(err instanceof BerthError ? err : networkError(url, err)));
      body.pipe(req);
    }
  });
}

/** The default idle timeout: 60 s, or BERTH_REGISTRY_TIMEOUT seconds (read per request, never at start-up). */
function idleTimeoutMs(): number {
  const s = Number(process.env.BERTH_REGISTRY_TIMEOUT);
  return s > 0 ? s * 1000 : 60_000;
}

/** Node's TLS options for an https URL: SNI by name, verification unless insecure, certs.d's CAs (added) and client pair. */
function tlsOptions(url: URL, opts: RequestOptions): import('node:tls').ConnectionOptions {
  const host = bare(url.hostname);
  const out: import('node:tls').ConnectionOptions = {
    host,
    port: Number(url.port || 443),
    ...(isIP(host) ? {} : { servername: host }),
  };
  if (opts.insecureTLS) out.rejectUnauthorized = false;
  const files = opts.tls;
  if (files?.ca?.length) {
    const { rootCertificates } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
    out.ca = [...rootCertificates, ...files.ca];
  }
  if (files?.cert !== undefined && files.key !== undefined) {
    out.cert = files.cert;
    out.key = files.key;
  }
  return out;
}

const bare = (h: string) => (h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h);

export function networkError(url: URL, err: unknown): BerthError {
  const e = err as NodeJS.ErrnoException;
  // OpenSSL's "...:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:file.c:1601:..." says its reason
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(e?.message ?? '');
  const message = (ssl ? ssl[1]! : (e?.message ?? '')).trim();
  return unavailable(
    'registry_unreachable',
    `${url.origin}: ${e?.code ? `${e.code}${message && !message.startsWith(e.code) ? ` (${message})` : ''}` : String(e?.message ?? err)}`,
    err,
  );
}

/** Read a whole body, at most `max` bytes (more is an error naming `what`). */
export async function readBody(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? -1);
  if (declared > max) {
    res.body.destroy();
    throw new BerthError(
      'InvalidArgument',
      'registry_too_large',
      `${what}: ${declared} bytes exceed the limit of ${max}`,
    );
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      res.body.destroy();
      throw new BerthError('InvalidArgument', 'registry_too_large', `${what}: more than ${max} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * Docker's default insecure registries: 127.0.0.0/8 (and ::1), also by a name that
 * resolves only there ("localhost"). Those get https without verification, then http.
 */
export async function isLoopbackHost(hostPort: string): Promise<boolean> {
  const host = hostPort.startsWith('[') ? hostPort.slice(1, hostPort.indexOf(']')) : hostPort.replace(/:\d+$/, '');
  if (isIP(host)) return isLoopbackIP(host);
  if (host === 'localhost') return true;
  try {
    const { lookup } = createRequire(import.meta.url)('node:dns/promises') as typeof import('node:dns/promises');
    const addrs = await lookup(host, { all: true });
    return addrs.length > 0 && addrs.every((a) => isLoopbackIP(a.address));
  } catch {
    return false;
  }
}

function isLoopbackIP(ip: string): boolean {
  return /^127\./.test(ip) || ip === '::1' || /^::ffff:127\./i.test(ip);
}
