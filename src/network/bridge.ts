import * as fs from 'node:fs';
import { unavailable } from '../core/errors.js';
import { mark } from '../core/trace.js';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../native/index.js';
import { cniAdd, cniDel, type CniResult, type ConfList, type RuntimeConfig } from './cni.js';
import type { PortMap } from './ports.js';
import { preferredAddress, withIpsCapability } from './address.js';
import { makeNetns, netnsInUse, netnsPath, removeNetns } from './netns.js';
import { conflictingMapping, otherMappings, portAllocated, refuseListened, resolvePorts } from './hostports.js';
import { ensureNetworkRules, markRules, rulesMarked, type NetworkRules } from './rules.js';

/**
 * The default `bridge` network, built on the CNI plugins: a bridge `berth0`
 * with the gateway address, a veth per container (bridge plugin), an address
 * from the subnet (host-local IPAM), published ports by DNAT (portmap, which
 * also makes them answer on the host's 127.0.0.1: route_localnet and SNAT; run
 * only for a container that publishes). Masquerade, the FORWARD accepts and the
 * isolation from user networks are the network's own rules, made once at the
 * bridge's first use (rules.ts), as dockerd makes docker0's.
 *
 * Everything lives in /run/berth (host-wide, as the bridge is, and gone at a
 * reboot with the namespaces and rules it describes):
 *   netns/<id>            the container's network namespace (a bind mount of nsfs), which its plan joins
 *   cni/bridge.conflist   the network's CNI configuration (its subnet chosen once, see chooseSubnet)
 *   cni/ipam/berth/       host-local's leases (one file per address, naming its container)
 *   cni/results/<id>.json what ADD returned and the port mappings passed, for DEL, and the container's
 *                         directory in its store (`owner`: system check tells a removed container's leftovers by it)
 */
import { CNI_DIR, RESULTS_DIR } from './run-dirs.js';
export { RUN_DIR, CNI_DIR, RESULTS_DIR } from './run-dirs.js';
export const BRIDGE_NAME = 'berth0';
export const CNI_NETWORK = 'berth';
export const CONFLIST_PATH = `${CNI_DIR}/bridge.conflist`;
export const IPAM_DIR = `${CNI_DIR}/ipam`;
export { NETNS_DIR, netnsPath, makeNetns, removeNetns, netnsInUse } from './netns.js';
export { resolvePorts, conflictingMapping, otherMappings, portAllocated, refuseListened } from './hostports.js';
export const resultPath = (id: string): string => `${RESULTS_DIR}/${id}.json`;
/** host-local's lease files of the bridge network: one per address, naming its container. */
export const LEASES_DIR = `${IPAM_DIR}/${CNI_NETWORK}`;

/** What cni/results/<id>.json holds. */
export interface SavedAttachment {
  owner?: string;
  /** The conflist ADD ran (DEL runs the same plugins with the same config). */
  conflist?: ConfList;
  runtime?: RuntimeConfig;
  plugins?: string[];
  result?: CniResult;
}

/** The bridge network's conflist (pure): Docker's defaults where CNI has them. */
export function bridgeConflist(subnet: string, gateway: string, ipamDir = IPAM_DIR): ConfList {
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE_NAME,
        isGateway: true,
        // masquerade and FORWARD accepts are the network's own rules, made once (rules.ts), not per container
        ipMasq: false,
        // a container reaches its own published port through the host's address
        hairpinMode: true,
        // a restarted container asks host-local for its previous address (runtimeConfig.ips)
        capabilities: { ips: true },
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet, gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDir,
        },
      },
      // snat: a port published on 127.0.0.1 answers there too (route_localnet on the bridge, masquerade of 127/8)
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** An IPv4 route: destination and mask as 32-bit numbers, its device. */
export interface Route {
  dst: number;
  mask: number;
  iface: string;
}

/** /proc/net/route's text as routes (addresses there are little-endian hex). */
export function parseProcRoutes(text: string): Route[] {
  const le = (h: string) => {
    const n = parseInt(h, 16);
    return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
  };
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8)
    .map((f) => ({ iface: f[0]!, dst: le(f[1]!), mask: le(f[7]!) }));
}

/**
 * The subnet of the bridge: Docker's 172.17.0.0/16 unless a route of the host overlaps it, else the first free of
 * 172.18-31.0.0/16 (as dockerd picks from its default pools). Default routes do not count, nor berth's own bridge.
 */
export function chooseSubnet(routes: readonly Route[]): { subnet: string; gateway: string } {
  for (let b = 17; b <= 31; b++) {
    const net = ((172 << 24) | (b << 16)) >>> 0;
    const mask = 0xffff0000;
    const taken = routes.some((r) => {
      if (r.mask === 0 || r.iface === BRIDGE_NAME) return false;
      const m = (r.mask & mask) >>> 0; // the shorter of the two masks
      return (r.dst & m) >>> 0 === (net & m) >>> 0;
    });
    if (!taken) return { subnet: `172.${b}.0.0/16`, gateway: `172.${b}.0.1` };
  }
  throw unavailable('no_subnet', 'bridge network: every subnet of 172.17-31.0.0/16 overlaps a route of this host');
}

/** The subnet and gateway of a bridge conflist (its IPAM's first range). */
export function conflistRange(list: ConfList): { subnet: string; gateway: string } {
  const ipam = list.plugins[0]?.ipam as { ranges?: Array<Array<{ subnet?: string; gateway?: string }>> } | undefined;
  const r = ipam?.ranges?.[0]?.[0];
  return { subnet: r?.subnet ?? '', gateway: r?.gateway ?? '' };
}

/** The default bridge's per-network rules (rules.ts) for its conflist. */
export const defaultRules = (list: ConfList): NetworkRules => ({
  bridge: BRIDGE_NAME,
  subnet: conflistRange(list).subnet,
  internal: false,
  masquerade: true,
});

/**
 * The bridge's conflist: the one written before (its subnet stays; one of an older berth, with per-container
 * masquerade and the firewall plugin, rewritten on the same subnet), or a new one on a free subnet.
 */
export function ensureConflist(): ConfList {
  let range: { subnet: string; gateway: string } | undefined;
  try {
    const list = JSON.parse(fs.readFileSync(CONFLIST_PATH, 'utf8')) as ConfList;
    if (!list.plugins.some((p) => p.type === 'firewall' || p.ipMasq)) return list;
    range = conflistRange(list);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(CNI_DIR, { recursive: true, mode: 0o755 });
  const { subnet, gateway } = range ?? chooseSubnet(parseProcRoutes(fs.readFileSync('/proc/net/route', 'utf8')));
  const tmp = `${CONFLIST_PATH}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(bridgeConflist(subnet, gateway), null, 2)}\n`);
  fs.renameSync(tmp, CONFLIST_PATH);
  return JSON.parse(fs.readFileSync(CONFLIST_PATH, 'utf8')) as ConfList;
}

/**
 * The conflist as a container uses it: without portmap when it publishes nothing (portmap would add no rule; its
 * process is spared at ADD and at DEL).
 */
export function withoutIdlePlugins(list: ConfList, publishes: boolean): ConfList {
  return publishes ? list : { ...list, plugins: list.plugins.filter((p) => p.type !== 'portmap') };
}

/**
 * Run CNI plugins one berth process at a time (host-wide flock on cni/lock): the plugins make the bridge and their
 * global iptables chains on first use, which two processes doing at once could each find half made.
 */
export async function withCniLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(CNI_DIR, { recursive: true, mode: 0o755 });
  const fd = fs.openSync(`${CNI_DIR}/lock`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    // polled, not blocking: a blocking flock would stall this process's event loop
    while (!flock(fd, LOCK_EX | LOCK_NB)) await new Promise((r) => setTimeout(r, 5));
    try {
      return await fn();
    } finally {
      flock(fd, LOCK_UN);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** What a container got on the bridge (inspect's NetworkSettings is made from it). */
export interface BridgeEndpoint {
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  /** Every exposed or published port; published ones with the host port actually bound (-P, an empty host port). */
  Ports: PortMap;
  /** The netns the container's plan joins. */
  SandboxKey: string;
}

/** How a container connects: `previousIp` to have again if it is free, `owner` its directory in its store. */
export interface ConnectOptions {
  previousIp?: string;
  owner?: string;
}

/**
 * Connect a container to the bridge: its netns, then CNI ADD (veth, address, NAT, ports). A failure undoes what was
 * done. The result is kept for DEL.
 */
export async function connectBridge(
  id: string,
  bindings: PortMap,
  exposed: readonly string[],
  publishAll: boolean,
  opts: ConnectOptions = {},
): Promise<BridgeEndpoint> {
  // a start after a run nobody settled (a killed berth): its old attachment goes first
  if (hasNetwork(id)) await disconnectBridge(id);
  const { ports, mappings } = await resolvePorts(bindings, exposed, publishAll);
  const list = withIpsCapability(withoutIdlePlugins(ensureConflist(), mappings.length > 0));
  const runtime: RuntimeConfig = { portMappings: mappings };
  const owner = opts.owner;
  const save = (extra: Omit<SavedAttachment, 'owner'>) =>
    fs.writeFileSync(resultPath(id), JSON.stringify({ ...(owner ? { owner } : {}), ...extra }));
  fs.mkdirSync(RESULTS_DIR, { recursive: true, mode: 0o755 });
  // before the netns: a netns without a result is a leftover (system check), never a start under way
  save({ plugins: [] });
  let result: CniResult;
  try {
    const netns = await makeNetns(id);
    mark('network: netns');
    const a = { containerId: id, netns, ifname: 'eth0' };
    for (const m of mappings) await refuseListened(m);
    result = await withCniLock(async () => {
      // under the lock: no other start can take the same host port meanwhile
      const taken = conflictingMapping(mappings, otherMappings(id));
      if (taken) throw portAllocated(taken);
      // the previous address again if it is free (host-local refuses a leased one)
      const ip = preferredAddress(list, opts.previousIp, (addr) => fs.existsSync(`${LEASES_DIR}/${addr}`));
      if (ip) runtime.ips = [ip];
      // written before ADD: a berth killed in the middle leaves what DEL needs to undo it
      save({ conflist: list, runtime, plugins: list.plugins.map((p) => p.type) });
      // the network's rules, once per bridge (at its first use, again after a reboot)
      const fresh = !rulesMarked(BRIDGE_NAME);
      if (fresh) await ensureNetworkRules(defaultRules(list));
      const r = await cniAdd(list, a, runtime);
      if (fresh) markRules(BRIDGE_NAME);
      return r;
    });
  } catch (err) {
    await disconnectBridge(id).catch(() => {});
    throw err;
  }
  const netns = netnsPath(id);
  save({ conflist: list, runtime, plugins: list.plugins.map((p) => p.type), result });
  const ip = result.ips?.find((i) => !i.address.includes(':'));
  const iface = ip?.interface !== undefined ? result.interfaces?.[ip.interface] : undefined;
  const [addr, len] = (ip?.address ?? '/0').split('/');
  return {
    IPAddress: addr ?? '',
    IPPrefixLen: Number(len),
    Gateway: ip?.gateway ?? '',
    MacAddress: iface?.mac ?? '',
    Ports: ports,
    SandboxKey: netns,
  };
}

/** Whether a container has anything on a network: its netns, the bridge's CNI result, user networks' attachments. */
export function hasNetwork(id: string): boolean {
  return fs.existsSync(netnsPath(id)) || fs.existsSync(resultPath(id)) || fs.existsSync(`${CNI_DIR}/attach/${id}`);
}

/**
 * Disconnect a container: CNI DEL (veth, lease, NAT and port rules), then its netns. Idempotent: what is already gone
 * is skipped. DEL failures are reported after the netns is removed.
 */
export async function disconnectBridge(id: string): Promise<void> {
  let saved: SavedAttachment | undefined;
  try {
    saved = JSON.parse(fs.readFileSync(resultPath(id), 'utf8')) as typeof saved;
  } catch {
    saved = undefined;
  }
  let failure: unknown;
  if (saved || fs.existsSync(netnsPath(id))) {
    let list: ConfList | undefined = saved?.conflist;
    if (!list)
      try {
        list = JSON.parse(fs.readFileSync(CONFLIST_PATH, 'utf8')) as ConfList;
      } catch {
        list = undefined;
      }
    // DEL runs the plugins ADD ran
    if (list && saved?.plugins)
      list = { ...list, plugins: list.plugins.filter((p) => saved!.plugins!.includes(p.type)) };
    // with ADD's result and no process left in the netns: the netns goes first, taking its end of the veth and so
    // the host's with it (the kernel tears it down off this path, where a DEL's own link removal waits for it);
    // DEL then releases the address (bridge plugin without a netns) and portmap's rules
    const early = !!saved?.result && !netnsInUse(id);
    if (early) removeNetns(id);
    if (list)
      await withCniLock(() =>
        cniDel(
          list,
          { containerId: id, netns: early ? '' : netnsPath(id), ifname: 'eth0' },
          saved?.runtime ?? {},
          saved?.result,
          // with the ADD result every plugin knows what to remove: all at once (see cniDel)
          !!saved?.result,
        ),
      ).catch((err: unknown) => {
        failure = err;
      });
  }
  removeNetns(id);
  mark('network: netns removed');
  if (!failure) fs.rmSync(resultPath(id), { force: true });
  if (failure) {
    // without a result (ADD never finished) a plugin may find nothing to delete: that is no failure
    if (!saved?.result) {
      fs.rmSync(resultPath(id), { force: true });
      return;
    }
    throw failure;
  }
}
