/**
 * The bridge over a container's life, for real (CNI plugins, iptables): a restarted container gets its address back
 * (a new one when another holds it), `rm -f`, a killed foreground berth, a killed monitor and `system check --repair`
 * (of a store deleted under a running container) leave nothing of its network behind, and a simulated reboot (monitors
 * killed, netns, veths, rules and the bridge gone; leases and results left as on disk) is reconciled by the first
 * berth command, after which `start --all --filter restart-policy=always` (contrib/berth-restart.service) brings back
 * the `always` container with its address. What is left is counted per container (netns mount, CNI result, leases,
 * veth, iptables rules naming its id or address), so that other berth stores using the bridge meanwhile do not count.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { REPO, alive, berth, berthOk, berthSpawn, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';
import { preferredAddress } from '../../src/network/address.js';
import { bridgeConflist } from '../../src/network/bridge.js';
import { policyFilter } from '../../src/cli/commands/start-all.js';
import { lockBridge } from '../helpers/bridge-lock.js';

const t = tempRoot('berth-netlife');
const root = t.root;
const RUN = '/run/berth';
const LEASES = `${RUN}/cni/ipam/berth`;
let bridgeBefore = false;
let chainsBefore = new Set<string>();
let unlockBridge: () => void = () => {};
const cleanups: Array<() => void> = [];

function cniChains(): Set<string> {
  const out = new Set<string>();
  for (const table of ['filter', 'nat'])
    for (const l of (spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '').split('\n'))
      if (/^:(CNI|BERTH)-/.test(l)) out.add(`${table} ${l.slice(1).split(' ')[0]}`);
  return out;
}

/** berth's rules that name berth0 ("table rule"). */
function berth0Rules(): string[] {
  const out: string[] = [];
  for (const table of ['filter', 'nat'])
    for (const l of (spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '').split('\n'))
      if (/^-A BERTH-.* -[io] berth0 /.test(l)) out.push(`${table} ${l}`);
  return out;
}

/** What a container has on the bridge: its id, address and host-side veth (from its CNI result). */
interface Attachment {
  id: string;
  ip: string;
  veth: string;
}
function attachment(id: string): Attachment {
  const saved = JSON.parse(fs.readFileSync(`${RUN}/cni/results/${id}.json`, 'utf8')) as {
    result: { interfaces: Array<{ name: string; sandbox?: string }>; ips: Array<{ address: string }> };
  };
  const veth = saved.result.interfaces.find((i) => !i.sandbox && i.name !== 'berth0')!.name;
  return { id, ip: saved.result.ips[0]!.address.split('/')[0]!, veth };
}

/** The iptables rules (table, rule) that name a container's id or address. */
function rulesOf(a: Attachment): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const table of ['filter', 'nat'])
    for (const l of (spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '').split('\n'))
      if (l.startsWith('-A ') && (l.includes(a.id) || l.includes(` ${a.ip}/32 `) || l.endsWith(` ${a.ip}/32`)))
        out.push([table, l]);
  return out;
}

/** Everything of a container's network still on the host, described. */
function traces(a: Attachment): string[] {
  const out: string[] = [];
  if (fs.existsSync(`${RUN}/netns/${a.id}`)) out.push('netns');
  if (fs.existsSync(`${RUN}/cni/results/${a.id}.json`)) out.push('CNI result');
  for (const f of fs.existsSync(LEASES) ? fs.readdirSync(LEASES) : [])
    if (/^\d/.test(f) && fs.readFileSync(`${LEASES}/${f}`, 'utf8').startsWith(a.id)) out.push(`lease ${f}`);
  if (spawnSync('ip', ['link', 'show', a.veth], { stdio: 'ignore' }).status === 0) out.push(`veth ${a.veth}`);
  for (const [table, r] of rulesOf(a)) out.push(`${table}: ${r}`);
  return out;
}

const idOf = (name: string) => berthOk(root, ['inspect', '-f', '{{.Id}}', name]).trim();
const ipOf = (name: string) => berthOk(root, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name]).trim();
const statusOf = (name: string) => berthOk(root, ['inspect', '-f', '{{.State.Status}}', name]).trim();
function monitorOf(id: string, r = root): { MonitorPid: number; Pid: number } {
  return JSON.parse(fs.readFileSync(`${r}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number; Pid: number };
}
function kill9(...pids: number[]): void {
  for (const p of pids)
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
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

before(async () => {
  unlockBridge = await lockBridge();
  bridgeBefore = spawnSync('ip', ['link', 'show', 'berth0'], { stdio: 'ignore' }).status === 0;
  chainsBefore = cniChains();
  berthOk(root, ['image', 'from-host', 'web', 'busybox']);
});

after(() => {
  try {
    afterAll();
  } finally {
    unlockBridge();
  }
});

function afterAll(): void {
  const ids = berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (ids.length) berth(root, ['rm', '-f', ...ids]);
  for (const c of cleanups.reverse()) c();
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
  t.remove();
  // the bridge and the plugins' global chains, if these tests made them and no container uses them now
  const attached = spawnSync('ip', ['-o', 'link', 'show', 'master', 'berth0'], { encoding: 'utf8' }).stdout ?? '';
  if (!bridgeBefore && !attached.trim()) {
    for (const c of cniChains()) {
      if (chainsBefore.has(c)) continue;
      const [table, chain] = c.split(' ') as [string, string];
      const rules = spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '';
      for (const l of rules.split('\n'))
        if (l.startsWith('-A ') && l.includes(`-j ${chain}`))
          spawnSync('sh', ['-c', `iptables -t ${table} ${l.replace(/^-A /, '-D ')}`], { stdio: 'ignore' });
    }
    for (const c of cniChains()) {
      if (chainsBefore.has(c)) continue;
      const [table, chain] = c.split(' ') as [string, string];
      spawnSync('iptables', ['-t', table, '-F', chain], { stdio: 'ignore' });
      spawnSync('iptables', ['-t', table, '-X', chain], { stdio: 'ignore' });
    }
    spawnSync('ip', ['link', 'del', 'berth0'], { stdio: 'ignore' });
    fs.rmSync(`${RUN}/cni/rules`, { recursive: true, force: true });
  }
}

test('the address a restarted container asks for (pure): its previous one, in the subnet and not leased', () => {
  const list = bridgeConflist('172.18.0.0/16', '172.18.0.1', '/x');
  const none = () => false;
  assert.equal(preferredAddress(list, '172.18.3.7', none), '172.18.3.7/16');
  assert.equal(preferredAddress(list, undefined, none), undefined);
  assert.equal(
    preferredAddress(list, '172.18.3.7', (ip) => ip === '172.18.3.7'),
    undefined,
    'leased',
  );
  assert.equal(preferredAddress(list, '172.17.0.5', none), undefined, 'another subnet (a reboot chose a new one)');
  assert.equal(preferredAddress(list, '172.18.0.1', none), undefined, 'the gateway');
  assert.equal(preferredAddress(list, '172.18.255.255', none), undefined, 'the broadcast address');
  assert.equal(preferredAddress(list, '172.18.0.0', none), undefined, 'the network address');
  assert.equal(preferredAddress(list, 'nonsense', none), undefined);
});

test('start --all filters (pure): restart-policy=NAME, several OR-ed; anything else refused by name', () => {
  assert.equal(policyFilter([]), undefined);
  assert.deepEqual(
    [...policyFilter(['restart-policy=always', 'restart-policy=unless-stopped'])!],
    ['always', 'unless-stopped'],
  );
  assert.throws(() => policyFilter(['restart-policy=sometimes']), /invalid restart policy "sometimes"/);
  assert.throws(() => policyFilter(['name=x']), /unknown filter "name=x"/);
  assert.throws(() => policyFilter(['always']), /unknown filter "always"/);
});

test('stop releases the network; start and restart give the address back, a new one when it is taken', () => {
  berthOk(root, ['run', '-d', '--network', 'bridge', '--name', 'keep', 'web', 'busybox', 'sleep', '600']);
  berthOk(root, ['run', '-d', '--network', 'bridge', '--name', 'other', 'web', 'busybox', 'sleep', '600']);
  const id = idOf('keep');
  const first = attachment(id);
  assert.equal(ipOf('keep'), first.ip);
  berthOk(root, ['stop', '-t', '0', 'keep']);
  assert.deepEqual(traces(first), [], 'stop released address, veth, rules and netns');
  assert.equal(ipOf('keep'), '');
  // another container starting meanwhile gets another address (host-local goes round the range)
  berthOk(root, ['start', 'keep']);
  assert.equal(ipOf('keep'), first.ip, 'start gave the address back');
  berthOk(root, ['restart', '-t', '0', 'keep']);
  assert.equal(ipOf('keep'), first.ip, 'restart gave it back');
  const second = attachment(id);
  assert.notEqual(second.veth, '', 'a veth again');
  // taken meanwhile (a lease the test writes, as another container's): start gives a new address
  berthOk(root, ['stop', '-t', '0', 'keep']);
  const squat = `${LEASES}/${first.ip}`;
  fs.writeFileSync(squat, `${'f'.repeat(64)}\r\neth0`);
  cleanups.push(() => fs.rmSync(squat, { force: true }));
  try {
    berthOk(root, ['start', 'keep']);
    assert.notEqual(ipOf('keep'), first.ip);
    assert.notEqual(ipOf('keep'), '');
  } finally {
    fs.rmSync(squat, { force: true });
  }
  const third = attachment(id);
  berthOk(root, ['rm', '-f', 'keep', 'other']);
  assert.deepEqual(traces(third), [], 'rm -f released everything');
});

test('a killed foreground berth and a killed monitor leave nothing once the next berth command settles', async () => {
  // foreground berth SIGKILLed: its container dies with it
  const fg = berthSpawn(root, [
    'run',
    '--name',
    'fg',
    '--network',
    'bridge',
    '-p',
    '127.0.0.1::80',
    'web',
    'busybox',
    'sleep',
    '600',
  ]);
  fg.stdout.resume();
  fg.stderr.resume();
  const fgArgs = ['ps', '-q', '--no-trunc', '--filter', 'name=fg'];
  const fgId = await waitFor(() => berth(root, fgArgs).stdout.trim() || undefined, 20000);
  const a = attachment(fgId);
  assert.ok(traces(a).length >= 4, `it has a network: ${traces(a).join('; ')}`);
  fg.kill('SIGKILL');
  await waitFor(() => (fg.pid && !alive(fg.pid) ? true : undefined));
  berthOk(root, ['ps', '-a']);
  assert.deepEqual(traces(a), [], 'settling released it');
  assert.equal(statusOf('fg'), 'exited');
  // a detached container's monitor SIGKILLed (and its container)
  const id = berthOk(root, ['run', '-d', '--network', 'bridge', '-p', '127.0.0.1::80', 'web', 'busybox', 'httpd', '-f'])
    .trim()
    .split('\n')
    .pop()!;
  const b = attachment(id);
  const m = monitorOf(id);
  kill9(m.MonitorPid, m.Pid);
  await waitFor(() => (alive(m.MonitorPid) || alive(m.Pid) ? undefined : true));
  berthOk(root, ['ps', '-a']);
  assert.deepEqual(traces(b), [], 'settling released it');
  assert.equal(statusOf(id), 'exited');
});

/** A foreground berth on the bridge in `r`, SIGKILLed once its container runs: the container's id. */
async function killedForeground(r: string): Promise<string> {
  const fg = berthSpawn(r, ['run', '--network', 'bridge', '-p', '127.0.0.1::80', 'web', 'busybox', 'sleep', '600']);
  fg.stdout.resume();
  fg.stderr.resume();
  const id = await waitFor(() => berth(r, ['ps', '-q', '--no-trunc']).stdout.trim() || undefined, 20000);
  fg.kill('SIGKILL');
  await waitFor(() => (fg.pid && !alive(fg.pid) ? true : undefined));
  return id;
}
/** Take away what a killed run left besides its network: its mounts and cgroup. */
function unmountAndUncgroup(under: string, id: string): void {
  for (const mnt of mountsUnder(under).reverse()) spawnSync('umount', ['-l', mnt]);
  const cg = spawnSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-name', `*${id}*`], { encoding: 'utf8' });
  for (const d of cg.stdout.split('\n').filter(Boolean)) spawnSync('rmdir', [d]);
}

test('system check: the network of a container removed behind berth is a leftover, --repair removes it', async () => {
  const id = await killedForeground(root);
  const a = attachment(id);
  // the container goes as a half-done removal would leave it: its directory gone, its network not released
  unmountAndUncgroup(`${root}/overlay2`, id);
  fs.rmSync(`${root}/containers/${id}`, { recursive: true, force: true });
  assert.ok(traces(a).length >= 4, `its network is still there: ${traces(a).join('; ')}`);
  const check = berth(root, ['system', 'check', '--quick']);
  assert.equal(check.code, 1, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`leftover: network ${id.slice(0, 12)} .*removed container`));
  const repair = berth(root, ['system', 'check', '--quick', '--repair']);
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  assert.match(repair.stdout, new RegExp(`removed: network ${id.slice(0, 12)}`));
  assert.deepEqual(traces(a), [], '--repair removed netns, result, lease, veth and rules');
  assert.equal(berth(root, ['system', 'check', '--quick']).code, 0);
});

test('system check lists the network of a container whose store was deleted, --repair removes it', async () => {
  const gone = tempRoot('berth-netlife-gone');
  cleanups.push(() => gone.remove());
  berthOk(gone.root, ['image', 'from-host', 'web', 'busybox']);
  const id = await killedForeground(gone.root);
  const a = attachment(id);
  // the store goes with its container's mounts and cgroup, nothing of berth's settling it
  unmountAndUncgroup(gone.root, id);
  gone.remove();
  assert.ok(traces(a).length >= 4, `its network is still there: ${traces(a).join('; ')}`);
  // an orphan of the host (no store has it): listed by every store's check, not counted against the store
  const check = berth(root, ['system', 'check', '--quick']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`orphan: network ${id.slice(0, 12)} .*store that is gone`));
  const repair = berth(root, ['system', 'check', '--quick', '--repair']);
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  assert.match(repair.stdout, new RegExp(`removed: network ${id.slice(0, 12)}`));
  assert.deepEqual(traces(a), [], '--repair removed netns, result, lease, veth and rules');
  assert.doesNotMatch(berthOk(root, ['system', 'check', '--quick']), new RegExp(id.slice(0, 12)));
});

test('after a reboot the first berth command reconciles; start --all --filter restart-policy=always brings back', async () => {
  const port = await freePort();
  const httpd = ['web', 'busybox', 'httpd', '-f', '-h', '/etc'];
  berthOk(root, [
    'run',
    '-d',
    '--network',
    'bridge',
    '--name',
    'always',
    '--restart',
    'always',
    '-p',
    `127.0.0.1:${port}:80`,
    ...httpd,
  ]);
  berthOk(root, ['run', '-d', '--network', 'bridge', '--name', 'plain', ...httpd]);
  // unless-stopped: one the reboot ends, one a user stopped before it (dockerd leaves that one stopped)
  berthOk(root, ['run', '-d', '--network', 'bridge', '--name', 'unless', '--restart', 'unless-stopped', ...httpd]);
  berthOk(root, ['run', '-d', '--network', 'bridge', '--name', 'ustopped', '--restart', 'unless-stopped', ...httpd]);
  berthOk(root, ['stop', '-t', '0', 'ustopped']);
  const ids = ['always', 'plain', 'unless'].map(idOf);
  const atts = ids.map(attachment);
  // "reboot": every process gone (monitors first, so that no restart policy acts), the netns mounts (their veths
  // go with them), the rules; the leases and results stay as a store on disk would keep them
  for (const id of ids) {
    const m = monitorOf(id);
    kill9(m.MonitorPid, m.Pid);
    await waitFor(() => (alive(m.MonitorPid) || alive(m.Pid) ? undefined : true));
    spawnSync('umount', ['-l', `${RUN}/netns/${id}`]);
    fs.rmSync(`${RUN}/netns/${id}`, { force: true });
  }
  for (const a of atts) {
    const chains = new Set<string>();
    for (const [table, rule] of rulesOf(a)) {
      const target = / -j (CNI-[\w-]+)/.exec(rule)?.[1];
      if (target && /^CNI-(DN-)?[0-9a-f]{20,}$/.test(target)) chains.add(`${table} ${target}`);
      spawnSync('sh', ['-c', `iptables -t ${table} ${rule.replace(/^-A /, '-D ')}`], { stdio: 'ignore' });
    }
    for (const c of chains) {
      const [table, chain] = c.split(' ') as [string, string];
      spawnSync('iptables', ['-t', table, '-F', chain]);
      spawnSync('iptables', ['-t', table, '-X', chain]);
    }
  }
  const attached = spawnSync('ip', ['-o', 'link', 'show', 'master', 'berth0'], { encoding: 'utf8' }).stdout ?? '';
  // berth0 and its rules (rules.ts) go too, when nothing else uses them
  const rebooted = !bridgeBefore && !attached.trim();
  if (rebooted) {
    spawnSync('ip', ['link', 'del', 'berth0']);
    for (const l of berth0Rules())
      spawnSync('sh', ['-c', `iptables -t ${l.split(' ')[0]!} ${l.replace(/^\S+ -A /, '-D ')}`], { stdio: 'ignore' });
    assert.deepEqual(berth0Rules(), []);
  }
  for (const a of atts) assert.ok(traces(a).includes('CNI result'), 'the result stays, as on disk');
  // the first berth command after it
  const ps = berthOk(root, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  assert.match(ps, /always Exited \(137\)/);
  assert.match(ps, /plain Exited \(137\)/);
  for (const a of atts) assert.deepEqual(traces(a), [], 'its stale lease and result were removed');
  for (const n of ['always', 'plain']) {
    assert.equal(statusOf(n), 'exited');
    assert.equal(ipOf(n), '', 'no stale NetworkSettings');
  }
  // what contrib/berth-restart.service runs at boot (its unit checked by systemd-analyze where there is one)
  const out = berthOk(root, ['start', '--all', '--filter', 'restart-policy=always']);
  assert.equal(out.trim(), 'always');
  assert.equal(statusOf('always'), 'running');
  assert.equal(statusOf('plain'), 'exited');
  const unless = berthOk(root, ['start', '--all', '--filter', 'restart-policy=unless-stopped']);
  assert.equal(unless.trim(), 'unless', 'the one a user stopped stays stopped');
  assert.equal(statusOf('ustopped'), 'exited');
  assert.equal(ipOf('always'), atts[0]!.ip, 'its address again');
  if (rebooted) assert.equal(berth0Rules().length, 7, "berth0's rules made again, once");
  const res = await fetch(`http://127.0.0.1:${port}/hostname`);
  assert.equal(res.status, 200);
  assert.equal((await res.text()).trim(), idOf('always').slice(0, 12));
  const bad = berth(root, ['start', '--all', '--filter', 'restart-policy=sometimes']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid restart policy "sometimes"/);
  berthOk(root, ['rm', '-f', 'always', 'plain', 'unless', 'ustopped']);
});

test('contrib/berth-restart.service passes systemd-analyze verify', (t) => {
  if (spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status !== 0) {
    t.skip('systemd-analyze is not installed');
    return;
  }
  const dir = fs.mkdtempSync('/tmp/berth-unit-');
  try {
    const unit = fs.readFileSync(`${REPO}/contrib/berth-restart.service`, 'utf8');
    assert.match(unit, /ExecStart=\/usr\/local\/bin\/berth start --all --filter restart-policy=always/);
    // the berth of this checkout in place of the installed one (verify checks that it is executable)
    fs.writeFileSync(`${dir}/berth-restart.service`, unit.replaceAll('/usr/local/bin/berth', `${REPO}/bin/berth`));
    const r = spawnSync('systemd-analyze', ['verify', `${dir}/berth-restart.service`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
