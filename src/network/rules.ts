import * as fs from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { unavailable } from '../core/errors.js';
import { mark } from '../core/trace.js';

/**
 * A network's iptables rules, made once per network (as dockerd's bridge driver does) rather than per container by
 * the CNI plugins: masquerade of the subnet, the FORWARD accepts and the isolation from other networks, in berth's own
 * chains (filter: BERTH-FORWARD, BERTH-ISOLATION-STAGE-1/2 jumped to from FORWARD; nat: BERTH-POSTROUTING from
 * POSTROUTING). Made when the network's bridge is (the default bridge at its first use, a user network at `network
 * create`), removed at `network rm`; each change is one iptables-save and at most one iptables-restore --noflush.
 *
 * rules/<bridge> (under /run/berth/cni, gone at a reboot with the rules) holds the bridge's ifindex once its rules are
 * made: a bridge with the same ifindex has them, a new bridge (a reboot, a removed bridge) gets them checked again.
 */
// (spelled out: bridge.ts imports this module)
export const RULES_DIR = '/run/berth/cni/rules';
export const FORWARD_CHAIN = 'BERTH-FORWARD';
export const POSTROUTING_CHAIN = 'BERTH-POSTROUTING';
export const ISOLATION_1 = 'BERTH-ISOLATION-STAGE-1';
export const ISOLATION_2 = 'BERTH-ISOLATION-STAGE-2';

/** What a network's rules depend on. */
export interface NetworkRules {
  bridge: string;
  subnet: string;
  /** No way out: no masquerade, nothing forwarded off the bridge nor onto it from elsewhere. */
  internal: boolean;
  masquerade: boolean;
}

/** A rule as iptables-save prints it (`-A CHAIN ...`) in its table. */
export interface Rule {
  table: 'filter' | 'nat';
  rule: string;
}

/** The chains every network's rules live in, and the jumps to them (pure). */
export function sharedRules(): { chains: Rule[]; jumps: Rule[] } {
  return {
    chains: [
      { table: 'filter', rule: FORWARD_CHAIN },
      { table: 'filter', rule: ISOLATION_1 },
      { table: 'filter', rule: ISOLATION_2 },
      { table: 'nat', rule: POSTROUTING_CHAIN },
    ],
    // each first in its chain (inserted): before rules others put there (a DROP, a CNI chain)
    jumps: [
      { table: 'filter', rule: `-A FORWARD -j ${FORWARD_CHAIN}` },
      { table: 'filter', rule: `-A ${FORWARD_CHAIN} -j ${ISOLATION_1}` },
      { table: 'nat', rule: `-A POSTROUTING -j ${POSTROUTING_CHAIN}` },
    ],
  };
}

/** One network's rules, in iptables-save's spelling (pure). */
export function networkRules(n: NetworkRules): Rule[] {
  const { bridge: br, subnet } = n;
  const f = (rule: string): Rule => ({ table: 'filter', rule });
  const out: Rule[] = [
    // a packet from this bridge to another network's is dropped at stage 2 (on the other's -o rule)
    f(`-A ${ISOLATION_1} -i ${br} ! -o ${br} -j ${ISOLATION_2}`),
    f(`-A ${ISOLATION_2} -o ${br} -j DROP`),
  ];
  if (n.internal)
    out.push(
      f(`-A ${ISOLATION_1} ! -s ${subnet} -o ${br} -j DROP`),
      f(`-A ${ISOLATION_1} ! -d ${subnet} -i ${br} -j DROP`),
    );
  out.push(f(`-A ${FORWARD_CHAIN} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`));
  // published ports: what portmap's DNAT sends onto the bridge
  if (!n.internal) out.push(f(`-A ${FORWARD_CHAIN} -o ${br} -m conntrack --ctstate DNAT -j ACCEPT`));
  if (!n.internal) out.push(f(`-A ${FORWARD_CHAIN} -i ${br} ! -o ${br} -j ACCEPT`));
  out.push(f(`-A ${FORWARD_CHAIN} -i ${br} -o ${br} -j ACCEPT`));
  if (!n.internal && n.masquerade)
    out.push({ table: 'nat', rule: `-A ${POSTROUTING_CHAIN} -s ${subnet} ! -o ${br} -j MASQUERADE` });
  return out;
}

/** iptables-save's text as each table's chains and rules (pure). */
export function parseSave(text: string): Map<string, { chains: Set<string>; rules: Set<string> }> {
  const tables = new Map<string, { chains: Set<string>; rules: Set<string> }>();
  let cur: { chains: Set<string>; rules: Set<string> } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { chains: new Set(), rules: new Set() };
      tables.set(line.slice(1).trim(), cur);
    } else if (cur && line.startsWith(':')) cur.chains.add(line.slice(1).split(' ')[0]!);
    else if (cur && line.startsWith('-A ')) cur.rules.add(line.trim());
  }
  return tables;
}

type Saved = ReturnType<typeof parseSave>;
const has = (s: Saved, r: Rule) => s.get(r.table)?.rules.has(r.rule) ?? false;
const hasChain = (s: Saved, r: Rule) => s.get(r.table)?.chains.has(r.rule) ?? false;

/** The iptables-restore --noflush batch that adds what `want` lacks from `saved` ('' if nothing) (pure). */
export function addBatch(saved: Saved, want: readonly Rule[]): string {
  const { chains, jumps } = sharedRules();
  const lines = new Map<string, string[]>([
    ['filter', []],
    ['nat', []],
  ]);
  // a chain declared with --noflush is flushed: only missing ones are
  for (const c of chains) if (!hasChain(saved, c)) lines.get(c.table)!.push(`:${c.rule} - [0:0]`);
  for (const j of jumps) if (!has(saved, j)) lines.get(j.table)!.push(j.rule.replace(/^-A (\S+)/, '-I $1 1'));
  for (const r of want) if (!has(saved, r)) lines.get(r.table)!.push(r.rule);
  return batch(lines);
}

/** berth's rules that name the bridge (-i or -o), whatever network made them (pure). */
export function rulesOf(saved: Saved, bridge: string): Rule[] {
  const out: Rule[] = [];
  for (const table of ['filter', 'nat'] as const)
    for (const rule of saved.get(table)?.rules ?? []) {
      const t = rule.split(' ');
      if (t[1]?.startsWith('BERTH-') && t.some((w, i) => w === bridge && (t[i - 1] === '-i' || t[i - 1] === '-o')))
        out.push({ table, rule });
    }
  return out;
}

/** The batch that deletes `gone` ('' if nothing) (pure). */
export function deleteBatch(gone: readonly Rule[]): string {
  const lines = new Map<string, string[]>([
    ['filter', []],
    ['nat', []],
  ]);
  for (const r of gone) lines.get(r.table)!.push(r.rule.replace(/^-A /, '-D '));
  return batch(lines);
}

function batch(lines: Map<string, string[]>): string {
  let text = '';
  for (const [table, l] of lines) if (l.length) text += `*${table}\n${l.join('\n')}\nCOMMIT\n`;
  return text;
}

const execp = (file: string, args: string[]) => promisify(execFile)(file, args, { maxBuffer: 64 << 20 });

async function save(): Promise<Saved> {
  try {
    const { stdout } = await execp('iptables-save', []);
    return parseSave(stdout);
  } catch (err) {
    throw unavailable('iptables', `iptables-save: ${(err as Error).message}`, err);
  }
}

function restore(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('iptables-restore', ['-w', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(unavailable('iptables', `iptables-restore: ${e.message}`, e)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(unavailable('iptables', `iptables-restore: ${Buffer.concat(err).toString().trim() || code}`)),
    );
    child.stdin.end(text);
  });
}

const markerPath = (bridge: string) => `${RULES_DIR}/${bridge}`;
const ifindex = (bridge: string): string | undefined => {
  try {
    return fs.readFileSync(`/sys/class/net/${bridge}/ifindex`, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Whether the bridge is the one whose rules were made (its ifindex recorded): no iptables process needed. */
export function rulesMarked(bridge: string): boolean {
  const idx = ifindex(bridge);
  if (idx === undefined) return false;
  try {
    return fs.readFileSync(markerPath(bridge), 'utf8').trim() === idx;
  } catch {
    return false;
  }
}

/** Record that the bridge (as it is now) has its rules; nothing if it does not exist yet. */
export function markRules(bridge: string): void {
  const idx = ifindex(bridge);
  if (idx === undefined) return;
  fs.mkdirSync(RULES_DIR, { recursive: true, mode: 0o755 });
  fs.writeFileSync(markerPath(bridge), `${idx}\n`);
}

/** Make the network's rules that are missing (and berth's chains and jumps). Callers hold the CNI lock. */
export async function ensureNetworkRules(n: NetworkRules): Promise<void> {
  const text = addBatch(await save(), networkRules(n));
  if (text) await restore(text);
  markRules(n.bridge);
  mark(`network rules: ${n.bridge}${text ? ' made' : ' present'}`);
}

/** The network's rules checked only when its bridge is not the one they were made for (the cheap path of ADD). */
export async function ensureNetworkRulesOnce(n: NetworkRules): Promise<void> {
  if (!rulesMarked(n.bridge)) await ensureNetworkRules(n);
}

/** Remove every rule of berth's that names the bridge (berth's chains stay, as Docker's do). Callers hold the CNI lock. */
export async function removeNetworkRules(bridge: string): Promise<void> {
  fs.rmSync(markerPath(bridge), { force: true });
  const text = deleteBatch(rulesOf(await save(), bridge));
  if (text) await restore(text);
}
