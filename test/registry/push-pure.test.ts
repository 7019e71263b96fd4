/**
 * The pure parts of a push: the schema2 manifest berth puts (parsed back by the pull code), the
 * upload Location resolution (absolute, relative, upload state kept, digest added), the reuse
 * candidates from dockerd's distribution metadata, and the parallel multi-member gzip (one
 * valid stream: gunzip gives the input back; digest and size are those of the bytes given out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { MT, parseManifest } from '../../src/registry/manifest.js';
import { ParallelGzip } from '../../src/registry/push-gzip.js';
import { DOCKER_LAYER_GZIP, reuseCandidates, schema2Manifest, uploadURL } from '../../src/registry/push-manifest.js';
import { BerthError } from '../../src/core/errors.js';

const dg = (c: string) => `sha256:${c.repeat(64)}`;

test('schema2Manifest: Docker schema2, layers in order, parsed back by the pull code', () => {
  const config = { mediaType: MT.dockerConfig, digest: dg('c'), size: 1234 };
  const layers = [
    { mediaType: DOCKER_LAYER_GZIP, digest: dg('a'), size: 10 },
    { mediaType: DOCKER_LAYER_GZIP, digest: dg('b'), size: 20 },
  ];
  const m = schema2Manifest(config, layers);
  const j = JSON.parse(m.toString());
  assert.equal(j.schemaVersion, 2);
  assert.equal(j.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.deepEqual(j.config, {
    mediaType: 'application/vnd.docker.container.image.v1+json',
    size: 1234,
    digest: dg('c'),
  });
  assert.deepEqual(
    j.layers.map((l: { digest: string; mediaType: string }) => [l.digest, l.mediaType]),
    [
      [dg('a'), 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
      [dg('b'), 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ],
  );
  assert.match(m.toString(), /^\{\n {3}"schemaVersion": 2,/);
  const back = parseManifest(m, MT.dockerManifest, 'test');
  assert.equal(back.kind, 'manifest');
  if (back.kind === 'manifest') assert.deepEqual(back.layers, layers);
});

test('uploadURL: relative and absolute Locations, the upload state kept, the digest added', () => {
  const answered = new URL('http://127.0.0.1:5000/v2/app/blobs/uploads/');
  const rel = uploadURL(answered, '/v2/app/blobs/uploads/abc-123?_state=xyz%3D');
  assert.equal(rel.href, 'http://127.0.0.1:5000/v2/app/blobs/uploads/abc-123?_state=xyz%3D');
  const fin = uploadURL(answered, '/v2/app/blobs/uploads/abc-123?_state=xyz%3D', dg('d'));
  assert.equal(fin.searchParams.get('_state'), 'xyz=');
  assert.equal(fin.searchParams.get('digest'), dg('d'));
  assert.equal(fin.pathname, '/v2/app/blobs/uploads/abc-123');
  const abs = uploadURL(answered, 'https://blobs.example/upload/1', dg('e'));
  assert.equal(abs.host, 'blobs.example');
  assert.equal(abs.protocol, 'https:');
  assert.equal(abs.searchParams.get('digest'), dg('e'));
  // relative to the URL that answered (a path without a leading slash)
  assert.equal(uploadURL(answered, 'next?x=1').href, 'http://127.0.0.1:5000/v2/app/blobs/uploads/next?x=1');
  assert.equal(uploadURL(answered, ['/first', '/second']).pathname, '/first');
  assert.throws(
    () => uploadURL(answered, undefined),
    (e: unknown) => e instanceof BerthError && /no Location/.test(e.message),
  );
  assert.throws(() => uploadURL(answered, 'ftp://x/y'), /invalid upload Location/);
});

test('reuseCandidates: same registry only, the target repo first, newest first, mounts from other repos', () => {
  const meta = [
    { Digest: dg('1'), SourceRepository: 'docker.io/library/busybox', HMAC: '' },
    { Digest: dg('2'), SourceRepository: '127.0.0.1:5000/base', HMAC: '' },
    { Digest: dg('3'), SourceRepository: '127.0.0.1:5000/app', HMAC: '' },
    { Digest: dg('4'), SourceRepository: '127.0.0.1:5000/team/tools', HMAC: '' },
    { Digest: dg('2'), SourceRepository: '127.0.0.1:5000/other', HMAC: '' },
  ];
  const c = reuseCandidates(meta, '127.0.0.1:5000/app');
  assert.deepEqual(c.exists, [dg('3'), dg('2'), dg('4')]);
  assert.deepEqual(c.mounts, [
    { digest: dg('2'), from: 'other' },
    { digest: dg('4'), from: 'team/tools' },
    { digest: dg('2'), from: 'base' },
  ]);
  const hub = reuseCandidates(meta, 'docker.io/library/app');
  assert.deepEqual(hub, { exists: [dg('1')], mounts: [{ digest: dg('1'), from: 'library/busybox' }] });
  assert.deepEqual(reuseCandidates(meta, 'localhost:5000/app'), { exists: [], mounts: [] });
  assert.deepEqual(reuseCandidates([], '127.0.0.1:5000/app'), { exists: [], mounts: [] });
});

async function gzipAll(input: Buffer[], opts: { block?: number; inFlight?: number; format?: 'gzip' | 'zstd' } = {}) {
  const gz = new ParallelGzip(opts);
  async function* src() {
    for (const b of input) yield b;
  }
  const parts: Buffer[] = [];
  for await (const c of gz.compress(src())) parts.push(c);
  return { out: Buffer.concat(parts), result: gz.result() };
}

test('ParallelGzip: members in order, one valid gzip; digest and size of the output', async () => {
  // compressible and random data, in chunks that do not line up with the blocks
  const text = Buffer.from('berth push '.repeat(50_000));
  const rand = randomBytes(300_000);
  const whole = Buffer.concat([text, rand, text]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < whole.length; i += 77_777) chunks.push(whole.subarray(i, i + 77_777));
  const { out, result } = await gzipAll(chunks, { block: 100_000, inFlight: 3 });
  assert.ok(gunzipSync(out).equals(whole));
  assert.equal(result.size, out.length);
  assert.equal(result.digest, `sha256:${createHash('sha256').update(out).digest('hex')}`);
  // several members: each starts with gzip's magic
  let members = 0;
  for (let i = out.indexOf(Buffer.from([0x1f, 0x8b, 8])); i >= 0; i = out.indexOf(Buffer.from([0x1f, 0x8b, 8]), i + 1))
    members++;
  assert.ok(members >= Math.ceil(whole.length / 100_000), `${members} members`);
  // empty input: still one valid (empty) gzip
  const empty = await gzipAll([]);
  assert.equal(gunzipSync(empty.out).length, 0);
  assert.ok(empty.out.length > 0);
});

test('ParallelGzip: an error of the source ends the stream with it; no result before the end', async () => {
  const gz = new ParallelGzip({ block: 10 });
  assert.throws(() => gz.result(), /before the stream ended/);
  async function* bad() {
    yield Buffer.alloc(100, 1);
    throw new Error('source broke');
  }
  await assert.rejects(async () => {
    for await (const _ of gz.compress(bad())) void _;
  }, /source broke/);
});

test('ParallelGzip zstd: frames in order, one valid zstd stream (the zstd tool reads it back)', async () => {
  const whole = Buffer.concat([Buffer.from('layer bytes '.repeat(40_000)), randomBytes(200_000)]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < whole.length; i += 65_536) chunks.push(whole.subarray(i, i + 65_536));
  const { out, result } = await gzipAll(chunks, { block: 120_000, inFlight: 3, format: 'zstd' });
  assert.deepEqual([...out.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  const back = spawnSync('zstd', ['-dc'], { input: out, maxBuffer: 1 << 26 });
  assert.equal(back.status, 0, back.stderr?.toString());
  assert.ok(back.stdout.equals(whole));
  assert.equal(result.size, out.length);
  assert.equal(result.digest, `sha256:${createHash('sha256').update(out).digest('hex')}`);
  assert.ok(out.length < whole.length);
});
