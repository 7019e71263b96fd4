/**
 * The default bridge network, for real (CNI's bridge, host-local, portmap and firewall plugins): a busybox httpd
 * published on 127.0.0.1 and fetched from the host, `-P`, two containers reaching each other by address, outgoing
 * NAT seen by a server in a network namespace the test makes (routed through a veth; nothing leaves the machine),
 * and no veth, netns, iptables rule, lease or CNI result left after stop, kill -9 (of the container, of a foreground
 * berth), `rm -f`, `--rm`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import {
  alive,
  berth as berthRaw,
  berthOk as berthOkRaw,
  berthSpawn as berthSpawnRaw,
  mountsUnder,
  tempRoot,
  waitFor,
} from '../helpers/berth.js';
import { Scope } from '../helpers/peers.js';
import { makeNetns } from '../helpers/netns.js';
import { hostNet, restoreHostNetWhenIdle, type HostNet } from '../helpers/hostnet.js';
import { lockBridge } from '../helpers/bridge-lock.js';

const t = tempRoot('berth-bridge');
const root = t.root;
const scope = new Scope();
const www = join(`${root}-www`);

/*
 * Every container of this file, by id: each run and create writes its id to a --cidfile (also --rm ones). The bridge
 * is host-wide and other test files (and other berth users) run containers on it meanwhile: the leak counts below
 * count only what belongs to this file's containers.
 */
const mine = new Set<string>();
const cidfiles: string[] = [];
function withCid(args: string[]): string[] {
  if (args[0] !== 'run' && args[0] !== 'create') return args;
  const f = `${root}-cid-${cidfiles.length}`;
  cidfiles.push(f);
  return [args[0], '--cidfile', f, ...args.slice(1)];
}
const berth = (r: string, args: string[], opts?: Parameters<typeof berthRaw>[2]) => berthRaw(r, withCid(args), opts);
const berthOk = (r: string, args: string[], opts?: Parameters<typeof berthOkRaw>[2]) =>
  berthOkRaw(r, withCid(args), opts);
const berthSpawn = (r: string, args: string[]) => berthSpawnRaw(r, withCid(args));
function collectIds(): void {
  for (const f of cidfiles) {
    try {
      const id = fs.readFileSync(f, 'utf8').trim();
      if (id) mine.add(id);
    } catch {
      /* not written (yet) */
    }
  }
}

/** Addresses this file's containers had (from their leases), for the firewall's rules that name only an address. */
const myIPs = new Set<string>();

/**
 * What this file's containers may leave behind on the host: netns, CNI results, host-local leases, iptables rules
 * (the bridge's and portmap's name the container id, the firewall's its address). (Veths go with their namespace:
 * one left would be in a netns counted here.)
 */
function traces(): Record<string, number> {
  collectIds();
  const ls = (d: string) => {
    try {
      return fs.readdirSync(d);
    } catch {
      return [];
    }
  };
  const leaseDir = '/run/berth/cni/ipam/berth';
  const leases = ls(leaseDir).filter((f) => {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) return false;
    let owner = '';
    try {
      owner = fs.readFileSync(`${leaseDir}/${f}`, 'utf8').split(/\s/)[0]!;
    } catch {
      return false;
    }
    if (mine.has(owner)) myIPs.add(f);
    return mine.has(owner);
  });
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('-A') && /CNI-/.test(l))
    .filter((l) => [...mine].some((id) => l.includes(id)) || [...myIPs].some((ip) => l.includes(`${ip}/32`)));
  return {
    netns: ls('/run/berth/netns').filter((n) => mine.has(n)).length,
    results: ls('/run/berth/cni/results').filter((f) => mine.has(f.replace(/\.json$/, ''))).length,
    leases: leases.length,
    rules: rules.length,
  };
}

let baseline: Record<string, number>;

/** The host's networking as the tests found it: berth0, the CNI chains, ip_forward (restored at the end). */
let hostBefore: HostNet;
let unlockBridge: () => void = () => {};

before(async () => {
  unlockBridge = await lockBridge();
  hostBefore = hostNet();
  berthOk(root, ['image', 'from-host', 'web', 'busybox']);
  fs.mkdirSync(`${www}/cgi-bin`, { recursive: true });
  fs.writeFileSync(`${www}/index.html`, 'hello from the bridge\n');
  // a first run makes the bridge and the plugins' global chains, which stay (as docker0 and DOCKER-USER do);
  // it publishes a port, so that portmap's global chains are made too
  berthOk(root, ['run', '--rm', '-p', `127.0.0.1:${await freePort()}:80`, 'web', 'busybox', 'true']);
  baseline = traces();
});

after(() => {
  try {
    afterAll();
  } finally {
    unlockBridge();
  }
});

function afterAll(): void {
  berth(root, ['rm', '-f', ...berthOk(root, ['ps', '-aq']).split('\n').filter(Boolean)]);
  scope.dispose();
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
  fs.rmSync(www, { recursive: true, force: true });
  for (const f of cidfiles) fs.rmSync(f, { force: true });
  t.remove();
  // put back unless containers of other test files (or other berth users) are on the bridge: it stays for them then
  if (restoreHostNetWhenIdle(hostBefore)) {
    const left = hostNet();
    assert.equal(left.bridge, hostBefore.bridge, 'berth0 is gone again if the tests made it');
    assert.deepEqual([...left.chains].sort(), [...hostBefore.chains].sort(), 'no CNI chain the tests made is left');
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej).listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = http.get(url, { timeout: 5000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', rej);
  });
}

/** GET, retried while the server in the container starts. */
async function fetchWhenUp(url: string): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return (await get(url)).body;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const httpd = (...flags: string[]) => [
  'run',
  '-d',
  ...flags,
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
];

test('-p 127.0.0.1:PORT:80: the host fetches a busybox httpd; ps, port, inspect and /etc/hosts show it', async () => {
  const port = await freePort();
  const id = berthOk(root, [...httpd('--name', 'web1', '-p', `127.0.0.1:${port}:80`)]).trim();
  assert.equal(await fetchWhenUp(`http://127.0.0.1:${port}/index.html`), 'hello from the bridge\n');
  const ps = berthOk(root, ['ps', '--format', '{{.Names}} {{.Ports}}']);
  assert.match(ps, new RegExp(`^web1 127\\.0\\.0\\.1:${port}->80/tcp$`, 'm'));
  assert.equal(berthOk(root, ['port', 'web1']), `80/tcp -> 127.0.0.1:${port}\n`);
  assert.equal(berthOk(root, ['port', 'web1', '80/tcp']), `127.0.0.1:${port}\n`);
  assert.match(berth(root, ['port', 'web1', '81']).stderr, /No public port '81\/tcp' published for web1/);
  const [info] = JSON.parse(berthOk(root, ['inspect', 'web1']));
  const ns = info.NetworkSettings;
  const conflist = JSON.parse(fs.readFileSync('/run/berth/cni/bridge.conflist', 'utf8'));
  const subnet: string = conflist.plugins[0].ipam.ranges[0][0].subnet;
  const prefix = subnet.split('.').slice(0, 2).join('.');
  assert.ok(ns.IPAddress.startsWith(`${prefix}.`), `${ns.IPAddress} in ${subnet}`);
  assert.equal(ns.Gateway, `${prefix}.0.1`);
  assert.equal(ns.IPPrefixLen, 16);
  assert.match(ns.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.equal(ns.Networks.bridge.IPAddress, ns.IPAddress);
  assert.deepEqual(ns.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
  assert.equal(ns.SandboxKey, `/run/berth/netns/${id}`);
  assert.deepEqual(info.Config.ExposedPorts, { '80/tcp': {} });
  // the same host port again: refused as Docker refuses it, and nothing of the refused container stays
  const before = traces();
  const dup = berth(root, [...httpd('--name', 'web1dup', '-p', `${port}:80`)]);
  assert.equal(dup.code, 125, dup.stderr);
  assert.match(dup.stderr, new RegExp(`Bind for 0\\.0\\.0\\.0:${port} failed: port is already allocated`));
  assert.deepEqual(traces(), before);
  berthOk(root, ['rm', 'web1dup']);
  // a port a host process listens on, too
  const listener = net.createServer();
  await new Promise<void>((res) => listener.listen(0, '127.0.0.1', () => res()));
  const busy = (listener.address() as net.AddressInfo).port;
  try {
    const r = berth(root, ['run', '--rm', '-p', `127.0.0.1:${busy}:80`, 'web', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`Bind for 127\\.0\\.0\\.1:${busy} failed: port is already allocated`));
  } finally {
    listener.close();
  }
  assert.deepEqual(traces(), before);
  // its address answers from the host too, and names its hostname in /etc/hosts
  assert.equal((await get(`http://${ns.IPAddress}/index.html`)).body, 'hello from the bridge\n');
  const hosts = berthOk(root, ['exec', 'web1', 'busybox', 'cat', '/etc/hosts']);
  assert.match(hosts, new RegExp(`^${ns.IPAddress.replace(/\./g, '\\.')}\\t${id.slice(0, 12)}$`, 'm'));
  assert.doesNotMatch(berthOk(root, ['exec', 'web1', 'busybox', 'cat', '/etc/resolv.conf']), /nameserver\s+127\./);
  berthOk(root, ['stop', '-t', '1', 'web1']);
  const [stopped] = JSON.parse(berthOk(root, ['inspect', 'web1']));
  assert.equal(stopped.NetworkSettings.IPAddress, '');
  assert.deepEqual(stopped.NetworkSettings.Ports, { '80/tcp': null });
  assert.equal(berthOk(root, ['port', 'web1']), '');
  await assert.rejects(get(`http://127.0.0.1:${port}/index.html`));
  assert.deepEqual(traces(), baseline, 'stop released everything');
  // started again: connected again
  berthOk(root, ['start', 'web1']);
  assert.equal(await fetchWhenUp(`http://127.0.0.1:${port}/index.html`), 'hello from the bridge\n');
  berthOk(root, ['rm', '-f', 'web1']);
  assert.deepEqual(traces(), baseline, 'rm -f released everything');
});

test('-P publishes every exposed port on a free host port; --expose without -P only exposes', async () => {
  berthOk(root, [...httpd('--name', 'webP', '--expose', '80', '-P')]);
  const line = berthOk(root, ['port', 'webP', '80']).trim();
  const m = /^0\.0\.0\.0:(\d+)$/.exec(line);
  assert.ok(m, line);
  assert.equal(await fetchWhenUp(`http://127.0.0.1:${m[1]}/index.html`), 'hello from the bridge\n');
  berthOk(root, [...httpd('--name', 'webE', '--network', 'bridge', '--expose', '80')]);
  assert.equal(berthOk(root, ['port', 'webE']), '');
  assert.match(berthOk(root, ['ps', '--format', '{{.Names}} {{.Ports}}']), /^webE 80\/tcp$/m);
  berthOk(root, ['rm', '-f', 'webP', 'webE']);
  assert.deepEqual(traces(), baseline);
});

test('two containers on the bridge reach each other by address', async () => {
  berthOk(root, [...httpd('--name', 'srv', '--network', 'bridge')]);
  const ip = berthOk(root, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'srv']).trim();
  const r = berth(root, [
    'run',
    '--rm',
    '--network',
    'default',
    'web',
    'busybox',
    'sh',
    '-c',
    `for i in 1 2 3 4 5 6 7 8 9 10; do busybox wget -O- http://${ip}/index.html && exit 0; sleep 0.2; done; exit 1`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello from the bridge\n');
  berthOk(root, ['rm', '-f', 'srv']);
  assert.deepEqual(traces(), baseline);
});

test("outgoing NAT: a server in another namespace sees the container's traffic from the host's address", async () => {
  const ns = makeNetns(scope);
  // a TCP server in the namespace that answers with the address it sees
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      '-e',
      `require('net').createServer((s) => s.end(s.remoteAddress + '\\n')).listen(9000, '${ns.nsIP}', () => console.log('ready'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  scope.defer('stop the NAT test server', () => server.kill('SIGKILL'));
  await new Promise<void>((res, rej) => {
    server.stdout!.once('data', () => res());
    server.once('exit', (c) => rej(new Error(`server exited ${c}`)));
  });
  const r = berth(root, ['run', '--rm', '--network', 'bridge', 'web', 'busybox', 'nc', ns.nsIP, '9000']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), ns.hostIP, 'masqueraded to the address of the host on that link');
  // without NAT (--network none) it cannot get there at all
  assert.notEqual(
    berth(root, ['run', '--rm', '--network', 'none', 'web', 'busybox', 'nc', '-w', '1', ns.nsIP, '9000']).code,
    0,
  );
  server.kill('SIGKILL');
  assert.deepEqual(traces(), baseline, '--rm released everything');
});

test('kill -9 of the container, of a foreground berth, of a monitor: its network is released', async () => {
  berthOk(root, [...httpd('--name', 'k1', '-p', '127.0.0.1::80')]);
  const pid = Number(berthOk(root, ['inspect', '-f', '{{.State.Pid}}', 'k1']));
  process.kill(pid, 'SIGKILL');
  await waitFor(() =>
    berthOk(root, ['inspect', '-f', '{{.State.Running}}', 'k1']).trim() === 'false' ? true : undefined,
  );
  await waitFor(() => (traces().netns === baseline.netns ? true : undefined));
  assert.deepEqual(traces(), baseline, 'the monitor released it');
  // a foreground berth killed: its container dies with it; the next berth command settles and releases
  const fg = berthSpawn(root, ['run', '--name', 'k2', '--network', 'bridge', 'web', 'busybox', 'sleep', '60']);
  await waitFor(() => (berth(root, ['ps', '-q', '--filter', 'name=k2']).stdout.trim() ? true : undefined), 20000);
  assert.equal(traces().netns, baseline.netns! + 1);
  fg.kill('SIGKILL');
  await waitFor(() => (fg.pid && !alive(fg.pid) ? true : undefined));
  await waitFor(() =>
    berthOk(root, ['inspect', '-f', '{{.State.Status}}', 'k2']).trim() === 'exited' ? true : undefined,
  );
  assert.deepEqual(traces(), baseline, 'settling released it');
  berthOk(root, ['rm', 'k1', 'k2']);
  assert.deepEqual(traces(), baseline);
  // a detached --rm container whose monitor is killed: the next berth command settles, releases and removes it
  const id = berthOk(root, ['run', '-d', '--rm', '-p', '127.0.0.1::80', 'web', 'busybox', 'sleep', '60']).trim();
  const monitor = await waitFor(() => {
    try {
      return JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')).MonitorPid as number;
    } catch {
      return undefined;
    }
  });
  assert.equal(traces().netns, baseline.netns! + 1);
  process.kill(monitor, 'SIGKILL');
  await waitFor(() => (alive(monitor) ? undefined : true));
  await waitFor(() => (berthOk(root, ['ps', '-aq', '--no-trunc']).includes(id) ? undefined : true));
  assert.deepEqual(traces(), baseline, 'settling released it');
});
