/**
 * How berth reaches registries, the pure parts: daemon.json as dockerd reads it (good, malformed,
 * wrong types, keys dockerd knows and does not), proxies from the environment and their precedence,
 * NO_PROXY matching as Go's httpproxy (suffixes, leading dot, "*", ports, IPs, CIDRs, loopback),
 * insecure registries by name and CIDR, the endpoints for Docker Hub with mirrors, and certs.d
 * directories read as Docker reads them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BerthError } from '../../src/core/errors.js';
import {
  checkRegistrySettings,
  parseDaemonConfig,
  proxiesFromEnv,
  readDaemonConfig,
  registrySettings,
} from '../../src/engine/daemon-config.js';
import { endpointsFor, isInsecure, mirrorURL, readCertsDir } from '../../src/registry/hosts.js';
import { inCIDR, parseProxyURL, proxyFor, useProxy } from '../../src/registry/proxy.js';
import { Scope } from '../helpers/peers.js';

const scope = new Scope();
after(() => scope.dispose());

const F = '/etc/berth/daemon.json';
const invalidWith = (re: RegExp) => (err: unknown) =>
  err instanceof BerthError && err.kind === 'InvalidArgument' && re.test(err.message);

test('daemon.json: the registry keys are read, the other keys dockerd knows are ignored', () => {
  const cfg = parseDaemonConfig(
    JSON.stringify({
      'insecure-registries': ['myreg.example:5000', '10.20.0.0/16'],
      'registry-mirrors': ['https://mirror.example', 'http://10.1.2.3:5000/cache'],
      proxies: { 'http-proxy': 'http://proxy:3128', 'https-proxy': 'proxy:3129', 'no-proxy': '.internal,10.0.0.0/8' },
      'log-driver': 'json-file',
      'storage-driver': 'overlay2',
      'default-ulimits': { nofile: { Name: 'nofile', Hard: 64000, Soft: 64000 } },
      debug: true,
    }),
    F,
  );
  assert.deepEqual(cfg, {
    insecureRegistries: ['myreg.example:5000', '10.20.0.0/16'],
    // dockerd's ValidateMirror: a trailing "/"
    mirrors: ['https://mirror.example/', 'http://10.1.2.3:5000/cache/'],
    proxies: { httpProxy: 'http://proxy:3128', httpsProxy: 'proxy:3129', noProxy: '.internal,10.0.0.0/8' },
  });
  assert.deepEqual(parseDaemonConfig('', F), {});
  assert.deepEqual(parseDaemonConfig('  {}\n', F), {});
  // empty proxies are unset (dockerd sets no variable for an empty value)
  assert.deepEqual(parseDaemonConfig('{"proxies": {"http-proxy": ""}}', F), {});
});

test('daemon.json: malformed text, wrong types and unknown keys are errors naming the file and the key', () => {
  assert.throws(
    () => parseDaemonConfig('{"insecure-registries": [', F),
    invalidWith(/^\/etc\/berth\/daemon\.json: not valid JSON: /),
  );
  assert.throws(() => parseDaemonConfig('["a"]', F), invalidWith(/daemon\.json: must be a JSON object/));
  assert.throws(
    () => parseDaemonConfig('{"insecure-registries": "myreg:5000"}', F),
    invalidWith(/daemon\.json: insecure-registries: must be an array of strings/),
  );
  assert.throws(
    () => parseDaemonConfig('{"registry-mirrors": [1]}', F),
    invalidWith(/daemon\.json: registry-mirrors: must be an array of strings/),
  );
  assert.throws(
    () => parseDaemonConfig('{"proxies": "http://p"}', F),
    invalidWith(/daemon\.json: proxies: must be an object/),
  );
  assert.throws(
    () => parseDaemonConfig('{"proxies": {"http_proxy": "http://p"}}', F),
    invalidWith(/daemon\.json: proxies: unknown key "http_proxy"/),
  );
  assert.throws(
    () => parseDaemonConfig('{"proxies": {"no-proxy": 1}}', F),
    invalidWith(/proxies\.no-proxy: must be a string/),
  );
  assert.throws(
    () => parseDaemonConfig('{"registry-mirror": [], "insecure-registry": [], "debug": true}', F),
    invalidWith(
      /daemon\.json: the following directives don't match any configuration option: registry-mirror, insecure-registry$/,
    ),
  );
  // values checked as dockerd checks them
  assert.throws(
    () => parseDaemonConfig('{"insecure-registries": ["http://myreg:5000"]}', F),
    invalidWith(/insecure-registries: insecure registry http:\/\/myreg:5000 should not contain ':\/\/'/),
  );
  assert.throws(
    () => parseDaemonConfig('{"insecure-registries": ["my reg"]}', F),
    invalidWith(/insecure-registries: invalid insecure registry "my reg"/),
  );
  assert.throws(
    () => parseDaemonConfig('{"registry-mirrors": ["mirror.example"]}', F),
    invalidWith(
      /registry-mirrors: invalid mirror: unsupported scheme "mirror\.example"|registry-mirrors: invalid mirror/,
    ),
  );
  assert.throws(
    () => parseDaemonConfig('{"registry-mirrors": ["ftp://mirror.example"]}', F),
    invalidWith(/registry-mirrors: invalid mirror: unsupported scheme "ftp"/),
  );
  assert.throws(
    () => parseDaemonConfig('{"registry-mirrors": ["https://u:p@mirror.example"]}', F),
    invalidWith(/username\/password not allowed/),
  );
  assert.throws(
    () => parseDaemonConfig('{"registry-mirrors": ["https://mirror.example/?x=1"]}', F),
    invalidWith(/query or fragment/),
  );
  assert.throws(
    () => parseDaemonConfig('{"proxies": {"https-proxy": "socks5://p:1080"}}', F),
    invalidWith(/proxies\.https-proxy: .*unsupported proxy scheme "socks5"/),
  );
  assert.throws(
    () => checkRegistrySettings({ mirrors: ['nope'] }, 'Engine.open registry'),
    invalidWith(/^Engine\.open registry: registry-mirrors:/),
  );
});

test('daemon.json on disk: the default path may be missing, a named one may not; a directory is an error', () => {
  const dir = scope.tempDir('daemon-json');
  assert.deepEqual(readDaemonConfig(join(dir, 'none.json'), false), {});
  assert.throws(
    () => readDaemonConfig(join(dir, 'none.json'), true),
    /unable to configure berth with file .*none\.json: ENOENT/,
  );
  assert.throws(() => readDaemonConfig(dir, true), /unable to configure berth with file .*: EISDIR/);
  const f = join(dir, 'daemon.json');
  fs.writeFileSync(f, '{"registry-mirrors": ["http://m.example:5000"], "proxies": {"no-proxy": "a.example"}}');
  // daemon.json's proxies win field by field over the environment's (upper case before lower case)
  const s = registrySettings({
    configFile: f,
    env: {
      HTTPS_PROXY: 'http://upper:1',
      https_proxy: 'http://lower:1',
      http_proxy: 'http://lower:2',
      NO_PROXY: 'env.example',
    },
    certsDirs: ['/x'],
  });
  assert.deepEqual(s, {
    mirrors: ['http://m.example:5000/'],
    proxies: { httpsProxy: 'http://upper:1', httpProxy: 'http://lower:2', noProxy: 'a.example' },
    certsDirs: ['/x'],
  });
  assert.deepEqual(proxiesFromEnv({}), {});
  fs.writeFileSync(f, '{"insecure-registries": {}}');
  assert.throws(
    () => registrySettings({ configFile: f, env: {} }),
    invalidWith(/daemon\.json: insecure-registries: must be an array/),
  );
});

test('NO_PROXY as Go matches it: domains and suffixes, leading dot, "*.", "*", ports, IPs, CIDRs; loopback direct', () => {
  const via = (host: string, port: string, no: string) => useProxy(host, port, no);
  // loopback and localhost never go through a proxy
  assert.equal(via('localhost', '5000', ''), false);
  assert.equal(via('127.0.0.1', '5000', ''), false);
  assert.equal(via('::1', '443', ''), false);
  assert.equal(via('10.1.2.3', '443', ''), true);
  // a domain matches itself and its sub-domains, not a longer name
  assert.equal(via('example.com', '443', 'example.com'), false);
  assert.equal(via('reg.example.com', '443', 'example.com'), false);
  assert.equal(via('badexample.com', '443', 'example.com'), true);
  // a leading dot: only sub-domains; "*." the same as "."... plus the domain itself, as Go's
  assert.equal(via('example.com', '443', '.example.com'), true);
  assert.equal(via('a.b.example.com', '443', '.example.com'), false);
  assert.equal(via('reg.example.com', '443', '*.example.com'), false);
  // case, spaces, empty entries
  assert.equal(via('REG.Example.COM', '443', ' , other.org ,  EXAMPLE.com '), false);
  // "*" alone: nothing is proxied
  assert.equal(via('anything.example', '80', 'x.org,*'), false);
  // a port in the entry must match the request's
  assert.equal(via('reg.example.com', '5000', 'reg.example.com:5000'), false);
  assert.equal(via('reg.example.com', '443', 'reg.example.com:5000'), true);
  // IPs: equal address (any port unless given), IPv6 in brackets with a port
  assert.equal(via('10.1.2.3', '443', '10.1.2.3'), false);
  assert.equal(via('10.1.2.3', '443', '10.1.2.3:5000'), true);
  assert.equal(via('10.1.2.3', '5000', '10.1.2.3:5000'), false);
  assert.equal(via('fd00::1', '443', '[fd00::1]:443'), false);
  assert.equal(via('fd00::1', '443', 'fd00::1'), false);
  // CIDRs match IP hosts only
  assert.equal(via('10.1.2.3', '443', '10.0.0.0/8'), false);
  assert.equal(via('11.1.2.3', '443', '10.0.0.0/8'), true);
  assert.equal(via('fd00::5', '443', 'fd00::/8'), false);
  assert.equal(via('ten.example', '443', '10.0.0.0/8'), true);
  // an IP entry does not match a name, a name entry not an IP
  assert.equal(via('host.example', '443', '10.1.2.3'), true);
});

test('proxyFor: HTTPS_PROXY for https, HTTP_PROXY for http, a scheme-less proxy is http://', () => {
  const cfg = {
    httpProxy: 'proxy.example:3128',
    httpsProxy: 'http://u:p%40ss@sproxy.example:3129',
    noProxy: 'direct.example',
  };
  assert.equal(proxyFor(new URL('https://reg.example/v2/'), cfg)?.href, 'http://u:p%40ss@sproxy.example:3129/');
  assert.equal(proxyFor(new URL('http://reg.example/v2/'), cfg)?.href, 'http://proxy.example:3128/');
  assert.equal(proxyFor(new URL('https://direct.example/v2/'), cfg), undefined);
  assert.equal(proxyFor(new URL('https://127.0.0.1:5000/v2/'), cfg), undefined);
  assert.equal(proxyFor(new URL('https://reg.example/'), { httpProxy: 'http://p:1' }), undefined);
  assert.equal(proxyFor(new URL('https://reg.example/'), undefined), undefined);
  assert.equal(parseProxyURL('https://sp.example').protocol, 'https:');
  assert.throws(() => parseProxyURL('socks5://p:1080'), /unsupported proxy scheme "socks5"/);
});

test('insecure registries: loopback always, names as written (with the port), CIDRs against the addresses', async () => {
  assert.equal(await isInsecure('127.0.0.1:5000', {}), true);
  assert.equal(await isInsecure('localhost:5000', {}), true);
  assert.equal(await isInsecure('[::1]:5000', {}), true);
  assert.equal(await isInsecure('10.9.8.7:5000', {}), false);
  assert.equal(await isInsecure('10.9.8.7:5000', { insecureRegistries: ['10.9.8.7:5000'] }), true);
  // the name with another port is another registry
  assert.equal(await isInsecure('10.9.8.7:5001', { insecureRegistries: ['10.9.8.7:5000'] }), false);
  assert.equal(await isInsecure('10.9.8.7:5001', { insecureRegistries: ['10.9.0.0/16'] }), true);
  assert.equal(await isInsecure('10.10.8.7', { insecureRegistries: ['10.9.0.0/16'] }), false);
  // a name is compared without regard to case (and need not resolve)
  assert.equal(await isInsecure('myreg.invalid:5000', { insecureRegistries: ['MyReg.invalid:5000'] }), true);
  assert.equal(await isInsecure('myreg.invalid:5000', {}), false);
  assert.equal(inCIDR('10.9.255.1', '10.9.0.0/16'), true);
  assert.equal(inCIDR('10.9.255.1', 'nonsense'), false);
});

test('endpoints: Docker Hub after its mirrors (http or https, a path kept); others https, insecure ones then http', async () => {
  const hub = await endpointsFor('registry-1.docker.io', {
    mirrors: ['https://mirror.example/cache', 'http://10.1.2.3:5000'],
    certsDirs: [],
  });
  assert.deepEqual(
    hub.map((e) => [e.url.href, e.mirror, e.insecureTLS]),
    [
      ['https://mirror.example/cache/', true, false],
      ['http://10.1.2.3:5000/', true, false],
      ['https://registry-1.docker.io/', false, false],
    ],
  );
  assert.deepEqual(
    (await endpointsFor('registry-1.docker.io', { mirrors: ['https://127.0.0.1:5000'] })).map((e) => e.insecureTLS),
    [true, false],
  );
  // mirrors are for Docker Hub only
  assert.deepEqual(
    (await endpointsFor('reg.example:5000', { mirrors: ['https://mirror.example'], certsDirs: [] })).map(
      (e) => e.url.href,
    ),
    ['https://reg.example:5000/'],
  );
  assert.deepEqual(
    (await endpointsFor('10.1.2.3:5000', { insecureRegistries: ['10.0.0.0/8'] })).map((e) => [
      e.url.href,
      e.insecureTLS,
    ]),
    [
      ['https://10.1.2.3:5000/', true],
      ['http://10.1.2.3:5000/', false],
    ],
  );
  assert.equal(mirrorURL('https://m.example:5000/a/b').href, 'https://m.example:5000/a/b/');
});

test('certs.d: *.crt are CAs, NAME.cert needs NAME.key and the reverse; the first directory with the host wins', () => {
  const a = scope.tempDir('certs-a');
  const b = scope.tempDir('certs-b');
  const host = 'reg.example:5000';
  fs.mkdirSync(join(b, host), { recursive: true });
  fs.writeFileSync(join(b, host, 'ca.crt'), 'CA-B');
  fs.writeFileSync(join(b, host, 'other.crt'), 'CA-B2');
  fs.writeFileSync(join(b, host, 'client.cert'), 'CERT');
  fs.writeFileSync(join(b, host, 'client.key'), 'KEY');
  fs.writeFileSync(join(b, host, 'README'), 'ignored');
  assert.deepEqual(readCertsDir({ certsDirs: [a, b] }, host), { ca: ['CA-B', 'CA-B2'], cert: 'CERT', key: 'KEY' });
  assert.equal(readCertsDir({ certsDirs: [a, b] }, 'other.example'), undefined);
  // the first directory that has the host is the one read
  fs.mkdirSync(join(a, host));
  fs.writeFileSync(join(a, host, 'ca.crt'), 'CA-A');
  assert.deepEqual(readCertsDir({ certsDirs: [a, b] }, host), { ca: ['CA-A'] });
  fs.writeFileSync(join(a, host, 'client.cert'), 'CERT');
  assert.throws(
    () => readCertsDir({ certsDirs: [a, b] }, host),
    invalidWith(
      /missing key .*client\.key for client certificate .*client\.cert\. CA certificates must use the extension \.crt/,
    ),
  );
  fs.rmSync(join(a, host, 'client.cert'));
  fs.writeFileSync(join(a, host, 'client.key'), 'KEY');
  assert.throws(
    () => readCertsDir({ certsDirs: [a, b] }, host),
    invalidWith(/missing client certificate .*client\.cert for key .*client\.key/),
  );
  assert.throws(() => readCertsDir({ certsDirs: [a] }, '..'), invalidWith(/invalid registry host/));
});
