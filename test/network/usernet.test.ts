/**
 * User-defined networks, for real (CNI's bridge, host-local, tuning, portmap and firewall plugins, aardvark-dns):
 * create/ls/inspect/rm/prune, subnets that do not collide, two containers reaching each other by name and alias
 * (busybox nslookup, ping, wget), --ip and --mac-address, connect and disconnect while running, --internal, rm of a
 * network in use refused, and nothing left behind: no bridge, veth, netns, iptables rule, lease, attachment, DNS
 * file or aardvark-dns process of the test's networks. All traffic stays between namespaces on this machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, berthSpawn, mountsUnder, tempRoot } from '../helpers/berth.js';
import { removeIdleBerthChains } from '../helpers/hostnet.js';

const t = tempRoot('berth-usernet');
const root = t.root;
const www = join(`${root}-www`);
/** Every network id and container id the tests made (their traces are what is counted). */
const netIds = new Set<string>();
const ctrIds = new Set<string>();

const ls = (d: string): string[] => {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
};

/** What the tests' networks and containers may leave behind, counted host-wide but only for their ids. */
function traces(): Record<string, number> {
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
  const short = [...netIds].map((i) => i.slice(0, 12));
  const ours = (l: string) => short.some((s) => l.includes(s)) || [...ctrIds].some((c) => l.includes(c));
  return {
    bridges: links.split('\n').filter((l) => short.some((s) => l.includes(`br-${s}`)) && !/veth/.test(l)).length,
    veths: links.split('\n').filter((l) => /veth/.test(l) && short.some((s) => l.includes(`master br-${s}`))).length,
    netns: ls('/run/berth/netns').filter((n) => ctrIds.has(n)).length,
    attachments: ls('/run/berth/cni/attach').filter((n) => ctrIds.has(n)).length,
    leases: short.flatMap((s) => ls(`/run/berth/cni/ipam/berth-${s}`)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
      .length,
    conflists: ls('/run/berth/cni').filter((f) => [...netIds].some((i) => f === `net-${i}.conflist`)).length,
    rules: rules.split('\n').filter((l) => l.startsWith('-A') && ours(l)).length,
    dnsFiles: ls('/run/berth/aardvark').filter((f) => netIds.has(f)).length,
  };
}

/** aardvark-dns processes (one serves every network; it must be gone when no network has a container). */
function aardvarks(): number {
  return ls('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      // a zombie has ended: init (aardvark-dns daemonizes) reaps it in its own time
      return /\(aardvark/.test(stat) && !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  }).length;
}

/** The host's CNI chains and ip_forward as the tests found them (what the plugins add globally is taken away). */
const chainsBefore = cniChains();
const forwardBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
function cniChains(): Set<string> {
  const out = new Set<string>();
  for (const table of ['filter', 'nat'])
    for (const l of (spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '').split('\n'))
      if (/^:(CNI|BERTH)-/.test(l)) out.add(`${table} ${l.slice(1).split(' ')[0]}`);
  return out;
}
function restoreHostNet(): void {
  for (const c of cniChains()) {
    if (chainsBefore.has(c)) continue;
    const [table, chain] = c.split(' ');
    if (chain!.startsWith('BERTH-')) continue; // removeIdleBerthChains's
    // the jumps into it first, then the chain (only chains the tests' plugins made, and only when now unused)
    const save = spawnSync('iptables-save', ['-t', table!], { encoding: 'utf8' }).stdout ?? '';
    // a container's own chain, or a global one a container (of another berth on this host) still uses: kept
    if (/^CNI-[0-9a-f]{24}$|^CNI-(DN|SN)-/.test(chain!)) continue;
    if (save.split('\n').some((l) => l.startsWith(`-A ${chain} `) && l.includes('id: \\"'))) continue;
    for (const l of save.split('\n'))
      if (l.startsWith('-A ') && l.includes(`-j ${chain}`) && !l.startsWith(`-A ${chain} `))
        spawnSync('sh', ['-c', `iptables -t ${table} ${l.replace(/^-A /, '-D ')}`], { stdio: 'ignore' });
    spawnSync('iptables', ['-t', table!, '-F', chain!], { stdio: 'ignore' });
    spawnSync('iptables', ['-t', table!, '-X', chain!], { stdio: 'ignore' });
  }
  removeIdleBerthChains(chainsBefore);
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardBefore);
}

let baseline: Record<string, number>;
const aardvarksBefore = aardvarks();

before(() => {
  berthOk(root, ['image', 'from-host', 'web', 'busybox']);
  fs.mkdirSync(www, { recursive: true });
  fs.writeFileSync(`${www}/index.html`, 'hello by name\n');
  baseline = traces();
});

after(() => {
  const ids = berthOk(root, ['ps', '-aq']).split('\n').filter(Boolean);
  if (ids.length) berth(root, ['rm', '-f', ...ids]);
  for (const id of netIds) berth(root, ['network', 'rm', '-f', id]);
  const left = traces();
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
  fs.rmSync(www, { recursive: true, force: true });
  t.remove();
  restoreHostNet();
  assert.deepEqual(left, baseline, 'no bridge, veth, netns, rule, lease, attachment or DNS file of the tests is left');
  // another berth on this host may serve its own networks meanwhile: only then may a server still run
  if (!ls('/run/berth/aardvark').some((f) => /^[0-9a-f]{64}$/.test(f)))
    assert.equal(aardvarks(), 0, 'aardvark-dns stops with the last network that has containers');
  assert.ok(aardvarks() <= Math.max(aardvarksBefore, 1));
});

function network(...args: string[]): string {
  const id = berthOk(root, ['network', 'create', ...args]).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  netIds.add(id);
  return id;
}

function run(...args: string[]): string {
  const id = berthOk(root, ['run', '-d', ...args]).trim();
  ctrIds.add(id);
  return id;
}

/** A one-off container on `net` running a shell script (exit status and output). */
function probe(net: string, script: string): { code: number; out: string } {
  const name = `probe${Math.floor(Math.random() * 1e9)}`;
  const r = berth(root, ['run', '--rm', '--name', name, '--network', net, 'web', 'busybox', 'sh', '-c', script]);
  return { code: r.code, out: r.stdout + r.stderr };
}

const inspect = (ref: string) => JSON.parse(berthOk(root, ['inspect', ref]))[0];
const netInspect = (ref: string) => JSON.parse(berthOk(root, ['network', 'inspect', ref]))[0];

test('create, ls, inspect, rm, prune; predefined networks listed and kept; subnets never collide', () => {
  const ls0 = berthOk(root, ['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
  for (const l of ['bridge bridge local', 'host host local', 'none null local'])
    assert.match(ls0, new RegExp(`^${l}$`, 'm'));
  const a = network('--label', 'team=blue', 'un-a');
  const b = network('un-b');
  const c = network('--subnet', '10.231.7.0/24', '--gateway', '10.231.7.254', '--ip-range', '10.231.7.128/25', 'un-c');
  const subnets = [a, b, c].map((id) => netInspect(id).IPAM.Config[0].Subnet as string);
  assert.equal(new Set(subnets).size, 3, `distinct subnets: ${subnets.join(' ')}`);
  for (const s of subnets.slice(0, 2)) assert.match(s, /^(172\.(1[7-9]|2\d|3[01])\.0\.0\/16|192\.168\.\d+\.0\/20)$/);
  // the host has a route for each now (its bridge, made at create as dockerd does), and the default bridge's
  // subnet is never taken
  for (const id of [a, b, c])
    assert.equal(spawnSync('ip', ['link', 'show', `br-${id.slice(0, 12)}`], { stdio: 'ignore' }).status, 0);
  const n = netInspect('un-c');
  assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.231.7.0/24', Gateway: '10.231.7.254', IPRange: '10.231.7.128/25' }]);
  assert.deepEqual(Object.keys(n).slice(0, 5), ['Name', 'Id', 'Created', 'Scope', 'Driver']);
  assert.equal(n.Driver, 'bridge');
  assert.deepEqual(n.Containers, {});
  assert.deepEqual(netInspect('un-a').Labels, { team: 'blue' });
  assert.equal(netInspect(a.slice(0, 12)).Name, 'un-a');
  // collisions and bad input: refused with what was wrong, nothing stored
  const before = berthOk(root, ['network', 'ls', '-q']);
  const overl = berth(root, ['network', 'create', '--subnet', '10.231.0.0/16', 'un-x']);
  assert.equal(overl.code, 1, overl.stderr);
  assert.match(overl.stderr, /overlaps/);
  assert.match(berth(root, ['network', 'create', 'un-a']).stderr, /network with name un-a already exists/);
  assert.match(berth(root, ['network', 'create', '-d', 'overlay', 'un-y']).stderr, /"overlay"/);
  assert.match(berth(root, ['network', 'create', 'bad/name']).stderr, /invalid network name/);
  assert.match(berth(root, ['network', 'create', '--gateway', '10.1.1.1', 'un-z']).stderr, /needs --subnet/);
  assert.equal(berthOk(root, ['network', 'ls', '-q']), before);
  // ls filters
  const names = (...f: string[]) =>
    berthOk(root, ['network', 'ls', ...f.flatMap((x) => ['--filter', x]), '--format', '{{.Name}}'])
      .trim()
      .split('\n');
  assert.deepEqual(names('label=team=blue'), ['un-a']);
  assert.deepEqual(names('name=un-'), ['un-a', 'un-b', 'un-c']);
  assert.deepEqual(names('driver=null'), ['none']);
  assert.deepEqual(names(`id=${b.slice(0, 8)}`), ['un-b']);
  assert.ok(names('dangling=true').includes('un-b') && !names('dangling=true').includes('bridge'));
  assert.match(berth(root, ['network', 'ls', '--filter', 'color=red']).stderr, /invalid filter/);
  // the predefined ones cannot go
  for (const p of ['bridge', 'host', 'none']) {
    const r = berth(root, ['network', 'rm', p]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${p} is a pre-defined network and cannot be removed`));
  }
  // prune: label filter first, then the rest of the unused
  assert.equal(berthOk(root, ['network', 'prune', '-f', '--filter', 'label=team=blue']), 'Deleted Networks:\nun-a\n\n');
  assert.equal(spawnSync('ip', ['link', 'show', `br-${a.slice(0, 12)}`], { stdio: 'ignore' }).status, 1);
  berthOk(root, ['network', 'rm', 'un-b', c]);
  assert.match(berth(root, ['network', 'inspect', 'un-b']).stderr, /network un-b not found/);
  assert.equal(berth(root, ['network', 'rm', '-f', 'un-b']).code, 0);
});

test('two containers on a user network reach each other by name, alias and short id; the default bridge has no names', () => {
  network('un-app');
  const srv = run(
    '--name',
    'srv',
    '--network',
    'un-app',
    '--network-alias',
    'www',
    '-v',
    `${www}:/www:ro`,
    'web',
    'busybox',
    'httpd',
    '-f',
    '-p',
    '80',
    '-h',
    '/www',
  );
  const srvIp = inspect('srv').NetworkSettings.Networks['un-app'].IPAddress as string;
  const r = probe(
    'un-app',
    'busybox cat /etc/resolv.conf; busybox nslookup srv && busybox nslookup www && ' +
      `busybox nslookup ${srv.slice(0, 12)} && busybox ping -c1 -W2 srv && ` +
      'for i in 1 2 3 4 5 6 7 8 9 10; do busybox wget -q -O- http://www/index.html && exit 0; busybox sleep 0.2; done; exit 1',
  );
  assert.equal(r.code, 0, r.out);
  const gw = netInspect('un-app').IPAM.Config[0].Gateway as string;
  assert.match(r.out, new RegExp(`^nameserver ${gw.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(r.out, new RegExp(`Name:\\s+www\\nAddress:\\s+${srvIp.replace(/\./g, '\\.')}`));
  assert.match(r.out, /1 packets received/);
  assert.match(r.out, /hello by name/);
  // unknown names are not answered with an address of the network
  const miss = probe('un-app', 'busybox nslookup nosuchname');
  assert.notEqual(miss.code, 0, miss.out);
  // inspect: Docker's shape for the endpoint
  const ep = inspect('srv').NetworkSettings.Networks['un-app'];
  assert.deepEqual(ep.Aliases, ['www', srv.slice(0, 12)]);
  assert.deepEqual(ep.DNSNames, ['srv', 'www', srv.slice(0, 12)]);
  assert.equal(ep.NetworkID, netInspect('un-app').Id);
  assert.equal(ep.Gateway, gw);
  assert.match(ep.EndpointID, /^[0-9a-f]{64}$/);
  const members = netInspect('un-app').Containers;
  assert.deepEqual(Object.keys(members), [srv]);
  assert.equal(members[srv].Name, 'srv');
  assert.equal(members[srv].IPv4Address, `${srvIp}/${ep.IPPrefixLen}`);
  // in use: refused, and it stays
  const rm = berth(root, ['network', 'rm', 'un-app']);
  assert.equal(rm.code, 1);
  assert.match(rm.stderr, /has active endpoints/);
  assert.equal(berthOk(root, ['network', 'prune', '-f']).includes('un-app'), false);
  berthOk(root, ['stop', '-t', '0', 'srv']);
  // stopped: its endpoint config stays, blank
  const idle = inspect('srv').NetworkSettings.Networks['un-app'];
  assert.equal(idle.IPAddress, '');
  assert.deepEqual(idle.Aliases, ['www']);
  berthOk(root, ['rm', 'srv']);
  berthOk(root, ['network', 'rm', 'un-app']);
});

test('--ip and --mac-address; connect and disconnect while running; --internal has no way out', () => {
  network('--subnet', '10.231.9.0/24', 'un-one');
  network('--internal', 'un-two');
  run(
    '--name',
    'multi',
    '--network',
    'un-one',
    '--ip',
    '10.231.9.77',
    '--mac-address',
    '02:42:0a:e7:09:4d',
    'web',
    'busybox',
    'sleep',
    '300',
  );
  let ns = inspect('multi').NetworkSettings;
  assert.equal(ns.Networks['un-one'].IPAddress, '10.231.9.77');
  assert.equal(ns.Networks['un-one'].MacAddress, '02:42:0a:e7:09:4d');
  assert.deepEqual(ns.Networks['un-one'].IPAMConfig, { IPv4Address: '10.231.9.77' });
  const addr = berthOk(root, ['exec', 'multi', 'busybox', 'ip', 'addr', 'show', 'eth0']);
  assert.match(addr, /inet 10\.231\.9\.77\/24/);
  assert.match(addr, /link\/ether 02:42:0a:e7:09:4d/);
  // an address outside the subnet, an address in use: refused
  assert.match(
    berth(root, ['run', '--rm', '--network', 'un-one', '--ip', '10.9.9.9', 'web', 'busybox', 'true']).stderr,
    /not in subnet 10\.231\.9\.0\/24/,
  );
  assert.notEqual(
    berth(root, ['run', '--rm', '--network', 'un-one', '--ip', '10.231.9.77', 'web', 'busybox', 'true']).code,
    0,
  );
  assert.match(
    berth(root, ['run', '--rm', '--network-alias', 'x', 'web', 'busybox', 'true']).stderr,
    /only for containers in user defined networks/,
  );
  assert.match(
    berth(root, ['run', '--rm', '--network', 'nosuchnet', 'web', 'busybox', 'true']).stderr,
    /network nosuchnet not found/,
  );

  // connect: bad requests refused, nothing changed
  const cfgBefore = JSON.stringify(inspect('multi').NetworkSettings.Networks);
  assert.match(berth(root, ['network', 'connect', '--ip', '10.1.1.1', 'un-two', 'multi']).stderr, /not in subnet/);
  assert.match(berth(root, ['network', 'connect', 'nosuchnet', 'multi']).stderr, /network nosuchnet not found/);
  assert.match(berth(root, ['network', 'connect', 'un-two', 'nosuchctr']).stderr, /No such container/);
  assert.equal(JSON.stringify(inspect('multi').NetworkSettings.Networks), cfgBefore);
  const lone = berthOk(root, ['create', '--network', 'none', 'web', 'busybox', 'true']).trim();
  ctrIds.add(lone);
  assert.match(berth(root, ['network', 'connect', 'un-two', lone]).stderr, /network mode none/);
  berthOk(root, ['rm', lone]);

  // connect: a second interface, its alias answered on that network
  berthOk(root, ['network', 'connect', '--alias', 'second', 'un-two', 'multi']);
  ns = inspect('multi').NetworkSettings;
  assert.deepEqual(Object.keys(ns.Networks), ['un-one', 'un-two']);
  const ip2 = ns.Networks['un-two'].IPAddress as string;
  assert.ok(ip2, 'an address on the second network');
  assert.match(berthOk(root, ['exec', 'multi', 'busybox', 'ip', 'addr', 'show', 'eth1']), new RegExp(`inet ${ip2}/`));
  const found = probe('un-two', 'busybox nslookup second && busybox ping -c1 -W2 multi; busybox ip route');
  assert.equal(found.code, 0, found.out);
  assert.match(found.out, new RegExp(`Address:\\s+${ip2.replace(/\./g, '\\.')}`));
  // internal: the subnet only, no default route
  assert.doesNotMatch(found.out, /^default/m);
  assert.match(probe('un-one', 'busybox ip route').out, /^default via 10\.231\.9\.1/m);
  assert.match(berth(root, ['network', 'connect', 'un-two', 'multi']).stderr, /already exists in network un-two/);
  assert.match(berth(root, ['network', 'rm', 'un-two']).stderr, /has active endpoints/);

  // disconnect: the interface, the lease and the name go
  berthOk(root, ['network', 'disconnect', 'un-two', 'multi']);
  assert.deepEqual(Object.keys(inspect('multi').NetworkSettings.Networks), ['un-one']);
  assert.notEqual(berth(root, ['exec', 'multi', 'busybox', 'ip', 'addr', 'show', 'eth1']).code, 0);
  assert.notEqual(probe('un-two', 'busybox nslookup second').code, 0);
  assert.match(berth(root, ['network', 'disconnect', 'un-two', 'multi']).stderr, /is not connected to network un-two/);

  // connect while stopped: joined at the next start
  berthOk(root, ['stop', '-t', '0', 'multi']);
  berthOk(root, ['network', 'connect', 'un-two', 'multi']);
  berthOk(root, ['start', 'multi']);
  ns = inspect('multi').NetworkSettings;
  assert.equal(ns.Networks['un-one'].IPAddress, '10.231.9.77', '--ip is kept across a restart');
  assert.ok(ns.Networks['un-two'].IPAddress);
  berthOk(root, ['rm', '-f', 'multi']);
  berthOk(root, ['network', 'rm', 'un-one', 'un-two']);
});

test('a container on the default bridge joins a user network: names there, its bridge address kept; and leaves it', () => {
  network('un-side');
  const id = run('--name', 'onbridge', '--network', 'bridge', 'web', 'busybox', 'sleep', '300');
  assert.ok(netInspect('bridge').Containers[id], 'network inspect bridge lists it');
  const bridgeIp = inspect('onbridge').NetworkSettings.IPAddress as string;
  berthOk(root, ['network', 'connect', '--alias', 'side', 'un-side', 'onbridge']);
  const ns = inspect('onbridge').NetworkSettings;
  assert.deepEqual(Object.keys(ns.Networks), ['bridge', 'un-side']);
  assert.equal(ns.IPAddress, bridgeIp, "the top-level address stays the default bridge's");
  const gw = netInspect('un-side').IPAM.Config[0].Gateway as string;
  assert.match(
    berthOk(root, ['exec', 'onbridge', 'busybox', 'cat', '/etc/resolv.conf']),
    new RegExp(`nameserver ${gw}`),
  );
  const r = probe('un-side', 'busybox nslookup side && busybox ping -c1 -W2 onbridge');
  assert.equal(r.code, 0, r.out);
  berthOk(root, ['network', 'disconnect', 'un-side', 'onbridge']);
  assert.doesNotMatch(berthOk(root, ['exec', 'onbridge', 'busybox', 'cat', '/etc/resolv.conf']), new RegExp(gw));
  assert.match(berth(root, ['network', 'disconnect', 'bridge', 'onbridge']).stderr, /user-defined networks only/);
  berthOk(root, ['rm', '-f', 'onbridge']);
  berthOk(root, ['network', 'rm', 'un-side']);
});

test('a foreground berth killed with -9: the next berth command releases the attachment, its name and the server', async () => {
  const netId = network('un-kill');
  const child = berthSpawn(root, ['run', '--name', 'fg', '--network', 'un-kill', 'web', 'busybox', 'sleep', '300']);
  const dnsFile = `/run/berth/aardvark/${netId}`;
  for (let i = 0; !(fs.existsSync(dnsFile) && fs.readFileSync(dnsFile, 'utf8').includes(' fg,')); i++) {
    assert.ok(i < 200, 'the container joined the network');
    await new Promise((r) => setTimeout(r, 50));
  }
  ctrIds.add(inspect('fg').Id);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  // the container's process dies with its berth; `ps` settles what it left
  for (let i = 0; /Up /.test(berthOk(root, ['ps', '-a', '--filter', 'name=fg', '--format', '{{.Status}}'])); i++) {
    assert.ok(i < 100, 'the container ends with its berth');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(fs.existsSync(dnsFile), false, 'its DNS entry is gone');
  assert.equal(fs.existsSync(`/run/berth/cni/attach/${inspect('fg').Id}`), false, 'its attachment is gone');
  berthOk(root, ['rm', 'fg']);
  berthOk(root, ['network', 'rm', 'un-kill']);
});
