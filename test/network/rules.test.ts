/**
 * The per-network iptables rules (rules.ts), for real: each network's rules exist once however many containers it has
 * (and no container gets rules of its own unless it publishes), containers of two user networks cannot reach each
 * other while those of one network can, an --internal network has no way out (even with a default route a container
 * adds itself), and `network rm` leaves none of a network's rules. "Outside" is a network namespace the test makes,
 * reached from the host through a veth: no traffic leaves the machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { berth, berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';
import { lockBridge } from '../helpers/bridge-lock.js';
import { removeIdleBerthChains } from '../helpers/hostnet.js';
import { networkRules } from '../../src/network/rules.js';

const t = tempRoot('berth-netrules');
const root = t.root;
const OUT_NS = `berth-rt-out-${process.pid}`;
const OUT_HOST = `brt${process.pid % 100000}h`;
const OUT_PEER = `brt${process.pid % 100000}p`;
const OUT_NET = '10.254.77';
const nets = new Map<string, string>(); // name -> id
let chainsBefore = new Set<string>();
let unlockBridge: () => void = () => {};

const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });

function berthChains(): Set<string> {
  const out = new Set<string>();
  let table = '';
  for (const l of (spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '').split('\n')) {
    if (l.startsWith('*')) table = l.slice(1);
    if (/^:BERTH-/.test(l)) out.add(`${table} ${l.slice(1).split(' ')[0]}`);
  }
  return out;
}

/** iptables-save's rules (all tables) that name the bridge as -i or -o, or mention `text`. */
function rulesNaming(bridge: string): string[] {
  const save = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '';
  return save.split('\n').filter((l) => l.startsWith('-A ') && new RegExp(` -[io] ${bridge}( |$)`).test(l));
}

function network(name: string, ...args: string[]): { id: string; bridge: string; subnet: string; gateway: string } {
  const id = berthOk(root, ['network', 'create', ...args, name]).trim();
  nets.set(name, id);
  const ipam = JSON.parse(berthOk(root, ['network', 'inspect', name]))[0].IPAM.Config[0];
  return { id, bridge: `br-${id.slice(0, 12)}`, subnet: ipam.Subnet, gateway: ipam.Gateway };
}

const ipOf = (name: string, net: string): string =>
  JSON.parse(berthOk(root, ['inspect', name]))[0].NetworkSettings.Networks[net].IPAddress;
const ping = (from: string, ip: string) => berth(root, ['exec', from, 'busybox', 'ping', '-c1', '-W1', ip]).code;

before(async () => {
  unlockBridge = await lockBridge();
  chainsBefore = berthChains();
  berthOk(root, ['image', 'from-host', 'bb', 'busybox']);
  // the outside: a namespace behind a veth from the host
  for (const c of [
    `ip netns add ${OUT_NS}`,
    `ip link add ${OUT_HOST} type veth peer name ${OUT_PEER}`,
    `ip link set ${OUT_PEER} netns ${OUT_NS}`,
    `ip addr add ${OUT_NET}.1/30 dev ${OUT_HOST}`,
    `ip link set ${OUT_HOST} up`,
    `ip -n ${OUT_NS} addr add ${OUT_NET}.2/30 dev ${OUT_PEER}`,
    `ip -n ${OUT_NS} link set ${OUT_PEER} up`,
    `ip -n ${OUT_NS} link set lo up`,
  ])
    assert.equal(sh(c).status, 0, c);
});

after(() => {
  try {
    const ids = berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length) berth(root, ['rm', '-f', ...ids]);
    for (const name of nets.keys()) berth(root, ['network', 'rm', name]);
    sh(`ip link del ${OUT_HOST}; ip netns del ${OUT_NS}`);
    assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
    t.remove();
    for (const id of nets.values()) assert.deepEqual(rulesNaming(`br-${id.slice(0, 12)}`), [], 'no rule left');
    removeIdleBerthChains(chainsBefore);
  } finally {
    unlockBridge();
  }
});

test('rules once per network, isolation between user networks, --internal has no way out, none left after rm', () => {
  const a = network('rt-a');
  const b = network('rt-b');
  const int = network('rt-int', '--internal');
  // made at `network create`, before any container
  const want = (n: typeof a, internal: boolean) =>
    networkRules({ bridge: n.bridge, subnet: n.subnet, internal, masquerade: true }).length;
  assert.equal(rulesNaming(a.bridge).length, want(a, false));
  assert.equal(rulesNaming(int.bridge).length, want(int, true));
  assert.ok(!rulesNaming(int.bridge).some((l) => /MASQUERADE/.test(l)), 'internal: no masquerade');

  const sleep = ['bb', 'busybox', 'sleep', '300'];
  berthOk(root, ['run', '-d', '--name', 'rt-a1', '--network', 'rt-a', ...sleep]);
  berthOk(root, ['run', '-d', '--name', 'rt-a2', '--network', 'rt-a', ...sleep]);
  berthOk(root, ['run', '-d', '--name', 'rt-b1', '--network', 'rt-b', ...sleep]);
  berthOk(root, ['run', '-d', '--name', 'rt-i1', '--cap-add', 'NET_ADMIN', '--network', 'rt-int', ...sleep]);
  berthOk(root, ['run', '-d', '--name', 'rt-i2', '--network', 'rt-int', ...sleep]);
  // still once per network with two containers on it; no container has rules of its own
  assert.equal(rulesNaming(a.bridge).length, want(a, false));
  assert.equal(rulesNaming(b.bridge).length, want(b, false));
  const save = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '';
  const ids = ['rt-a1', 'rt-a2', 'rt-b1', 'rt-i1', 'rt-i2'].map((n) =>
    berthOk(root, ['inspect', '-f', '{{.Id}}', n]).trim(),
  );
  assert.ok(!save.split('\n').some((l) => ids.some((id) => l.includes(id))), 'no per-container rule');

  // within a network: yes; across networks: no (both ways)
  assert.equal(ping('rt-a1', ipOf('rt-a2', 'rt-a')), 0, 'a1 reaches a2 on the same network');
  assert.notEqual(ping('rt-a1', ipOf('rt-b1', 'rt-b')), 0, 'a1 cannot reach b1 on another network');
  assert.notEqual(ping('rt-b1', ipOf('rt-a1', 'rt-a')), 0, 'b1 cannot reach a1 on another network');
  assert.notEqual(ping('rt-a1', ipOf('rt-i2', 'rt-int')), 0, 'a1 cannot reach the internal network');
  // the outside: reached from a network with a way out (masqueraded), never from the internal one
  assert.equal(ping('rt-a1', `${OUT_NET}.2`), 0, 'a1 reaches the outside namespace');
  assert.equal(ping('rt-i2', ipOf('rt-i1', 'rt-int')), 0, 'on the internal network: i2 reaches i1');
  berthOk(root, ['exec', 'rt-i1', 'busybox', 'ip', 'route', 'add', 'default', 'via', int.gateway]);
  assert.notEqual(ping('rt-i1', `${OUT_NET}.2`), 0, 'internal: nothing leaves the bridge, even with a route');

  berthOk(root, ['rm', '-f', 'rt-a1', 'rt-a2', 'rt-b1', 'rt-i1', 'rt-i2']);
  assert.equal(rulesNaming(a.bridge).length, want(a, false), 'the rules stay with the network');
  for (const [name, n] of [
    ['rt-a', a],
    ['rt-b', b],
    ['rt-int', int],
  ] as const) {
    berthOk(root, ['network', 'rm', name]);
    nets.delete(name);
    assert.deepEqual(rulesNaming(n.bridge), [], `no rule of ${name} after network rm`);
  }
});

test('after a "reboot" (the bridge and its rules gone), the next container on the network makes them again', () => {
  const n = network('rt-boot');
  const want = rulesNaming(n.bridge).length;
  assert.ok(want > 0);
  assert.equal(spawnSync('ip', ['link', 'del', n.bridge]).status, 0);
  for (const l of rulesNaming(n.bridge)) {
    const table = /POSTROUTING/.test(l) ? 'nat' : 'filter';
    assert.equal(sh(`iptables -t ${table} ${l.replace(/^-A /, '-D ')}`).status, 0, l);
  }
  assert.deepEqual(rulesNaming(n.bridge), []);
  berthOk(root, ['run', '--rm', '--network', 'rt-boot', 'bb', 'busybox', 'true']);
  assert.equal(rulesNaming(n.bridge).length, want, 'made again, once');
  berthOk(root, ['network', 'rm', 'rt-boot']);
  nets.delete('rt-boot');
  assert.deepEqual(rulesNaming(n.bridge), []);
});
