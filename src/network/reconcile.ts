import * as fs from 'node:fs';

/**
 * After a reboot (or anything else that took a user network's bridge away),
 * the first berth command of a store makes its networks' bridges again, with
 * their gateway addresses, before anything chooses a subnet by the host's
 * routes (the default bridge's first start, `network create`) or attaches a
 * container: dockerd re-creates its networks' bridges when it starts. The
 * check is cheap (one directory read, a stat per network); the module that
 * runs `ip` is loaded only when a bridge is missing.
 */

interface Stored {
  Id: string;
  Options?: Record<string, string>;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> };
}

/** The bridge name of a stored network (as attach.ts's bridgeOf, without loading it). */
const bridgeOf = (n: Stored): string => n.Options?.['com.docker.network.bridge.name'] || `br-${n.Id.slice(0, 12)}`;

/** The store's networks whose bridge the host lacks (pure but for the reads). */
export function missingBridges(
  root: string,
  exists = (iface: string) => fs.existsSync(`/sys/class/net/${iface}`),
): Stored[] {
  const dir = `${root}/berth/networks`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: Stored[] = [];
  for (const f of names) {
    if (!/^[0-9a-f]{64}\.json$/.test(f)) continue;
    let n: Stored;
    try {
      n = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')) as Stored;
    } catch {
      continue; // removed meanwhile, or corrupt (`network ls` reports that)
    }
    if (n.IPAM?.Config?.[0]?.Gateway && !exists(bridgeOf(n))) out.push(n);
  }
  return out;
}

/**
 * Make the bridges of the store's networks the host lacks; a failure is a warning (the command goes on). A network
 * removed meanwhile (its record gone once its bridge is made) has its bridge taken away again.
 */
export async function remakeBridges(root: string): Promise<string[]> {
  const missing = missingBridges(root);
  if (!missing.length) return [];
  const { createBridge, removeNetworkHostSide } = await import('./attach.js');
  const made: string[] = [];
  for (const n of missing) {
    const rec = n as import('./store.js').NetworkRecord;
    try {
      await createBridge(rec);
      made.push(bridgeOf(n));
      if (!fs.existsSync(`${root}/berth/networks/${n.Id}.json`)) await removeNetworkHostSide(rec);
    } catch (err) {
      process.emitWarning(`network ${n.Id.slice(0, 12)}: making its bridge ${bridgeOf(n)}: ${(err as Error).message}`);
    }
  }
  return made;
}
