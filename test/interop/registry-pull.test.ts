/**
 * `berth pull`, `login` and `logout` against Debian's docker-registry on 127.0.0.1 (open, and with
 * htpasswd Basic auth): images pushed with the distribution API, pulled by tag and by digest, from an
 * index by platform; layers already in the store are not fetched again; credentials go through
 * config.json as docker writes it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, tempRoot } from '../helpers/berth.js';
import { Scope } from '../helpers/peers.js';
import { checkClean } from '../helpers/store-state.js';
import { layerTar, makeImage, makeIndex, pushImage, startRegistry, type Registry } from '../helpers/registry.js';

const scope = new Scope();
let open: Registry;
let secured: Registry;
const base = layerTar({ 'etc/base.txt': 'base\n', 'bin/tool': '#!/bin/sh\necho tool\n' });
const app = makeImage([base, layerTar({ 'app/one.txt': 'one\n' })]);
const other = makeImage([base, layerTar({ 'app/two.txt': 'two\n' })], { oci: true });
const arm = makeImage([layerTar({ 'arm.txt': 'arm\n' })], { architecture: 'arm64', oci: true });
const amd = makeImage([layerTar({ 'amd.txt': 'amd\n' })], { architecture: 'amd64', oci: true });
const index = makeIndex([arm, amd]);
const root = () => {
  const r = tempRoot('berth-pull');
  scope.defer(`remove ${r.root}`, r.remove);
  return r.root;
};
const inspect = (r: string, ref: string) => JSON.parse(berth(r, ['image', 'inspect', ref]).stdout)[0];

before(async () => {
  open = await startRegistry(scope);
  secured = await startRegistry(scope, { user: 'tester', password: 's3cret' });
  await pushImage(open.host, 'app', 'v1', { body: app.manifest, type: app.manifestType }, app.blobs);
  await pushImage(open.host, 'team/other', 'latest', { body: other.manifest, type: other.manifestType }, other.blobs);
  for (const img of [arm, amd])
    await pushImage(open.host, 'multi', img.digest, { body: img.manifest, type: img.manifestType }, img.blobs);
  await pushImage(open.host, 'multi', 'latest', index, new Map());
  await pushImage(secured.host, 'private/app', 'v1', { body: app.manifest, type: app.manifestType }, app.blobs, {
    user: 'tester',
    password: 's3cret',
  });
});
after(() => scope.dispose());

test('pull by tag: the image, its layers, its tag and RepoDigest; Docker plain progress lines', () => {
  const r = root();
  const res = berth(r, ['pull', `${open.host}/app:v1`]);
  assert.equal(res.code, 0, res.stderr);
  const ids = app.layerDigests.map((d) => d.slice(7, 19));
  const lines = res.stdout.split('\n');
  assert.deepEqual(lines.slice(0, 1 + ids.length), [
    'v1: Pulling from app',
    ...ids.map((id) => `${id}: Pulling fs layer`),
  ]);
  assert.deepEqual(lines.slice(-4), [
    `Digest: ${app.digest}`,
    `Status: Downloaded newer image for ${open.host}/app:v1`,
    `${open.host}/app:v1`,
    '',
  ]);
  for (const id of ids) {
    assert.match(res.stdout, new RegExp(`^${id}: Download complete$`, 'm'));
    assert.match(res.stdout, new RegExp(`^${id}: Pull complete$`, 'm'));
  }
  const info = inspect(r, `${open.host}/app:v1`);
  assert.equal(info.Id, app.id);
  assert.deepEqual(info.RootFS.Layers, app.diffIDs);
  assert.deepEqual(info.RepoTags, [`${open.host}/app:v1`]);
  assert.deepEqual(info.RepoDigests, [`${open.host}/app@${app.digest}`]);
  const digests = berth(r, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']).stdout;
  assert.equal(digests.trim(), `${open.host}/app v1 ${app.digest}`);
  const check = checkClean(r);
  assert.ok(check.ok, check.output);

  // again: nothing fetched, "Image is up to date"
  const again = berth(r, ['pull', `${open.host}/app:v1`]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /: Already exists$/m);
  assert.doesNotMatch(again.stdout, /Pull complete/);
  assert.match(again.stdout, new RegExp(`^Status: Image is up to date for ${open.host}/app:v1$`, 'm'));

  // an image sharing the base layer: that layer "Already exists", the other is pulled
  const o = berth(r, ['pull', `${open.host}/team/other`]);
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stdout, new RegExp(`^${other.layerDigests[0]!.slice(7, 19)}: Already exists$`, 'm'));
  assert.match(o.stdout, new RegExp(`^${other.layerDigests[1]!.slice(7, 19)}: Pull complete$`, 'm'));
  assert.equal(inspect(r, `${open.host}/team/other:latest`).Id, other.id);
});

test('pull -q prints only the reference; by digest tags nothing but records the digest', () => {
  const r = root();
  const q = berth(r, ['pull', '-q', `${open.host}/app@${app.digest}`]);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, `${open.host}/app@${app.digest}\n`);
  const info = inspect(r, `${open.host}/app@${app.digest}`);
  assert.equal(info.Id, app.id);
  assert.deepEqual(info.RepoTags, []);
  assert.deepEqual(info.RepoDigests, [`${open.host}/app@${app.digest}`]);
});

test('an index: the host platform by default, another with --platform; a platform the index lacks is refused', () => {
  const r = root();
  const host = process.arch === 'arm64' ? arm : amd;
  const foreign = process.arch === 'arm64' ? amd : arm;
  const foreignPlatform = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
  const p = berth(r, ['pull', `${open.host}/multi`]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, new RegExp(`^Digest: ${index.digest}$`, 'm'));
  assert.equal(inspect(r, `${open.host}/multi`).Id, host.id);
  assert.deepEqual(inspect(r, `${open.host}/multi`).RepoDigests, [`${open.host}/multi@${index.digest}`]);
  const f = berth(r, ['pull', '--platform', foreignPlatform, `${open.host}/multi`]);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(inspect(r, `${open.host}/multi`).Id, foreign.id);
  const none = berth(r, ['pull', '--platform', 'linux/s390x', `${open.host}/multi`]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
});

test('errors: unknown tag, invalid reference, registry not there', () => {
  const r = root();
  const unknown = berth(r, ['pull', `${open.host}/app:nope`]);
  assert.equal(unknown.code, 1);
  assert.match(
    unknown.stderr,
    new RegExp(`manifest for ${open.host}/app:nope not found: manifest unknown: manifest unknown`),
  );
  const bad = berth(r, ['pull', `${open.host}/App:v1`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid reference format/);
  const dead = berth(r, ['pull', '127.0.0.1:1/app']);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /ECONNREFUSED/);
  assert.deepEqual(berth(r, ['images', '-q']).stdout, '');
});

test('a loopback registry on https with a certificate nobody signed: used without verification, as Docker does', async () => {
  const tls = await startRegistry(scope, { tls: true });
  await pushImage(tls.host, 'app', 'v1', { body: app.manifest, type: app.manifestType }, app.blobs, undefined, true);
  const r = root();
  const p = berth(r, ['pull', `${tls.host}/app:v1`]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspect(r, `${tls.host}/app:v1`).Id, app.id);
  tls.stop();
});

test('Basic auth: refused without credentials; login writes config.json as docker does; pull; logout', () => {
  const r = root();
  const cfgDir = join(scope.tempDir('docker-config'), 'dot-docker');
  fs.mkdirSync(cfgDir, { mode: 0o700 });
  fs.writeFileSync(
    join(cfgDir, 'config.json'),
    JSON.stringify({ psFormat: 'table {{.ID}}', auths: { 'other.example': { auth: 'eDp5' } } }),
  );
  const env = { DOCKER_CONFIG: cfgDir };
  const ref = `${secured.host}/private/app:v1`;
  const denied = berth(r, ['pull', ref], { env });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /unauthorized: authentication required/);

  const wrong = berth(r, ['login', '-u', 'tester', '--password-stdin', secured.host], { env, input: 'nope\n' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /unauthorized/);
  assert.equal(JSON.parse(fs.readFileSync(join(cfgDir, 'config.json'), 'utf8')).auths[secured.host], undefined);

  const ok = berth(r, ['login', '-u', 'tester', '--password-stdin', secured.host], { env, input: 's3cret\n' });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'Login Succeeded\n');
  assert.match(ok.stderr, /WARNING! Your password will be stored unencrypted in .*config\.json\./);
  const cfg = JSON.parse(fs.readFileSync(join(cfgDir, 'config.json'), 'utf8'));
  assert.equal(cfg.psFormat, 'table {{.ID}}');
  assert.equal(cfg.auths['other.example'].auth, 'eDp5');
  assert.equal(cfg.auths[secured.host].auth, Buffer.from('tester:s3cret').toString('base64'));
  assert.equal(fs.statSync(join(cfgDir, 'config.json')).mode & 0o777, 0o600);

  const p = berth(r, ['pull', ref], { env });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspect(r, ref).Id, app.id);

  const out = berth(r, ['logout', secured.host], { env });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `Removing login credentials for ${secured.host}\n`);
  assert.equal(JSON.parse(fs.readFileSync(join(cfgDir, 'config.json'), 'utf8')).auths[secured.host], undefined);
  assert.equal(berth(r, ['logout', secured.host], { env }).stdout, `Not logged in to ${secured.host}\n`);
  assert.equal(berth(r, ['rmi', ref]).code, 0);
  assert.equal(berth(r, ['pull', ref], { env }).code, 1);
});
