/**
 * registry-mirrors, as dockerd uses them: `berth pull busybox` (a docker.io name) is served by the
 * mirror daemon.json names (docker-registry holding library/busybox, in a network namespace the
 * test makes). berth itself runs inside that namespace, whose only network is the veth to the
 * host: Docker Hub cannot be reached from there, so a pull that went to Docker Hub fails the test
 * instead of leaving the machine. A mirror on https is verified with certs.d's CA; Docker Hub's
 * credentials (config.json's https://index.docker.io/v1/) go to the mirror; a tag the mirror
 * lacks falls back to registry-1.docker.io, as dockerd does (and fails here, unreachable).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BERTH, type RunResult, berth, envWithoutProxies, tempRoot } from '../helpers/berth.js';
import { type Netns, type NsRegistry, makeNetns, makePKI, startNsRegistry } from '../helpers/netns.js';
import { Scope } from '../helpers/peers.js';
import { layerTar, makeImage, pushImage } from '../helpers/registry.js';

const scope = new Scope();
const busybox = makeImage([
  layerTar({ 'bin/sh': '#!/bin/sh\n', 'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n' }),
  layerTar({ 'etc/motd': 'from the mirror\n' }),
]);
let ns: Netns;
let mirror: NsRegistry;
let tlsMirror: NsRegistry;
let authMirror: NsRegistry;
let certs: string;

before(async () => {
  ns = makeNetns(scope);
  const pki = makePKI(scope, ns.nsIP);
  const storage = scope.tempDir('mirror-storage');
  mirror = await startNsRegistry(scope, ns, 5000, { storage });
  tlsMirror = await startNsRegistry(scope, ns, 5443, { storage, tls: { cert: pki.serverCert, key: pki.serverKey } });
  authMirror = await startNsRegistry(scope, ns, 5001, { storage, basic: { user: 'hubuser', password: 'hubpass' } });
  await pushImage(
    mirror.host,
    'library/busybox',
    'latest',
    { body: busybox.manifest, type: busybox.manifestType },
    busybox.blobs,
  );
  certs = scope.tempDir('certs-d');
  fs.mkdirSync(join(certs, tlsMirror.host));
  fs.copyFileSync(pki.caCert, join(certs, tlsMirror.host, 'ca.crt'));
});
after(() => scope.dispose());

const root = () => {
  const r = tempRoot('berth-mirror');
  scope.defer(`remove ${r.root}`, r.remove);
  return r.root;
};

function daemonJson(content: object): string {
  const f = join(scope.tempDir('daemon-json'), 'daemon.json');
  fs.writeFileSync(f, JSON.stringify(content));
  return f;
}

/** berth inside the namespace: no route to anywhere but the veth's /30. */
function berthInNs(r: string, args: string[], env: Record<string, string> = {}): RunResult {
  const res = spawnSync(ns.exec[0]!, [...ns.exec.slice(1), BERTH, '--root', r, ...args], {
    env: { ...envWithoutProxies(), ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: res.status ?? 137, stdout: res.stdout, stderr: res.stderr };
}

const inspect = (r: string, ref: string) => JSON.parse(berth(r, ['image', 'inspect', ref]).stdout)[0];

test('a docker.io name is pulled from the mirror: the image, tagged and with its docker.io RepoDigest', () => {
  const r = root();
  const cfg = daemonJson({ 'registry-mirrors': [`http://${mirror.host}`] });
  const p = berthInNs(r, ['--config-file', cfg, 'pull', 'busybox']);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /^latest: Pulling from library\/busybox$/m);
  assert.match(p.stdout, new RegExp(`^Digest: ${busybox.digest}$`, 'm'));
  assert.match(p.stdout, /^docker\.io\/library\/busybox:latest$/m);
  const info = inspect(r, 'busybox');
  // only the mirror has this image: its ID and layers prove where it came from
  assert.equal(info.Id, busybox.id);
  assert.deepEqual(info.RootFS.Layers, busybox.diffIDs);
  assert.deepEqual(info.RepoTags, ['busybox:latest']);
  assert.deepEqual(info.RepoDigests, [`busybox@${busybox.digest}`]);
});

test('a mirror on https is verified with the CA in certs.d', () => {
  const cfg = daemonJson({ 'registry-mirrors': [`https://${tlsMirror.host}/`] });
  const r = root();
  const untrusted = berthInNs(r, ['--config-file', cfg, 'pull', 'busybox'], {
    BERTH_CERTS_D: scope.tempDir('empty'),
  });
  // the mirror fails, Docker Hub is tried and cannot be reached from the namespace
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /registry-1\.docker\.io/);
  const p = berthInNs(r, ['--config-file', cfg, 'pull', 'busybox'], { BERTH_CERTS_D: certs });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspect(r, 'busybox').Id, busybox.id);
});

test("Docker Hub's credentials (config.json's https://index.docker.io/v1/) go to the mirror", () => {
  const cfg = daemonJson({ 'registry-mirrors': [`http://${authMirror.host}`] });
  const dockerDir = scope.tempDir('docker-config');
  const r = root();
  const anonymous = berthInNs(r, ['--config-file', cfg, 'pull', 'busybox'], { DOCKER_CONFIG: dockerDir });
  assert.equal(anonymous.code, 1, 'no credentials: the mirror refuses, Docker Hub is out of reach');
  fs.writeFileSync(
    join(dockerDir, 'config.json'),
    JSON.stringify({
      auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') } },
    }),
  );
  const p = berthInNs(r, ['--config-file', cfg, 'pull', 'busybox'], { DOCKER_CONFIG: dockerDir });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspect(r, 'busybox').Id, busybox.id);
});

test('a tag the mirror lacks falls back to registry-1.docker.io (out of reach here: the pull fails)', () => {
  const cfg = daemonJson({ 'registry-mirrors': [`http://${mirror.host}`] });
  const r = root();
  const p = berthInNs(r, ['--config-file', cfg, 'pull', 'busybox:not-on-the-mirror']);
  assert.equal(p.code, 1);
  assert.match(p.stderr, /https:\/\/registry-1\.docker\.io: (EAI_AGAIN|ENOTFOUND|ENETUNREACH|ECONNREFUSED)/);
  assert.equal(berth(r, ['images', '-q']).stdout, '');
});
