/**
 * Proxies, as dockerd uses them for registries: a small HTTP proxy written here (on 127.0.0.1,
 * counting what it carries: CONNECT tunnels and absolute-URL requests) in front of docker-registry
 * on a non-loopback address (a network namespace the test makes). HTTPS_PROXY carries https
 * through CONNECT (TLS still verified against certs.d's CA), HTTP_PROXY plain http, NO_PROXY
 * bypasses them, daemon.json's proxies win over the environment, and a proxy that refuses is
 * the error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BERTH, type RunResult, berth, envWithoutProxies, tempRoot } from '../helpers/berth.js';
import { type Netns, type NsRegistry, makeNetns, makePKI, startNsRegistry } from '../helpers/netns.js';
import { Scope } from '../helpers/peers.js';
import { layerTar, makeImage, pushImage } from '../helpers/registry.js';

const scope = new Scope();
const app = makeImage([layerTar({ 'etc/app.txt': 'through a proxy\n' })]);
let ns: Netns;
let plain: NsRegistry;
let secure: NsRegistry;
let certs: string;
let proxyURL: string;

/** What the proxy carried, and whether it refuses CONNECT. */
const carried = {
  connects: [] as string[],
  requests: [] as string[],
  auth: [] as string[],
  refuse: false,
};

before(async () => {
  ns = makeNetns(scope);
  const pki = makePKI(scope, ns.nsIP);
  const storage = scope.tempDir('proxy-storage');
  plain = await startNsRegistry(scope, ns, 5000, { storage });
  secure = await startNsRegistry(scope, ns, 5443, { storage, tls: { cert: pki.serverCert, key: pki.serverKey } });
  await pushImage(plain.host, 'app', 'v1', { body: app.manifest, type: app.manifestType }, app.blobs);
  certs = scope.tempDir('certs-d');
  fs.mkdirSync(join(certs, secure.host));
  fs.copyFileSync(pki.caCert, join(certs, secure.host, 'ca.crt'));

  const proxy = http.createServer((req, res) => {
    // plain http: the absolute URL, forwarded as it is
    carried.requests.push(req.url ?? '');
    if (req.headers['proxy-authorization']) carried.auth.push(req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = http.request(target, { method: req.method ?? 'GET', headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    carried.connects.push(req.url ?? '');
    if (req.headers['proxy-authorization']) carried.auth.push(req.headers['proxy-authorization']);
    if (carried.refuse) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(':')), Number(req.url!.split(':').pop())];
    const up = net.connect({ host, port }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
  scope.defer('close the proxy', async () => {
    proxy.closeAllConnections();
    proxy.close();
  });
  proxyURL = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
});
after(() => scope.dispose());

const root = () => {
  const r = tempRoot('berth-proxy');
  scope.defer(`remove ${r.root}`, r.remove);
  return r.root;
};
/** berth without blocking this process: the proxy answers from its event loop. */
function berthAsync(r: string, args: string[], opts: { env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(BERTH, ['--root', r, ...args], {
      env: { ...envWithoutProxies(), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code: code ?? 128 + (sig === 'SIGKILL' ? 9 : 15), stdout, stderr }));
  });
}

const inspectId = (r: string, ref: string) => JSON.parse(berth(r, ['image', 'inspect', ref]).stdout)[0]?.Id;

test('HTTPS_PROXY: https goes through CONNECT tunnels to the registry, still verified by the CA in certs.d', async () => {
  const r = root();
  const before = carried.connects.length;
  const ref = `${secure.host}/app:v1`;
  const p = await berthAsync(r, ['pull', ref], { env: { HTTPS_PROXY: proxyURL, BERTH_CERTS_D: certs } });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspectId(r, ref), app.id);
  const tunnels = carried.connects.slice(before);
  assert.ok(tunnels.length >= 1, 'the proxy carried the pull');
  assert.deepEqual([...new Set(tunnels)], [secure.host]);
  // the tunnel does not replace verification: without the CA the pull fails through the proxy too
  const untrusted = await berthAsync(root(), ['pull', ref], {
    env: { https_proxy: proxyURL, BERTH_CERTS_D: scope.tempDir('empty-certs') },
  });
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /is not trusted/);
});

test('NO_PROXY: the registry named there (its IP, or a CIDR) is reached directly', async () => {
  for (const noProxy of [ns.nsIP, `other.example, ${ns.nsIP.replace(/\d+$/, '0')}/24`]) {
    const r = root();
    const before = carried.connects.length + carried.requests.length;
    const ref = `${secure.host}/app:v1`;
    const p = await berthAsync(r, ['pull', ref], {
      env: { HTTPS_PROXY: proxyURL, NO_PROXY: noProxy, BERTH_CERTS_D: certs },
    });
    assert.equal(p.code, 0, p.stderr);
    assert.equal(inspectId(r, ref), app.id);
    assert.equal(carried.connects.length + carried.requests.length, before, `NO_PROXY=${noProxy}`);
  }
});

test('HTTP_PROXY: an insecure registry on plain http is reached through the proxy with absolute URLs', async () => {
  const r = root();
  const cfg = join(scope.tempDir('daemon-json'), 'daemon.json');
  fs.writeFileSync(cfg, JSON.stringify({ 'insecure-registries': [plain.host] }));
  const before = carried.requests.length;
  const ref = `${plain.host}/app:v1`;
  const withAuth = proxyURL.replace('http://', 'http://puser:p%40ss@');
  const p = await berthAsync(r, ['--config-file', cfg, 'pull', ref], { env: { HTTP_PROXY: withAuth } });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspectId(r, ref), app.id);
  const urls = carried.requests.slice(before);
  assert.ok(urls.includes(`http://${plain.host}/v2/`), urls.join(' '));
  assert.ok(urls.includes(`http://${plain.host}/v2/app/manifests/v1`), urls.join(' '));
  for (const d of app.layerDigests) assert.ok(urls.includes(`http://${plain.host}/v2/app/blobs/${d}`), d);
  assert.equal(carried.auth.at(-1), `Basic ${Buffer.from('puser:p@ss').toString('base64')}`);
});

test("daemon.json's proxies win over the environment's; a proxy that refuses CONNECT is the error", async () => {
  const dir = scope.tempDir('daemon-json-proxies');
  const cfg = join(dir, 'daemon.json');
  fs.writeFileSync(cfg, JSON.stringify({ proxies: { 'https-proxy': proxyURL } }));
  const before = carried.connects.length;
  const ref = `${secure.host}/app:v1`;
  const r = root();
  // the environment's proxy is dead: the pull works only through daemon.json's
  const env = { HTTPS_PROXY: 'http://127.0.0.1:1', BERTH_CERTS_D: certs };
  const p = await berthAsync(r, ['--config-file', cfg, 'pull', ref], { env });
  assert.equal(p.code, 0, p.stderr);
  assert.ok(carried.connects.length > before);
  const dead = await berthAsync(root(), ['pull', ref], { env });
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /proxy 127\.0\.0\.1:1: ECONNREFUSED/);

  carried.refuse = true;
  try {
    const refused = await berthAsync(root(), ['--config-file', cfg, 'pull', ref], { env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`proxy 127\\.0\\.0\\.1:\\d+ refused CONNECT ${secure.host}: 403`));
  } finally {
    carried.refuse = false;
  }
});
