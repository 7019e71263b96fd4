import * as fs from 'node:fs';
import { resolve } from 'node:path';
import { conflict, invalid, notFound } from '../core/errors.js';
import {
  connectBridge,
  disconnectBridge,
  ensureConflist,
  hasNetwork,
  makeNetns,
  netnsPath,
  removeNetns,
  resolvePorts,
  resultPath,
  withCniLock,
  type BridgeEndpoint,
} from '../network/bridge.js';
import { attachments, attachUser, detachUser, endpointOf, type Attachment } from '../network/attach.js';
import { dnsEntriesById, dnsNames, dnsResolvConf, removeDnsEntries } from '../network/dns.js';
import { userLeasesById } from '../network/leftovers.js';
import { isUserNetwork, multiNetworkSettings, networksOf, type NetworkEntry } from '../network/endpoints.js';
import { networkSettings, type NetworkSettings } from '../network/settings.js';
import { NetworkStore, predefinedId } from '../network/store.js';
import { hostsFile, resolvConf, resolveExtraHosts, type DnsSettings, type ExtraHost } from './etc-files.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord, HostConfig } from './types.js';

/**
 * A container's network at start and end: on the bridge or user networks, its
 * netns and CNI attachments are made before its process runs and released when
 * it is done for good (foreground end, the monitor's clean-up, settling after a
 * kill, removal). Its /etc/hosts names its address, its resolv.conf points at
 * aardvark-dns on a user network; config.v2.json keeps NetworkSettings while
 * it runs.
 */

/** The NAME|ID of `container:NAME|ID`, or undefined for another mode. */
export function joinedName(mode: string | undefined): string | undefined {
  return mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

/** The address --add-host NAME:host-gateway stands for: daemon.json's host-gateway-ip, else the bridge's gateway. */
export function hostGateway(containers: ContainerStore): string {
  if (containers.hostGatewayIP) return containers.hostGatewayIP;
  const ipam = ensureConflist().plugins[0]?.ipam as { ranges?: Array<Array<{ gateway?: string }>> } | undefined;
  return ipam?.ranges?.[0]?.[0]?.gateway ?? '';
}

/** The container's --add-host entries with host-gateway resolved (the bridge's gateway asked for only if needed). */
export function extraHosts(containers: ContainerStore, hc: HostConfig): ExtraHost[] {
  const list = hc.ExtraHosts ?? [];
  return resolveExtraHosts(list, list.some((e) => /[:=]host-gateway$/.test(e)) ? hostGateway(containers) : undefined);
}

/** The running container whose network `c` joins (Docker's checks and messages). */
export function networkedContainer(containers: ContainerStore, c: ContainerRecord, name: string): ContainerRecord {
  const nc = containers.resolve(name);
  if (nc.ID === c.ID) throw invalid('join_own_network', 'cannot join own network');
  if (!nc.State.Running || !containers.isLive(nc.ID))
    throw conflict('not_running', `cannot join network of a non running container: ${name}`);
  if (nc.State.Restarting || !nc.State.Pid)
    throw conflict('restarting', `Container ${nc.ID} is restarting, wait until the container is running`);
  return nc;
}

/**
 * The network namespace the container's plan joins, for the spec ('none' and 'host' as they are). On `container:`:
 * the target's bind-mounted netns when it has one (bridge, user networks), the host's on host, else its PID 1's
 * (/proc/PID/ns/net).
 */
export function specNetwork(
  containers: ContainerStore,
  c: ContainerRecord,
  mode: string,
): 'none' | 'host' | { netns: string } {
  if (mode === 'none' || mode === 'host') return mode;
  const name = joinedName(mode);
  if (name === undefined) return { netns: netnsPath(c.ID) };
  const nc = networkedContainer(containers, c, name);
  const theirs = containers.hostConfig(nc.ID).NetworkMode;
  if (theirs === 'host') return 'host';
  if (theirs !== 'none' && joinedName(theirs) === undefined && fs.existsSync(netnsPath(nc.ID)))
    return { netns: netnsPath(nc.ID) };
  return { netns: `/proc/${nc.State.Pid}/ns/net` };
}

/**
 * Join the network of the container `container:NAME|ID` names: it must run; `c` takes its hostname, hosts and
 * resolv.conf files (recorded in config.v2.json, as dockerd does at start).
 */
async function joinContainer(containers: ContainerStore, c: ContainerRecord, name: string): Promise<void> {
  const nc = networkedContainer(containers, c, name);
  const paths = { HostnamePath: nc.HostnamePath, HostsPath: nc.HostsPath, ResolvConfPath: nc.ResolvConfPath };
  Object.assign(c, paths);
  c.Config.Hostname = nc.Config.Hostname;
  await containers.update(c.ID, (r) => {
    Object.assign(r, paths);
    r.Config.Hostname = nc.Config.Hostname;
  });
}

/**
 * containers/<id>/addresses.json: the address a container last had on each network ({"bridge": "172.17.0.2"}), which
 * its next start asks for again (Docker's default bridge gives a restarted container its address back when free).
 */
const addressesPath = (containers: ContainerStore, id: string) => `${containers.dir(id)}/addresses.json`;

function lastAddresses(containers: ContainerStore, id: string): Record<string, string> {
  try {
    const v = JSON.parse(fs.readFileSync(addressesPath(containers, id), 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Connect to the default bridge, asking for the address the container had before; the address it got is kept. */
async function connectBridgeAgain(
  containers: ContainerStore,
  c: ContainerRecord,
  hc: HostConfig,
): Promise<BridgeEndpoint> {
  const last = lastAddresses(containers, c.ID);
  const ep = await connectBridge(
    c.ID,
    hc.PortBindings ?? {},
    Object.keys(c.Config.ExposedPorts ?? {}),
    !!hc.PublishAllPorts,
    { previousIp: last.bridge, owner: resolve(containers.dir(c.ID)) },
  );
  try {
    if (ep.IPAddress && last.bridge !== ep.IPAddress)
      fs.writeFileSync(addressesPath(containers, c.ID), JSON.stringify({ ...last, bridge: ep.IPAddress }));
  } catch (err) {
    await disconnectBridge(c.ID).catch(() => {});
    throw err;
  }
  return ep;
}

/** Whether the container goes beyond the default bridge alone (a user network, or networks `network connect` set). */
const usesUserNetworks = (hc: HostConfig): boolean =>
  hc.BerthEndpoints !== undefined || networksOf(hc).some((n) => isUserNetwork(n.name));

/** Connect a container about to start; its NetworkSettings are set on `c` (recorded with its state). */
export async function connectContainer(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const hc = containers.hostConfig(c.ID);
  const joined = joinedName(hc.NetworkMode);
  if (joined !== undefined) {
    await joinContainer(containers, c, joined);
    c.NetworkSettings = networkSettings(c.ID, hc.NetworkMode);
    c.NetworkSettings.Networks = {};
    return;
  }
  if (hc.NetworkMode === 'none' || hc.NetworkMode === 'host') return;
  if (!usesUserNetworks(hc)) {
    const ep = await connectBridgeAgain(containers, c, hc);
    try {
      // the file mounted at /etc/hosts: rewritten in place (its inode is what the container binds)
      const hostname = c.Config.Hostname || c.ID.slice(0, 12);
      fs.writeFileSync(c.HostsPath, hostsFile(hostname, 'bridge', ep.IPAddress, extraHosts(containers, hc)));
    } catch (err) {
      await disconnectBridge(c.ID).catch(() => {});
      throw err;
    }
    c.NetworkSettings = networkSettings(c.ID, 'bridge', ep);
    return;
  }
  c.NetworkSettings = await connectAll(containers, c, hc);
}

/** A container on user networks (and maybe the bridge): every attachment, or none if one fails. */
async function connectAll(containers: ContainerStore, c: ContainerRecord, hc: HostConfig): Promise<NetworkSettings> {
  const store = new NetworkStore(containers.images.paths.root);
  const nets = networksOf(hc);
  // a start after a run nobody settled: its old attachments go first
  await disconnectId(c.ID);
  const exposed = Object.keys(c.Config.ExposedPorts ?? {});
  const entries: NetworkEntry[] = [];
  let ports: BridgeEndpoint['Ports'] = {};
  try {
    let bridgeEp: BridgeEndpoint | undefined;
    if (nets[0]?.name === 'bridge') {
      bridgeEp = await connectBridgeAgain(containers, c, hc);
      ports = bridgeEp.Ports;
    } else await makeNetns(c.ID);
    let index = bridgeEp ? 1 : 0;
    for (const { name, config } of nets) {
      if (name === 'bridge') {
        if (bridgeEp) entries.push({ name, networkId: predefinedId('bridge'), config, ep: bridgeEp });
        continue;
      }
      const rec = store.find(name);
      if (!rec) throw notFound('network_not_found', `network ${name} not found`);
      let mappings;
      if (index === 0) {
        // the first network publishes the ports, as Docker's does
        const r = await resolvePorts(hc.PortBindings ?? {}, exposed, !!hc.PublishAllPorts);
        ports = r.ports;
        mappings = r.mappings;
      }
      const aliases = config.Aliases ?? [];
      const a = await attachUser(c.ID, netnsPath(c.ID), rec, {
        ifname: `eth${index++}`,
        ...(config.IPAMConfig?.IPv4Address ? { ip: config.IPAMConfig.IPv4Address } : {}),
        ...(config.MacAddress ? { mac: config.MacAddress } : {}),
        aliases,
        dnsNames: dnsNames(c.Name, aliases, c.ID),
        ...(mappings ? { portMappings: mappings } : {}),
        owner: resolve(containers.dir(c.ID)),
      });
      entries.push(entryOf(a, config));
    }
    writeEtcFiles(containers, c, hc, entries);
  } catch (err) {
    await disconnectId(c.ID).catch(() => {});
    throw err;
  }
  return multiNetworkSettings(c.ID, entries, { ports, sandboxKey: netnsPath(c.ID) });
}

function entryOf(a: Attachment, config: NetworkEntry['config']): NetworkEntry {
  return { name: a.network, networkId: a.networkId, config, ep: endpointOf(a), dnsNames: a.dnsNames };
}

/** /etc/hosts with the first network's address; resolv.conf at the user networks' gateways (aardvark-dns). */
function writeEtcFiles(
  containers: ContainerStore,
  c: ContainerRecord,
  hc: HostConfig,
  entries: readonly NetworkEntry[],
): void {
  const hostname = c.Config.Hostname || c.ID.slice(0, 12);
  // rewritten in place: the inode is what the container binds
  fs.writeFileSync(c.HostsPath, hostsFile(hostname, 'bridge', entries[0]?.ep?.IPAddress, extraHosts(containers, hc)));
  const gateways = entries.filter((e) => isUserNetwork(e.name) && e.ep?.Gateway).map((e) => e.ep!.Gateway);
  if (gateways.length) {
    let host = '';
    try {
      host = fs.readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* none */
    }
    fs.writeFileSync(c.ResolvConfPath, dnsResolvConf(gateways, host));
  } else if (entries[0]?.name === 'bridge')
    fs.writeFileSync(c.ResolvConfPath, resolvConf('bridge', undefined, dnsOf(containers, hc)));
}

/** --dns, --dns-search, --dns-option: each kind the container's own, else daemon.json's (dockerd's rule). */
export function dnsOf(containers: ContainerStore, hc: HostConfig): DnsSettings {
  const d = containers.daemonDns ?? {};
  return {
    servers: hc.Dns?.length ? hc.Dns : d.servers,
    search: hc.DnsSearch?.length ? hc.DnsSearch : d.search,
    options: hc.DnsOptions?.length ? hc.DnsOptions : d.options,
  };
}

/** Attach a running container to one more user network (`network connect`); its new NetworkSettings. */
export async function connectRunning(
  containers: ContainerStore,
  c: ContainerRecord,
  network: string,
): Promise<NetworkSettings> {
  const hc = containers.hostConfig(c.ID);
  const store = new NetworkStore(containers.images.paths.root);
  const rec = store.require(network);
  const config = hc.BerthEndpoints?.[rec.Name] ?? {};
  const used = new Set(attachments(c.ID).map((a) => a.ifname));
  if (fs.existsSync(resultPath(c.ID))) used.add('eth0');
  let i = 0;
  while (used.has(`eth${i}`)) i++;
  const aliases = config.Aliases ?? [];
  await attachUser(c.ID, netnsPath(c.ID), rec, {
    ifname: `eth${i}`,
    ...(config.IPAMConfig?.IPv4Address ? { ip: config.IPAMConfig.IPv4Address } : {}),
    ...(config.MacAddress ? { mac: config.MacAddress } : {}),
    aliases,
    dnsNames: dnsNames(c.Name, aliases, c.ID),
    owner: resolve(containers.dir(c.ID)),
  });
  return liveSettings(containers, c, hc);
}

/** Detach a running container from one user network (`network disconnect`); its new NetworkSettings. */
export async function disconnectRunning(
  containers: ContainerStore,
  c: ContainerRecord,
  networkId: string,
): Promise<NetworkSettings> {
  await detachUser(c.ID, netnsPath(c.ID), networkId);
  return liveSettings(containers, c, containers.hostConfig(c.ID));
}

/** A running container's NetworkSettings from its attachments (after connect or disconnect). */
function liveSettings(containers: ContainerStore, c: ContainerRecord, hc: HostConfig): NetworkSettings {
  const prev = c.NetworkSettings;
  const entries: NetworkEntry[] = [];
  if (prev?.Networks.bridge && fs.existsSync(resultPath(c.ID)))
    entries.push({
      name: 'bridge',
      networkId: predefinedId('bridge'),
      config: {},
      ep: { ...prev.Networks.bridge },
    });
  const atts = attachments(c.ID);
  for (const a of atts) entries.push(entryOf(a, hc.BerthEndpoints?.[a.network] ?? {}));
  writeEtcFiles(containers, c, hc, entries);
  return multiNetworkSettings(c.ID, entries, { ports: prev?.Ports ?? {}, sandboxKey: netnsPath(c.ID) });
}

/** NetworkSettings of a container that does not run: each of its networks, blank. */
export function idleNetworkSettings(containers: ContainerStore, c: ContainerRecord): NetworkSettings {
  const hc = containers.hostConfig(c.ID);
  const exposed = Object.keys(c.Config.ExposedPorts ?? {});
  if (joinedName(hc.NetworkMode) !== undefined) return { ...networkSettings(c.ID, hc.NetworkMode), Networks: {} };
  if (!usesUserNetworks(hc)) return networkSettings(c.ID, hc.NetworkMode, undefined, exposed);
  const store = new NetworkStore(containers.images.paths.root);
  const entries = networksOf(hc).map(({ name, config }) => ({
    name,
    networkId: isUserNetwork(name) ? (store.find(name)?.Id ?? '') : predefinedId(name),
    config,
  }));
  return multiNetworkSettings(c.ID, entries, undefined, exposed);
}

/** Release a container's network (nothing if it has none). Returns its NetworkSettings once stopped. */
export async function disconnectContainer(
  c: ContainerRecord,
  mode: string,
  containers?: ContainerStore,
): Promise<NetworkSettings> {
  await disconnectId(c.ID);
  if (containers) return idleNetworkSettings(containers, c);
  return networkSettings(c.ID, mode, undefined, Object.keys(c.Config.ExposedPorts ?? {}));
}

/**
 * Release the network of a container id whose record may be gone (`rm -f` before its clean-up ran): its user
 * networks' attachments first (their DEL needs the netns), then the bridge's, then the netns.
 */
export async function disconnectId(id: string): Promise<void> {
  let failure: unknown;
  for (const a of attachments(id))
    await detachUser(id, netnsPath(id), a.networkId).catch((err: unknown) => {
      failure ??= err;
    });
  if (fs.existsSync(resultPath(id))) await disconnectBridge(id);
  else if (hasNetwork(id)) removeNetns(id);
  // names and user networks' leases no attachment holds any more (a berth killed between the two, a reboot that
  // kept /run): CNI DEL of the attachment would have released them
  if (dnsEntriesById().has(id)) await withCniLock(() => removeDnsEntries(id));
  for (const f of userLeasesById().get(id) ?? []) fs.rmSync(f, { force: true });
  if (failure) throw failure;
}
