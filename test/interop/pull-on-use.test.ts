/**
 * `run`, `create` and `build` fetch what the store lacks from a registry (Debian's docker-registry
 * on 127.0.0.1), as the docker CLI and dockerd's classic builder do: `--pull missing` (the default),
 * `always` and `never`; credentials from the caller's config.json; an image ID is never pulled.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, tempRoot } from '../helpers/berth.js';
import { hdr, makeTar } from '../helpers/archive.js';
import { Scope } from '../helpers/peers.js';
import { checkClean } from '../helpers/store-state.js';
import { layerTar, makeImage, pushImage, startRegistry, type RegImage, type Registry } from '../helpers/registry.js';

const scope = new Scope();
let open: Registry;
let secured: Registry;

/** A runnable layer: busybox-static as /bin/busybox, /bin/sh a link to it. */
const shell = makeTar([
  [hdr('bin/', { type: 'dir', mode: 0o755 })],
  [hdr('bin/busybox', { mode: 0o755 }), fs.readFileSync('/bin/busybox')],
  [hdr('bin/sh', { type: 'symlink', linkname: 'busybox' })],
]);
const first = makeImage([shell, layerTar({ 'etc/version': 'first\n' })]);
const second = makeImage([shell, layerTar({ 'etc/version': 'second\n' })]);
const push = (reg: Registry, repo: string, tag: string, img: RegImage, auth?: { user: string; password: string }) =>
  pushImage(reg.host, repo, tag, { body: img.manifest, type: img.manifestType }, img.blobs, auth);
const root = () => {
  const r = tempRoot('berth-pull-use');
  scope.defer(`remove ${r.root}`, r.remove);
  return r.root;
};
const imageId = (r: string, ref: string) => berth(r, ['image', 'inspect', '--format', '{{.Id}}', ref]).stdout.trim();

before(async () => {
  open = await startRegistry(scope);
  secured = await startRegistry(scope, { user: 'tester', password: 's3cret' });
  await push(open, 'app', 'v1', first);
  await push(open, 'app', 'moving', first);
  await push(secured, 'private/app', 'v1', first, { user: 'tester', password: 's3cret' });
});
after(() => scope.dispose());

test('run pulls a missing image (progress on stderr) and runs it; --pull never does not', async () => {
  const r = root();
  const ref = `${open.host}/app:v1`;
  const never = berth(r, ['run', '--rm', '--pull', 'never', ref, '/bin/busybox', 'cat', '/etc/version']);
  assert.equal(never.code, 125);
  assert.match(never.stderr, /No such image: /);
  assert.doesNotMatch(never.stderr, /Unable to find image/);
  assert.equal(berth(r, ['images', '-q']).stdout, '');

  const res = berth(r, ['run', '--rm', ref, '/bin/busybox', 'cat', '/etc/version']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, 'first\n');
  const lines = res.stderr.split('\n');
  assert.equal(lines[0], `Unable to find image '${ref}' locally`);
  assert.equal(lines[1], 'v1: Pulling from app');
  assert.match(res.stderr, /: Pull complete$/m);
  assert.match(res.stderr, new RegExp(`^Digest: ${first.digest}$`, 'm'));
  assert.match(res.stderr, new RegExp(`^Status: Downloaded newer image for ${ref.replace(/\./g, '\\.')}$`, 'm'));
  assert.equal(imageId(r, ref), first.id);

  // present now: no pull, no message
  const again = berth(r, ['run', '--rm', ref, '/bin/busybox', 'cat', '/etc/version']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, '');
  const check = checkClean(r);
  assert.ok(check.ok, check.output);
});

test('create -q pulls quietly; --pull always fetches a moved tag, missing keeps what the store has', async () => {
  const r = root();
  const ref = `${open.host}/app:moving`;
  const created = berth(r, ['create', '-q', ref, '/bin/busybox', 'cat', '/etc/version']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stderr, '');
  assert.match(created.stdout, /^[0-9a-f]{64}\n$/);
  assert.equal(imageId(r, ref), first.id);

  await push(open, 'app', 'moving', second);
  const kept = berth(r, ['run', '--rm', ref, '/bin/busybox', 'cat', '/etc/version']);
  assert.equal(kept.stdout, 'first\n', kept.stderr);
  const always = berth(r, ['run', '--rm', '--pull', 'always', ref, '/bin/busybox', 'cat', '/etc/version']);
  assert.equal(always.code, 0, always.stderr);
  assert.equal(always.stdout, 'second\n');
  assert.match(always.stderr, /^moving: Pulling from app$/m);
  assert.doesNotMatch(always.stderr, /Unable to find image/);
  assert.equal(imageId(r, ref), second.id);
  await push(open, 'app', 'moving', first);
});

test('bad --pull values, unknown images and image IDs are errors that pull nothing', () => {
  const r = root();
  const bad = berth(r, ['run', '--rm', '--pull', 'sometimes', `${open.host}/app:v1`]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid pull option: 'sometimes': must be one of "always", "missing" or "never"/);
  const unknown = berth(r, ['create', `${open.host}/nothing:here`]);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, new RegExp(`Unable to find image '${open.host}/nothing:here' locally`));
  assert.match(unknown.stderr, /manifest unknown|not found/);
  const id = berth(r, ['create', 'f'.repeat(64)]);
  assert.equal(id.code, 125);
  assert.doesNotMatch(id.stderr, /Unable to find image/);
  assert.equal(berth(r, ['images', '-q']).stdout, '');
  assert.equal(berth(r, ['ps', '-aq']).stdout, '');
});

test("run pulls from a registry with Basic auth using the caller's config.json", () => {
  const r = root();
  const cfgDir = join(scope.tempDir('docker-config'), 'dot-docker');
  fs.mkdirSync(cfgDir, { mode: 0o700 });
  const ref = `${secured.host}/private/app:v1`;
  const env = { DOCKER_CONFIG: cfgDir };
  fs.writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: {} }));
  const denied = berth(r, ['run', '--rm', ref, 'true'], { env });
  assert.equal(denied.code, 125);
  assert.match(denied.stderr, /unauthorized/);
  const auth = Buffer.from('tester:s3cret').toString('base64');
  fs.writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [secured.host]: { auth } } }));
  const ok = berth(r, ['run', '--rm', ref, '/bin/busybox', 'cat', '/etc/version'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'first\n');
});

test('build pulls a missing FROM image (with credentials), and --pull fetches a moved one', async () => {
  const r = root();
  const ctx = scope.tempDir('build-ctx');
  const cfgDir = join(scope.tempDir('docker-config'), 'dot-docker');
  fs.mkdirSync(cfgDir, { mode: 0o700 });
  const auth = Buffer.from('tester:s3cret').toString('base64');
  fs.writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: { [secured.host]: { auth } } }));
  const env = { DOCKER_CONFIG: cfgDir };
  fs.writeFileSync(
    join(ctx, 'Dockerfile'),
    `FROM ${secured.host}/private/app:v1 AS base\nFROM ${open.host}/app:moving\nCOPY --from=base /etc/version /base-version\nRUN /bin/busybox cat /etc/version /base-version > /both\n`,
  );
  const built = berth(r, ['build', '-t', 'both', ctx], { env });
  assert.equal(built.code, 0, built.stderr + built.stdout);
  assert.match(built.stdout, /^v1: Pulling from private\/app$/m);
  assert.match(built.stdout, /^moving: Pulling from app$/m);
  assert.match(built.stdout, /: Pull complete$/m);
  const out = berth(r, ['run', '--rm', 'both', '/bin/busybox', 'cat', '/both']);
  assert.equal(out.stdout, 'first\nfirst\n', out.stderr);

  // without credentials, the private base is refused and the build says which step
  const r2 = root();
  const denied = berth(r2, ['build', ctx], { env: { DOCKER_CONFIG: scope.tempDir('no-config') } });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /Dockerfile:1: FROM.*unauthorized/s);
  assert.equal(berth(r2, ['images', '-q']).stdout, '');

  await push(open, 'app', 'moving', second);
  try {
    const cached = berth(r, ['build', '-t', 'both', ctx], { env });
    assert.equal(cached.code, 0, cached.stderr);
    assert.doesNotMatch(cached.stdout, /Pulling from/);
    assert.equal(berth(r, ['run', '--rm', 'both', '/bin/busybox', 'cat', '/both']).stdout, 'first\nfirst\n');
    const pulled = berth(r, ['build', '--pull', '-t', 'both', ctx], { env });
    assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
    assert.match(pulled.stdout, /^moving: Pulling from app$/m);
    assert.equal(berth(r, ['run', '--rm', 'both', '/bin/busybox', 'cat', '/both']).stdout, 'second\nfirst\n');
  } finally {
    await push(open, 'app', 'moving', first);
  }
  const check = checkClean(r);
  assert.ok(check.ok, check.output);
});

test('pull -a: every tag of a repository (pages of the tag list followed), one Status line', async () => {
  const r = root();
  await push(open, 'every', 'a', first);
  await push(open, 'every', 'b', second);
  await push(open, 'every', 'c', first);
  const withTag = berth(r, ['pull', '-a', `${open.host}/every:a`]);
  assert.equal(withTag.code, 1);
  assert.match(withTag.stderr, /tag can't be used with --all-tags\/-a/);
  const res = berth(r, ['pull', '-a', `${open.host}/every`]);
  assert.equal(res.code, 0, res.stderr);
  for (const t of ['a', 'b', 'c']) assert.match(res.stdout, new RegExp(`^${t}: Pulling from every$`, 'm'));
  const lines = res.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(-2), [`Status: Downloaded newer image for ${open.host}/every`, `${open.host}/every`]);
  assert.equal(res.stdout.match(/^Status: /gm)!.length, 1);
  const tags = berth(r, ['images', '--format', '{{.Tag}} {{.ID}}', `${open.host}/every`])
    .stdout.trim()
    .split('\n');
  assert.deepEqual(tags.sort(), [
    `a ${first.id.slice(7, 19)}`,
    `b ${second.id.slice(7, 19)}`,
    `c ${first.id.slice(7, 19)}`,
  ]);
  const again = berth(r, ['pull', '-a', '-q', `${open.host}/every`]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, `${open.host}/every\n`);
});
