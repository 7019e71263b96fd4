/**
 * The network options of real containers: the bridge as the default network, --dns, --dns-search, --dns-option and
 * --add-host (host-gateway: the bridge's gateway, or daemon.json's host-gateway-ip) in the container's files and
 * HostConfig, `--network container:NAME` joining another container's network namespace and files (and Docker's
 * refusals), build's RUN steps on the bridge (`--network none` to choose, `--add-host`). All traffic stays inside the
 * containers; the host's networking is put back at the end (test/helpers/hostnet.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { berth, berthOk, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';
import { hostNet, restoreHostNetWhenIdle } from '../helpers/hostnet.js';

const t = tempRoot('berth-netopts');
const root = t.root;
const hostBefore = hostNet();
const ids: string[] = [];

before(() => {
  berthOk(root, ['image', 'from-host', 'bb', 'busybox']);
});

after(() => {
  const all = berthOk(root, ['ps', '-aq', '--no-trunc']).split('\n').filter(Boolean);
  if (all.length) berth(root, ['rm', '-f', ...all]);
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
  // nothing of this file's containers stays on the host: netns, CNI result, lease
  for (const id of [...ids, ...all]) {
    assert.ok(!fs.existsSync(`/run/berth/netns/${id}`), `no netns of ${id} left`);
    assert.ok(!fs.existsSync(`/run/berth/cni/results/${id}.json`), `no CNI result of ${id} left`);
  }
  const leases = fs.existsSync('/run/berth/cni/ipam/berth') ? fs.readdirSync('/run/berth/cni/ipam/berth') : [];
  for (const f of leases) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue;
    const owner = fs.readFileSync(`/run/berth/cni/ipam/berth/${f}`, 'utf8');
    assert.ok(!ids.some((id) => owner.includes(id)), `no lease of this file's containers left (${f})`);
  }
  t.remove();
  restoreHostNetWhenIdle(hostBefore);
});

/** The bridge's gateway, as its conflist names it. */
function bridgeGateway(): string {
  const list = JSON.parse(fs.readFileSync('/run/berth/cni/bridge.conflist', 'utf8')) as {
    plugins: Array<{ ipam?: { ranges: Array<Array<{ gateway: string }>> } }>;
  };
  return list.plugins[0]!.ipam!.ranges[0]![0]!.gateway;
}

function inspect(ref: string): {
  Id: string;
  HostConfig: Record<string, unknown>;
  HostsPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  State: { Pid: number };
  Config: { Hostname: string };
  NetworkSettings: { Networks: Record<string, unknown>; IPAddress: string };
} {
  return JSON.parse(berthOk(root, ['inspect', ref]))[0];
}

/** Run a container; its id noted for the leak checks. */
function runD(args: string[]): string {
  const id = berthOk(root, ['run', '-d', ...args]).trim();
  ids.push(id);
  return id;
}

test('the default network is the bridge (no --network, and --network default): eth0 with an address', () => {
  const out = berthOk(root, ['run', '--rm', 'bb', 'busybox', 'ip', '-4', '-o', 'addr']);
  assert.match(out, /eth0\s+inet 172\.(1[7-9]|2\d|3[01])\.\d+\.\d+\/16/);
  const id = berthOk(root, ['create', '--network', 'default', 'bb', 'busybox', 'true']).trim();
  ids.push(id);
  assert.equal(inspect(id).HostConfig.NetworkMode, 'bridge');
  berthOk(root, ['rm', id]);
});

test('--dns, --dns-search, --dns-option and --add-host: HostConfig and the files as dockerd writes them', () => {
  const flags = ['--dns', '10.9.9.9', '--dns-search', 'example.test', '--dns-option', 'ndots:2'];
  const hosts = ['--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway'];
  const id = runD([...flags, ...hosts, 'bb', 'busybox', 'sleep', '60']);
  const c = inspect(id);
  assert.deepEqual(c.HostConfig.Dns, ['10.9.9.9']);
  assert.deepEqual(c.HostConfig.DnsSearch, ['example.test']);
  assert.deepEqual(c.HostConfig.DnsOptions, ['ndots:2']);
  assert.deepEqual(c.HostConfig.ExtraHosts, ['db:10.1.2.3', 'gw:host-gateway']);
  const resolv = berthOk(root, ['exec', id, 'busybox', 'cat', '/etc/resolv.conf']);
  assert.equal(resolv, 'search example.test\nnameserver 10.9.9.9\noptions ndots:2\n');
  const etcHosts = berthOk(root, ['exec', id, 'busybox', 'cat', '/etc/hosts']).split('\n');
  // the entries, then the container's own address and name (host-gateway: the bridge's gateway, Docker 20.10's)
  assert.deepEqual(etcHosts.slice(6), [
    '10.1.2.3\tdb',
    `${bridgeGateway()}\tgw`,
    `${c.NetworkSettings.IPAddress}\t${c.Config.Hostname}`,
    '',
  ]);
  // the name resolves in the container through its /etc/hosts
  assert.match(berthOk(root, ['exec', id, 'busybox', 'ping', '-c', '1', '-W', '2', 'gw']), /1 packets received/);
  berthOk(root, ['rm', '-f', id]);
  // without settings: the host's resolvers, minus loopback ones (8.8.8.8 and 8.8.4.4 if none is left)
  const plain = berthOk(root, ['run', '--rm', 'bb', 'busybox', 'cat', '/etc/resolv.conf']);
  assert.doesNotMatch(plain, /^nameserver\s+127\./m);
  assert.match(plain, /^nameserver\s+\S+/m);
  // bad values: the docker CLI's messages, nothing created
  const bad = berth(root, ['run', '--rm', '--dns', 'resolver.lan', 'bb', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid argument "resolver\.lan" for "--dns" flag: resolver\.lan is not an ip address/);
  assert.match(berth(root, ['create', '--add-host', 'db', 'bb', 'busybox']).stderr, /bad format for add-host: "db"/);
});

test('daemon.json: host-gateway-ip for --add-host NAME:host-gateway, dns and dns-search; --network host/none take entries too', () => {
  const cfg = `${root}-daemon.json`;
  fs.writeFileSync(
    cfg,
    JSON.stringify({ 'host-gateway-ip': '192.0.2.7', dns: ['10.7.7.7'], 'dns-search': ['corp.test'] }),
  );
  try {
    const args = ['--config-file', cfg, 'run', '--rm', '--network', 'none', '--add-host', 'gw:host-gateway'];
    const out = berthOk(root, [...args, 'bb', 'busybox', 'cat', '/etc/hosts']);
    assert.match(out, /^192\.0\.2\.7\tgw$/m);
    // daemon.json's dns and dns-search for a container without its own; its --dns-search wins over the file's
    const resolv = [
      '--config-file',
      cfg,
      'run',
      '--rm',
      '--dns-search',
      'mine.test',
      'bb',
      'busybox',
      'cat',
      '/etc/resolv.conf',
    ];
    assert.equal(berthOk(root, resolv), 'search mine.test\nnameserver 10.7.7.7\n');
    const host = berthOk(root, [
      'run',
      '--rm',
      '--network',
      'host',
      '--add-host',
      'x:10.0.0.8',
      'bb',
      'busybox',
      'cat',
      '/etc/hosts',
    ]);
    assert.match(host, /^127\.0\.0\.1\tlocalhost\n/);
    assert.match(host, /^10\.0\.0\.8\tx$/m);
  } finally {
    fs.rmSync(cfg, { force: true });
  }
});

/** A container's network namespace, as the kernel names it (net:[inode]). */
function netnsOf(pid: number): string {
  return fs.readlinkSync(`/proc/${pid}/ns/net`);
}

test('--network container:NAME joins its network namespace and shares its hostname, hosts and resolv.conf', async () => {
  const web = runD([
    '--name',
    'web',
    '--hostname',
    'webhost',
    '--dns',
    '10.9.9.9',
    'bb',
    'busybox',
    'httpd',
    '-f',
    '-p',
    '127.0.0.1:8080',
    '-h',
    '/etc',
  ]);
  const w = inspect(web);
  const script =
    'busybox readlink /proc/self/ns/net; busybox hostname; busybox cat /etc/resolv.conf; busybox wget -q -O - http://127.0.0.1:8080/hostname';
  // the web server answers on the loopback it shares (retried while httpd starts)
  const out = await waitFor(() => {
    const r = berth(root, ['run', '--rm', '--network', 'container:web', 'bb', 'busybox', 'sh', '-c', script]);
    return r.code === 0 ? r.stdout : undefined;
  }, 20000);
  const [ns, hostname, ...rest] = out.split('\n');
  assert.equal(ns, netnsOf(w.State.Pid));
  assert.equal(hostname, 'webhost');
  assert.match(rest.join('\n'), /^nameserver 10\.9\.9\.9$/m);
  assert.match(rest.join('\n'), /^webhost$/m, "the served file is web's /etc/hostname");
  // inspect: the mode as given, the joined container's files, no network of its own
  const j = runD(['--network', 'container:web', 'bb', 'busybox', 'sleep', '60']);
  const ji = inspect(j);
  assert.equal(ji.HostConfig.NetworkMode, 'container:web');
  assert.equal(ji.HostsPath, w.HostsPath);
  assert.equal(ji.ResolvConfPath, w.ResolvConfPath);
  assert.equal(ji.HostnamePath, w.HostnamePath);
  assert.deepEqual(ji.NetworkSettings.Networks, {});
  assert.ok(!fs.existsSync(`/run/berth/netns/${j}`), 'no netns of its own');
  berthOk(root, ['rm', '-f', j]);
  // a container on --network none, joined by its PID 1's namespace
  const lone = runD(['--name', 'lone', '--network', 'none', 'bb', 'busybox', 'sleep', '60']);
  const joined = berthOk(root, [
    'run',
    '--rm',
    '--network',
    `container:${lone.slice(0, 12)}`,
    'bb',
    'busybox',
    'readlink',
    '/proc/self/ns/net',
  ]);
  assert.equal(joined.trim(), netnsOf(inspect(lone).State.Pid));
  berthOk(root, ['rm', '-f', web, lone]);
});

test("--network container: is refused with Docker's messages: conflicting options, a target that does not run", () => {
  runD(['--name', 'target', 'bb', 'busybox', 'sleep', '60']);
  const refused = (flags: string[], re: RegExp) => {
    const r = berth(root, ['run', '--rm', '--network', 'container:target', ...flags, 'bb', 'busybox', 'true']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  };
  refused(['-p', '8080:80'], /conflicting options: port publishing and the container type network mode/);
  refused(['-P', '--expose', '80'], /conflicting options: port publishing and the container type network mode/);
  refused(['--expose', '80'], /conflicting options: port exposing and the container type network mode/);
  refused(['--dns', '10.0.0.1'], /conflicting options: dns and the network mode/);
  refused(['-h', 'other'], /conflicting options: hostname and the network mode/);
  refused(['--add-host', 'a:10.0.0.1'], /conflicting options: custom host-to-IP mapping and the network mode/);
  const empty = berth(root, ['run', '--rm', '--network', 'container:', 'bb', 'busybox', 'true']);
  assert.match(empty.stderr, /Invalid network mode: invalid container format container:<name\|id>/);
  assert.match(
    berth(root, ['create', '--network', 'container:nosuch', 'bb', 'busybox']).stderr,
    /No such container: nosuch/,
  );
  // a target that does not run: created, then its start refused (the joiner stays created)
  const idle = berthOk(root, ['create', '--name', 'idle', 'bb', 'busybox', 'true']).trim();
  ids.push(idle);
  const r = berth(root, ['run', '--name', 'late', '--network', 'container:idle', 'bb', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /cannot join network of a non running container: idle/);
  const late = inspect('late');
  ids.push(late.Id);
  const started = berth(root, ['start', 'late']);
  assert.match(started.stderr, /cannot join network of a non running container: idle/);
  berthOk(root, ['rm', '-f', 'target', 'idle', 'late']);
});

test("build: RUN steps on the default bridge as the classic builder's; --network none; --add-host", () => {
  const ctx = `${root}-ctx`;
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(
    `${ctx}/Dockerfile`,
    'FROM bb\nRUN ["busybox", "sh", "-c", "busybox cat /proc/net/dev /etc/hosts"]\n',
  );
  try {
    const bridge = berthOk(root, ['build', '--add-host', 'db:10.1.2.3', '-t', 'b1', ctx]);
    assert.match(bridge, /^\s*eth0:/m);
    assert.match(bridge, /^10\.1\.2\.3\tdb$/m);
    const none = berthOk(root, ['build', '--no-cache', '--network', 'none', '-t', 'b2', ctx]);
    assert.doesNotMatch(none, /eth0:/);
    assert.match(none, /^\s*lo:/m);
    const bad = berth(root, ['build', '--network', 'mynet', ctx]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /network "mynet"/);
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
});

test('no berth netns of this file is left while none of its containers runs', () => {
  const left = spawnSync('ls', ['/run/berth/netns'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const running = berthOk(root, ['ps', '-q', '--no-trunc']).split('\n').filter(Boolean);
  for (const id of ids) if (!running.includes(id)) assert.ok(!left.includes(id), `netns of ${id} released`);
});
