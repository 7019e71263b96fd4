/**
 * The pure parts of the bridge network: -p parsing (Docker's nat.ParsePortSpec), ports printed as the docker CLI
 * prints them (ps PORTS, `port`), the subnet choice against the host's routes, the conflist and each plugin's stdin,
 * the plan that joins a netns by path, /etc/hosts and resolv.conf, inspect's NetworkSettings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  displayPorts,
  exposedPorts,
  parsePublish,
  portBindings,
  portLines,
  portRows,
} from '../../src/network/ports.js';
import {
  bridgeConflist,
  chooseSubnet,
  conflictingMapping,
  parseProcRoutes,
  withoutIdlePlugins,
  type Route,
} from '../../src/network/bridge.js';
import { pluginConfig } from '../../src/network/cni.js';
import { networkSettings } from '../../src/network/settings.js';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';
import { planFromSpec } from '../../src/runtime/plan.js';
import { hostsFile, resolvConf } from '../../src/container/etc-files.js';

test('-p: every form of Docker, ranges, protocols', () => {
  assert.deepEqual(parsePublish('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parsePublish('8080:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
  assert.deepEqual(parsePublish('127.0.0.1:18080:80/udp'), [
    { port: '80/udp', binding: { HostIp: '127.0.0.1', HostPort: '18080' } },
  ]);
  assert.deepEqual(parsePublish('127.0.0.1::80'), [{ port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
  assert.deepEqual(parsePublish('[::1]:8080:80'), [{ port: '80/tcp', binding: { HostIp: '::1', HostPort: '8080' } }]);
  assert.deepEqual(
    parsePublish('8000-8001:80-81').map((p) => `${p.binding.HostPort}->${p.port}`),
    ['8000->80/tcp', '8001->81/tcp'],
  );
  assert.deepEqual(portBindings(['8080:80', '127.0.0.1:8081:80', '53/udp']), {
    '80/tcp': [
      { HostIp: '', HostPort: '8080' },
      { HostIp: '127.0.0.1', HostPort: '8081' },
    ],
    '53/udp': [{ HostIp: '', HostPort: '' }],
  });
  assert.deepEqual(exposedPorts(['80', '53/UDP', '9000-9001']), ['80/tcp', '53/udp', '9000/tcp', '9001/tcp']);
  for (const bad of [
    '',
    '0',
    '70000',
    'a:80',
    '1.2.3.4:80:80:80',
    '80/icmp',
    '8000-8002:80-81',
    '300.1.1.1:80:80',
    '80:',
  ])
    assert.throws(() => parsePublish(bad), /-p|port|protocol|IP/, bad);
});

test("ports as the docker CLI prints them: ps's PORTS (ranges grouped) and `port`", () => {
  const ports = {
    '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
    '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '18081' }],
    '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
    '443/tcp': null,
  };
  assert.equal(displayPorts(portRows(ports)), '443/tcp, 0.0.0.0:5353->53/udp, 127.0.0.1:18080-18081->80-81/tcp');
  assert.equal(
    displayPorts(portRows({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }] })),
    '127.0.0.1:18080->80/tcp',
  );
  assert.equal(displayPorts([]), '');
  assert.deepEqual(portLines(ports), [
    '53/udp -> 0.0.0.0:5353',
    '80/tcp -> 127.0.0.1:18080',
    '81/tcp -> 127.0.0.1:18081',
  ]);
  assert.deepEqual(portLines(ports, '80'), ['127.0.0.1:18080']);
  assert.deepEqual(portLines(ports, '443/tcp'), []);
});

test("the bridge's subnet: Docker's 172.17/16 unless a route overlaps it; its own bridge and default routes do not count", () => {
  const text = [
    'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  const routes = parseProcRoutes(text);
  assert.deepEqual(routes[1], { iface: 'eth0', dst: 0xc0000200, mask: 0xffffff00 });
  assert.deepEqual(chooseSubnet(routes), { subnet: '172.18.0.0/16', gateway: '172.18.0.1' });
  assert.deepEqual(chooseSubnet(routes.slice(0, 2)), { subnet: '172.17.0.0/16', gateway: '172.17.0.1' });
  const own: Route = { iface: 'berth0', dst: 0xac110000, mask: 0xffff0000 };
  assert.equal(chooseSubnet([own]).subnet, '172.17.0.0/16');
  // a wider route (172.16.0.0/12) covers them all; a narrower one inside 172.18/16 takes only that
  assert.throws(() => chooseSubnet([{ iface: 'x', dst: 0xac100000, mask: 0xfff00000 }]), /every subnet/);
  const narrow: Route = { iface: 'x', dst: 0xac120500, mask: 0xffffff00 };
  assert.equal(chooseSubnet([routes[2]!, narrow]).subnet, '172.19.0.0/16');
});

test("the conflist and each plugin's stdin: the list's name and version, runtimeConfig for what it asked, prevResult", () => {
  const list = bridgeConflist('172.17.0.0/16', '172.17.0.1', '/run/x/ipam');
  assert.deepEqual(
    list.plugins.map((p) => p.type),
    ['bridge', 'portmap'],
  );
  const br = list.plugins[0]!;
  assert.equal(br.bridge, 'berth0');
  assert.equal(br.ipMasq, false, "masquerade is the network's rule (rules.ts), not the plugin's per container");
  assert.deepEqual((br.ipam as { ranges: unknown }).ranges, [[{ subnet: '172.17.0.0/16', gateway: '172.17.0.1' }]]);
  assert.equal((br.ipam as { dataDir: string }).dataDir, '/run/x/ipam');
  const rt = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] };
  const first = pluginConfig(list, 0, rt, undefined);
  assert.equal(first.name, 'berth');
  assert.equal(first.cniVersion, '1.0.0');
  assert.equal(first.runtimeConfig, undefined, 'the bridge plugin asked for no capability');
  assert.equal(first.prevResult, undefined);
  const prev = { cniVersion: '1.0.0', ips: [{ address: '172.17.0.2/16' }] };
  const pm = pluginConfig(list, 1, rt, prev);
  assert.deepEqual(pm.runtimeConfig, rt);
  assert.deepEqual(pm.prevResult, prev);
  assert.equal(pm.snat, true);
  // a container that publishes nothing skips portmap (at ADD and DEL)
  assert.deepEqual(
    withoutIdlePlugins(list, false).plugins.map((p) => p.type),
    ['bridge'],
  );
  assert.equal(withoutIdlePlugins(list, true), list);
});

const specInput = (network: SpecInput['network']): SpecInput => ({
  rootfs: '/r',
  args: ['/bin/true'],
  env: [],
  cwd: '/',
  uid: 0,
  gid: 0,
  additionalGids: [],
  hostname: 'h',
  terminal: false,
  readonlyRootfs: false,
  network,
  etcFiles: { hosts: '/e/hosts', hostname: '/e/hostname', resolvConf: '/e/resolv.conf' },
  binds: [],
  tmpfs: [],
  capabilities: [],
  privileged: false,
  noNewPrivileges: false,
});

test('the plan joins a netns by path right after the clone (no new one), and brings its lo up', () => {
  const spec = buildSpec(specInput({ netns: '/run/berth/netns/abc' }));
  assert.deepEqual(
    spec.linux.namespaces.find((n) => n.type === 'network'),
    { type: 'network', path: '/run/berth/netns/abc' },
  );
  const steps = planFromSpec(spec);
  const spawn = steps.findIndex((s) => s[0] === 'spawn');
  assert.deepEqual(steps[spawn + 1], ['join-netns', '/run/berth/netns/abc']);
  assert.equal(Number(steps[spawn]![1]) & 0x40000000, 0, 'no CLONE_NEWNET');
  assert.ok(steps.some((s) => s[0] === 'loopback-up'));
  assert.ok(steps.findIndex((s) => s[0] === 'join-netns') < steps.findIndex((s) => s[0] === 'pivot-root'));
  // none: a new one, unjoined
  const none = planFromSpec(buildSpec(specInput('none')));
  assert.ok(!none.some((s) => s[0] === 'join-netns'));
  assert.notEqual(Number(none.find((s) => s[0] === 'spawn')![1]) & 0x40000000, 0);
  // host: neither
  const host = planFromSpec(buildSpec(specInput('host')));
  assert.ok(!host.some((s) => s[0] === 'join-netns' || s[0] === 'loopback-up'));
});

test('/etc/hosts names the address on the bridge; resolv.conf drops loopback resolvers, Docker falls back to 8.8.8.8', () => {
  const h = hostsFile('web1', 'bridge', '172.17.0.5');
  assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(h, /^172\.17\.0\.5\tweb1$/m);
  assert.doesNotMatch(h, /127\.0\.1\.1/);
  assert.equal(
    resolvConf('bridge', 'search lan\nnameserver 10.1.2.3\nnameserver 127.0.0.53\n'),
    'search lan\nnameserver 10.1.2.3\n',
  );
  assert.equal(
    resolvConf('bridge', 'nameserver 127.0.0.53\noptions edns0\n'),
    'options edns0\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
  );
  assert.equal(resolvConf('none', 'nameserver 127.0.0.53\n'), '');
});

test("inspect's NetworkSettings: the endpoint while connected, blank fields and exposed ports otherwise", () => {
  const ep = {
    IPAddress: '172.17.0.2',
    IPPrefixLen: 16,
    Gateway: '172.17.0.1',
    MacAddress: 'aa:bb:cc:dd:ee:ff',
    Ports: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }] },
    SandboxKey: '/run/berth/netns/x',
  };
  const on = networkSettings('x', 'bridge', ep);
  assert.equal(on.IPAddress, '172.17.0.2');
  assert.equal(on.Networks.bridge!.IPAddress, '172.17.0.2');
  assert.equal(on.Networks.bridge!.Gateway, '172.17.0.1');
  assert.equal(on.Networks.bridge!.MacAddress, 'aa:bb:cc:dd:ee:ff');
  assert.match(on.Networks.bridge!.EndpointID, /^[0-9a-f]{64}$/);
  assert.deepEqual(on.Ports, ep.Ports);
  const off = networkSettings('x', 'bridge', undefined, ['80/tcp']);
  assert.equal(off.IPAddress, '');
  assert.equal(off.Networks.bridge!.EndpointID, '');
  assert.deepEqual(off.Ports, { '80/tcp': null });
  assert.deepEqual(Object.keys(networkSettings('x', 'none').Networks), ['none']);
});

test('a host port another container holds: same port and protocol on an overlapping address', () => {
  const m = (hostPort: number, protocol = 'tcp', hostIP?: string) => ({
    hostPort,
    containerPort: 80,
    protocol,
    ...(hostIP ? { hostIP } : {}),
  });
  const others = [m(8080, 'tcp', '127.0.0.1'), m(5353, 'udp')];
  assert.deepEqual(conflictingMapping([m(8080)], others), m(8080));
  assert.deepEqual(conflictingMapping([m(8080, 'tcp', '127.0.0.1')], others), m(8080, 'tcp', '127.0.0.1'));
  assert.equal(conflictingMapping([m(8080, 'tcp', '127.0.0.2')], others), undefined);
  assert.equal(conflictingMapping([m(8080, 'udp')], others), undefined);
  assert.deepEqual(conflictingMapping([m(9000), m(5353, 'udp', '127.0.0.1')], others), m(5353, 'udp', '127.0.0.1'));
  assert.equal(conflictingMapping([m(8081)], others), undefined);
});
