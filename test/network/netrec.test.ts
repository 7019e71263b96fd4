/**
 * User networks' loose ends, for real (CNI plugins, aardvark-dns): a simulated reboot (the test's monitors killed, its
 * bridges and netns deleted; attachments, leases and names left as a /run that survived would keep them) is
 * reconciled by the first berth command (bridges and gateway addresses made again from berth/networks, stale
 * attachments and names cleared); `system check` reports and `--repair` removes user-network leftovers; `system
 * prune` removes unused networks; `ps` and `inspect` show every network of a container; `rm -f`, a killed foreground
 * berth and `--repair` leave nothing: no veth, netns, attachment, lease, DNS entry or rule, counted per container.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { alive, berth, berthOk, berthSpawn, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';
import { lockBridge } from '../helpers/bridge-lock.js';
import { summaryNetworks } from '../../src/engine/container-list.js';
import { missingBridges } from '../../src/network/reconcile.js';

const t = tempRoot('berth-netrec');
const root = t.root;
const RUN = '/run/berth';
const netIds = new Map<string, string>();
let unlockBridge: () => void = () => {};
const cleanups: Array<() => void> = [];

const ls = (d: string): string[] => {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
};

function network(name: string, ...args: string[]): string {
  const id = berthOk(root, ['network', 'create', ...args, name]).trim();
  netIds.set(name, id);
  return id;
}
const idOf = (name: string) => berthOk(root, ['inspect', '-f', '{{.Id}}', name]).trim();
const bridge = (netId: string) => `br-${netId.slice(0, 12)}`;
const linkExists = (name: string) => spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;

/** The host-side veths of a container's attachments (from their CNI results). */
function veths(id: string): string[] {
  return ls(`${RUN}/cni/attach/${id}`).flatMap((f) => {
    const a = JSON.parse(fs.readFileSync(`${RUN}/cni/attach/${id}/${f}`, 'utf8')) as {
      result?: { interfaces?: Array<{ name: string; sandbox?: string }> };
    };
    return (a.result?.interfaces ?? []).filter((i) => !i.sandbox && !i.name.startsWith('br-')).map((i) => i.name);
  });
}

/** What of a container's networks is on the host: netns, attachments, leases, names, veths, rules naming it. */
function traces(id: string, vs: readonly string[]): string[] {
  const out: string[] = [];
  if (fs.existsSync(`${RUN}/netns/${id}`)) out.push('netns');
  for (const f of ls(`${RUN}/cni/attach/${id}`)) out.push(`attachment ${f}`);
  for (const d of ls(`${RUN}/cni/ipam`).filter((x) => x.startsWith('berth-')))
    for (const f of ls(`${RUN}/cni/ipam/${d}`))
      if (/^\d/.test(f) && fs.readFileSync(`${RUN}/cni/ipam/${d}/${f}`, 'utf8').startsWith(id)) out.push(`lease ${f}`);
  for (const f of ls(`${RUN}/aardvark`).filter((x) => /^[0-9a-f]{64}$/.test(x)))
    if (fs.readFileSync(`${RUN}/aardvark/${f}`, 'utf8').includes(`\n${id} `)) out.push(`DNS entry in ${f}`);
  for (const v of vs) if (linkExists(v)) out.push(`veth ${v}`);
  for (const table of ['filter', 'nat'])
    for (const l of (spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '').split('\n'))
      if (l.startsWith('-A ') && l.includes(id)) out.push(`${table}: ${l}`);
  return out;
}

/** aardvark-dns processes alive (a zombie has ended). */
function aardvarks(): number {
  return ls('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      return /\(aardvark/.test(stat) && !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  }).length;
}

function monitorOf(id: string): { MonitorPid: number; Pid: number } {
  return JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as {
    MonitorPid: number;
    Pid: number;
  };
}
function kill9(...pids: number[]): void {
  for (const p of pids)
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
}
async function killMonitor(id: string): Promise<void> {
  const m = monitorOf(id);
  kill9(m.MonitorPid, m.Pid);
  await waitFor(() => (alive(m.MonitorPid) || alive(m.Pid) ? undefined : true));
}

before(async () => {
  unlockBridge = await lockBridge();
  berthOk(root, ['image', 'from-host', 'web', 'busybox']);
});

after(() => {
  try {
    const ids = berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length) berth(root, ['rm', '-f', ...ids]);
    for (const id of netIds.values()) berth(root, ['network', 'rm', id]);
    for (const c of cleanups.reverse()) c();
    for (const id of netIds.values()) assert.equal(linkExists(bridge(id)), false, `bridge of ${id} removed`);
    assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
    t.remove();
  } finally {
    unlockBridge();
  }
});

test('summary networks (pure): sorted names, none and host as they are, the default as bridge, none on container:', () => {
  const stopped = { State: { Running: false } } as Parameters<typeof summaryNetworks>[0];
  assert.deepEqual(Object.keys(summaryNetworks(stopped, { NetworkMode: 'none' })), ['none']);
  assert.deepEqual(Object.keys(summaryNetworks(stopped, { NetworkMode: 'host' })), ['host']);
  assert.deepEqual(Object.keys(summaryNetworks(stopped, { NetworkMode: 'default' })), ['bridge']);
  assert.deepEqual(Object.keys(summaryNetworks(stopped, { NetworkMode: 'container:x' })), []);
  const two = { NetworkMode: 'zeta', BerthEndpoints: { zeta: {}, alpha: {} } };
  assert.deepEqual(Object.keys(summaryNetworks(stopped, two)), ['alpha', 'zeta']);
});

test('missing bridges (pure but for reads): the stored networks whose bridge the host lacks', () => {
  const dir = fs.mkdtempSync('/tmp/berth-netrec-unit-');
  try {
    fs.mkdirSync(`${dir}/berth/networks`, { recursive: true });
    const rec = (id: string, opts: Record<string, string> = {}) =>
      fs.writeFileSync(
        `${dir}/berth/networks/${id}.json`,
        JSON.stringify({ Id: id, Options: opts, IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] } }),
      );
    rec('a'.repeat(64));
    rec('b'.repeat(64), { 'com.docker.network.bridge.name': 'mybr' });
    fs.writeFileSync(`${dir}/berth/networks/notes.txt`, 'not a network');
    const have = new Set(['br-aaaaaaaaaaaa']);
    assert.deepEqual(
      missingBridges(dir, (i) => have.has(i)).map((n) => n.Id),
      ['b'.repeat(64)],
    );
    have.add('mybr');
    assert.deepEqual(
      missingBridges(dir, (i) => have.has(i)),
      [],
    );
    assert.deepEqual(missingBridges('/nonexistent-root'), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('ps NETWORKS and {{.Networks}} list every network; inspect of a stopped container shows each', () => {
  network('nr-beta');
  network('nr-alpha');
  berthOk(root, ['create', '--name', 'multi', '--network', 'nr-beta', 'web', 'busybox', 'sleep', '600']);
  berthOk(root, ['network', 'connect', 'nr-alpha', 'multi']);
  berthOk(root, ['create', '--name', 'lonely', '--network', 'none', 'web', 'busybox', 'true']);
  const fmt = ['ps', '-a', '--filter', 'name=multi|lonely', '--format', '{{.Names}} {{.Networks}}'];
  assert.deepEqual(berthOk(root, fmt).trim().split('\n').sort(), ['lonely none', 'multi nr-alpha,nr-beta']);
  const table = berthOk(root, ['ps', '-a', '--filter', 'name=multi', '--format', 'table {{.Names}}\t{{.Networks}}']);
  assert.match(table, /NAMES\s+NETWORKS\nmulti\s+nr-alpha,nr-beta/);
  const stopped = JSON.parse(berthOk(root, ['inspect', 'multi']))[0].NetworkSettings.Networks;
  assert.deepEqual(Object.keys(stopped).sort(), ['nr-alpha', 'nr-beta']);
  assert.equal(stopped['nr-alpha'].NetworkID, netIds.get('nr-alpha'));
  assert.equal(stopped['nr-beta'].NetworkID, netIds.get('nr-beta'));
  berthOk(root, ['start', 'multi']);
  assert.equal(berthOk(root, ['ps', '--filter', 'name=multi', '--format', '{{.Networks}}']).trim(), 'nr-alpha,nr-beta');
  const running = JSON.parse(berthOk(root, ['inspect', 'multi']))[0].NetworkSettings.Networks;
  assert.ok(running['nr-alpha'].IPAddress && running['nr-beta'].IPAddress, 'addresses on both while it runs');
  berthOk(root, ['stop', '-t', '0', 'multi']);
  const again = JSON.parse(berthOk(root, ['inspect', 'multi']))[0].NetworkSettings.Networks;
  assert.deepEqual(Object.keys(again).sort(), ['nr-alpha', 'nr-beta'], 'each network again once stopped');
  assert.equal(again['nr-alpha'].IPAddress, '');
  berthOk(root, ['rm', 'multi', 'lonely']);
});

test('after a reboot the first command makes the bridges again and clears stale attachments and names', async () => {
  const a = network('nr-boot-a');
  const b = network('nr-boot-b', '--subnet', '10.231.7.0/24');
  berthOk(root, ['run', '-d', '--name', 'booted', '--network', 'nr-boot-a', 'web', 'busybox', 'sleep', '600']);
  berthOk(root, ['network', 'connect', 'nr-boot-b', 'booted']);
  const id = idOf('booted');
  const vs = veths(id);
  assert.equal(vs.length, 2);
  const before = traces(id, vs);
  assert.ok(before.includes(`DNS entry in ${a}`) && before.includes(`DNS entry in ${b}`), before.join('; '));
  // "reboot": its monitor and process gone, its netns and the networks' bridges (their veths go with them);
  // attachments, leases and names stay as a /run that survived would keep them
  await killMonitor(id);
  spawnSync('umount', ['-l', `${RUN}/netns/${id}`]);
  fs.rmSync(`${RUN}/netns/${id}`, { force: true });
  for (const n of [a, b]) spawnSync('ip', ['link', 'del', bridge(n)]);
  assert.equal(linkExists(bridge(a)), false);
  // and its rules (a reboot empties the tables; CNI's bridge plugin finds the masquerade rules through the netns)
  for (const table of ['filter', 'nat']) {
    const chains = new Set<string>();
    for (const l of (spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '').split('\n')) {
      if (!l.startsWith('-A ') || !l.includes(id)) continue;
      const target = / -j (CNI-[\w-]+)/.exec(l)?.[1];
      if (target && /^CNI-(DN-)?[0-9a-f]{20,}$/.test(target)) chains.add(target);
      spawnSync('sh', ['-c', `iptables -t ${table} ${l.replace(/^-A /, '-D ')}`], { stdio: 'ignore' });
    }
    for (const c of chains) {
      spawnSync('iptables', ['-t', table, '-F', c]);
      spawnSync('iptables', ['-t', table, '-X', c]);
    }
  }
  // one attachment lost (a berth killed between releasing it and its name and lease): those go all the same
  fs.rmSync(`${RUN}/cni/attach/${id}/${b}.json`);
  assert.ok(traces(id, []).includes(`DNS entry in ${b}`));
  // the first berth command
  berthOk(root, ['images']);
  for (const [n, gw] of [
    [a, JSON.parse(berthOk(root, ['network', 'inspect', a]))[0].IPAM.Config[0].Gateway as string],
    [b, '10.231.7.1'],
  ] as const) {
    const addr = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'dev', bridge(n!)], { encoding: 'utf8' }).stdout;
    assert.match(addr, new RegExp(` ${gw.replace(/\./g, '\\.')}/`), `${bridge(n!)} has its gateway again`);
    assert.match(spawnSync('ip', ['-o', 'link', 'show', bridge(n!)], { encoding: 'utf8' }).stdout, /state UP|UP/);
  }
  // the settling (ps) clears the stale attachments, leases and names
  assert.match(berthOk(root, ['ps', '-a', '--filter', 'name=booted', '--format', '{{.Status}}']), /Exited \(137\)/);
  assert.deepEqual(traces(id, vs), [], 'no stale attachment, lease or name');
  // it starts again on both, and is found by name
  berthOk(root, ['start', 'booted']);
  const probe = berth(root, ['run', '--rm', '--network', 'nr-boot-b', 'web', 'busybox', 'nslookup', 'booted']);
  assert.equal(probe.code, 0, probe.stdout + probe.stderr);
  assert.match(probe.stdout, /Address:\s+10\.231\.7\.\d+/);
  const vs2 = veths(id);
  berthOk(root, ['rm', '-f', 'booted']);
  assert.deepEqual(traces(id, vs2), []);
});

test('leaks: rm -f on two networks, a killed foreground berth, and system check --repair leave nothing', async () => {
  network('nr-leak-a');
  network('nr-leak-b');
  const aardvarksBefore = aardvarks();
  // rm -f of a running container on two user networks
  berthOk(root, ['run', '-d', '--name', 'two', '--network', 'nr-leak-a', 'web', 'busybox', 'sleep', '600']);
  berthOk(root, ['network', 'connect', 'nr-leak-b', 'two']);
  const two = idOf('two');
  const twoVeths = veths(two);
  assert.equal(twoVeths.length, 2);
  const counted = traces(two, twoVeths);
  assert.ok(counted.length >= 7, `netns, 2 attachments, 2 leases, 2 names, veths: ${counted.join('; ')}`);
  berthOk(root, ['rm', '-f', 'two']);
  assert.deepEqual(traces(two, twoVeths), [], 'rm -f released both networks');

  // a foreground berth on a user network, SIGKILLed once its container runs
  const fg = berthSpawn(root, ['run', '--name', 'fg', '--network', 'nr-leak-a', 'web', 'busybox', 'sleep', '600']);
  fg.stdout.resume();
  fg.stderr.resume();
  const fgId = await waitFor(
    () => berth(root, ['ps', '-q', '--no-trunc', '--filter', 'name=fg']).stdout.trim() || undefined,
    20000,
  );
  await waitFor(() => (veths(fgId).length ? true : undefined));
  const fgVeths = veths(fgId);
  assert.ok(traces(fgId, fgVeths).length >= 4);
  fg.kill('SIGKILL');
  await waitFor(() => (fg.pid && !alive(fg.pid) ? true : undefined));
  berthOk(root, ['ps', '-a']);
  assert.deepEqual(traces(fgId, fgVeths), [], 'settling released it');

  // a container removed behind berth (its directory gone, its network kept): a leftover that --repair removes
  berthOk(root, ['run', '-d', '--name', 'gone', '--network', 'nr-leak-b', 'web', 'busybox', 'sleep', '600']);
  const gone = idOf('gone');
  const goneVeths = veths(gone);
  await killMonitor(gone);
  for (const mnt of mountsUnder(`${root}/overlay2`).reverse()) spawnSync('umount', ['-l', mnt]);
  const cg = spawnSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-name', `*${gone}*`], { encoding: 'utf8' });
  for (const d of cg.stdout.split('\n').filter(Boolean)) spawnSync('rmdir', [d]);
  fs.rmSync(`${root}/containers/${gone}`, { recursive: true, force: true });
  assert.ok(traces(gone, goneVeths).length >= 4, traces(gone, goneVeths).join('; '));
  const check = berth(root, ['system', 'check', '--quick']);
  assert.equal(check.code, 1, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`leftover: network ${gone.slice(0, 12)} .*attach/${gone}.*removed container`));
  const repair = berth(root, ['system', 'check', '--quick', '--repair']);
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  assert.match(repair.stdout, new RegExp(`removed: network ${gone.slice(0, 12)}`));
  assert.deepEqual(traces(gone, goneVeths), [], '--repair removed attachment, lease, name, veth, netns and rules');
  assert.equal(berth(root, ['system', 'check', '--quick']).code, 0);
  // the DNS server: none left by these tests (another berth on this host may run its own meanwhile)
  const served = ls(`${RUN}/aardvark`).filter((f) => /^[0-9a-f]{64}$/.test(f));
  if (!served.length) assert.equal(aardvarks(), 0, 'aardvark-dns stopped with the last name');
  assert.ok(aardvarks() <= Math.max(aardvarksBefore, 1));
});

test('system check lists a user network attachment of a store that was deleted, --repair removes it', async () => {
  const gone = tempRoot('berth-netrec-gone');
  cleanups.push(() => gone.remove());
  berthOk(gone.root, ['image', 'from-host', 'web', 'busybox']);
  const net = berthOk(gone.root, ['network', 'create', 'nr-orphan']).trim();
  cleanups.push(() => spawnSync('ip', ['link', 'del', bridge(net)], { stdio: 'ignore' }));
  const id = berthOk(gone.root, ['run', '-d', '--network', 'nr-orphan', 'web', 'busybox', 'sleep', '600'])
    .trim()
    .split('\n')
    .pop()!;
  const vs = veths(id);
  const m = JSON.parse(fs.readFileSync(`${gone.root}/containers/${id}/state.json`, 'utf8')) as {
    MonitorPid: number;
    Pid: number;
  };
  kill9(m.MonitorPid, m.Pid);
  await waitFor(() => (alive(m.MonitorPid) || alive(m.Pid) ? undefined : true));
  for (const mnt of mountsUnder(gone.root).reverse()) spawnSync('umount', ['-l', mnt]);
  const cg = spawnSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-name', `*${id}*`], { encoding: 'utf8' });
  for (const d of cg.stdout.split('\n').filter(Boolean)) spawnSync('rmdir', [d]);
  gone.remove();
  assert.ok(traces(id, vs).length >= 4, traces(id, vs).join('; '));
  // an orphan of the host: listed by this store's check, not counted against it
  const check = berth(root, ['system', 'check', '--quick']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`orphan: network ${id.slice(0, 12)} .*store that is gone`));
  const repair = berth(root, ['system', 'check', '--quick', '--repair']);
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  assert.deepEqual(traces(id, vs), [], '--repair removed attachment, lease, name, veth, netns and rules');
  spawnSync('ip', ['link', 'del', bridge(net)], { stdio: 'ignore' });
  spawnSync('rm', ['-rf', `${RUN}/cni/ipam/berth-${net.slice(0, 12)}`, `${RUN}/cni/net-${net}.conflist`]);
});

test('system prune removes the networks no container uses (until=, label=), as Docker says it will', () => {
  network('nr-prune-old', '--label', 'nrprune=1');
  network('nr-prune-kept', '--label', 'nrprune=2');
  network('nr-prune-used', '--label', 'nrprune=1');
  berthOk(root, ['run', '-d', '--name', 'user', '--network', 'nr-prune-used', 'web', 'busybox', 'sleep', '600']);
  const asked = berth(root, ['system', 'prune'], { input: 'n\n' });
  assert.match(
    asked.stdout + asked.stderr,
    /  - all stopped containers\n  - all networks not used by at least one container\n/,
  );
  assert.ok(linkExists(bridge(netIds.get('nr-prune-old')!)), 'nothing removed when refused');
  const none = berthOk(root, ['system', 'prune', '-f', '--filter', 'label=nrprune=1', '--filter', 'until=1h']);
  assert.doesNotMatch(none, /Deleted Networks/, 'until=1h: made just now, kept');
  const out = berthOk(root, ['system', 'prune', '-f', '--filter', 'label=nrprune=1']);
  assert.match(out, /Deleted Networks:\nnr-prune-old\n/);
  assert.doesNotMatch(out, /nr-prune-used|nr-prune-kept/);
  assert.equal(linkExists(bridge(netIds.get('nr-prune-old')!)), false, 'its bridge went with it');
  const names = berthOk(root, ['network', 'ls', '--format', '{{.Name}}']).split('\n');
  assert.ok(names.includes('nr-prune-used') && names.includes('nr-prune-kept') && !names.includes('nr-prune-old'));
  netIds.delete('nr-prune-old');
  berthOk(root, ['rm', '-f', 'user']);
  const bad = berth(root, ['system', 'prune', '-f', '--filter', 'driver=bridge']);
  assert.notEqual(bad.code, 0);
});
