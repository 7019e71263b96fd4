import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';
import { hdr, makeTar, sha } from '../helpers/archive.js';
import { gzip, zstd } from '../helpers/tarbuild.js';
import { type Descriptor, OCI_LAYER, OCI_MANIFEST, OciLayout, named, onPlatform } from '../helpers/oci.js';
import { snapshot } from '../helpers/store-state.js';
import { hostPlatform } from '../../src/image/platform.js';

const t = tempRoot('berth-load-oci');
after(() => t.remove());

const tarOf = (file: string, body = file) => makeTar([[hdr(file), body]]);
const plain = (file: string) => {
  const tar = tarOf(file);
  return { blob: tar, tar };
};
const inspect = (root: string, ref: string) => JSON.parse(berthOk(root, ['image', 'inspect', ref]))[0];
const HOST = hostPlatform().architecture;
const FOREIGN = HOST === 's390x' ? 'ppc64le' : 's390x';

test('load oci: every tar layer media type loads, plain, gzip and zstd, OCI, Docker and foreign ones', () => {
  const root = `${t.root}/types`;
  const types: Array<[string, (b: Buffer) => Buffer]> = [
    ['application/vnd.oci.image.layer.v1.tar', (b) => b],
    ['application/vnd.oci.image.layer.v1.tar+gzip', gzip],
    ['application/vnd.oci.image.layer.v1.tar+zstd', zstd],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar', (b) => b],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', gzip],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', zstd],
    ['application/vnd.docker.image.rootfs.diff.tar', (b) => b],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', gzip],
    ['application/vnd.docker.image.rootfs.diff.tar.zstd', zstd],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar', (b) => b],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', gzip],
  ];
  const o = new OciLayout();
  const layers = types.map(([mediaType, compress], i) => {
    const tar = tarOf(`f${i}`);
    return { blob: compress(tar), tar, mediaType };
  });
  const m = o.image({ layers });
  assert.equal(
    berthOk(root, ['load'], { input: o.tar([named(m, 'docker.io/library/types:1', '1')]) }),
    'Loaded image: types:1\n',
  );
  assert.deepEqual(
    inspect(root, 'types:1').RootFS.Layers,
    layers.map((l) => `sha256:${sha(l.tar)}`),
  );
  assert.match(berthOk(root, ['system', 'check']), /ok \(1 images, 11 layers\)/);
});

test('load oci: a multi-platform index loads the host platform only, preferring an exact match', () => {
  const root = `${t.root}/multi`;
  const o = new OciLayout();
  const img = (arch: string) =>
    onPlatform(o.image({ architecture: arch, layers: [plain(`only-on-${arch}`)] }), 'linux', arch);
  const hostLayer = `sha256:${sha(tarOf(`only-on-${HOST}`))}`;
  const attestation = onPlatform(o.image({ layers: [plain('attestation')] }), 'unknown', 'unknown');
  const idx = o.index([
    img(FOREIGN),
    onPlatform(img('386'), 'linux', '386'),
    img(HOST),
    attestation,
    onPlatform(img('arm'), 'windows', HOST),
  ]);
  assert.equal(berthOk(root, ['load'], { input: o.tar([named(idx, 'multi:1')]) }), 'Loaded image: multi:1\n');
  const got = inspect(root, 'multi:1');
  assert.equal(got.Architecture, HOST);
  assert.deepEqual(got.RootFS.Layers, [hostLayer]);
  assert.equal(berthOk(root, ['images', '-q', '-a']).trim().split('\n').length, 1);
  if (HOST === 'amd64') {
    // Docker 25+ runs 386 on amd64 when nothing better is offered
    const o2 = new OciLayout();
    const i386 = onPlatform(o2.image({ architecture: '386', layers: [plain('i386')] }), 'linux', '386');
    const idx2 = o2.index([
      onPlatform(o2.image({ architecture: 'arm64', layers: [plain('arm64')] }), 'linux', 'arm64'),
      i386,
    ]);
    berthOk(root, ['load'], { input: o2.tar([named(idx2, 'fallback:1')]) });
    assert.equal(inspect(root, 'fallback:1').Architecture, '386');
  }
});

test('load oci: several named entries load all, each under its name; a bare ref.name tags nothing', () => {
  const root = `${t.root}/names`;
  const o = new OciLayout();
  const a = o.image({ layers: [plain('a')] });
  const b = o.image({ layers: [plain('b')] });
  const c = o.image({ layers: [plain('c')] });
  const entries = [
    named(a, 'docker.io/library/a:1', '1'),
    named(a, 'docker.io/me/also-a:2'),
    named(b, undefined, 'localhost:5000/b:2'),
    named(c, undefined, 'latest'),
  ];
  const out = berthOk(root, ['load'], { input: o.tar(entries) });
  const ids = JSON.parse(berthOk(root, ['image', 'inspect', 'a:1', 'me/also-a:2', 'localhost:5000/b:2'])).map(
    (i: { Id: string }) => i.Id,
  );
  assert.equal(ids[0], ids[1], 'one manifest named twice is one image with two tags');
  assert.notEqual(ids[0], ids[2]);
  const cConfig = JSON.parse(o.files.get(`blobs/sha256/${c.digest.slice(7)}`)!.toString()).config.digest;
  assert.equal(inspect(root, cConfig).Id, cConfig, 'the image ID is its config digest');
  assert.deepEqual(
    out.split('\n').filter(Boolean).sort(),
    [
      'Loaded image: a:1',
      'Loaded image: me/also-a:2',
      'Loaded image: localhost:5000/b:2',
      `Loaded image ID: ${cConfig}`,
    ].sort(),
  );
  assert.equal(berthOk(root, ['images', '-q', '-a', '--no-trunc']).trim().split('\n').length, 3);
});

test('load oci: an index.json with no entries loads nothing and succeeds', () => {
  const root = `${t.root}/empty`;
  const before = snapshot(root);
  const r = berth(root, ['load'], { input: new OciLayout().tar([]) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(snapshot(root), before);
});

/** Each case: an archive built in code and what the error must say; the store must not change. */
function refusals(): Array<[string, Buffer, RegExp]> {
  const cases: Array<[string, Buffer, RegExp]> = [];
  const add = (name: string, re: RegExp, build: (o: OciLayout) => Buffer) =>
    cases.push([name, build(new OciLayout()), re]);
  const simple = (o: OciLayout, extra?: Record<string, unknown>) =>
    named(o.image({ layers: [plain('x')], ...(extra ? { manifestExtra: extra } : {}) }), 'x:1');
  add('no oci-layout file', /index.json but no oci-layout file/, (o) => o.tar([simple(o)], { layout: null }));
  add('layout version 2.0.0', /unsupported OCI image layout version "2.0.0"/, (o) =>
    o.tar([simple(o)], { layout: { imageLayoutVersion: '2.0.0' } }),
  );
  add('layout without a version', /oci-layout: no imageLayoutVersion/, (o) => o.tar([simple(o)], { layout: {} }));
  add(
    'index.json with schemaVersion 1',
    /index.json: schemaVersion 1 \(an OCI image index has schemaVersion 2\)/,
    (o) => o.tar([simple(o)], { indexExtra: { schemaVersion: 1 } }),
  );
  add('layout not JSON', /"oci-layout" is not valid JSON/, (o) => o.tar([simple(o)], { layout: '{1.0.0' }));
  add('manifest with manifests too', /both "manifests" and "layers".*CVE-2021-41190/, (o) =>
    o.tar([simple(o, { manifests: [] })]),
  );
  add('index with layers too', /both "manifests" and "layers".*CVE-2021-41190/, (o) =>
    o.tar([named(o.index([onPlatform(o.image({ layers: [plain('x')] }), 'linux', HOST)], { layers: [] }), 'x:1')]),
  );
  add('index.json with layers too', /both "manifests" and "layers".*CVE-2021-41190/, (o) =>
    o.tar([simple(o)], { indexExtra: { layers: [] } }),
  );
  add('an index declared as a manifest', /declared as a manifest .* but its content is an index/, (o) => {
    const idx = o.index([onPlatform(o.image({ layers: [plain('x')] }), 'linux', HOST)]);
    return o.tar([named({ ...idx, mediaType: OCI_MANIFEST }, 'x:1')]);
  });
  add('a manifest declaring itself an index', /declared as a manifest .* but its content is an index/, (o) =>
    o.tar([simple(o, { mediaType: 'application/vnd.oci.image.index.v1+json' })]),
  );
  add(
    'encrypted layer',
    /layer 0 .* is encrypted \(media type "application\/vnd.oci.image.layer.v1.tar\+gzip\+encrypted"\)/,
    (o) => o.tar([named(o.image({ layers: [{ ...plain('x'), mediaType: `${OCI_LAYER}+gzip+encrypted` }] }), 'x:1')]),
  );
  add('unknown layer type', /layer 0 .* has unknown media type "application\/vnd.example.squashfs"/, (o) =>
    o.tar([named(o.image({ layers: [{ ...plain('x'), mediaType: 'application/vnd.example.squashfs' }] }), 'x:1')]),
  );
  add('layer without a type', /layer 0 .* has no mediaType/, (o) =>
    o.tar([named(o.image({ layers: [{ ...plain('x'), mediaType: '' }] }), 'x:1')]),
  );
  add('artifact config', /config media type "application\/vnd.cncf.helm.config.v1\+json" is not an image config/, (o) =>
    o.tar([
      named(o.image({ layers: [plain('x')], configMediaType: 'application/vnd.cncf.helm.config.v1+json' }), 'x:1'),
    ]),
  );
  add(
    'unknown entry type',
    /media type "application\/vnd.docker.distribution.manifest.v1\+prettyjws" is neither an image manifest nor an image index/,
    (o) => o.tar([{ ...simple(o), mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }]),
  );
  add('windows image', /image operating system "windows" cannot be used on this platform/, (o) =>
    o.tar([named(o.image({ os: 'windows', layers: [plain('x')] }), 'x:1')]),
  );
  add(
    'no platform of the host',
    new RegExp(`has no image for linux/${HOST}.*\\(it has linux/${FOREIGN}, windows/${HOST}\\)`),
    (o) => {
      const idx = o.index([
        onPlatform(o.image({ layers: [plain('x')] }), 'linux', FOREIGN),
        onPlatform(o.image({ layers: [plain('y')] }), 'windows', HOST),
      ]);
      return o.tar([named(idx, 'x:1')]);
    },
  );
  add('only foreign entries in index.json', new RegExp(`no image in index.json runs on linux/${HOST}`), (o) =>
    o.tar([onPlatform(simple(o), 'linux', FOREIGN)]),
  );
  add('upper-case name', /io.containerd.image.name "UPPER:1": .*must be lowercase/, (o) =>
    o.tar([named(o.image({ layers: [plain('x')] }), 'UPPER:1')]),
  );
  add('64-hex name', /cannot specify 64-byte hexadecimal strings/, (o) =>
    o.tar([named(o.image({ layers: [plain('x')] }), undefined, `${'a'.repeat(64)}:1`)]),
  );
  add(
    'foreign layer not in the archive',
    /blob sha256:[a-f0-9]{64} not found in the archive \(a foreign layer/,
    (o) => {
      const m = o.image({
        layers: [{ ...plain('gone'), mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' }],
      });
      o.files.delete(`blobs/sha256/${sha(tarOf('gone'))}`);
      return o.tar([named(m, 'x:1')]);
    },
  );
  add('manifest blob tampered', /does not match its digest/, (o) => {
    const m: Descriptor = simple(o);
    const k = `blobs/sha256/${m.digest.slice(7)}`;
    o.files.set(k, Buffer.from(o.files.get(k)!.toString().replace('"schemaVersion":2', '"schemaVersion":3')));
    return o.tar([m]);
  });
  return cases;
}

test('load oci: bad layouts are refused by name and leave the store as it was', () => {
  const root = `${t.root}/refused`;
  const o = new OciLayout();
  berthOk(root, ['load'], { input: o.tar([named(o.image({ layers: [plain('kept')] }), 'kept:1')]) });
  const before = snapshot(root);
  for (const [name, input, re] of refusals()) {
    const r = berth(root, ['load'], { input });
    assert.equal(r.code, 1, `${name}: exit ${r.code}, stdout ${r.stdout}`);
    assert.match(r.stderr, re, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    assert.deepEqual(snapshot(root), before, name);
  }
});
