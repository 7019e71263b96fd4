import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MNT_DETACH, umount2 } from '../native/index.js';
import { ATTACH_DIR, attachments, detachUser } from './attach.js';
import {
  disconnectBridge,
  IPAM_DIR,
  LEASES_DIR,
  NETNS_DIR,
  netnsPath,
  RESULTS_DIR,
  resultPath,
  type SavedAttachment,
  withCniLock,
} from './bridge.js';
import { DNS_DIR, dnsEntriesById, removeDnsEntries } from './dns.js';

/**
 * Network leftovers: what a container's networks keep under /run/berth (its
 * netns mount; the bridge's CNI result and host-local lease; each user
 * network's attachment, lease under cni/ipam/berth-<id12>/ and name in
 * aardvark-dns's file) while no container of a store runs with it: a container removed while its network stayed (a berth
 * killed between the two), a store deleted with running containers, a start
 * killed half-way. `system check` reports them and `--repair` removes them
 * (CNI DEL, which also drops the veth and the NAT and port rules, then
 * whatever DEL could not remove).
 *
 * /run/berth is shared by every store of the host, so an entry is judged by
 * the container directory its result or an attachment names (`owner`; an
 * attachment of an older berth names none: it is this store's container if the
 * network is this store's, else left alone): a directory that is gone
 * means a removed container, one of another store that exists is left alone.
 * A container of this store that exists is settled by the store itself (see
 * store-settle.ts), not here. A netns, lease or name without a result or an
 * attachment is always a leftover: a start writes those first and a release
 * removes them last;
 * only one made in the last minute is spared (a start of an older berth).
 * What belongs to no existing store (`mine` false: a store deleted, no result)
 * is an orphan of the host: every store's check lists it and its --repair
 * removes it, but it does not make a store's check fail.
 */

export interface NetworkLeftover {
  /** The container id the entries are of. */
  id: string;
  /** What is left, as paths under /run/berth. */
  where: string[];
  message: string;
  /** Of a container of this store (removed): a leftover of the store; else an orphan of the host. */
  mine: boolean;
}

/** How old an entry without a result must be to count (a start of an older berth writes it after the netns). */
const GRACE_MS = 60_000;

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readSaved(id: string): SavedAttachment | undefined {
  try {
    return JSON.parse(fs.readFileSync(resultPath(id), 'utf8')) as SavedAttachment;
  } catch {
    return undefined;
  }
}

/** The lease files of a network (default: the bridge's) by container id (host-local writes `id\r\nifname` in each). */
export function leasesById(dir = LEASES_DIR): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of list(dir)) {
    if (!/^[0-9.]+$|:/.test(f)) continue; // lock, last_reserved_ip.0
    let id: string;
    try {
      id = fs.readFileSync(`${dir}/${f}`, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch {
      continue;
    }
    if (!id) continue;
    out.set(id, [...(out.get(id) ?? []), `${dir}/${f}`]);
  }
  return out;
}

function young(path: string, now: number): boolean {
  try {
    return now - fs.statSync(path).mtimeMs < GRACE_MS;
  } catch {
    return false;
  }
}

/** host-local's lease files of every user network (cni/ipam/berth-<id12>/) by container id. */
export function userLeasesById(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of list(IPAM_DIR)) {
    if (!/^berth-[0-9a-f]{12}$/.test(d)) continue;
    for (const [id, files] of leasesById(`${IPAM_DIR}/${d}`)) out.set(id, [...(out.get(id) ?? []), ...files]);
  }
  return out;
}

/** Where the network leftovers of this host are looked for (the defaults: /run/berth's). */
export interface LeftoverScan {
  /** The store's containers directory. */
  containersDir: string;
  /** The store's network definitions (berth/networks): an attachment without owner to one of them is the store's. */
  networksDir?: string;
  now?: number;
}

/**
 * The network leftovers on this host that concern a store, or no store any more; read under the CNI lock: starts and
 * releases change these files under it (a name is written after its attachment, removed before it).
 */
export function findNetworkLeftovers(scan: LeftoverScan): Promise<NetworkLeftover[]> {
  return withCniLock(async () => scanLeftovers(scan));
}

/** findNetworkLeftovers, the lock held (or a string: the containers directory). */
export function scanLeftovers(scan: LeftoverScan | string, nowArg = Date.now()): NetworkLeftover[] {
  const { containersDir, networksDir, now = nowArg } = typeof scan === 'string' ? { containersDir: scan } : scan;
  const mine = resolve(containersDir);
  const results = new Set(list(RESULTS_DIR).flatMap((f) => (f.endsWith('.json') ? [f.slice(0, -5)] : [])));
  const netns = new Set(list(NETNS_DIR));
  const leases = leasesById();
  const userLeases = userLeasesById();
  const attached = new Set(list(ATTACH_DIR));
  const dns = dnsEntriesById();
  const ids = new Set([...results, ...netns, ...leases.keys(), ...userLeases.keys(), ...attached, ...dns.keys()]);
  const out: NetworkLeftover[] = [];
  for (const id of ids) {
    if (!/^[0-9a-f]{64}$/.test(id)) continue;
    const atts = attached.has(id) ? attachments(id) : [];
    const where = [
      ...(netns.has(id) ? [netnsPath(id)] : []),
      ...(results.has(id) ? [resultPath(id)] : []),
      ...(leases.get(id) ?? []),
      ...atts.map((a) => `${ATTACH_DIR}/${id}/${a.networkId}.json`),
      ...(userLeases.get(id) ?? []),
      ...(dns.get(id) ?? []).map((n) => `${DNS_DIR}/${n} (name)`),
    ];
    if (!results.has(id) && !atts.length) {
      // of a container of this store that exists: its own settling releases it
      if (fs.existsSync(`${mine}/${id}`)) continue;
      if (where.some((p) => young(p.replace(/ \(name\)$/, ''), now))) continue;
      out.push({
        id,
        where,
        message: 'network of a start or release that did not finish (no CNI result)',
        mine: false,
      });
      continue;
    }
    let owner: string | undefined;
    if (results.has(id)) {
      const saved = readSaved(id);
      if (!saved && !atts.length) continue; // being written
      owner = saved?.owner;
    }
    owner ??= atts.find((a) => a.owner)?.owner;
    // an attachment of an older berth (no owner) to one of this store's networks: a container of this store
    if (!owner && networksDir && atts.some((a) => fs.existsSync(`${networksDir}/${a.networkId}.json`)))
      owner = `${mine}/${id}`;
    // whose it is is unknown (a result or attachment written before they named their owner): left alone
    if (!owner) continue;
    const dir = resolve(owner);
    // a container that exists: its own store settles it
    if (fs.existsSync(dir)) continue;
    const ours = dirname(dir) === mine;
    out.push({
      id,
      where,
      mine: ours,
      message: ours
        ? 'network of a removed container'
        : `network of a container of a store that is gone (${dirname(dirname(dir))})`,
    });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Remove a leftover: its user networks' attachments (DNS entry, CNI DEL: veth, lease, rules), the bridge's (CNI DEL),
 * then whatever DEL left: netns, result, leases, names.
 */
export async function removeNetworkLeftover(l: NetworkLeftover): Promise<void> {
  const failures: string[] = [];
  for (const a of attachments(l.id))
    await detachUser(l.id, netnsPath(l.id), a.networkId).catch((err: unknown) => {
      failures.push(`CNI DEL ${a.network}: ${(err as Error).message}`);
    });
  await disconnectBridge(l.id).catch((err: unknown) => {
    failures.push(`CNI DEL bridge: ${(err as Error).message}`);
  });
  const path = netnsPath(l.id);
  try {
    umount2(path, MNT_DETACH);
  } catch {
    /* not mounted */
  }
  fs.rmSync(path, { force: true });
  fs.rmSync(resultPath(l.id), { force: true });
  fs.rmSync(`${ATTACH_DIR}/${l.id}`, { recursive: true, force: true });
  for (const f of leasesById().get(l.id) ?? []) fs.rmSync(f, { force: true });
  for (const f of userLeasesById().get(l.id) ?? []) fs.rmSync(f, { force: true });
  if (dnsEntriesById().has(l.id)) await withCniLock(() => removeDnsEntries(l.id));
  for (const f of failures) process.emitWarning(`network of ${l.id.slice(0, 12)}: ${f}`);
}
