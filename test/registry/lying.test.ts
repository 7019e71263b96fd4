/**
 * Registries that lie, and registries that want tokens: a registry written for the test (in this
 * process) serves an honest image, then one lie at a time. Each lie ends the pull with a clear
 * error of a stable code, nothing tagged and the store as it was (no partial download kept of bytes that lied); the Bearer token flow works
 * anonymously and with credentials, and a blob redirected to another host gets no credentials.
 */
import { after, before, beforeEach, test } from 'node:test';
import * as fs from 'node:fs';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Engine } from '../../src/engine/index.js';
import { BerthError } from '../../src/core/errors.js';
import { tempRoot } from '../helpers/berth.js';
import { Scope } from '../helpers/peers.js';
import { diffSnapshots, snapshot } from '../helpers/store-state.js';
import { type FakeRegistry, digestOf, fakeRegistry, layerTar, makeImage } from '../helpers/registry.js';

const scope = new Scope();
let reg: FakeRegistry;
let engine: Engine;
let root: string;
const base = layerTar({ 'etc/base.txt': 'base\n' });
const img = makeImage([base, layerTar({ 'app/one.txt': 'one\n' })]);
const seed = makeImage([base]);

before(async () => {
  reg = await fakeRegistry(scope);
  reg.add('app', 'v1', img);
  reg.add('seed', 'v1', seed);
  const r = tempRoot('berth-lying');
  scope.defer(`remove ${r.root}`, r.remove);
  root = r.root;
  engine = await Engine.open({ root });
  // a store with something in it: the base layer a failed pull must neither lose nor duplicate
  await engine.registries.pull(`${reg.host}/seed:v1`);
});
after(() => scope.dispose());
// a verified blob of a failed pull is kept for the next one (registry/blob-download.ts): each test starts without
beforeEach(async () => {
  await engine.images.prunePartials();
});

/** A valid gzip'd layer other than the real one, of the same size (so only its digest tells). */
function sameSizeLie(size: number): Buffer {
  for (let i = 0; i < 10_000; i++) {
    const b = gzipSync(layerTar({ 'app/one.txt': `${i.toString(36).padStart(3, '0')}\n` }));
    if (b.length === size) return b;
  }
  throw new Error('no same-size lie found');
}
const layerPath = (d: string) => `/v2/app/blobs/${d}`;
const manifestJson = () => JSON.parse(img.manifest.toString()) as { layers: Array<{ mediaType: string }> };

/** [name, what the registry does instead, the reference pulled, the error code expected] */
const lies: Array<
  [
    string,
    (m: string, u: URL) => { status: number; headers?: Record<string, string>; body?: Buffer | string } | undefined,
    string,
    string,
  ]
> = [
  [
    'a layer blob whose content is not its digest',
    (_m, u) =>
      u.pathname === layerPath(img.layerDigests[1]!)
        ? { status: 200, body: sameSizeLie(reg.blobs.get(img.layerDigests[1]!)!.length) }
        : undefined,
    'app:v1',
    'digest_mismatch',
  ],
  [
    'a config blob whose content is not its digest',
    (_m, u) =>
      u.pathname === `/v2/app/blobs/${img.id}`
        ? { status: 200, body: img.config.toString().replace('/bin/sh', '/bin/xx') }
        : undefined,
    'app:v1',
    'digest_mismatch',
  ],
  [
    'a manifest by digest with other content',
    (_m, u) =>
      u.pathname === `/v2/app/manifests/${img.digest}`
        ? { status: 200, headers: { 'Content-Type': img.manifestType }, body: img.manifest.toString() + ' ' }
        : undefined,
    `app@${img.digest}`,
    'manifest_digest',
  ],
  [
    'a Docker-Content-Digest header that is not the manifest digest',
    (_m, u) =>
      u.pathname === '/v2/app/manifests/v1'
        ? {
            status: 200,
            headers: { 'Content-Type': img.manifestType, 'Docker-Content-Digest': digestOf(Buffer.from('x')) },
            body: img.manifest,
          }
        : undefined,
    'app:v1',
    'manifest_digest',
  ],
  [
    'an unknown manifest media type',
    (_m, u) =>
      u.pathname === '/v2/app/manifests/v1'
        ? { status: 200, headers: { 'Content-Type': 'application/vnd.example.unknown+json' }, body: img.manifest }
        : undefined,
    'app:v1',
    'manifest_media_type',
  ],
  [
    'an unknown layer media type',
    (_m, u) => {
      if (u.pathname !== '/v2/app/manifests/v1') return undefined;
      const m = manifestJson();
      m.layers[1]!.mediaType = 'application/x-example-layer';
      return { status: 200, headers: { 'Content-Type': img.manifestType }, body: JSON.stringify(m) };
    },
    'app:v1',
    'layer_media_type',
  ],
  [
    'an oversized manifest (over 4 MiB)',
    (_m, u) =>
      u.pathname === '/v2/app/manifests/v1'
        ? { status: 200, headers: { 'Content-Type': img.manifestType }, body: Buffer.alloc(5 << 20, 0x20) }
        : undefined,
    'app:v1',
    'registry_too_large',
  ],
  [
    'a schema1 manifest',
    (_m, u) =>
      u.pathname === '/v2/app/manifests/v1'
        ? {
            status: 200,
            headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
            body: JSON.stringify({ schemaVersion: 1, name: 'app', tag: 'v1', fsLayers: [], history: [] }),
          }
        : undefined,
    'app:v1',
    'manifest_schema1',
  ],
  [
    'a layer shorter than its descriptor',
    (_m, u) => {
      if (u.pathname !== layerPath(img.layerDigests[1]!)) return undefined;
      const b = reg.blobs.get(img.layerDigests[1]!)!;
      return { status: 200, body: b.subarray(0, b.length - 5) };
    },
    'app:v1',
    'blob_short',
  ],
  [
    'a layer longer than its descriptor',
    (_m, u) => {
      if (u.pathname !== layerPath(img.layerDigests[1]!)) return undefined;
      return { status: 200, body: Buffer.concat([reg.blobs.get(img.layerDigests[1]!)!, Buffer.alloc(4096)]) };
    },
    'app:v1',
    'blob_too_long',
  ],
  [
    'a config whose diff_ids do not match the layers (consistent digests)',
    (_m, u) => {
      const bad = makeImage([base, layerTar({ 'app/one.txt': 'one\n' })], { cmd: '/bin/other' });
      const cfg = JSON.parse(bad.config.toString());
      cfg.rootfs.diff_ids[1] = digestOf(Buffer.from('not the layer'));
      const cfgBytes = Buffer.from(JSON.stringify(cfg));
      const m = JSON.parse(bad.manifest.toString());
      m.config.digest = digestOf(cfgBytes);
      m.config.size = cfgBytes.length;
      if (u.pathname === '/v2/app/manifests/v1')
        return { status: 200, headers: { 'Content-Type': img.manifestType }, body: JSON.stringify(m) };
      if (u.pathname === `/v2/app/blobs/${digestOf(cfgBytes)}`) return { status: 200, body: cfgBytes };
      return undefined;
    },
    'app:v1',
    'diffid_mismatch',
  ],
  [
    'a redirect loop',
    (_m, u) =>
      u.pathname === layerPath(img.layerDigests[1]!) ? { status: 307, headers: { Location: u.pathname } } : undefined,
    'app:v1',
    'registry_redirects',
  ],
];

for (const [name, lie, ref, code] of lies) {
  test(`lie: ${name} -> ${code}, nothing tagged, store unchanged`, async () => {
    const before = snapshot(root, { withImagesCommand: false });
    reg.override = lie;
    try {
      await assert.rejects(engine.registries.pull(`${reg.host}/${ref}`), (err: unknown) => {
        assert.ok(err instanceof BerthError, String(err));
        assert.equal(err.code, code, err.message);
        return true;
      });
    } finally {
      reg.override = undefined;
    }
    assert.deepEqual(diffSnapshots(snapshot(root, { withImagesCommand: false }), before, true), []);
    assert.equal(engine.images.find(`${reg.host}/app:v1`), undefined);
    // bytes that proved wrong are not kept for a resume
    if (['digest_mismatch', 'blob_short', 'blob_too_long'].includes(code))
      assert.equal(fs.existsSync(`${root}/berth/partial/${img.layerDigests[1]!.replace(':', '-')}`), false);
  });
}

test('the honest registry: the same pull succeeds after all the lies', async () => {
  const events: string[] = [];
  const r = await engine.registries.pull(`${reg.host}/app:v1`, {
    onProgress: (e) => events.push(`${e.id ?? ''}:${e.status}`),
  });
  assert.equal(r.Id, img.id);
  assert.ok(events.includes(`${img.layerDigests[0]!.slice(7, 19)}:Already exists`), events.join('\n'));
  assert.ok(events.includes(`${img.layerDigests[1]!.slice(7, 19)}:Pull complete`), events.join('\n'));
  await engine.images.remove(`${reg.host}/app:v1`);
});

test('a registry that fails for a while (503, dropped connections) is tried again; one that keeps failing is an error', async () => {
  let failures = 0;
  reg.override = (_m, u) => {
    if (u.pathname === '/v2/app/manifests/v1' && failures < 1) return (failures++, { status: 503, body: 'busy' });
    if (u.pathname === layerPath(img.layerDigests[1]!) && failures < 2) return (failures++, { status: 0, drop: true });
    return undefined;
  };
  try {
    assert.equal((await engine.registries.pull(`${reg.host}/app:v1`)).Id, img.id);
    assert.equal(failures, 2);
    await engine.images.remove(`${reg.host}/app:v1`);
    const before = snapshot(root, { withImagesCommand: false });
    reg.override = (_m, u) => (u.pathname === '/v2/app/manifests/v1' ? { status: 500, body: 'down' } : undefined);
    const t0 = Date.now();
    await assert.rejects(
      engine.registries.pull(`${reg.host}/app:v1`),
      (e: unknown) => e instanceof BerthError && e.kind === 'Unavailable' && /status 500: down/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(reg.seen.filter((s) => s.path === '/v2/app/manifests/v1').length >= 4, true);
    assert.deepEqual(diffSnapshots(snapshot(root, { withImagesCommand: false }), before, true), []);
  } finally {
    reg.override = undefined;
  }
});

test('Bearer tokens: with credentials, anonymously, refused with wrong ones', async () => {
  const tokenReg = await fakeRegistry(scope, { bearer: { user: 'u', password: 'p' } });
  tokenReg.add('private/app', 'v1', img);
  const ref = `${tokenReg.host}/private/app:v1`;
  await assert.rejects(
    engine.registries.pull(ref),
    (e: unknown) => e instanceof BerthError && e.kind === 'Unauthorized',
  );
  await assert.rejects(
    engine.registries.pull(ref, { auth: { username: 'u', password: 'wrong' } }),
    (e: unknown) => e instanceof BerthError && e.kind === 'Unauthorized' && /bad credentials/.test(e.message),
  );
  const r = await engine.registries.pull(ref, { auth: { username: 'u', password: 'p' } });
  assert.equal(r.Id, img.id);
  const tokenCalls = tokenReg.seen.filter((s) => s.path === '/token');
  assert.ok(tokenCalls.some((s) => s.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`));
  const manifestCall = tokenReg.seen.filter((s) => s.path === '/v2/private/app/manifests/v1').pop();
  assert.match(manifestCall?.authorization ?? '', /^Bearer tok-\d+-repository:private\/app:pull$/);
  assert.deepEqual(await engine.registries.login({ username: 'u', password: 'p', serveraddress: tokenReg.host }), {
    Status: 'Login Succeeded',
    IdentityToken: '',
  });
  await assert.rejects(
    engine.registries.login({ username: 'u', password: 'x', serveraddress: tokenReg.host }),
    (e: unknown) => e instanceof BerthError && e.kind === 'Unauthorized',
  );

  const anon = await fakeRegistry(scope, { bearer: { user: 'u', password: 'p', anonymous: true } });
  anon.add('pub', 'v1', seed);
  assert.equal((await engine.registries.pull(`${anon.host}/pub:v1`)).Id, seed.id);
  assert.ok(anon.seen.some((s) => s.path === '/token' && !s.authorization));
  await engine.images.remove(ref);
  await engine.images.remove(`${anon.host}/pub:v1`);
});

test('a blob redirected to another host is fetched there without the registry credentials', async () => {
  const store = await fakeRegistry(scope);
  const tokenReg = await fakeRegistry(scope, { bearer: { user: 'u', password: 'p' } });
  tokenReg.add('r/app', 'v1', img);
  for (const [d, b] of img.blobs) store.blobs.set(d, b);
  tokenReg.override = (_m, u) => {
    const m = /^\/v2\/r\/app\/blobs\/(sha256:[a-f0-9]{64})$/.exec(u.pathname);
    return m ? { status: 307, headers: { Location: `http://${store.host}/v2/elsewhere/blobs/${m[1]}` } } : undefined;
  };
  // only when the request carries a token does the redirect happen (auth comes first)
  const inner = tokenReg.override;
  tokenReg.override = (m, u) =>
    u.pathname.includes('/blobs/') && tokenReg.seen.at(-1)?.authorization ? inner(m, u) : undefined;
  const r = await engine.registries.pull(`${tokenReg.host}/r/app:v1`, { auth: { username: 'u', password: 'p' } });
  assert.equal(r.Id, img.id);
  const fetched = store.seen.filter((s) => s.path.startsWith('/v2/elsewhere/blobs/'));
  assert.ok(fetched.length >= 2, JSON.stringify(store.seen));
  assert.deepEqual(
    fetched.filter((s) => s.authorization),
    [],
  );
  await engine.images.remove(`${tokenReg.host}/r/app:v1`);
});
