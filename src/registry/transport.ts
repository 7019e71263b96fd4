import type * as http from 'node:http';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { BerthError, unavailable } from '../core/errors.js';

/**
 * HTTP for registries on Node's http/https modules rather than fetch: each request
 * takes its own TLS options (no verification for loopback registries, client
 * certificates later), redirects are followed here so credentials are dropped when
 * a redirect leaves the registry's host, and bodies stream to the layer code.
 * node:http and node:https are imported when first needed: they cannot be part of
 * the CLI's start-up snapshot (scripts/bundle.sh), which loads every command.
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
    // the registry's credentials stay with the registry (a blob store elsewhere gets none)
    if (next.host !== cur.host) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    cur = next;
  }
}

function once(url: URL, headers: Record<string, string>, opts: RequestOptions): Promise<Response> {
  const load = createRequire(import.meta.url);
  const mod = (url.protocol === 'https:' ? load('node:https') : load('node:http')) as typeof import('node:https');
  return new Promise((resolve, reject) => {
    let answer: http.IncomingMessage | undefined;
    const req = mod.request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: { 'User-Agent': 'berth/0.1', ...headers },
        ...(url.protocol === 'https:' && opts.insecureTLS ? { rejectUnauthorized: false } : {}),
        agent: false,
      },
      (res) => {
        answer = res;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      },
    );
    const timeout = opts.timeoutMs ?? idleTimeoutMs();
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

export function networkError(url: URL, err: unknown): BerthError {
  const e = err as NodeJS.ErrnoException;
  return unavailable(
    'registry_unreachable',
    `${url.origin}: ${e?.code ? `${e.code}${e.message && !e.message.startsWith(e.code) ? ` (${e.message})` : ''}` : String(e?.message ?? err)}`,
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
