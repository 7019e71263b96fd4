/**
 * The pure parts of --dns, --dns-search, --dns-option, --add-host and `--network container:`: /etc/hosts and
 * resolv.conf as dockerd 20.10 writes them, the flags as the docker CLI parses and checks them, daemon.json's
 * host-gateway-ip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkDnsSearch,
  checkDnsServer,
  hostsFile,
  nameservers,
  parseExtraHost,
  resolvConf,
  resolveExtraHosts,
} from '../../src/container/etc-files.js';
import { createRequestFromFlags } from '../../src/cli/container-flags.js';
import { parseDaemonConfig } from '../../src/engine/daemon-config.js';
import { joinedName } from '../../src/container/network.js';

test('--add-host: NAME:IP, NAME=IP, IPv6 (bracketed or not), host-gateway; the docker CLI messages', () => {
  assert.deepEqual(parseExtraHost('db:10.1.2.3'), { name: 'db', ip: '10.1.2.3' });
  assert.deepEqual(parseExtraHost('db=10.1.2.3'), { name: 'db', ip: '10.1.2.3' });
  assert.deepEqual(parseExtraHost('v6:2001:db8::1'), { name: 'v6', ip: '2001:db8::1' });
  assert.deepEqual(parseExtraHost('v6=[2001:db8::1]'), { name: 'v6', ip: '2001:db8::1' });
  assert.deepEqual(parseExtraHost('host.docker.internal:host-gateway'), {
    name: 'host.docker.internal',
    ip: 'host-gateway',
  });
  assert.throws(() => parseExtraHost('nohost'), /bad format for add-host: "nohost"/);
  assert.throws(() => parseExtraHost(':10.0.0.1'), /bad format for add-host/);
  assert.throws(() => parseExtraHost('db:10.0.0'), /invalid IP address in add-host: "10.0.0"/);
  assert.throws(() => parseExtraHost('db:gateway'), /invalid IP address in add-host: "gateway"/);
  assert.deepEqual(resolveExtraHosts(['a:1.2.3.4', 'gw:host-gateway'], '172.17.0.1'), [
    { name: 'a', ip: '1.2.3.4' },
    { name: 'gw', ip: '172.17.0.1' },
  ]);
  assert.throws(() => resolveExtraHosts(['gw:host-gateway']), /no address is known for host-gateway/);
});

test("/etc/hosts: Docker's lines, the --add-host entries, then the container's own name", () => {
  const extra = [
    { name: 'db', ip: '10.1.2.3' },
    { name: 'gw', ip: '172.17.0.1' },
  ];
  assert.equal(
    hostsFile('web1', 'bridge', '172.17.0.5', extra),
    [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      '10.1.2.3\tdb',
      '172.17.0.1\tgw',
      '172.17.0.5\tweb1',
      '',
    ].join('\n'),
  );
  // the host's network: the host's file, unless entries are added (Docker's own file then, without a hostname line)
  assert.equal(hostsFile('h', 'host', undefined, [], '10.0.0.9 myhost\n'), '10.0.0.9 myhost\n');
  const host = hostsFile('h', 'host', undefined, extra, '10.0.0.9 myhost\n');
  assert.doesNotMatch(host, /myhost|\th$/m);
  assert.match(host, /^10\.1\.2\.3\tdb$/m);
  assert.match(hostsFile('c1', 'none', undefined, extra), /10\.1\.2\.3\tdb\n172\.17\.0\.1\tgw\n127\.0\.1\.1\tc1\n$/);
});

test('resolv.conf with --dns, --dns-search, --dns-option: built as dockerd builds it, the host filling the rest', () => {
  const host = '# from DHCP\nsearch lan corp\nnameserver 127.0.0.53\nnameserver 10.1.1.1 # main\noptions edns0\n';
  assert.equal(
    resolvConf('bridge', host, { servers: ['10.9.9.9', '10.9.9.8'], search: ['example.test'], options: ['ndots:2'] }),
    'search example.test\nnameserver 10.9.9.9\nnameserver 10.9.9.8\noptions ndots:2\n',
  );
  // only --dns-search: the host's nameservers as they are (loopback too: dockerd 20.10 does not filter them then)
  assert.equal(
    resolvConf('bridge', host, { search: ['a.test'] }),
    'search a.test\nnameserver 127.0.0.53\nnameserver 10.1.1.1\noptions edns0\n',
  );
  // only --dns: the host's search and options kept
  assert.equal(
    resolvConf('none', host, { servers: ['1.1.1.1'] }),
    'search lan corp\nnameserver 1.1.1.1\noptions edns0\n',
  );
  // --dns-search . means no search line
  assert.equal(
    resolvConf('bridge', host, { servers: ['1.1.1.1'], search: ['.'] }),
    'nameserver 1.1.1.1\noptions edns0\n',
  );
  // on the host's network with settings: built too (not the host's file)
  assert.equal(
    resolvConf('host', host, { options: ['rotate'] }),
    'search lan corp\nnameserver 127.0.0.53\nnameserver 10.1.1.1\noptions rotate\n',
  );
  assert.equal(resolvConf('host', host), host);
});

test('resolv.conf without settings: loopback and (on the bridge) IPv6 nameservers dropped, 8.8.8.8/8.8.4.4 if none left', () => {
  assert.equal(
    resolvConf('bridge', 'nameserver 10.1.1.1\nnameserver 2001:db8::53\nnameserver ::1\n'),
    'nameserver 10.1.1.1\n',
  );
  assert.equal(
    resolvConf('bridge', 'nameserver 127.0.0.11\nnameserver fe80::1%eth0\n'),
    '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
  );
  // a nameserver that merely starts like ::1 stays
  assert.equal(resolvConf('none', 'nameserver ::10\n'), 'nameserver ::10\n');
  assert.deepEqual(nameservers('nameserver 10.0.0.1\nnameserver bogus\n nameserver 10.0.0.2\n#nameserver 10.0.0.3\n'), [
    '10.0.0.1',
    '10.0.0.2',
  ]);
});

test('--dns and --dns-search values are checked as the docker CLI checks them', () => {
  assert.equal(checkDnsServer('10.0.0.1'), '10.0.0.1');
  assert.equal(checkDnsServer('2001:db8::1'), '2001:db8::1');
  assert.throws(() => checkDnsServer('dns.example'), /dns\.example is not an ip address/);
  assert.equal(checkDnsSearch('example.com'), 'example.com');
  assert.equal(checkDnsSearch('.'), '.');
  assert.throws(() => checkDnsSearch('.example.com'), /is not a valid domain/);
  assert.throws(() => checkDnsSearch('a'.repeat(256)), /is not a valid domain/);
});

test('run/create flags: --dns, --dns-search, --dns-option/--dns-opt, --add-host into HostConfig; --network default', () => {
  const req = createRequestFromFlags(['img'], {
    dns: ['10.0.0.1'],
    'dns-search': ['a.test', 'b.test'],
    'dns-option': ['ndots:2'],
    'dns-opt': ['rotate'],
    'add-host': ['db:10.1.2.3', 'gw:host-gateway'],
  });
  const hc = req.HostConfig!;
  assert.deepEqual(hc.Dns, ['10.0.0.1']);
  assert.deepEqual(hc.DnsSearch, ['a.test', 'b.test']);
  assert.deepEqual(hc.DnsOptions, ['ndots:2', 'rotate']);
  assert.deepEqual(hc.ExtraHosts, ['db:10.1.2.3', 'gw:host-gateway']);
  assert.equal(hc.NetworkMode, 'default');
  const none = createRequestFromFlags(['img'], {}).HostConfig!;
  assert.deepEqual([none.Dns, none.DnsSearch, none.DnsOptions, none.ExtraHosts], [[], [], [], null]);
  assert.equal(createRequestFromFlags(['img'], { network: 'container:web' }).HostConfig!.NetworkMode, 'container:web');
  assert.throws(
    () => createRequestFromFlags(['img'], { dns: ['resolver'] }),
    /invalid argument "resolver" for "--dns" flag: resolver is not an ip address/,
  );
  assert.throws(
    () => createRequestFromFlags(['img'], { 'add-host': ['db'] }),
    /invalid argument "db" for "--add-host" flag: bad format for add-host/,
  );
  assert.equal(joinedName('container:abc'), 'abc');
  assert.equal(joinedName('bridge'), undefined);
});

test("daemon.json's dns, dns-search, dns-opts: checked as the flags, kept for containers that set none", () => {
  assert.deepEqual(
    parseDaemonConfig('{"dns": ["10.7.7.7"], "dns-search": ["corp.test"], "dns-opts": ["ndots:1"]}', 'd.json').dns,
    { servers: ['10.7.7.7'], search: ['corp.test'], options: ['ndots:1'] },
  );
  assert.deepEqual(parseDaemonConfig('{"dns-opts": ["rotate"]}', 'd.json').dns, { options: ['rotate'] });
  assert.equal(parseDaemonConfig('{"dns": []}', 'd.json').dns, undefined);
  assert.throws(
    () => parseDaemonConfig('{"dns": ["ns.corp"]}', 'd.json'),
    /d\.json: dns: ns\.corp is not an ip address/,
  );
  assert.throws(
    () => parseDaemonConfig('{"dns-search": [".x"]}', 'd.json'),
    /d\.json: dns-search: .*not a valid domain/,
  );
});

test("daemon.json's host-gateway-ip: an IP address, kept beside the registry settings", () => {
  assert.equal(parseDaemonConfig('{"host-gateway-ip": "192.168.7.1"}', 'd.json').hostGatewayIP, '192.168.7.1');
  assert.throws(
    () => parseDaemonConfig('{"host-gateway-ip": "gw"}', 'd.json'),
    /d\.json: host-gateway-ip: must be an IP/,
  );
  assert.throws(() => parseDaemonConfig('{"host-gateway-ip": 3}', 'd.json'), /host-gateway-ip/);
});
