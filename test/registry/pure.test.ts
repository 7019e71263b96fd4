/**
 * The pure parts of registry access: WWW-Authenticate parsing, registry names and config.json
 * keys, registry error bodies, manifest parsing and the platform picked from an index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from '../../src/registry/challenge.js';
import { errorFromBody } from '../../src/registry/errors.js';
import { MT, parseManifest, parsePlatform, pickManifest, type Descriptor } from '../../src/registry/manifest.js';
import { authKey, registryHost, serverHost, splitName } from '../../src/registry/names.js';
import { parseReference, withDefaultTag } from '../../src/image/reference.js';
import { BerthError } from '../../src/core/errors.js';

test('WWW-Authenticate: Bearer and Basic, quoted values, escapes, several challenges', () => {
  assert.deepEqual(
    parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    ),
    [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ],
  );
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="a, b"', 'BEARER Realm=tok , service="x\\"y"']), [
    { scheme: 'basic', params: { realm: 'a, b' } },
    { scheme: 'bearer', params: { realm: 'tok', service: 'x"y' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="r", Bearer realm="t",scope="a b"'), [
    { scheme: 'basic', params: { realm: 'r' } },
    { scheme: 'bearer', params: { realm: 't', scope: 'a b' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges('"garbage'), []);
});

test('registry of a reference, repository path, config.json keys (Docker Hub under its v1 URL)', () => {
  const cases: Array<[string, string, string, string]> = [
    ['busybox', 'registry-1.docker.io', 'library/busybox', 'https://index.docker.io/v1/'],
    ['me/app:1', 'registry-1.docker.io', 'me/app', 'https://index.docker.io/v1/'],
    ['localhost:5000/a/b', 'localhost:5000', 'a/b', 'localhost:5000'],
    ['localhost/app', 'localhost', 'app', 'localhost'],
    ['127.0.0.1:5000/app@sha256:' + 'a'.repeat(64), '127.0.0.1:5000', 'app', '127.0.0.1:5000'],
    ['quay.io/org/img', 'quay.io', 'org/img', 'quay.io'],
  ];
  for (const [ref, host, path, key] of cases) {
    const { domain, path: p } = splitName(withDefaultTag(parseReference(ref)).name);
    assert.equal(registryHost(domain), host, ref);
    assert.equal(p, path, ref);
    assert.equal(authKey(domain), key, ref);
  }
  assert.equal(serverHost('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(serverHost('http://localhost:5000/'), 'localhost:5000');
  assert.equal(serverHost('registry-1.docker.io'), 'docker.io');
  // a port alone is a tag of a Docker Hub image, as Docker reads it
  assert.equal(parseReference('localhost:5000').name, 'docker.io/library/localhost');
  for (const bad of ['UPPER', 'a//b', 'a:b:c', 'app@sha256:123', ':tag', 'host:port/x'])
    assert.throws(() => parseReference(bad), /invalid reference format|must be lowercase/, bad);
});

test('registry errors: the errcode list as Docker prints it, else the status', () => {
  const e = errorFromBody(
    404,
    JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: {} }] }),
    'get manifest',
  );
  assert.equal(e.kind, 'NotFound');
  assert.equal(e.message, 'get manifest: manifest unknown: manifest unknown');
  assert.equal(errorFromBody(401, '', 'x').message, 'x: unauthorized: authentication required');
  assert.equal(errorFromBody(401, '', 'x').kind, 'Unauthorized');
  assert.equal(errorFromBody(503, 'busy\nmore', 'x').message, 'x: status 503: busy');
  assert.equal(errorFromBody(503, '', 'x').kind, 'Unavailable');
  assert.equal(
    errorFromBody(
      400,
      JSON.stringify({ errors: [{ code: 'NAME_INVALID', message: 'a' }, { code: 'TAG_INVALID' }] }),
      'x',
    ).message,
    'x: name invalid: a, tag invalid',
  );
});

const d = (digit: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MT.dockerManifest,
  digest: `sha256:${digit.repeat(64)}`,
  size: 10,
  ...extra,
});

test('manifests: schema2, OCI, indexes; schema1, unknown and inconsistent media types refused', () => {
  const m = {
    schemaVersion: 2,
    mediaType: MT.dockerManifest,
    config: { mediaType: MT.dockerConfig, digest: d('1').digest, size: 5 },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d('2').digest, size: 7 }],
  };
  const p = parseManifest(Buffer.from(JSON.stringify(m)), MT.dockerManifest, 'm');
  assert.equal(p.kind, 'manifest');
  // OCI without mediaType in the body: the Content-Type decides
  const oci = { ...m, mediaType: undefined, config: { ...m.config, mediaType: MT.ociConfig } };
  assert.equal(parseManifest(Buffer.from(JSON.stringify(oci)), MT.ociManifest, 'm').mediaType, MT.ociManifest);
  const idx = { schemaVersion: 2, manifests: [d('3', { platform: { os: 'linux', architecture: 'amd64' } })] };
  const pi = parseManifest(Buffer.from(JSON.stringify(idx)), `${MT.ociIndex}; charset=utf-8`, 'i');
  assert.equal(pi.kind, 'index');
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as BerthError).code;
    }
    return 'no error';
  };
  const body = (o: unknown) => Buffer.from(JSON.stringify(o));
  assert.equal(
    code(() => parseManifest(body({ schemaVersion: 1 }), MT.schema1Signed, 'x')),
    'manifest_schema1',
  );
  assert.equal(
    code(() => parseManifest(body(m), 'application/x-unknown', 'x')),
    'manifest_media_type',
  );
  assert.equal(
    code(() => parseManifest(body(m), MT.ociManifest, 'x')),
    'manifest_invalid',
  );
  assert.equal(
    code(() => parseManifest(Buffer.from('{'), MT.dockerManifest, 'x')),
    'manifest_invalid',
  );
  assert.equal(
    code(() =>
      parseManifest(body({ ...m, config: { ...m.config, mediaType: 'application/x-helm' } }), MT.dockerManifest, 'x'),
    ),
    'config_media_type',
  );
  assert.equal(
    code(() => parseManifest(body({ ...m, layers: [{ ...m.layers[0], digest: 'md5:1' }] }), MT.dockerManifest, 'x')),
    'manifest_invalid',
  );
  assert.equal(
    code(() => parseManifest(body({ ...m, layers: [{ ...m.layers[0], size: -1 }] }), MT.dockerManifest, 'x')),
    'manifest_invalid',
  );
  assert.equal(
    code(() =>
      parseManifest(
        body({
          ...m,
          layers: [{ ...m.layers[0], mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' }],
        }),
        MT.dockerManifest,
        'x',
      ),
    ),
    'layer_foreign',
  );
});

test('platform choice from an index, as containerd ranks for Docker', () => {
  const amd64v1 = d('1', { platform: { os: 'linux', architecture: 'amd64' } });
  const amd64v3 = d('2', { platform: { os: 'linux', architecture: 'amd64', variant: 'v3' } });
  const i386 = d('3', { platform: { os: 'linux', architecture: '386' } });
  const arm64 = d('4', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const armv7 = d('5', { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
  const armv6 = d('6', { platform: { os: 'linux', architecture: 'arm', variant: 'v6' } });
  const win = d('7', { platform: { os: 'windows', architecture: 'amd64' } });
  const attestation = d('8', { platform: { os: 'unknown', architecture: 'unknown' } });
  const all = [attestation, win, i386, amd64v1, amd64v3, armv6, armv7, arm64];
  assert.equal(pickManifest(all, parsePlatform('linux/amd64/v3'), 'x'), amd64v3);
  assert.equal(pickManifest(all, parsePlatform('linux/amd64'), 'x'), amd64v1);
  assert.equal(pickManifest([i386, win], parsePlatform('linux/amd64/v2'), 'x'), i386);
  assert.equal(pickManifest(all, parsePlatform('linux/arm64'), 'x'), arm64);
  assert.equal(pickManifest([armv6, armv7], parsePlatform('linux/arm64'), 'x'), armv7);
  assert.equal(pickManifest(all, parsePlatform('linux/arm/v7'), 'x'), armv7);
  assert.equal(pickManifest([armv6, armv7], parsePlatform('linux/arm/v6'), 'x'), armv6);
  // the first of equals
  const twin = d('9', { platform: { os: 'linux', architecture: 'amd64' } });
  assert.equal(pickManifest([amd64v1, twin], parsePlatform('linux/amd64'), 'x'), amd64v1);
  assert.throws(
    () => pickManifest([win, attestation], parsePlatform('linux/amd64'), 'x'),
    /no matching manifest for linux\/amd64/,
  );
  // an index inside an index is not an image
  assert.throws(() =>
    pickManifest(
      [d('a', { mediaType: MT.ociIndex, platform: { os: 'linux', architecture: 'amd64' } })],
      parsePlatform('linux/amd64'),
      'x',
    ),
  );
  assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64', variant: '' });
  assert.throws(() => parsePlatform('linux'), /expected os\/arch\[\/variant\]/);
});
