/**
 * The registry client with the engine's registry settings, against registries written for the
 * test (on 127.0.0.1, in this process): Docker Hub's names served by a mirror (a path prefix kept)
 * and falling back to "Docker Hub" (here another local registry, through the test-only
 * dockerHubURL) when the mirror lacks the manifest or is down; identity tokens traded for Bearer
 * tokens by OAuth POST, with docker's fall back to GET on a 404.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../../src/engine/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { DOCKER_HUB_HOST } from '../../src/registry/names.js';
import { readBody } from '../../src/registry/transport.js';
import { tempRoot } from '../helpers/berth.js';
import { Scope } from '../helpers/peers.js';
import { type FakeRegistry, fakeRegistry, layerTar, makeImage } from '../helpers/registry.js';

const scope = new Scope();
const img = makeImage([layerTar({ 'bin/hello': 'hello\n' })]);
let mirror: FakeRegistry;
let hub: FakeRegistry;
before(async () => {
  mirror = await fakeRegistry(scope);
  hub = await fakeRegistry(scope);
});
after(() => scope.dispose());

const manifests = (r: FakeRegistry) => r.seen.filter((s) => s.path.includes('/manifests/')).length;

test('a mirror serves Docker Hub names; a mirror without the manifest, or down, falls back to Docker Hub', async () => {
  mirror.manifests.clear();
  hub.manifests.clear();
  mirror.add('library/hello', 'latest', img);
  hub.add('library/hello', 'other', img);
  const cfg = { mirrors: [`http://${mirror.host}`], dockerHubURL: `http://${hub.host}/` };
  const c = await RegistryClient.open(DOCKER_HUB_HOST, undefined, cfg);
  const seenHub = hub.seen.length;
  const res = await c.get('/v2/library/hello/manifests/latest', ['repository:library/hello:pull'], {});
  assert.equal(res.status, 200);
  res.body.resume();
  assert.equal(hub.seen.length, seenHub, 'Docker Hub was not asked');

  // the mirror lacks "other": the same client goes on at Docker Hub, and stays there
  const mirrorBefore = manifests(mirror);
  const other = await c.get('/v2/library/hello/manifests/other', ['repository:library/hello:pull'], {});
  assert.equal(other.status, 200);
  other.body.resume();
  assert.equal(manifests(mirror), mirrorBefore + 1);
  assert.deepEqual(
    hub.seen.slice(seenHub).map((s) => s.path),
    ['/v2/', '/v2/library/hello/manifests/other'],
  );
  const blob = await c.get(`/v2/library/hello/blobs/${img.layerDigests[0]}`, ['repository:library/hello:pull'], {});
  assert.equal(blob.status, 200);
  blob.body.resume();
  assert.equal(hub.seen.at(-1)!.path, `/v2/library/hello/blobs/${img.layerDigests[0]}`);

  // a mirror that is down: Docker Hub from the ping on
  const down = await RegistryClient.open(DOCKER_HUB_HOST, undefined, {
    mirrors: ['http://127.0.0.1:1'],
    dockerHubURL: `http://${hub.host}/`,
  });
  const r2 = await down.get('/v2/library/hello/manifests/other', [], {});
  assert.equal(r2.status, 200);
  r2.body.resume();
  // not found anywhere: Docker Hub's answer stands
  const none = await RegistryClient.open(DOCKER_HUB_HOST, undefined, cfg);
  const r3 = await none.get('/v2/library/nothing/manifests/latest', [], {});
  assert.equal(r3.status, 404);
  r3.body.resume();
});

test('a pull through the engine: every request of a docker.io name goes to the mirror', async () => {
  mirror.manifests.clear();
  mirror.add('library/hello', 'latest', img);
  const r = tempRoot('berth-mirror');
  scope.defer(`remove ${r.root}`, r.remove);
  const engine = await Engine.open({
    root: r.root,
    registry: { mirrors: [`http://${mirror.host}`], dockerHubURL: 'http://127.0.0.1:1/' },
  });
  const from = mirror.seen.length;
  const res = await engine.registries.pull('hello');
  assert.equal(res.Id, img.id);
  assert.equal(res.Reference, 'docker.io/library/hello:latest');
  const paths = mirror.seen.slice(from).map((s) => s.path);
  for (const d of [...img.layerDigests, img.id]) assert.ok(paths.includes(`/v2/library/hello/blobs/${d}`), d);
});

test("a mirror URL's path is the prefix of /v2/", async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const m = /^\/cache\/v2\/library\/hello\/manifests\/latest$/.test(req.url ?? '');
    if (req.url === '/cache/v2/' || m) {
      const body = m ? img.manifest : Buffer.from('{}');
      res.writeHead(200, { 'Content-Type': m ? img.manifestType : 'application/json', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  scope.defer('close prefix mirror', () => server.close());
  const port = (server.address() as AddressInfo).port;
  const c = await RegistryClient.open(DOCKER_HUB_HOST, undefined, {
    mirrors: [`http://127.0.0.1:${port}/cache`],
    dockerHubURL: 'http://127.0.0.1:1/',
  });
  const res = await c.get('/v2/library/hello/manifests/latest', [], {});
  assert.equal(res.status, 200);
  res.body.resume();
  assert.deepEqual(seen, ['/cache/v2/', '/cache/v2/library/hello/manifests/latest']);
});

/** A registry whose token server takes OAuth POSTs (or answers them 404), counting both kinds of request. */
async function oauthRegistry(postWorks: boolean) {
  const got = { posts: [] as URLSearchParams[], gets: [] as URL[] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    if (url.pathname === '/token' && req.method === 'POST') {
      let text = '';
      req.on('data', (c: Buffer) => (text += c));
      req.on('end', () => {
        const form = new URLSearchParams(text);
        got.posts.push(form);
        if (!postWorks) return send(404, '404 page not found');
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== 'refresh-me')
          return send(401, '{"error":"invalid_grant"}');
        send(200, JSON.stringify({ access_token: 'oauth-token', expires_in: 300, refresh_token: 'next' }));
      });
      return;
    }
    if (url.pathname === '/token') {
      got.gets.push(url);
      return send(200, JSON.stringify({ token: 'get-token', expires_in: 300 }));
    }
    const authz = req.headers.authorization;
    if (authz !== 'Bearer oauth-token' && authz !== 'Bearer get-token')
      return send(401, '{}', {
        'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${(server.address() as AddressInfo).port}/token",service="test-registry"`,
      });
    if (url.pathname === '/v2/') return send(200, '{}');
    send(200, authz, { 'Content-Type': 'text/plain' });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  scope.defer('close oauth registry', () => server.close());
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

test('an identity token gets a Bearer token by OAuth POST (refresh_token grant, service, scope, client_id)', async () => {
  const reg = await oauthRegistry(true);
  const c = await RegistryClient.open(reg.host, { identitytoken: 'refresh-me' });
  const res = await c.get('/v2/a/b/manifests/latest', ['repository:a/b:pull'], {});
  assert.equal(res.status, 200);
  assert.equal((await readBody(res, 1000, 'answer')).toString(), 'Bearer oauth-token');
  assert.equal(reg.got.gets.length, 0);
  assert.equal(reg.got.posts.length, 1);
  assert.deepEqual(Object.fromEntries(reg.got.posts[0]!), {
    grant_type: 'refresh_token',
    refresh_token: 'refresh-me',
    service: 'test-registry',
    scope: 'repository:a/b:pull',
    client_id: 'berth',
  });
});

test('a token server that answers the POST 404 is asked by GET, as docker falls back', async () => {
  const reg = await oauthRegistry(false);
  const c = await RegistryClient.open(reg.host, { identitytoken: 'refresh-me' });
  const res = await c.get('/v2/a/b/manifests/latest', ['repository:a/b:pull'], {});
  assert.equal(res.status, 200);
  res.body.resume();
  assert.equal(reg.got.posts.length, 1);
  assert.equal(reg.got.gets.length, 1);
  assert.equal(reg.got.gets[0]!.searchParams.get('service'), 'test-registry');
  assert.deepEqual(reg.got.gets[0]!.searchParams.getAll('scope'), ['repository:a/b:pull']);
});
