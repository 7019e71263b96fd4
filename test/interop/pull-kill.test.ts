/**
 * kill -9 during `berth pull` from Debian's docker-registry, through a proxy written for the test that
 * logs every request (its Range) and the bytes it passes on, and throttles the big layer's blob so that
 * a kill lands in the middle of it. After each kill: `system check` is clean (partial downloads are listed,
 * as information), nothing is tagged, and the next pull resumes: it asks for the rest of the big blob with
 * a Range (fewer bytes than the blob), or for nothing at all when every blob was in, and gives the image ID
 * of a clean pull. Kill points: mid-blob (by the proxy's byte count), just before a layer is registered
 * (every blob in), and while the finished pull removes its partial files (the image already tagged).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { BERTH, berth } from '../helpers/berth.js';
import { berthKilledAt } from '../helpers/killed-at.js';
import { Scope } from '../helpers/peers.js';
import { type Registry, layerTar, makeImage, pushImage, startRegistry } from '../helpers/registry.js';
import { checkClean } from '../helpers/store-state.js';
import { Tracked } from '../helpers/tracked.js';

const scope = new Scope();
const tracked = new Tracked();
let registry: Registry;
let proxy: Proxy;
// 6 MiB of random bytes: the gzip'd blob is as big, and at the proxy's 1 MiB/s a kill lands inside it
const img = makeImage([
  layerTar({ 'etc/base.txt': 'base\n' }),
  layerTar({ 'data/random.bin': randomBytes(6 << 20).toString('latin1') }),
  layerTar({ 'app/one.txt': 'one\n' }),
]);
const big = img.layerDigests[1]!;
const bigSize = () => img.blobs.get(big)!.length;
const partialOf = (root: string, d: string) => `${root}/berth/partial/${d.replace(':', '-')}`;

interface Logged {
  path: string;
  range?: string;
  status: number;
  bytes: number;
}

interface Proxy {
  host: string;
  log: Logged[];
  /** Bytes per second for the big blob's body (0: no limit). */
  rate: number;
}

/** An HTTP proxy to the registry that logs requests and bytes and throttles the big blob. */
async function startProxy(target: string): Promise<Proxy> {
  const p: Proxy = { host: '', log: [], rate: 0 };
  const server = http.createServer((req, res) => {
    const entry: Logged = {
      path: req.url ?? '',
      ...(req.headers.range ? { range: req.headers.range } : {}),
      status: 0,
      bytes: 0,
    };
    p.log.push(entry);
    const up = http.request(
      `http://${target}${req.url}`,
      { method: req.method, headers: { ...req.headers, host: target } },
      async (ures) => {
        entry.status = ures.statusCode ?? 0;
        res.writeHead(entry.status, ures.headers);
        const throttle = p.rate > 0 && entry.path.endsWith(`/blobs/${big}`);
        try {
          for await (const chunk of ures as AsyncIterable<Buffer>) {
            for (let off = 0; off < chunk.length; off += 16 << 10) {
              const piece = chunk.subarray(off, off + (16 << 10));
              if (throttle) await new Promise((r) => setTimeout(r, (piece.length / p.rate) * 1000));
              if (res.destroyed) return ures.destroy();
              entry.bytes += piece.length;
              if (!res.write(piece)) await once(res, 'drain');
            }
          }
          res.end();
        } catch {
          res.destroy();
        }
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  p.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  scope.defer(`close proxy ${p.host}`, () => {
    server.closeAllConnections();
    server.close();
  });
  return p;
}

/** `berth pull` in a child process (the proxy runs in this one, so no spawnSync while it is needed). */
async function pull(root: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(BERTH, ['--root', root, 'pull', `${proxy.host}/app:v1`], { stdio: ['ignore', 'pipe', 'pipe'] });
  tracked.children.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const [code] = (await once(child, 'close')) as [number | null];
  tracked.children.delete(child);
  return { code, out };
}

const blobRequests = (from: number, d: string) => proxy.log.slice(from).filter((l) => l.path.endsWith(`/blobs/${d}`));

/** After a kill: system check clean (partial files listed only), nothing tagged; returns the partial files' sizes. */
function afterKill(root: string): Map<string, number> {
  const check = checkClean(root);
  assert.ok(check.ok, check.output);
  const partials = new Map<string, number>();
  for (const d of img.layerDigests)
    if (fs.existsSync(partialOf(root, d))) partials.set(d, fs.statSync(partialOf(root, d)).size);
  for (const d of partials.keys())
    assert.match(check.output, new RegExp(`partial: berth/partial/${d.replace(':', '-')}: `));
  assert.equal(berth(root, ['images', '-q', '--no-trunc']).stdout, '');
  return partials;
}

/** The next pull: succeeds, gives the image, and leaves no partial file and a clean store. */
async function pullAgain(root: string): Promise<void> {
  const r = await pull(root);
  assert.equal(r.code, 0, r.out);
  const repos = JSON.parse(fs.readFileSync(`${root}/image/overlay2/repositories.json`, 'utf8'));
  assert.equal(repos.Repositories[`${proxy.host}/app`][`${proxy.host}/app:v1`], img.id);
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
  const check = checkClean(root);
  assert.ok(check.ok, check.output);
}

before(async () => {
  registry = await startRegistry(scope);
  await pushImage(registry.host, 'app', 'v1', { body: img.manifest, type: img.manifestType }, img.blobs);
  proxy = await startProxy(registry.host);
});
after(() => scope.dispose());

test('killed in the middle of a blob: the next pull asks for the rest only', async (t) => {
  const root = tracked.newRoot('berth-pull-kill').root;
  proxy.rate = 1 << 20;
  const from = proxy.log.length;
  const child = spawn(BERTH, ['--root', root, 'pull', `${proxy.host}/app:v1`], { stdio: 'ignore' });
  tracked.children.add(child);
  try {
    const end = Date.now() + 30_000;
    while (blobRequests(from, big).reduce((n, l) => n + l.bytes, 0) < 2 << 20) {
      assert.ok(Date.now() < end && child.exitCode === null, 'the pull did not get 2 MiB into the big blob');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await once(child, 'close');
  } finally {
    tracked.children.delete(child);
    proxy.rate = 0;
  }
  const kept = afterKill(root).get(big);
  assert.ok(kept !== undefined && kept > 0 && kept < bigSize(), `kept ${kept} of ${bigSize()}`);
  const again = proxy.log.length;
  await pullAgain(root);
  const asked = blobRequests(again, big);
  assert.deepEqual(
    asked.map((l) => [l.range, l.status]),
    [[`bytes=${kept}-`, 206]],
  );
  assert.equal(asked[0]!.bytes, bigSize() - kept);
  assert.ok(asked[0]!.bytes < bigSize());
  t.diagnostic(`killed with ${kept} of ${bigSize()} bytes kept; the next pull fetched ${asked[0]!.bytes}`);
  // the same image ID as a clean pull into an empty store
  const clean = tracked.newRoot('berth-pull-clean').root;
  assert.equal((await pull(clean)).code, 0);
  const ids = (r: string) => berth(r, ['images', '-q', '--no-trunc']).stdout;
  assert.equal(ids(root), ids(clean));
  assert.equal(ids(root).trim(), img.id);
});

test('killed just before a layer is registered (every blob in): the next pull fetches no blob', async () => {
  const root = tracked.newRoot('berth-pull-kill').root;
  const r = await berthKilledAt(
    tracked,
    1,
    ['--root', root, 'pull', `${proxy.host}/app:v1`],
    /^renameSync .*\/layerdb\/sha256\//,
  );
  assert.ok(r.killed, r.out);
  const partials = afterKill(root);
  assert.deepEqual([...partials.keys()].sort(), [...img.layerDigests].sort());
  for (const d of img.layerDigests) assert.equal(partials.get(d), img.blobs.get(d)!.length);
  const again = proxy.log.length;
  await pullAgain(root);
  for (const d of img.layerDigests) assert.deepEqual(blobRequests(again, d), [], d);
});

test('killed while the finished pull removes its partial files: the image is there; the rest goes with prune, or with the next pull', async () => {
  const root = tracked.newRoot('berth-pull-kill').root;
  const r = await berthKilledAt(
    tracked,
    2,
    ['--root', root, 'pull', `${proxy.host}/app:v1`],
    /^unlinkSync .*\/berth\/partial\//,
  );
  assert.ok(r.killed, r.out);
  const check = checkClean(root);
  assert.ok(check.ok, check.output);
  const left = fs.readdirSync(`${root}/berth/partial`);
  assert.equal(left.length, 2, left.join(' '));
  const repos = JSON.parse(fs.readFileSync(`${root}/image/overlay2/repositories.json`, 'utf8'));
  assert.equal(repos.Repositories[`${proxy.host}/app`][`${proxy.host}/app:v1`], img.id);
  const prune = spawn(BERTH, ['--root', root, 'system', 'prune', '-f'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  prune.stdout.on('data', (d: Buffer) => (out += d));
  assert.deepEqual(await once(prune, 'close'), [0, null]);
  assert.match(out, /^Deleted partial downloads:\n(sha256:[a-f0-9]{64}\n){2}\nTotal reclaimed space: /);
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
  assert.ok(checkClean(root).ok);
  // killed at the same point again: this time the next pull ("Image is up to date") removes what is left
  const again = await berthKilledAt(tracked, 2, ['--root', root, 'rmi', `${proxy.host}/app:v1`], /^never$/);
  assert.equal(again.killed, false, again.out);
  const r2 = await berthKilledAt(
    tracked,
    2,
    ['--root', root, 'pull', `${proxy.host}/app:v1`],
    /^unlinkSync .*\/berth\/partial\//,
  );
  assert.ok(r2.killed, r2.out);
  assert.equal(fs.readdirSync(`${root}/berth/partial`).length, 2);
  const from = proxy.log.length;
  const p = await pull(root);
  assert.equal(p.code, 0, p.out);
  assert.match(p.out, /Status: Image is up to date/);
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
  for (const d of img.layerDigests) assert.deepEqual(blobRequests(from, d), [], d);
});
