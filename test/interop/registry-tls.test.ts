/**
 * Registries on a non-loopback address (in a network namespace the test makes; loopback registries
 * are insecure by Docker's rules), reached as dockerd reaches them:
 * - TLS with a test CA and client certificates required (docker-registry's clientcas): the pull
 *   fails, saying why, without the CA and without the client certificate, and succeeds with
 *   ca.crt, client.cert and client.key in certs.d (BERTH_CERTS_D points berth at the test's);
 *   a lone client.cert is Docker's error;
 * - a self-signed certificate: refused, then pulled once daemon.json names the registry (or its
 *   network) in insecure-registries; a plain-http registry likewise, by https then http.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, tempRoot } from '../helpers/berth.js';
import { type Netns, type NsRegistry, type TestPKI, makeNetns, makePKI, startNsRegistry } from '../helpers/netns.js';
import { Scope } from '../helpers/peers.js';
import { layerTar, makeImage, pushImage } from '../helpers/registry.js';

const scope = new Scope();
const app = makeImage([layerTar({ 'etc/app.txt': 'over tls\n' })]);
let ns: Netns;
let pki: TestPKI;
let plain: NsRegistry;
let mutual: NsRegistry;
let self: NsRegistry;

before(async () => {
  ns = makeNetns(scope);
  pki = makePKI(scope, ns.nsIP);
  const storage = scope.tempDir('tls-storage');
  plain = await startNsRegistry(scope, ns, 5000, { storage });
  mutual = await startNsRegistry(scope, ns, 5443, {
    storage,
    tls: { cert: pki.serverCert, key: pki.serverKey, clientCAs: [pki.caCert] },
  });
  self = await startNsRegistry(scope, ns, 5444, { storage, tls: { cert: pki.selfCert, key: pki.selfKey } });
  await pushImage(plain.host, 'app', 'v1', { body: app.manifest, type: app.manifestType }, app.blobs);
});
after(() => scope.dispose());

const root = () => {
  const r = tempRoot('berth-tls');
  scope.defer(`remove ${r.root}`, r.remove);
  return r.root;
};
const inspectId = (r: string, ref: string) => JSON.parse(berth(r, ['image', 'inspect', ref]).stdout)[0]?.Id;

test('TLS with client certificates: no CA, then no client certificate, fail clearly; certs.d makes the pull work', () => {
  const certs = scope.tempDir('certs-d');
  const hostDir = join(certs, mutual.host);
  const env = { BERTH_CERTS_D: certs };
  const ref = `${mutual.host}/app:v1`;
  const r = root();

  const untrusted = berth(r, ['pull', ref], { env });
  assert.equal(untrusted.code, 1, untrusted.stdout);
  assert.match(untrusted.stderr, new RegExp(`the certificate of ${mutual.host.replace(/\./g, '\\.')} is not trusted`));
  assert.match(untrusted.stderr, new RegExp(`${certs}/${mutual.host}/`));

  fs.mkdirSync(hostDir);
  fs.copyFileSync(pki.caCert, join(hostDir, 'ca.crt'));
  const noClient = berth(r, ['pull', ref], { env });
  assert.equal(noClient.code, 1, noClient.stdout);
  assert.match(noClient.stderr, /wants a client certificate it trusts \(client\.cert and client\.key in /);

  // Docker's naming: a .cert needs its .key
  fs.copyFileSync(pki.clientCert, join(hostDir, 'client.cert'));
  const lone = berth(r, ['pull', ref], { env });
  assert.equal(lone.code, 1);
  assert.match(lone.stderr, /missing key .*client\.key for client certificate .*client\.cert/);

  fs.copyFileSync(pki.clientKey, join(hostDir, 'client.key'));
  const ok = berth(r, ['pull', ref], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(inspectId(r, ref), app.id);
  assert.equal(berth(r, ['images', '-q']).stdout.trim().length, 12);
});

test('a self-signed certificate is refused; insecure-registries (by name, or a CIDR) pulls it', () => {
  const env = { BERTH_CERTS_D: scope.tempDir('no-certs') };
  const ref = `${self.host}/app:v1`;
  const r = root();
  const refused = berth(r, ['pull', ref], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /SELF_SIGNED|not trusted/);
  assert.equal(berth(r, ['images', '-q']).stdout, '');

  const cfgDir = scope.tempDir('daemon-json');
  const byName = join(cfgDir, 'by-name.json');
  fs.writeFileSync(byName, JSON.stringify({ 'insecure-registries': [self.host], 'log-level': 'warn' }));
  const p = berth(r, ['--config-file', byName, 'pull', ref], { env });
  assert.equal(p.code, 0, p.stderr);
  assert.equal(inspectId(r, ref), app.id);

  // a network: the plain-http registry too, by https (which fails) then http
  const byNet = join(cfgDir, 'by-net.json');
  const net30 = ns.nsIP.replace(/\d+$/, (d) => String(Number(d) - 2));
  fs.writeFileSync(byNet, JSON.stringify({ 'insecure-registries': [`${net30}/30`] }));
  const r2 = root();
  const noSetting = berth(r2, ['pull', `${plain.host}/app:v1`], { env });
  assert.equal(noSetting.code, 1);
  const h = berth(r2, [`--config-file=${byNet}`, 'pull', `${plain.host}/app:v1`], { env });
  assert.equal(h.code, 0, h.stderr);
  assert.equal(inspectId(r2, `${plain.host}/app:v1`), app.id);
  const s = berth(r2, ['--config-file', byNet, 'pull', ref], { env });
  assert.equal(s.code, 0, s.stderr);
});

test('a bad daemon.json, or a missing one named by --config-file, stops the command with the file and the problem', () => {
  const r = root();
  const dir = scope.tempDir('bad-daemon-json');
  const bad = join(dir, 'daemon.json');
  fs.writeFileSync(bad, '{"insecure-registries": "10.0.0.1:5000"}');
  const a = berth(r, ['--config-file', bad, 'pull', `${plain.host}/app:v1`]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, new RegExp(`${bad}: insecure-registries: must be an array of strings`));
  const b = berth(r, ['--config-file', join(dir, 'none.json'), 'images']);
  assert.notEqual(b.code, 0);
  assert.match(b.stderr, /unable to configure berth with file .*none\.json: ENOENT/);
  const c = berth(r, ['--config-file']);
  assert.equal(c.code, 125);
  assert.match(c.stderr, /--config-file needs a file/);
});
