/**
 * `berth push` of berth-made images (from-host + a build on it: 3 layers) to Debian's
 * docker-registry on 127.0.0.1: dockerd, podman and skopeo read what berth pushed (same image
 * ID, it runs); a second push finds the layers ("Layer already exists"), a push to another
 * repository mounts them; `-a`, `-q`; htpasswd Basic auth with credentials from a DOCKER_CONFIG
 * dir; an unknown image and a registry that refuses (401 from the registry, 403 from a stub
 * with a distribution error body) fail with Docker's messages and leave the store as it was.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { BERTH, berth, berthOk, tempRoot } from '../helpers/berth.js';
import {
  Scope,
  dockerOk,
  peerRunArgv,
  privatePodman,
  run,
  runOk,
  since,
  startDockerd,
  type Dockerd,
} from '../helpers/peers.js';
import { checkClean } from '../helpers/store-state.js';
import { startRegistry, type Registry } from '../helpers/registry.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`push.test: ${since(T0)} in all\n`);
});

let reg: Registry;
let secured: Registry;
let root: string;
let ids: { v1: string; v2: string };
const FILES = { '/a.txt': 'alpha\n', '/b.txt': 'bravo\n' };

/** berth asynchronously (a registry stub in this process must answer while it runs). */
function berthAsync(r: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(BERTH, ['--root', r, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const inspect = (r: string, ref: string) => JSON.parse(berthOk(r, ['image', 'inspect', ref]))[0];

before(
  async () => {
    reg = await startRegistry(scope);
    secured = await startRegistry(scope, { user: 'pusher', password: 'p4ss' });
    const t = tempRoot('berth-push');
    scope.defer(`remove ${t.root}`, t.remove);
    root = t.root;
    const ctx = scope.tempDir('push-ctx');
    berthOk(root, ['image', 'from-host', 'pbase', 'sh', 'cat', 'echo']);
    fs.writeFileSync(join(ctx, 'a.txt'), FILES['/a.txt']);
    fs.writeFileSync(join(ctx, 'Dockerfile'), 'FROM pbase\nCOPY a.txt /a.txt\nRUN echo bravo > /b.txt\n');
    const v1 = berthOk(root, ['build', '-q', '-t', `${reg.host}/app:v1`, ctx]).trim();
    fs.writeFileSync(join(ctx, 'Dockerfile'), 'FROM pbase\nRUN echo two > /two.txt\n');
    const v2 = berthOk(root, ['build', '-q', '-t', `${reg.host}/app:v2`, ctx]).trim();
    ids = { v1, v2 };
  },
  { timeout: 300_000 },
);

test('push: Docker lines, the RepoDigest; skopeo, dockerd and podman get the same image and run it', () => {
  const ref = `${reg.host}/app:v1`;
  const diffIDs = inspect(root, ref).RootFS.Layers as string[];
  assert.equal(diffIDs.length, 3);
  const out = berthOk(root, ['push', ref]);
  const short = diffIDs.map((d) => d.slice(7, 19)).reverse();
  const lines = out.trim().split('\n');
  assert.deepEqual(lines.slice(0, 4), [
    `The push refers to repository [${reg.host}/app]`,
    ...short.map((s) => `${s}: Preparing`),
  ]);
  for (const s of short) assert.match(out, new RegExp(`^${s}: Pushed$`, 'm'));
  const m = /^v1: digest: (sha256:[a-f0-9]{64}) size: (\d+)$/.exec(lines.at(-1)!);
  assert.ok(m, out);
  const digest = m[1]!;
  assert.deepEqual(inspect(root, ref).RepoDigests, [`${reg.host}/app@${digest}`]);

  // skopeo reads the manifest and config berth put
  const sk = JSON.parse(runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]));
  assert.equal(sk.Digest, digest);
  assert.equal(sk.Layers.length, 3);
  const raw = JSON.parse(runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
  assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(raw.config.digest, ids.v1);
  assert.equal(
    Buffer.byteLength(runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])),
    Number(m[2]),
  );

  // dockerd: same image ID, same diff_ids, it runs
  const d: Dockerd = startDockerd(scope, 'push', join(scope.tempDir('push-docker'), 'docker'));
  dockerOk(d.host, ['pull', ref]);
  const di = JSON.parse(dockerOk(d.host, ['image', 'inspect', ref]))[0];
  assert.equal(di.Id, ids.v1);
  assert.deepEqual(di.RootFS.Layers, diffIDs);
  assert.deepEqual(di.RepoDigests, [`${reg.host}/app@${digest}`]);
  const [dcmd, ...dargs] = peerRunArgv('docker', { dockerHost: d.host }, ref, 'cat', ...Object.keys(FILES));
  assert.equal(runOk(dcmd!, dargs), Object.values(FILES).join(''));
  d.stop();

  // podman: same image ID, it runs
  const pm = privatePodman(scope, 'push');
  pm.ok(['pull', '--tls-verify=false', ref]);
  assert.equal(pm.ok(['image', 'inspect', '--format', '{{.Id}}', ref]).trim(), ids.v1.slice(7));
  const [pcmd, ...pargs] = peerRunArgv('podman', { podmanFlags: pm.flags }, ref, 'cat', ...Object.keys(FILES));
  assert.equal(runOk(pcmd!, pargs), Object.values(FILES).join(''));

  // again: every layer is known, the same manifest
  const again = berthOk(root, ['push', ref]);
  for (const s of short) assert.match(again, new RegExp(`^${s}: Layer already exists$`, 'm'));
  assert.doesNotMatch(again, /Pushed/);
  assert.match(again, new RegExp(`^v1: digest: ${digest} size: ${m[2]}$`, 'm'));

  // another repository on the same registry: mounted from app
  berthOk(root, ['tag', ref, `${reg.host}/team/copy:c1`]);
  const copy = berthOk(root, ['push', `${reg.host}/team/copy:c1`]);
  for (const s of short) assert.match(copy, new RegExp(`^${s}: Mounted from app$`, 'm'));
  assert.match(copy, new RegExp(`^c1: digest: ${digest} size: ${m[2]}$`, 'm'));
  const meta = JSON.parse(
    fs.readFileSync(
      join(root, 'image/overlay2/distribution/v2metadata-by-diffid', diffIDs[0]!.replace(':', '/')),
      'utf8',
    ),
  ) as Array<{ SourceRepository: string }>;
  assert.deepEqual(meta.map((e) => e.SourceRepository).sort(), [`${reg.host}/app`, `${reg.host}/team/copy`]);
  const check = checkClean(root);
  assert.ok(check.ok, check.output);
});

test('push --compression zstd: an OCI manifest with tar+zstd layers; podman and berth pull the same image', () => {
  const ref = `${reg.host}/zapp:v1`;
  berthOk(root, ['tag', `${reg.host}/app:v1`, ref]);
  const out = berthOk(root, ['push', '--compression', 'zstd', ref]);
  // zstd blobs are never looked up in (nor written to) dockerd's gzip metadata: every layer is pushed
  assert.equal(out.match(/: Pushed$/gm)?.length, 3, out);
  const raw = JSON.parse(runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
  assert.equal(raw.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(raw.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  assert.equal(raw.config.digest, ids.v1);
  assert.deepEqual(
    raw.layers.map((l: { mediaType: string }) => l.mediaType),
    Array(3).fill('application/vnd.oci.image.layer.v1.tar+zstd'),
  );
  const pm = privatePodman(scope, 'push-zstd');
  pm.ok(['pull', '--tls-verify=false', ref]);
  assert.equal(pm.ok(['image', 'inspect', '--format', '{{.Id}}', ref]).trim(), ids.v1.slice(7));
  const [pcmd, ...pargs] = peerRunArgv('podman', { podmanFlags: pm.flags }, ref, 'cat', ...Object.keys(FILES));
  assert.equal(runOk(pcmd!, pargs), Object.values(FILES).join(''));
  const fresh = tempRoot('berth-push-zstd');
  scope.defer(`remove ${fresh.root}`, fresh.remove);
  berthOk(fresh.root, ['pull', ref]);
  assert.equal(inspect(fresh.root, ref).Id, ids.v1);
  // that pull recorded the zstd blobs in dockerd's metadata: a gzip push must not reuse them as tar.gzip
  const zcopy = `${reg.host}/zcopy:v1`;
  berthOk(fresh.root, ['tag', ref, zcopy]);
  const again = berthOk(fresh.root, ['push', zcopy]);
  assert.equal(again.match(/: Pushed$/gm)?.length, 3, again);
  const zraw = JSON.parse(runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${zcopy}`]));
  for (const l of zraw.layers as Array<{ digest: string }>)
    assert.ok(!raw.layers.some((z: { digest: string }) => z.digest === l.digest), `${l.digest} is a zstd blob`);
  const bad = berth(root, ['push', '--compression', 'xz', ref]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid --compression "xz": gzip or zstd/);
});

test('push -a pushes every tag; -q prints only the reference; a bare name means :latest', () => {
  const out = berthOk(root, ['push', '-a', `${reg.host}/app`]);
  assert.match(out, /^v1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
  assert.match(out, /^v2: digest: sha256:[a-f0-9]{64} size: \d+$/m);
  // pbase is v2's base and was pushed with v1
  assert.match(out, /: Layer already exists$/m);
  const sk = JSON.parse(runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/app:v2`]));
  assert.deepEqual(sk.RepoTags.sort(), ['v1', 'v2']);
  assert.equal(berthOk(root, ['push', '-q', `${reg.host}/app:v2`]), `${reg.host}/app:v2\n`);
  const tagged = berth(root, ['push', '-a', `${reg.host}/app:v1`]);
  assert.notEqual(tagged.code, 0);
  assert.match(tagged.stderr, /tag can't be used with --all-tags\/-a/);
  berthOk(root, ['tag', `${reg.host}/app:v2`, `${reg.host}/app:latest`]);
  const bare = berthOk(root, ['push', `${reg.host}/app`]);
  assert.match(bare, /^Using default tag: latest$/m);
  assert.match(bare, /^latest: digest: /m);
});

test('push with htpasswd Basic auth: credentials from DOCKER_CONFIG; none or wrong ones are refused', () => {
  const ref = `${secured.host}/private/app:v1`;
  berthOk(root, ['tag', `${reg.host}/app:v1`, ref]);
  const cfg = scope.tempDir('push-dockercfg');
  const none = berth(root, ['push', ref], { env: { DOCKER_CONFIG: cfg } });
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /unauthorized/);
  const auth = (pw: string) =>
    fs.writeFileSync(
      join(cfg, 'config.json'),
      JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`pusher:${pw}`).toString('base64') } } }),
    );
  auth('wrong');
  const wrong = berth(root, ['push', ref], { env: { DOCKER_CONFIG: cfg } });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /unauthorized/);
  auth('p4ss');
  const ok = berth(root, ['push', ref], { env: { DOCKER_CONFIG: cfg } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^v1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
  // no mount across registries: the layers are pushed again
  assert.match(ok.stdout, /: Pushed$/m);
  const sk = run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'pusher:p4ss', `docker://${ref}`]);
  assert.equal(sk.code, 0, sk.stderr);
  assert.equal(JSON.parse(sk.stdout).Layers.length, 3);
});

test('bad cases: an unknown tag, a digest reference, a registry that denies; the store is unchanged', async () => {
  const before = fs.readFileSync(join(root, 'image/overlay2/repositories.json'), 'utf8');
  const unknown = berth(root, ['push', `${reg.host}/app:nope`]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, new RegExp(`An image does not exist locally with the tag: ${reg.host}/app:nope`));
  const none = berth(root, ['push', '-a', `${reg.host}/nothing`]);
  assert.match(none.stderr, new RegExp(`An image does not exist locally with the tag: ${reg.host}/nothing`));
  const dig = berth(root, ['push', `${reg.host}/app@sha256:${'0'.repeat(64)}`]);
  assert.notEqual(dig.code, 0);

  // a registry that answers every upload with 403 and a distribution error body
  const seen: string[] = [];
  const stub = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(403, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }));
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
  try {
    const host = `127.0.0.1:${(stub.address() as { port: number }).port}`;
    berthOk(root, ['tag', `${reg.host}/app:v1`, `${host}/denied:v1`]);
    const mid = fs.readFileSync(join(root, 'image/overlay2/repositories.json'), 'utf8');
    const r = await berthAsync(root, ['push', `${host}/denied:v1`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied: requested access to the resource is denied/);
    assert.ok(
      seen.some((s) => s.startsWith('POST /v2/denied/blobs/uploads/')),
      seen.join('\n'),
    );
    assert.ok(!seen.some((s) => s.startsWith('PUT /v2/denied/manifests/')), seen.join('\n'));
    assert.equal(fs.readFileSync(join(root, 'image/overlay2/repositories.json'), 'utf8'), mid);
    berthOk(root, ['rmi', `${host}/denied:v1`]);
  } finally {
    stub.close();
  }
  assert.equal(fs.readFileSync(join(root, 'image/overlay2/repositories.json'), 'utf8'), before);
  const check = checkClean(root);
  assert.ok(check.ok, check.output);
});
