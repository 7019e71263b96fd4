/**
 * The pure parts of user-defined networks: the subnet choice (dockerd's pools against the host's routes and the other
 * networks), IPAM checks, the CNI conflist of a network, aardvark-dns's config files, resolv.conf, the names a
 * container answers to, NetworkSettings for several networks, network inspect's shape, create-time checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import {
  checkAddress,
  chooseFreeSubnet,
  defaultPools,
  formatCidr,
  hostLocalRange,
  ipamConfig,
  overlaps,
  parseCidr,
} from '../../src/network/subnets.js';
import { parseProcRoutes, type Route } from '../../src/network/bridge.js';
import { dnsNames, dnsResolvConf, parseDnsConfig, renderDnsConfig, upstreamResolvers } from '../../src/network/dns.js';
import {
  attachmentConflist,
  bridgeName,
  bridgeOf,
  checkBridgeOptions,
  cniName,
  userConflist,
  userRules,
} from '../../src/network/attach.js';
import { checkMac, multiNetworkSettings, networksOf } from '../../src/network/endpoints.js';
import { NetworkStore, predefinedRecord, type NetworkRecord } from '../../src/network/store.js';
import { inspectShape } from '../../src/engine/networks.js';
import { userNetwork } from '../../src/engine/network-endpoints.js';

const cidr = (s: string) => parseCidr(s)!;
const route = (dst: string, iface = 'eth0'): Route => {
  const c = cidr(dst);
  return { dst: c.net, mask: c.bits ? (0xffffffff << (32 - c.bits)) >>> 0 : 0, iface };
};

test('CIDRs: parsed with host bits cleared, bad ones refused, overlap both ways', () => {
  assert.equal(formatCidr(cidr('10.1.2.3/16')), '10.1.0.0/16');
  for (const bad of ['10.1.0.0', '10.1.0.0/33', '300.1.0.0/16', 'x/8', '10.1.0/16'])
    assert.equal(parseCidr(bad), undefined);
  assert.ok(overlaps(cidr('10.0.0.0/8'), cidr('10.3.0.0/16')));
  assert.ok(overlaps(cidr('10.3.0.0/16'), cidr('10.0.0.0/8')));
  assert.ok(!overlaps(cidr('172.17.0.0/16'), cidr('172.18.0.0/16')));
});

test("subnet choice: dockerd's pools in order, skipping host routes and other networks", () => {
  const pools = defaultPools().map(formatCidr);
  assert.equal(pools[0], '172.17.0.0/16');
  assert.equal(pools[14], '172.31.0.0/16');
  assert.equal(pools[15], '192.168.0.0/20');
  assert.equal(pools.at(-1), '192.168.240.0/20');
  const none = () => false;
  // the default route does not count; a host route on 172.17 does; a taken network too
  assert.equal(formatCidr(chooseFreeSubnet([route('0.0.0.0/0')], [], none)), '172.17.0.0/16');
  assert.equal(formatCidr(chooseFreeSubnet([route('172.17.5.0/24')], [cidr('172.18.0.0/16')], none)), '172.19.0.0/16');
  // a route covering all of 172.16/12 sends it to 192.168/20s, and one on 192.168.0/24 skips the first /20
  assert.equal(
    formatCidr(chooseFreeSubnet([route('172.16.0.0/12'), route('192.168.0.0/24')], [], none)),
    '192.168.16.0/20',
  );
  // berth's own bridges' routes are the networks themselves (given as taken), not the host's
  assert.equal(
    formatCidr(chooseFreeSubnet([route('172.17.0.0/16', 'berth0')], [], (i) => i === 'berth0')),
    '172.17.0.0/16',
  );
  assert.throws(() => chooseFreeSubnet([route('172.16.0.0/12'), route('192.168.0.0/16')], [], none), /non-overlapping/);
  // /proc/net/route's little-endian hex
  const parsed = parseProcRoutes(
    'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\nbr-x\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
  );
  assert.equal(formatCidr(chooseFreeSubnet(parsed, [], none)), '172.17.0.0/16');
  assert.deepEqual(parsed[0], { iface: 'br-x', dst: cidr('10.77.0.0/24').net, mask: 0xffffff00 });
});

test('IPAM: given subnet, gateway, range checked; defaults to the first address', () => {
  const choose = () => cidr('172.20.0.0/16');
  assert.deepEqual(ipamConfig({}, choose, []), { Subnet: '172.20.0.0/16', Gateway: '172.20.0.1' });
  assert.deepEqual(ipamConfig({ subnet: '10.9.0.0/24', gateway: '10.9.0.254', ipRange: '10.9.0.128/25' }, choose, []), {
    Subnet: '10.9.0.0/24',
    Gateway: '10.9.0.254',
    IPRange: '10.9.0.128/25',
  });
  const bad: Array<[Parameters<typeof ipamConfig>[0], RegExp]> = [
    [{ gateway: '10.9.0.1' }, /--gateway needs --subnet/],
    [{ subnet: '10.9.0.0' }, /invalid subnet "10.9.0.0"/],
    [{ subnet: '10.9.0.0/31' }, /too small/],
    [{ subnet: '10.9.0.0/24', gateway: '10.8.0.1' }, /not a host address of subnet 10.9.0.0\/24/],
    [{ subnet: '10.9.0.0/24', gateway: '10.9.0.255' }, /not a host address/],
    [{ subnet: '10.9.0.0/24', ipRange: '10.9.0.0/16' }, /not inside subnet/],
    [{ subnet: '10.9.0.0/24', ipRange: '10.9.1.0/25' }, /not inside subnet/],
  ];
  for (const [req, re] of bad) assert.throws(() => ipamConfig(req, choose, []), re);
  assert.throws(() => ipamConfig({ subnet: '10.9.0.0/25' }, choose, [cidr('10.9.0.0/24')]), /overlaps/);
  assert.deepEqual(hostLocalRange({ Subnet: '10.9.0.0/24', Gateway: '10.9.0.254', IPRange: '10.9.0.128/25' }), {
    subnet: '10.9.0.0/24',
    gateway: '10.9.0.254',
    rangeStart: '10.9.0.128',
    rangeEnd: '10.9.0.254',
  });
  const c = { Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' };
  checkAddress('10.9.0.7', c, 'n');
  assert.throws(() => checkAddress('10.9.1.7', c, 'n'), /not in subnet 10.9.0.0\/24 of network "n"/);
  assert.throws(() => checkAddress('10.9.0.1', c, 'n'), /is the gateway/);
  assert.throws(() => checkAddress('10.9.0', c, 'n'), /invalid IPv4 address/);
});

function record(over: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    ...predefinedRecord('bridge', undefined),
    Name: 'app',
    Id: 'ab'.repeat(32),
    Created: '2026-12-08T00:00:00.000Z',
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '172.20.0.0/16', Gateway: '172.20.0.1' }] },
    Options: {},
    ...over,
  };
}

test("a network's conflist: br-<id12>, masquerade and a default route unless internal; plugins only when needed", () => {
  const n = record();
  const list = userConflist(n, '/x/ipam');
  assert.equal(list.name, cniName(n.Id));
  assert.equal(list.name, 'berth-abababababab');
  const br = list.plugins[0]!;
  assert.equal(br.bridge, 'br-abababababab');
  assert.equal(bridgeName(n.Id), 'br-abababababab');
  assert.equal(br.ipMasq, false, "masquerade is the network's rule (rules.ts)");
  assert.deepEqual(userRules(n), {
    bridge: 'br-abababababab',
    subnet: '172.20.0.0/16',
    internal: false,
    masquerade: true,
  });
  assert.deepEqual((br.ipam as { routes: unknown }).routes, [{ dst: '0.0.0.0/0' }]);
  assert.deepEqual((br.ipam as { ranges: unknown }).ranges, [[{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }]]);
  const internal = userConflist(record({ Internal: true })).plugins[0]!;
  assert.equal(userRules(record({ Internal: true })).internal, true);
  assert.deepEqual((internal.ipam as { routes: unknown }).routes, []);
  assert.deepEqual(
    attachmentConflist(list, {}).plugins.map((p) => p.type),
    ['bridge'],
  );
  assert.deepEqual(
    attachmentConflist(list, {
      mac: '02:00:00:00:00:01',
      portMappings: [{ hostPort: 1, containerPort: 1, protocol: 'tcp' }],
    }).plugins.map((p) => p.type),
    ['bridge', 'tuning', 'portmap'],
  );
});

test("aardvark-dns's files: gateway and upstreams, then one line per container; read back", () => {
  const text = renderDnsConfig({
    listen: ['172.20.0.1'],
    upstreams: ['10.0.0.53', '1.1.1.1'],
    entries: [
      { id: 'c1', ipv4: ['172.20.0.2'], names: ['web', 'www', 'c1short'] },
      { id: 'c2', ipv4: ['172.20.0.3'], names: ['db'] },
    ],
  });
  assert.equal(text, '172.20.0.1 10.0.0.53,1.1.1.1\nc1 172.20.0.2  web,www,c1short\nc2 172.20.0.3  db\n');
  assert.deepEqual(parseDnsConfig(text)?.entries[1], { id: 'c2', ipv4: ['172.20.0.3'], names: ['db'] });
  assert.deepEqual(parseDnsConfig(text)?.upstreams, ['10.0.0.53', '1.1.1.1']);
  assert.equal(renderDnsConfig({ listen: ['10.1.0.1'], upstreams: [], entries: [] }), '10.1.0.1\n');
  assert.equal(parseDnsConfig(''), undefined);
  assert.deepEqual(
    upstreamResolvers(
      '# x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nnameserver 10.0.0.2\nsearch lan\n',
    ),
    ['10.0.0.2'],
  );
  assert.deepEqual(dnsNames('/web', ['www', 'web', ''], 'f'.repeat(64)), ['web', 'www', 'ffffffffffff']);
  assert.equal(
    dnsResolvConf(['172.20.0.1', '10.1.0.1'], 'nameserver 127.0.0.53\nsearch lan\noptions edns0\n'),
    'search lan\noptions edns0\nnameserver 172.20.0.1\nnameserver 10.1.0.1\n',
  );
});

test('NetworkSettings on several networks: user networks with aliases and DNSNames, top level empty', () => {
  const id = 'c'.repeat(64);
  const s = multiNetworkSettings(
    id,
    [
      {
        name: 'app',
        networkId: 'n1',
        config: { Aliases: ['web'], IPAMConfig: { IPv4Address: '172.20.0.9' } },
        ep: { IPAddress: '172.20.0.9', IPPrefixLen: 16, Gateway: '172.20.0.1', MacAddress: '02:00:00:00:00:09' },
        dnsNames: ['a', 'web', id.slice(0, 12)],
      },
      { name: 'other', networkId: 'n2', config: {} },
    ],
    { ports: {}, sandboxKey: '/run/berth/netns/x' },
  );
  assert.equal(s.IPAddress, '');
  assert.equal(s.SandboxKey, '/run/berth/netns/x');
  const app = s.Networks.app!;
  assert.deepEqual(app.Aliases, ['web', id.slice(0, 12)]);
  assert.deepEqual(app.IPAMConfig, { IPv4Address: '172.20.0.9' });
  assert.deepEqual(app.DNSNames, ['a', 'web', id.slice(0, 12)]);
  assert.equal(app.IPAddress, '172.20.0.9');
  assert.equal(app.NetworkID, 'n1');
  assert.match(app.EndpointID, /^[0-9a-f]{64}$/);
  assert.deepEqual(Object.keys(app), [
    'IPAMConfig',
    'Links',
    'Aliases',
    'NetworkID',
    'EndpointID',
    'Gateway',
    'IPAddress',
    'IPPrefixLen',
    'IPv6Gateway',
    'GlobalIPv6Address',
    'GlobalIPv6PrefixLen',
    'MacAddress',
    'DriverOpts',
    'DNSNames',
  ]);
  // not attached (yet): blank, no alias of its id, no DNS names
  assert.equal(s.Networks.other!.EndpointID, '');
  assert.equal(s.Networks.other!.Aliases, null);
  assert.equal(s.Networks.other!.DNSNames, null);
  const idle = multiNetworkSettings(id, [{ name: 'app', networkId: 'n1', config: { Aliases: ['web'] } }], undefined, [
    '80/tcp',
  ]);
  assert.deepEqual(idle.Networks.app!.Aliases, ['web']);
  assert.deepEqual(idle.Ports, { '80/tcp': null });
  assert.equal(idle.SandboxKey, '');
});

test("network inspect's shape: Docker's fields in Docker's order; predefined networks", () => {
  assert.deepEqual(Object.keys(inspectShape(record(), {})), [
    'Name',
    'Id',
    'Created',
    'Scope',
    'Driver',
    'EnableIPv6',
    'IPAM',
    'Internal',
    'Attachable',
    'Ingress',
    'ConfigFrom',
    'ConfigOnly',
    'Containers',
    'Options',
    'Labels',
  ]);
  assert.equal(predefinedRecord('none', undefined).Driver, 'null');
  assert.equal(predefinedRecord('host', undefined).Driver, 'host');
  assert.deepEqual(predefinedRecord('bridge', { Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }).IPAM.Config, [
    { Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' },
  ]);
  assert.match(predefinedRecord('bridge', undefined).Id, /^[0-9a-f]{64}$/);
});

test("a container's networks: NetworkMode alone, or berth's endpoints in order; MAC checked", () => {
  assert.deepEqual(networksOf({ NetworkMode: 'none' }), []);
  assert.deepEqual(networksOf({ NetworkMode: 'bridge' }), [{ name: 'bridge', config: {} }]);
  assert.deepEqual(networksOf({ NetworkMode: 'a', BerthEndpoints: { a: {}, b: { Aliases: ['x'] } } }), [
    { name: 'a', config: {} },
    { name: 'b', config: { Aliases: ['x'] } },
  ]);
  assert.equal(checkMac('02:42:AC:11:00:02'), '02:42:ac:11:00:02');
  assert.throws(() => checkMac('02:42:ac:11:00'), /invalid MAC address/);
  assert.throws(() => checkMac('01:00:5e:00:00:01'), /multicast/);
});

test('create-time checks: the network exists, aliases and --ip on user networks only, --ip in the subnet', () => {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'berth-usernet-units-'));
  try {
    const n = new NetworkStore(root).add({ ...record(), Name: 'app' });
    assert.deepEqual(userNetwork(root, 'app', undefined), { NetworkMode: 'app', BerthEndpoints: { app: {} } });
    // by id prefix: stored as its name
    assert.equal(userNetwork(root, n.Id.slice(0, 12), undefined).NetworkMode, 'app');
    assert.deepEqual(
      userNetwork(root, 'app', { app: { Aliases: ['w'], IPAMConfig: { IPv4Address: '172.20.0.5' } } }).BerthEndpoints,
      { app: { Aliases: ['w'], IPAMConfig: { IPv4Address: '172.20.0.5' } } },
    );
    assert.throws(() => userNetwork(root, 'nope', undefined), /network nope not found/);
    assert.throws(
      () => userNetwork(root, 'bridge', { bridge: { Aliases: ['w'] } }),
      /only for containers in user defined/,
    );
    assert.throws(
      () => userNetwork(root, 'bridge', { bridge: { IPAMConfig: { IPv4Address: '1.2.3.4' } } }),
      /user defined networks only/,
    );
    assert.throws(
      () => userNetwork(root, 'app', { app: { IPAMConfig: { IPv4Address: '10.0.0.5' } } }),
      /not in subnet/,
    );
    assert.deepEqual(userNetwork(root, 'bridge', undefined), { NetworkMode: 'bridge' });
    assert.throws(() => new NetworkStore(root).add({ ...record(), Name: 'app' }), /already exists/);
    assert.throws(() => new NetworkStore(root).add({ ...record(), Name: 'bridge' }), /already exists/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("network create -o: Docker's bridge name, MTU and masquerade options, checked", () => {
  const n = record({
    Options: {
      'com.docker.network.bridge.name': 'mybr0',
      'com.docker.network.driver.mtu': '1400',
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
    },
  });
  assert.equal(bridgeOf(n), 'mybr0');
  const br = userConflist(n).plugins[0]!;
  assert.equal(br.bridge, 'mybr0');
  assert.equal(br.mtu, 1400);
  assert.equal(userRules(n).masquerade, false);
  const none = () => false;
  checkBridgeOptions({ 'com.docker.network.bridge.name': 'ok0' }, ['br-x'], none);
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ 'com.docker.network.bridge.name': 'eth0' }, /already in use/],
    [{ 'com.docker.network.bridge.name': 'br-x' }, /already in use/],
    [{ 'com.docker.network.bridge.name': 'berth0' }, /already in use/],
    [{ 'com.docker.network.bridge.name': 'a-very-long-bridge-name' }, /1-15/],
    [{ 'com.docker.network.bridge.name': 'a/b' }, /1-15/],
    [{ 'com.docker.network.driver.mtu': '12' }, /68-65535/],
    [{ 'com.docker.network.driver.mtu': 'x' }, /68-65535/],
    [{ 'com.docker.network.bridge.enable_ip_masquerade': 'yes' }, /true or false/],
  ];
  for (const [o, re] of bad) assert.throws(() => checkBridgeOptions(o, ['br-x'], (i) => i === 'eth0'), re);
});
