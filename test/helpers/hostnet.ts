/**
 * The host's networking as a test file found it (berth0, the CNI plugins' and berth's own iptables chains and rules,
 * ip_forward), and
 * putting it back: what the file's containers added goes, once no container uses the bridge (other test files may
 * run containers on it meanwhile: then it stays, as docker0 stays). The check and the removal hold berth's CNI lock,
 * so no container is attached in between.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../../src/native/index.js';

export interface HostNet {
  bridge: boolean;
  chains: Set<string>;
  rules: Set<string>;
  forward: string;
}

export function hostNet(): HostNet {
  const chains = new Set<string>();
  const rules = new Set<string>();
  for (const table of ['filter', 'nat']) {
    const out = spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '';
    for (const l of out.split('\n')) {
      if (/^:(CNI|BERTH)-/.test(l)) chains.add(`${table} ${l.slice(1).split(' ')[0]}`);
      if (/^-A .*(CNI|BERTH)-/.test(l)) rules.add(`${table} ${l}`);
    }
  }
  return {
    bridge: spawnSync('ip', ['link', 'show', 'berth0'], { stdio: 'ignore' }).status === 0,
    chains,
    rules,
    forward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
  };
}

function restoreNow(was: HostNet): void {
  const now = hostNet();
  // berth's records of which bridges have their rules (rules.ts): checked again at the next use
  if ([...now.rules].some((r) => !was.rules.has(r)))
    fs.rmSync('/run/berth/cni/rules', { recursive: true, force: true });
  // rules first (jumps into the chains), then the chains themselves
  for (const r of now.rules) {
    if (was.rules.has(r)) continue;
    const [table, ...rest] = r.split(' ');
    const args = rest.join(' ').replace(/^-A /, '-D ');
    spawnSync('sh', ['-c', `iptables -t ${table} ${args}`], { stdio: 'ignore' });
  }
  for (const c of now.chains) {
    if (was.chains.has(c)) continue;
    const [table, chain] = c.split(' ');
    spawnSync('iptables', ['-t', table!, '-F', chain!], { stdio: 'ignore' });
    spawnSync('iptables', ['-t', table!, '-X', chain!], { stdio: 'ignore' });
  }
  if (!was.bridge && now.bridge) spawnSync('ip', ['link', 'del', 'berth0'], { stdio: 'ignore' });
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', was.forward);
}

/** Put back what `was` recorded, unless a container (of any test file) is on the bridge; true if it was put back. */
export function restoreHostNetWhenIdle(was: HostNet): boolean {
  const busy = () => {
    try {
      return fs.readdirSync('/run/berth/netns').length > 0;
    } catch {
      return false;
    }
  };
  if (busy()) return false;
  fs.mkdirSync('/run/berth/cni', { recursive: true });
  // under berth's CNI lock (bridge.ts's withCniLock): no ADD runs while the check and the removal do
  const lock = fs.openSync('/run/berth/cni/lock', fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    const until = Date.now() + 30_000;
    while (!flock(lock, LOCK_EX | LOCK_NB)) {
      if (Date.now() > until) return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    try {
      if (busy()) return false;
      restoreNow(was);
      return true;
    } finally {
      flock(lock, LOCK_UN);
    }
  } finally {
    fs.closeSync(lock);
  }
}

/**
 * berth's chains (rules.ts) that were not in `before` ("table chain"), removed with the jumps to them, when no
 * network's rule is left in them (each network removes its own at `network rm`; the default bridge's stay while it
 * does).
 */
export function removeIdleBerthChains(before: Set<string>): void {
  const save = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout ?? '';
  let table = '';
  const chains: string[] = [];
  const jumps: string[] = [];
  let busy = false;
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) table = l.slice(1);
    else if (l.startsWith(':BERTH-')) chains.push(`${table} ${l.slice(1).split(' ')[0]}`);
    else if (/^-A \S+ -j BERTH-\S+$/.test(l)) jumps.push(`${table} ${l}`);
    else if (l.startsWith('-A BERTH-')) busy = true;
  }
  if (busy || chains.every((c) => before.has(c))) return;
  for (const j of jumps) {
    const [t, ...rest] = j.split(' ');
    spawnSync('iptables', ['-t', t!, ...rest.join(' ').replace(/^-A /, '-D ').split(' ')], { stdio: 'ignore' });
  }
  for (const c of chains) {
    const [t, chain] = c.split(' ');
    spawnSync('iptables', ['-t', t!, '-X', chain!], { stdio: 'ignore' });
  }
  fs.rmSync('/run/berth/cni/rules', { recursive: true, force: true });
}
