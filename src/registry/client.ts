import { BerthError, invalid, unavailable } from '../core/errors.js';
import { type Challenge, parseChallenges } from './challenge.js';
import { registryError } from './errors.js';
import { CERTS_DIRS, type Endpoint, type RegistryConfig, endpointsFor } from './hosts.js';
import { type Method, type Response, type RequestOptions, isLoopbackHost, readBody, request } from './transport.js';

/** Credentials for one registry, as the Docker Engine API's AuthConfig (X-Registry-Auth). */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** An OAuth refresh token from an earlier login. */
  identitytoken?: string;
  /** A bearer token sent as it is. */
  registrytoken?: string;
  serveraddress?: string;
}

interface Token {
  value: string;
  expires: number;
}

const MAX_TOKEN_RESPONSE = 1 << 20;

/**
 * One registry (host[:port]) for one set of credentials: the `/v2/` ping that picks
 * the endpoint and learns how to authenticate, Bearer tokens per scope (fetched
 * with the credentials, or anonymously; refreshed when they expire), Basic auth.
 */
export class RegistryClient {
  private base?: URL;
  private insecureTLS = false;
  /** TLS files and proxies of the endpoint in use, for every request to it. */
  private conn: Pick<RequestOptions, 'tls' | 'proxies'> = {};
  /** The endpoint in use (its index in `endpoints`); the ones before it failed. */
  private current = -1;
  private challenges: Challenge[] = [];
  private readonly tokens = new Map<string, Token>();

  private constructor(
    readonly host: string,
    private readonly auth: AuthConfig | undefined,
    private readonly endpoints: Endpoint[],
    private readonly config: RegistryConfig,
  ) {}

  /**
   * The endpoints for `host` as dockerd picks them (hosts.ts): Docker Hub's mirrors then Docker
   * Hub; https with certs.d's CAs and client certificate; an insecure registry (loopback, or
   * insecure-registries) https unverified, then http. Proxies from `config` for every request.
   */
  static async open(host: string, auth?: AuthConfig, config: RegistryConfig = {}): Promise<RegistryClient> {
    if (!/^[A-Za-z0-9.\-[\]:]+$/.test(host) || /^\.+$/.test(host))
      throw invalid('registry_host', `invalid registry host ${JSON.stringify(host)}`);
    return new RegistryClient(host, auth, await endpointsFor(host, config), config);
  }

  /**
   * GET /v2/: picks the first endpoint (after those given up) that answers; 200 or 401 (with its
   * challenges) are fine. A mirror that fails or answers anything else is passed over.
   */
  async ping(): Promise<void> {
    if (this.base) return;
    let last: unknown;
    for (let i = this.current + 1; i < this.endpoints.length; i++) {
      const ep = this.endpoints[i]!;
      const conn = {
        ...(ep.tls ? { tls: ep.tls } : {}),
        ...(this.config.proxies ? { proxies: this.config.proxies } : {}),
      };
      let res: Response;
      try {
        res = await request(new URL('v2/', ep.url), { insecureTLS: ep.insecureTLS, timeoutMs: 15_000, ...conn });
      } catch (err) {
        last = explainTLS(err, ep, this.config.certsDirs ?? CERTS_DIRS);
        continue;
      }
      if (res.status !== 200 && res.status !== 401) {
        last = await registryError(res, `ping ${ep.url.origin}${ep.url.pathname}v2/`);
        if (ep.mirror) continue;
        throw last;
      }
      res.body.resume();
      this.base = ep.url;
      this.current = i;
      this.insecureTLS = ep.insecureTLS;
      this.conn = conn;
      this.challenges = parseChallenges(res.headers['www-authenticate']);
      return;
    }
    throw last instanceof BerthError ? last : new BerthError('Unavailable', 'registry_unreachable', String(last));
  }

  /**
   * After a mirror failed to give a manifest (an error answer, or no answer): as dockerd, the
   * pull goes on from the next endpoint (another mirror, then Docker Hub). False when the
   * endpoint in use is not a mirror.
   */
  private async leaveMirror(path: string): Promise<boolean> {
    if (!this.base || !this.endpoints[this.current]?.mirror || !/\/manifests\//.test(path)) return false;
    this.base = undefined;
    this.challenges = [];
    this.tokens.clear();
    await this.ping();
    return true;
  }

  /**
   * Check the credentials as `docker login` does: a token fetched with them (Bearer),
   * or `/v2/` answering 200 with them (Basic, or no auth at all).
   */
  async checkLogin(): Promise<void> {
    await this.ping();
    const bearer = this.challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      await this.fetchToken(bearer, []);
      return;
    }
    const res = await this.get('/v2/', [], {});
    if (res.status !== 200) throw await registryError(res, `login to ${this.host}`);
    res.body.resume();
  }

  /**
   * A GET (or HEAD) on the registry with the authorization for `scopes`; one retry after a
   * 401 with fresh auth; a 5xx or 429 answer, or a connection that failed or dropped before
   * the answer, is tried again after 0.5, 1 and 2 s (the last answer or error stands).
   */
  async get(
    path: string,
    scopes: string[],
    opts: { method?: Method; headers?: Record<string, string> },
  ): Promise<Response> {
    return this.send(opts.method ?? 'GET', path, scopes, opts.headers ? { headers: opts.headers } : {});
  }

  /**
   * Any request on the registry: `target` is a path ("/v2/...") or a URL the registry gave
   * (an upload's Location, absolute or relative to the registry). The authorization for
   * `scopes` goes only to the registry's own host. Without a body or with bytes, the request
   * is retried as `get` says (401 once with fresh auth; 5xx, 429, dropped connections with
   * back-off); a streamed body can be sent once only, so that request is never retried.
   */
  async send(
    method: Method,
    target: string,
    scopes: string[],
    opts: { headers?: Record<string, string>; body?: Buffer | NodeJS.ReadableStream } = {},
  ): Promise<Response> {
    await this.ping();
    for (;;) {
      let res: Response;
      try {
        res = await this.sendRetried(method, target, scopes, opts);
      } catch (err) {
        if (await this.leaveMirror(target)) continue;
        throw err;
      }
      if (res.status >= 400 && this.endpoints[this.current]?.mirror && /\/manifests\//.test(target)) {
        res.body.resume();
        if (await this.leaveMirror(target)) continue;
      }
      return res;
    }
  }

  /** `send` on the current endpoint, with the retries it describes. */
  private async sendRetried(
    method: Method,
    target: string,
    scopes: string[],
    opts: { headers?: Record<string, string>; body?: Buffer | NodeJS.ReadableStream },
  ): Promise<Response> {
    const url = this.resolve(target);
    const once = opts.body === undefined || Buffer.isBuffer(opts.body) ? undefined : true;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.sendOnce(method, url, scopes, opts, once);
      } catch (err) {
        if (once || attempt >= this.retryDelays.length || !isTransient(err)) throw err;
        await sleep(this.retryDelays[attempt]!);
        continue;
      }
      if (!once && (res.status >= 500 || res.status === 429) && attempt < this.retryDelays.length) {
        res.body.resume();
        await sleep(this.retryDelays[attempt]!);
        continue;
      }
      return res;
    }
  }

  /**
   * A path of berth's own ("/v2/...", under the endpoint's path: a mirror's URL may have one)
   * or a URL the registry gave (absolute), as a URL (http or https only).
   */
  resolve(target: string): URL {
    const url = target.startsWith('/') ? new URL(target.replace(/^\/+/, ''), this.base) : new URL(target, this.base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw invalid('registry_location', `${this.host}: unsupported URL ${JSON.stringify(target)} in an answer`);
    return url;
  }

  /** Back-off between tries of a failed request (ms); tests may shorten it. */
  retryDelays = [500, 1000, 2000];

  private async sendOnce(
    method: Method,
    url: URL,
    scopes: string[],
    opts: { headers?: Record<string, string>; body?: Buffer | NodeJS.ReadableStream },
    streamed: true | undefined,
  ): Promise<Response> {
    const own = url.host === this.base!.host;
    for (let attempt = 0; ; attempt++) {
      const authz = own ? await this.authorization(scopes, attempt > 0) : undefined;
      const res = await request(url, {
        method,
        headers: { ...opts.headers, ...(authz ? { Authorization: authz } : {}) },
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        insecureTLS: own ? this.insecureTLS : await isLoopbackHost(url.host),
        // certs.d's CAs and client certificate are the registry's; proxies apply to every host
        ...(own && this.conn.tls ? { tls: this.conn.tls } : {}),
        ...(this.conn.proxies ? { proxies: this.conn.proxies } : {}),
      });
      if (res.status !== 401 || attempt > 0 || streamed) return res;
      // a challenge this request taught us (or an expired token): learn it and try once more
      const fresh = parseChallenges(res.headers['www-authenticate']);
      if (fresh.length === 0) return res;
      res.body.resume();
      this.challenges = fresh;
      this.tokens.clear();
    }
  }

  private async authorization(scopes: string[], renew: boolean): Promise<string | undefined> {
    if (this.auth?.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    const bearer = this.challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      const key = scopes.join(' ');
      const have = this.tokens.get(key);
      if (have && !renew && have.expires > Date.now()) return `Bearer ${have.value}`;
      const t = await this.fetchToken(bearer, scopes);
      this.tokens.set(key, t);
      return `Bearer ${t.value}`;
    }
    if (this.challenges.some((c) => c.scheme === 'basic') && this.auth?.username !== undefined)
      return basic(this.auth.username, this.auth.password ?? '');
    return undefined;
  }

  /**
   * A Bearer token from the challenge's realm: with an identity token (an OAuth refresh token from
   * config.json) by OAuth POST as Docker's distribution client does (grant_type=refresh_token),
   * falling back to the GET when the token server answers the POST 404; else the GET
   * (realm?service=&scope=) with Basic credentials when there are any.
   */
  private async fetchToken(ch: Challenge, scopes: string[]): Promise<Token> {
    const realm = ch.params.realm;
    if (!realm) throw invalid('registry_auth', `${this.host}: the Bearer challenge names no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw invalid('registry_auth', `${this.host}: invalid token realm ${JSON.stringify(realm)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw invalid('registry_auth', `${this.host}: invalid token realm ${JSON.stringify(realm)}`);
    const sameOrigin = this.base && url.host === this.base.host;
    const via: RequestOptions = {
      insecureTLS: sameOrigin ? this.insecureTLS : (await isLoopbackHost(url.host)) && url.protocol === 'https:',
      timeoutMs: 30_000,
      ...(sameOrigin && this.conn.tls ? { tls: this.conn.tls } : {}),
      ...(this.conn.proxies ? { proxies: this.conn.proxies } : {}),
    };
    let res: Response | undefined;
    if (this.auth?.identitytoken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: this.auth.identitytoken,
        ...(ch.params.service ? { service: ch.params.service } : {}),
        ...(scopes.length ? { scope: scopes.join(' ') } : {}),
        client_id: 'berth',
      });
      res = await request(url, {
        ...via,
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
      // a token server without OAuth: its GET, as docker falls back
      if (res.status === 404) {
        res.body.resume();
        res = undefined;
      }
    }
    if (!res) {
      if (ch.params.service) url.searchParams.set('service', ch.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const creds = this.auth?.username !== undefined ? basic(this.auth.username, this.auth.password ?? '') : undefined;
      if (this.auth?.identitytoken && !creds) url.searchParams.set('offline_token', 'true');
      res = await request(url, { ...via, headers: creds ? { Authorization: creds } : {} });
    }
    if (res.status !== 200) throw await registryError(res, `get token from ${url.origin}${url.pathname}`);
    const body = await readBody(res, MAX_TOKEN_RESPONSE, 'token response');
    let j: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      j = JSON.parse(body.toString('utf8'));
    } catch {
      throw invalid('registry_auth', `${url.origin}: the token response is not JSON`);
    }
    const value = typeof j.token === 'string' && j.token ? j.token : j.access_token;
    if (typeof value !== 'string' || !value)
      throw invalid('registry_auth', `${url.origin}: the token response has no token`);
    const secs = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60;
    // renew a little early: a token that expires in flight costs a 401 round trip
    return { value, expires: Date.now() + Math.max(1, secs - 10) * 1000 };
  }
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection that was reset, timed out or closed early: worth another try (a refused one is not). */
function isTransient(err: unknown): boolean {
  if (!(err instanceof BerthError) || err.kind !== 'Unavailable') return false;
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  if (err.code === 'registry_timeout') return true;
  return ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN'].includes(cause?.code ?? '');
}

/**
 * A TLS failure says what to do about it: the certificate's CA in certs.d, a client certificate the
 * registry requires, or the registry in insecure-registries.
 */
function explainTLS(err: unknown, ep: Endpoint, dirs: string[]): unknown {
  if (!(err instanceof BerthError) || ep.url.protocol !== 'https:' || ep.insecureTLS) return err;
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const msg = err.message;
  const host = ep.url.host;
  const where = dirs.map((d) => `${d}/${host}/`).join(' or ');
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return unavailable('registry_tls', `${msg}: the certificate of ${host} is not for that name or address`, err);
  if (
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME/.test(code) &&
    !/CERTIFICATE_REQUIRED|alert/i.test(code + msg)
  )
    return unavailable(
      'registry_tls',
      `${msg}: the certificate of ${host} is not trusted (x509): put its CA (a .crt file) in ${where}, ` +
        `or name ${host} in insecure-registries`,
      err,
    );
  if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA/i.test(code + msg))
    return unavailable(
      'registry_tls',
      `${msg}: ${host} wants a client certificate it trusts (client.cert and client.key in ${where})`,
      err,
    );
  return err;
}
