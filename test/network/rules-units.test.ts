/** The per-network iptables rules (rules.ts): what a network gets, what a batch adds and deletes (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addBatch, deleteBatch, networkRules, parseSave, rulesOf, sharedRules } from '../../src/network/rules.js';
import { delType } from '../../src/network/cni.js';

const bridge = { bridge: 'berth0', subnet: '172.17.0.0/16', internal: false, masquerade: true };

test("a network's rules: Docker's masquerade, FORWARD accepts and isolation, in berth's chains", () => {
  const r = networkRules(bridge).map((x) => `${x.table} ${x.rule}`);
  assert.deepEqual(r, [
    'filter -A BERTH-ISOLATION-STAGE-1 -i berth0 ! -o berth0 -j BERTH-ISOLATION-STAGE-2',
    'filter -A BERTH-ISOLATION-STAGE-2 -o berth0 -j DROP',
    'filter -A BERTH-FORWARD -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'filter -A BERTH-FORWARD -o berth0 -m conntrack --ctstate DNAT -j ACCEPT',
    'filter -A BERTH-FORWARD -i berth0 ! -o berth0 -j ACCEPT',
    'filter -A BERTH-FORWARD -i berth0 -o berth0 -j ACCEPT',
    'nat -A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o berth0 -j MASQUERADE',
  ]);
  const noMasq = networkRules({ ...bridge, masquerade: false });
  assert.ok(!noMasq.some((x) => x.table === 'nat'), 'enable_ip_masquerade=false: no masquerade');
  const internal = networkRules({ bridge: 'br-x', subnet: '10.9.0.0/24', internal: true, masquerade: true });
  const text = internal.map((x) => x.rule);
  assert.ok(text.includes('-A BERTH-ISOLATION-STAGE-1 ! -s 10.9.0.0/24 -o br-x -j DROP'));
  assert.ok(text.includes('-A BERTH-ISOLATION-STAGE-1 ! -d 10.9.0.0/24 -i br-x -j DROP'));
  assert.ok(!text.some((l) => l.includes('MASQUERADE') || l.includes('! -o br-x -j ACCEPT')), 'internal: no way out');
});

test('batches: only what is missing is added (chains declared once), only what names the bridge is deleted', () => {
  const empty = parseSave(
    '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n',
  );
  const add = addBatch(empty, networkRules(bridge));
  assert.match(
    add,
    /^\*filter\n:BERTH-FORWARD - \[0:0\]\n:BERTH-ISOLATION-STAGE-1 - \[0:0\]\n:BERTH-ISOLATION-STAGE-2 - \[0:0\]\n/,
  );
  assert.match(add, /\n-I FORWARD 1 -j BERTH-FORWARD\n-I BERTH-FORWARD 1 -j BERTH-ISOLATION-STAGE-1\n/);
  assert.match(
    add,
    /\*nat\n:BERTH-POSTROUTING - \[0:0\]\n-I POSTROUTING 1 -j BERTH-POSTROUTING\n-A BERTH-POSTROUTING -s/,
  );
  // the state after it, as iptables-save prints it: nothing more to add
  const lines = (t: 'filter' | 'nat') => [
    ...sharedRules()
      .chains.filter((c) => c.table === t)
      .map((c) => `:${c.rule} - [0:0]`),
    ...sharedRules()
      .jumps.filter((j) => j.table === t)
      .map((j) => j.rule),
    ...networkRules(bridge)
      .filter((r) => r.table === t)
      .map((r) => r.rule),
  ];
  const other = networkRules({ bridge: 'br-y', subnet: '10.8.0.0/24', internal: false, masquerade: true });
  const save = `*filter\n${lines('filter').join('\n')}\n${other
    .filter((r) => r.table === 'filter')
    .map((r) => r.rule)
    .join('\n')}\nCOMMIT\n*nat\n${lines('nat').join('\n')}\nCOMMIT\n`;
  const parsed = parseSave(save);
  assert.equal(addBatch(parsed, networkRules(bridge)), '');
  const mine = rulesOf(parsed, 'berth0');
  assert.equal(mine.length, networkRules(bridge).length, "every rule of the bridge's, and no other network's");
  const del = deleteBatch(mine);
  assert.ok(!del.includes('br-y') && !del.includes(':BERTH'), 'the chains and the other network stay');
  assert.equal((del.match(/^-D /gm) ?? []).length, mine.length);
  assert.equal(deleteBatch([]), '');
});

test("DEL without a netns runs the bridge's IPAM plugin itself (all the bridge plugin would do then)", () => {
  const br = { type: 'bridge', ipMasq: false, ipam: { type: 'host-local' } };
  const a = { containerId: 'c', netns: '', ifname: 'eth0' };
  assert.equal(delType(br, a), 'host-local');
  assert.equal(delType(br, { ...a, netns: '/run/berth/netns/c' }), 'bridge', 'with a netns: its veth too');
  assert.equal(delType({ ...br, ipMasq: true }, a), 'bridge', 'with masquerade: its rules too');
  assert.equal(delType({ type: 'portmap' }, a), 'portmap');
  assert.equal(delType({ ...br, ipam: { type: '../x' } }, a), 'bridge');
});
