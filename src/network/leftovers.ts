import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MNT_DETACH, umount2 } from '../native/index.js';
import {
  disconnectBridge,
  LEASES_DIR,
  NETNS_DIR,
  netnsPath,
  RESULTS_DIR,
  resultPath,
  type SavedAttachment,
} from './bridge.js';

/**
 * Network leftovers: what the bridge keeps per container under /run/berth (its
 * netns mount, its CNI result, its host-local lease) while no container of a
 * store runs with it: a container removed while its network stayed (a berth
 * killed between the two), a store deleted with running containers, a start
 * killed half-way. `system check` reports them and `--repair` removes them
 * (CNI DEL, which also drops the veth and the NAT and port rules, then
 * whatever DEL could not remove).
 *
 * /run/berth is shared by every store of the host, so an entry is judged by
 * the container directory its result names (`owner`): a directory that is gone
 * means a removed container, one of another store that exists is left alone.
 * A container of this store that exists is settled by the store itself (see
 * store-settle.ts), not here. A netns or lease without a result is always a
 * leftover: a start writes its result first and a release removes it last;
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

/** The lease files of the bridge network by container id (host-local writes `id\r\nifname` in each). */
export function leasesById(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of list(LEASES_DIR)) {
    if (!/^[0-9.]+$|:/.test(f)) continue; // lock, last_reserved_ip.0
    let id: string;
    try {
      id = fs.readFileSync(`${LEASES_DIR}/${f}`, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch {
      continue;
    }
    if (!id) continue;
    out.set(id, [...(out.get(id) ?? []), `${LEASES_DIR}/${f}`]);
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

/**
 * The network leftovers on this host that concern the store whose containers live in `containersDir`, or no store
 * any more.
 */
export function findNetworkLeftovers(containersDir: string, now = Date.now()): NetworkLeftover[] {
  const mine = resolve(containersDir);
  const results = new Set(list(RESULTS_DIR).flatMap((f) => (f.endsWith('.json') ? [f.slice(0, -5)] : [])));
  const netns = new Set(list(NETNS_DIR));
  const leases = leasesById();
  const ids = new Set([...results, ...netns, ...leases.keys()]);
  const out: NetworkLeftover[] = [];
  for (const id of ids) {
    if (!/^[0-9a-f]{64}$/.test(id)) continue;
    const where = [
      ...(netns.has(id) ? [netnsPath(id)] : []),
      ...(results.has(id) ? [resultPath(id)] : []),
      ...(leases.get(id) ?? []),
    ];
    if (!results.has(id)) {
      if (where.some((p) => young(p, now))) continue;
      out.push({
        id,
        where,
        message: 'network of a start or release that did not finish (no CNI result)',
        mine: false,
      });
      continue;
    }
    const saved = readSaved(id);
    if (!saved) continue; // being written
    const owner = saved.owner ? resolve(saved.owner) : undefined;
    if (owner) {
      if (fs.existsSync(owner)) {
        // a container that exists: its own store settles it
        continue;
      }
      out.push({
        id,
        where,
        mine: dirname(owner) === mine,
        message:
          dirname(owner) === mine
            ? 'network of a removed container'
            : `network of a container of a store that is gone (${dirname(dirname(owner))})`,
      });
      continue;
    }
    // a result written before results named their owner: whose it is is unknown, it is left alone
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** Remove a leftover: CNI DEL (veth, lease, rules, netns), then whatever DEL left. */
export async function removeNetworkLeftover(l: NetworkLeftover): Promise<void> {
  let failure: unknown;
  await disconnectBridge(l.id).catch((err: unknown) => {
    failure = err;
  });
  const path = netnsPath(l.id);
  try {
    umount2(path, MNT_DETACH);
  } catch {
    /* not mounted */
  }
  fs.rmSync(path, { force: true });
  fs.rmSync(resultPath(l.id), { force: true });
  for (const f of leasesById().get(l.id) ?? []) fs.rmSync(f, { force: true });
  if (failure) process.emitWarning(`network of ${l.id.slice(0, 12)}: CNI DEL: ${(failure as Error).message}`);
}
