import { BerthError, invalid } from '../core/errors.js';
import { type Challenge, parseChallenges } from './challenge.js';
import { registryError } from './errors.js';
import { type Method, type Response, isLoopbackHost, readBody, request } from './transport.js';

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
  private challenges: Challenge[] = [];
  private readonly tokens = new Map<string, Token>();

  private constructor(
    readonly host: string,
    private readonly auth: AuthConfig | undefined,
    private readonly endpoints: Array<{ url: URL; insecureTLS: boolean }>,
  ) {}

  /** Loopback registries are insecure as Docker treats them: https unverified, then http; others https. */
  static async open(host: string, auth?: AuthConfig): Promise<RegistryClient> {
    if (!/^[A-Za-z0-9.\-[\]:]+$/.test(host))
      throw invalid('registry_host', `invalid registry host ${JSON.stringify(host)}`);
    const insecure = await isLoopbackHost(host);
    const endpoints = [{ url: new URL(`https://${host}/`), insecureTLS: insecure }];
    if (insecure) endpoints.push({ url: new URL(`http://${host}/`), insecureTLS: false });
    return new RegistryClient(host, auth, endpoints);
  }

  /** GET /v2/: picks the first endpoint that answers; 200 or 401 (with its challenges) are fine. */
  async ping(): Promise<void> {
    if (this.base) return;
    let last: unknown;
    for (const ep of this.endpoints) {
      let res: Response;
      try {
        res = await request(new URL('/v2/', ep.url), { insecureTLS: ep.insecureTLS, timeoutMs: 15_000 });
      } catch (err) {
        last = err;
        continue;
      }
      if (res.status !== 200 && res.status !== 401) throw await registryError(res, `ping ${ep.url.origin}/v2/`);
      res.body.resume();
      this.base = ep.url;
      this.insecureTLS = ep.insecureTLS;
      this.challenges = parseChallenges(res.headers['www-authenticate']);
      return;
    }
    throw last instanceof BerthError ? last : new BerthError('Unavailable', 'registry_unreachable', String(last));
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

  /** A path or registry-given URL, resolved against the registry's endpoint (http or https). */
  resolve(target: string): URL {
    const url = new URL(target, this.base);
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

  /** The token server's GET (realm?service=&scope=), with Basic credentials when there are any. */
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
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const creds = this.auth?.username !== undefined ? basic(this.auth.username, this.auth.password ?? '') : undefined;
    if (this.auth?.identitytoken && !creds) url.searchParams.set('offline_token', 'true');
    const sameOrigin = this.base && url.host === this.base.host;
    const res = await request(url, {
      headers: creds ? { Authorization: creds } : {},
      insecureTLS: sameOrigin ? this.insecureTLS : (await isLoopbackHost(url.host)) && url.protocol === 'https:',
      timeoutMs: 30_000,
    });
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
