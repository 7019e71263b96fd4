import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { conflict, invalid } from '../core/errors.js';
import { cniAdd, cniDel, type CniResult, type ConfList, type RuntimeConfig } from './cni.js';
import {
  CNI_DIR,
  IPAM_DIR,
  otherMappings,
  portAllocated,
  refuseListened,
  conflictingMapping,
  withCniLock,
} from './bridge.js';
import { addDnsEntry, removeDnsEntry } from './dns.js';
import type { NetworkRecord } from './store.js';
import { hostLocalRange } from './subnets.js';
import { ensureNetworkRules, ensureNetworkRulesOnce, removeNetworkRules, type NetworkRules } from './rules.js';

/**
 * A container on a user-defined network: a veth from its netns to the
 * network's bridge br-<id12>, an address from the network's subnet
 * (host-local, leases under cni/ipam/berth-<id12>/), a default route unless the
 * network is internal, its names in aardvark-dns. Masquerade, FORWARD accepts
 * and isolation are the network's rules, made with its bridge (rules.ts). One file
 * per attachment, cni/attach/<container>/<network id>.json, keeps the conflist
 * it was made with, the runtime config and ADD's result: DEL needs nothing
 * else (the network's definition may be gone by then).
 */
export const ATTACH_DIR = `${CNI_DIR}/attach`;
const attachDir = (ctr: string): string => `${ATTACH_DIR}/${ctr}`;
const attachPath = (ctr: string, netId: string): string => `${attachDir(ctr)}/${netId}.json`;
export const conflistPath = (netId: string): string => `${CNI_DIR}/net-${netId}.conflist`;
export const bridgeName = (netId: string): string => `br-${netId.slice(0, 12)}`;

/** Docker's bridge driver options berth honours (`network create -o`). */
export const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPT_MTU = 'com.docker.network.driver.mtu';
export const OPT_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';

/** A network's bridge: `-o com.docker.network.bridge.name=` or br-<id12>, as Docker names it. */
export const bridgeOf = (n: Pick<NetworkRecord, 'Id' | 'Options'>): string =>
  n.Options[OPT_BRIDGE_NAME] || bridgeName(n.Id);
export const cniName = (netId: string): string => `berth-${netId.slice(0, 12)}`;

/** A user network's conflist (pure): Docker's bridge driver as CNI plugins. */
export function userConflist(n: NetworkRecord, ipamDir = IPAM_DIR): ConfList {
  const ipam = n.IPAM.Config[0]!;
  return {
    cniVersion: '1.0.0',
    name: cniName(n.Id),
    plugins: [
      {
        type: 'bridge',
        bridge: bridgeOf(n),
        // the gateway address stays on the bridge even when internal: aardvark-dns answers there
        isGateway: true,
        // masquerade, FORWARD accepts and isolation: the network's own rules (rules.ts), made at `network create`
        ipMasq: false,
        ...(n.Options[OPT_MTU] ? { mtu: Number(n.Options[OPT_MTU]) } : {}),
        hairpinMode: true,
        capabilities: { ips: true },
        ipam: {
          type: 'host-local',
          ranges: [[hostLocalRange(ipam)]],
          routes: n.Internal ? [] : [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDir,
        },
      },
      { type: 'tuning', capabilities: { mac: true } },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

/** What a container asks of one network. */
export interface EndpointRequest {
  ifname: string;
  ip?: string;
  mac?: string;
  /** Names besides the container's (--network-alias, connect --alias). */
  aliases: string[];
  /** Its name and every name it answers to (dnsNames). */
  dnsNames: string[];
  portMappings?: NonNullable<RuntimeConfig['portMappings']>;
  /** The container's directory in its store (system check tells a removed container's leftovers by it). */
  owner?: string;
}

export interface Attachment {
  network: string;
  networkId: string;
  ifname: string;
  conflist: ConfList;
  runtime: RuntimeConfig;
  aliases: string[];
  dnsNames: string[];
  result?: CniResult;
  /** See EndpointRequest.owner (absent in attachments of an older berth). */
  owner?: string;
}

/** What an attachment gave: address, prefix, gateway, MAC. */
export interface UserEndpoint {
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
}

export function endpointOf(a: Attachment): UserEndpoint {
  const ip = a.result?.ips?.find((i) => !i.address.includes(':'));
  const iface = ip?.interface !== undefined ? a.result?.interfaces?.[ip.interface] : undefined;
  const [addr, len] = (ip?.address ?? '/0').split('/');
  return {
    IPAddress: addr ?? '',
    IPPrefixLen: Number(len),
    Gateway: ip?.gateway ?? '',
    MacAddress: iface?.mac ?? (a.runtime as { mac?: string }).mac ?? '',
  };
}

/** The attachments of a container (none if it has none), in the order of their interfaces. */
export function attachments(ctr: string): Attachment[] {
  let files: string[];
  try {
    files = fs.readdirSync(attachDir(ctr));
  } catch {
    return [];
  }
  const out: Attachment[] = [];
  for (const f of files) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(fs.readFileSync(`${attachDir(ctr)}/${f}`, 'utf8')) as Attachment);
    } catch {
      /* removed meanwhile */
    }
  }
  return out.sort((a, b) => a.ifname.localeCompare(b.ifname, undefined, { numeric: true }));
}

/** The containers with an attachment to a network (its active endpoints). */
export function attachedTo(netId: string): Array<{ container: string; attachment: Attachment }> {
  let ctrs: string[];
  try {
    ctrs = fs.readdirSync(ATTACH_DIR);
  } catch {
    return [];
  }
  const out: Array<{ container: string; attachment: Attachment }> = [];
  for (const c of ctrs) {
    try {
      const a = JSON.parse(fs.readFileSync(attachPath(c, netId), 'utf8')) as Attachment;
      out.push({ container: c, attachment: a });
    } catch {
      /* not on it */
    }
  }
  return out;
}

/** The conflist as this attachment needs it: tuning only for a MAC, portmap only with ports (pure). */
export function attachmentConflist(full: ConfList, req: Pick<EndpointRequest, 'mac' | 'portMappings'>): ConfList {
  return {
    ...full,
    plugins: full.plugins.filter(
      (p) => (p.type !== 'tuning' || !!req.mac) && (p.type !== 'portmap' || !!req.portMappings?.length),
    ),
  };
}

/**
 * Attach a container's netns to a user network (CNI ADD, then its names in aardvark-dns). A failure undoes what was
 * done.
 */
export async function attachUser(
  ctr: string,
  netns: string,
  n: NetworkRecord,
  req: EndpointRequest,
): Promise<Attachment> {
  if (fs.existsSync(attachPath(ctr, n.Id)))
    throw conflict('endpoint_exists', `endpoint with name ${req.dnsNames[0]} already exists in network ${n.Name}`);
  const full = userConflist(n);
  fs.mkdirSync(CNI_DIR, { recursive: true, mode: 0o755 });
  fs.writeFileSync(conflistPath(n.Id), `${JSON.stringify(full, null, 2)}\n`);
  const list = attachmentConflist(full, req);
  const ipam = n.IPAM.Config[0]!;
  const runtime: RuntimeConfig & { ips?: string[]; mac?: string } = {
    ...(req.portMappings?.length ? { portMappings: req.portMappings } : {}),
    ...(req.ip ? { ips: [`${req.ip}/${ipam.Subnet.split('/')[1]}`] } : {}),
    ...(req.mac ? { mac: req.mac } : {}),
  };
  const a: Attachment = {
    network: n.Name,
    networkId: n.Id,
    ifname: req.ifname,
    conflist: list,
    runtime,
    aliases: req.aliases,
    dnsNames: req.dnsNames,
    ...(req.owner ? { owner: req.owner } : {}),
  };
  fs.mkdirSync(attachDir(ctr), { recursive: true, mode: 0o755 });
  try {
    for (const m of req.portMappings ?? []) await refuseListened(m);
    await withCniLock(async () => {
      const taken = conflictingMapping(req.portMappings ?? [], [...otherMappings(ctr), ...userMappings(ctr)]);
      if (taken) throw portAllocated(taken);
      // written before ADD: a berth killed in the middle leaves what DEL needs
      fs.writeFileSync(attachPath(ctr, n.Id), JSON.stringify(a));
      // made at `network create`; checked again only for a bridge made since (a reboot's reconcile)
      await ensureNetworkRulesOnce(userRules(n));
      a.result = await cniAdd(list, { containerId: ctr, netns, ifname: req.ifname }, runtime);
      fs.writeFileSync(attachPath(ctr, n.Id), JSON.stringify(a));
      const ep = endpointOf(a);
      await addDnsEntry(n.Id, ep.Gateway || ipam.Gateway, { id: ctr, ipv4: [ep.IPAddress], names: req.dnsNames });
    });
  } catch (err) {
    await detachUser(ctr, netns, n.Id).catch(() => {});
    throw err;
  }
  return a;
}

/** Port mappings of every other container's user-network attachments. */
function userMappings(ctr: string): NonNullable<RuntimeConfig['portMappings']> {
  let ctrs: string[];
  try {
    ctrs = fs.readdirSync(ATTACH_DIR).filter((c) => c !== ctr);
  } catch {
    return [];
  }
  return ctrs.flatMap((c) => attachments(c).flatMap((a) => a.runtime.portMappings ?? []));
}

/**
 * Detach a container from a user network: its DNS entry, then CNI DEL (veth, lease, rules). Idempotent. The netns
 * stays (the caller removes it with the last network).
 */
export async function detachUser(ctr: string, netns: string, netId: string): Promise<void> {
  let a: Attachment;
  try {
    a = JSON.parse(fs.readFileSync(attachPath(ctr, netId), 'utf8')) as Attachment;
  } catch {
    return;
  }
  await withCniLock(async () => {
    await removeDnsEntry(netId, ctr);
    const netnsGone = !fs.existsSync(netns);
    await cniDel(
      a.conflist,
      { containerId: ctr, netns: netnsGone ? '' : netns, ifname: a.ifname },
      a.runtime,
      a.result,
      !!a.result,
    ).catch((err: unknown) => {
      // without ADD's result a plugin may find nothing to delete: no failure
      if (a.result) throw err;
    });
  });
  fs.rmSync(attachPath(ctr, netId), { force: true });
  try {
    fs.rmdirSync(attachDir(ctr));
  } catch {
    /* other attachments remain */
  }
}

const run = promisify(execFile);

/**
 * `network create -o` checked (pure but for `exists`): a bridge name that no other network and no interface of the
 * host has (berth would otherwise put an address on it), an MTU, masquerade true or false.
 */
export function checkBridgeOptions(
  opts: Record<string, string>,
  otherBridges: readonly string[],
  exists: (iface: string) => boolean,
): void {
  const name = opts[OPT_BRIDGE_NAME];
  if (name !== undefined) {
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..')
      throw invalid('invalid_option', `invalid ${OPT_BRIDGE_NAME} ${JSON.stringify(name)}: 1-15 of [a-zA-Z0-9_.-]`);
    if (otherBridges.includes(name) || name === 'berth0' || exists(name))
      throw conflict('bridge_exists', `bridge name ${JSON.stringify(name)} is already in use on this host`);
  }
  const mtu = opts[OPT_MTU];
  if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65535))
    throw invalid('invalid_option', `invalid ${OPT_MTU} ${JSON.stringify(mtu)}: 68-65535`);
  const masq = opts[OPT_MASQUERADE];
  if (masq !== undefined && masq !== 'true' && masq !== 'false')
    throw invalid('invalid_option', `invalid ${OPT_MASQUERADE} ${JSON.stringify(masq)}: true or false`);
}

/** A user network's per-network rules (rules.ts). */
export const userRules = (n: Pick<NetworkRecord, 'Id' | 'Options' | 'Internal' | 'IPAM'>): NetworkRules => ({
  bridge: bridgeOf(n),
  subnet: n.IPAM.Config[0]!.Subnet,
  internal: n.Internal,
  masquerade: n.Options[OPT_MASQUERADE] !== 'false',
});

/**
 * A new network's bridge with its gateway address, up (the CNI bridge plugin finds it so at the first ADD), and its
 * rules (masquerade, FORWARD accepts, isolation). Also what a reboot's reconcile calls: what exists is kept.
 */
export async function createBridge(n: NetworkRecord): Promise<void> {
  const ipam = n.IPAM.Config[0]!;
  const br = bridgeOf(n);
  await withCniLock(async () => {
    if (!fs.existsSync(`/sys/class/net/${br}`)) await run('ip', ['link', 'add', 'name', br, 'type', 'bridge']);
    await run('ip', ['addr', 'replace', `${ipam.Gateway}/${ipam.Subnet.split('/')[1]}`, 'dev', br]);
    if (n.Options[OPT_MTU]) await run('ip', ['link', 'set', br, 'mtu', n.Options[OPT_MTU]]);
    await run('ip', ['link', 'set', br, 'up']);
    await ensureNetworkRules(userRules(n));
  });
}

/**
 * A user network's rules made again if its bridge exists but is not the one they were made for (what a reboot's
 * reconcile calls for each network whose bridge it has re-made, or finds; createBridge does it too).
 */
export async function reconcileNetworkRules(n: NetworkRecord): Promise<void> {
  if (!fs.existsSync(`/sys/class/net/${bridgeOf(n)}`)) return;
  await withCniLock(() => ensureNetworkRulesOnce(userRules(n)));
}

/** A removed network's host side: its rules, bridge, conflist and lease directory (CNI leaves the bridge). */
export async function removeNetworkHostSide(n: Pick<NetworkRecord, 'Id' | 'Options'>): Promise<void> {
  const netId = n.Id;
  await withCniLock(async () => {
    await removeNetworkRules(bridgeOf(n));
    if (fs.existsSync(`/sys/class/net/${bridgeOf(n)}`)) await run('ip', ['link', 'del', bridgeOf(n)]).catch(() => {});
    fs.rmSync(conflistPath(netId), { force: true });
    fs.rmSync(`${IPAM_DIR}/${cniName(netId)}`, { recursive: true, force: true });
  });
}
