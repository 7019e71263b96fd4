/**
 * Debian's docker-registry (distribution 2.8) on 127.0.0.1 for tests: its own storage dir and
 * config under a scope temp dir, a free port, optionally htpasswd Basic auth; stopped (SIGTERM,
 * then SIGKILL) when the scope is disposed, also when the test fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Scope } from './peers.js';
import { hdr, makeTar } from './archive.js';

export interface Registry {
  /** "127.0.0.1:PORT" */
  host: string;
  dir: string;
  stop(): void;
  log(): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startRegistry(
  scope: Scope,
  opts: { user?: string; password?: string; tls?: boolean } = {},
): Promise<Registry> {
  const dir = scope.tempDir('registry');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    '  secret: berth-test-secret',
  ];
  if (opts.tls) {
    // a self-signed certificate: loopback registries are used without verifying it, as Docker does
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=berth-test',
        '-keyout',
        join(dir, 'tls.key'),
        '-out',
        join(dir, 'tls.crt'),
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    lines.push('  tls:', `    certificate: ${join(dir, 'tls.crt')}`, `    key: ${join(dir, 'tls.key')}`);
  }
  if (opts.user !== undefined) {
    const r = spawnSync('htpasswd', ['-Bbn', opts.user, opts.password ?? ''], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    fs.writeFileSync(join(dir, 'htpasswd'), r.stdout);
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  fs.writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const logFile = join(dir, 'registry.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  let stopped = false;
  const stop = () => {
    if (stopped || child.exitCode !== null) return;
    stopped = true;
    child.kill('SIGKILL');
  };
  scope.defer(`stop docker-registry ${host}`, stop);
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${log()}`);
    const status = await new Promise<number>((resolve) => {
      const req = (opts.tls ? https : http).get(
        `${opts.tls ? 'https' : 'http'}://${host}/v2/`,
        { rejectUnauthorized: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', () => resolve(0));
    });
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) {
      stop();
      throw new Error(`docker-registry on ${host} did not answer: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host, dir, stop, log };
}

// ---- images built in code, and getting them into a registry ---------------------------------------

export interface RegImage {
  manifest: Buffer;
  manifestType: string;
  config: Buffer;
  /** Every blob (config and layers) by digest. */
  blobs: Map<string, Buffer>;
  /** sha256 of the config: the image ID. */
  id: string;
  diffIDs: string[];
  layerDigests: string[];
  digest: string;
}

const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const digestOf = (b: Buffer) => `sha256:${sha256hex(b)}`;

/** An image of gzip'd layers, each a tar built in code; Docker schema2 types or OCI ones. */
export function makeImage(
  layerTars: Buffer[],
  opts: { oci?: boolean; architecture?: string; variant?: string; cmd?: string } = {},
): RegImage {
  const blobs = new Map<string, Buffer>();
  const layers = layerTars.map((tar) => {
    const gz = gzipSync(tar);
    blobs.set(digestOf(gz), gz);
    return {
      mediaType: opts.oci
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      size: gz.length,
      digest: digestOf(gz),
    };
  });
  const diffIDs = layerTars.map(digestOf);
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? hostArch(),
      ...(opts.variant ? { variant: opts.variant } : {}),
      os: 'linux',
      config: { Cmd: [opts.cmd ?? '/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIDs },
      history: layerTars.map((_, i) => ({ created_by: `layer ${i}` })),
    }),
  );
  blobs.set(digestOf(config), config);
  const manifestType = opts.oci
    ? 'application/vnd.oci.image.manifest.v1+json'
    : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: {
        mediaType: opts.oci
          ? 'application/vnd.oci.image.config.v1+json'
          : 'application/vnd.docker.container.image.v1+json',
        size: config.length,
        digest: digestOf(config),
      },
      layers,
    }),
  );
  return {
    manifest,
    manifestType,
    config,
    blobs,
    id: digestOf(config),
    diffIDs,
    layerDigests: layers.map((l) => l.digest),
    digest: digestOf(manifest),
  };
}

/** An index (OCI or Docker list) over images, each entry with its image's platform. */
export function makeIndex(images: RegImage[], oci = true): { body: Buffer; type: string; digest: string } {
  const type = oci
    ? 'application/vnd.oci.image.index.v1+json'
    : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: type,
      manifests: images.map((img) => {
        const c = JSON.parse(img.config.toString()) as { os: string; architecture: string; variant?: string };
        return {
          mediaType: img.manifestType,
          size: img.manifest.length,
          digest: img.digest,
          platform: { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) },
        };
      }),
    }),
  );
  return { body, type, digest: digestOf(body) };
}

export function hostArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** A small layer: files given as name -> content (dirs made for their parents). */
export function layerTar(files: Record<string, string>): Buffer {
  const entries: Array<[ReturnType<typeof hdr>, string?]> = [];
  const dirs = new Set<string>();
  for (const name of Object.keys(files)) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/') + '/';
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push([hdr(d, { type: 'dir', mode: 0o755 })]);
      }
    }
    entries.push([hdr(name), files[name]!]);
  }
  return makeTar(entries);
}

/** Push an image with the distribution API (monolithic blob uploads, then the manifest under `ref`). */
export async function pushImage(
  host: string,
  repo: string,
  ref: string,
  manifest: { body: Buffer; type: string },
  blobs: Map<string, Buffer>,
  auth?: { user: string; password: string },
  tls = false,
): Promise<void> {
  const base = `${tls ? 'https' : 'http'}://${host}`;
  const headers: Record<string, string> = auth
    ? { Authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` }
    : {};
  for (const [digest, data] of blobs) {
    const start = await httpReq('POST', `${base}/v2/${repo}/blobs/uploads/`, headers);
    if (start.status !== 202) throw new Error(`start upload: ${start.status} ${start.body}`);
    const loc = new URL(start.headers.location as string, base);
    loc.searchParams.set('digest', digest);
    const put = await httpReq('PUT', loc.href, { ...headers, 'Content-Type': 'application/octet-stream' }, data);
    if (put.status !== 201) throw new Error(`upload ${digest}: ${put.status} ${put.body}`);
  }
  const m = await httpReq(
    'PUT',
    `${base}/v2/${repo}/manifests/${ref}`,
    { ...headers, 'Content-Type': manifest.type },
    manifest.body,
  );
  if (m.status !== 201) throw new Error(`put manifest: ${m.status} ${m.body}`);
}

export function httpReq(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(
      url,
      { method, rejectUnauthorized: false, headers: { ...headers, 'Content-Length': String(body?.length ?? 0) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---- a registry written for the tests: honest by default, lying when told ---------------------------

export interface FakeAnswer {
  status: number;
  /** Close the connection without an answer. */
  drop?: boolean;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** How the honest registry serves one blob GET (FakeRegistry.blobPlan): a flaky or stalling network, a Range ignored. */
export interface BlobPlan {
  /** Answer 200 with the whole blob even to a Range request (as a registry without range support). */
  ignoreRange?: boolean;
  /** Answer a Range request with 416. */
  refuseRange?: boolean;
  /** Send this many body bytes, then drop the connection. */
  dropAfter?: number;
  /** Send this many body bytes (0: the headers only), then nothing more, the connection left open. */
  stallAfter?: number;
  /** Delay the answer's headers by this many ms. */
  delayMs?: number;
}

export interface FakeRegistry {
  host: string;
  /** Manifests by "repo:ref" (tag or digest) and blobs by digest. */
  manifests: Map<string, { body: Buffer; type: string }>;
  blobs: Map<string, Buffer>;
  /** Every request: method, path, Authorization and Range headers. */
  seen: Array<{ method: string; path: string; authorization?: string; range?: string }>;
  /** Blob body bytes written to the network, by digest. */
  blobBytesSent: Map<string, number>;
  /** Decide how the honest registry serves a blob GET (`from`: the Range asked for, if any). */
  blobPlan?: (digest: string, from: number | undefined) => BlobPlan | undefined;
  /** Answer a request instead of the honest registry (return undefined to let it answer). */
  override?: (method: string, url: URL) => FakeAnswer | undefined;
  /** Put an image's manifest (under its digest and `tag`) and blobs. */
  add(
    repo: string,
    tag: string,
    img: { manifest: Buffer; manifestType: string; blobs: Map<string, Buffer>; digest: string },
  ): void;
}

/**
 * A small registry on 127.0.0.1 in this process. With `bearer`, it answers 401 with a Bearer
 * challenge whose realm is its own /token, which gives tokens for Basic user:password (or to
 * anyone when `anonymous`), and accepts only tokens it gave.
 */
export async function fakeRegistry(
  scope: Scope,
  opts: { bearer?: { user: string; password: string; anonymous?: boolean } } = {},
): Promise<FakeRegistry> {
  const tokens = new Set<string>();
  const reg: FakeRegistry = {
    host: '',
    manifests: new Map(),
    blobs: new Map(),
    seen: [],
    blobBytesSent: new Map(),
    add(repo, tag, img) {
      reg.manifests.set(`${repo}:${tag}`, { body: img.manifest, type: img.manifestType });
      reg.manifests.set(`${repo}:${img.digest}`, { body: img.manifest, type: img.manifestType });
      for (const [d, b] of img.blobs) reg.blobs.set(d, b);
    },
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${reg.host}`);
    const method = req.method ?? 'GET';
    reg.seen.push({
      method,
      path: url.pathname,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.range ? { range: req.headers.range } : {}),
    });
    const send = (a: FakeAnswer) => {
      if (a.drop) {
        req.socket.destroy();
        return;
      }
      const body = typeof a.body === 'string' ? Buffer.from(a.body) : (a.body ?? Buffer.alloc(0));
      res.writeHead(a.status, { 'Content-Length': String(body.length), ...a.headers });
      res.end(method === 'HEAD' ? undefined : body);
    };
    const over = reg.override?.(method, url);
    if (over) return send(over);
    if (url.pathname === '/token' && opts.bearer) {
      const want = `Basic ${Buffer.from(`${opts.bearer.user}:${opts.bearer.password}`).toString('base64')}`;
      if (req.headers.authorization !== want && !(opts.bearer.anonymous && !req.headers.authorization))
        return send({
          status: 401,
          body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }),
        });
      const t = `tok-${tokens.size + 1}-${url.searchParams.getAll('scope').join('+')}`;
      tokens.add(t);
      return send({
        status: 200,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: t, expires_in: 300 }),
      });
    }
    if (opts.bearer) {
      const tok = req.headers.authorization?.replace(/^Bearer /, '');
      if (!tok || !tokens.has(tok)) {
        const m = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname);
        const scopePart = m ? `,scope="repository:${m[1]}:pull"` : '';
        return send({
          status: 401,
          headers: { 'WWW-Authenticate': `Bearer realm="http://${reg.host}/token",service="fake"${scopePart}` },
          body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
        });
      }
    }
    if (url.pathname === '/v2/') return send({ status: 200, body: '{}' });
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (m && m[2] === 'manifests') {
      const man = reg.manifests.get(`${m[1]}:${m[3]}`);
      if (!man)
        return send({
          status: 404,
          body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }),
        });
      return send({
        status: 200,
        headers: { 'Content-Type': man.type, 'Docker-Content-Digest': digestOf(man.body) },
        body: man.body,
      });
    }
    if (m && m[2] === 'blobs') {
      const b = reg.blobs.get(m[3]!);
      if (!b)
        return send({
          status: 404,
          body: JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }),
        });
      return serveBlob(reg, m[3]!, b, req, res);
    }
    send({ status: 404, body: '404 page not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  reg.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  scope.defer(`close fake registry ${reg.host}`, () => {
    server.closeAllConnections();
    server.close();
  });
  return reg;
}

/** A blob as distribution serves it (ranges: 206 with Content-Range), shaped by the registry's blobPlan. */
function serveBlob(reg: FakeRegistry, digest: string, b: Buffer, req: http.IncomingMessage, res: http.ServerResponse) {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const from = m ? Number(m[1]) : undefined;
  const plan = reg.blobPlan?.(digest, from) ?? {};
  const go = () => {
    if (from !== undefined && plan.refuseRange) {
      res.writeHead(416, { 'Content-Range': `bytes */${b.length}`, 'Content-Length': '0' });
      return res.end();
    }
    const ranged = from !== undefined && !plan.ignoreRange;
    if (ranged && from >= b.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${b.length}`, 'Content-Length': '0' });
      return res.end();
    }
    const body = ranged ? b.subarray(from) : b;
    res.writeHead(ranged ? 206 : 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
      'Accept-Ranges': 'bytes',
      ...(ranged ? { 'Content-Range': `bytes ${from}-${b.length - 1}/${b.length}` } : {}),
    });
    if (req.method === 'HEAD') return res.end();
    const count = (n: number) => reg.blobBytesSent.set(digest, (reg.blobBytesSent.get(digest) ?? 0) + n);
    const cut = plan.dropAfter ?? plan.stallAfter;
    if (cut === undefined || cut >= body.length) {
      count(body.length);
      return res.end(body);
    }
    count(cut);
    res.flushHeaders();
    if (cut > 0) res.write(body.subarray(0, cut));
    // the bytes reach the client before the connection goes (a drop), or nothing follows them (a stall)
    if (plan.dropAfter !== undefined) setTimeout(() => req.socket.destroy(), 50);
  };
  if (plan.delayMs) setTimeout(go, plan.delayMs).unref();
  else go();
}
