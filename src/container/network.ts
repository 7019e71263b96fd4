import * as fs from 'node:fs';
import { conflict, invalid } from '../core/errors.js';
import { connectBridge, disconnectBridge, ensureConflist, hasNetwork, netnsPath } from '../network/bridge.js';
import { networkSettings, type NetworkSettings } from '../network/settings.js';
import { hostsFile, resolveExtraHosts, type ExtraHost } from './etc-files.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord, HostConfig } from './types.js';

/**
 * A container's network at start and end: on the bridge, its netns and CNI
 * attachment are made before its process runs and released when it is done
 * for good (foreground end, the monitor's clean-up, settling after a kill,
 * removal). Its /etc/hosts names its address; config.v2.json keeps
 * NetworkSettings while it runs. On `container:NAME|ID` it joins the network
 * namespace of that running container and uses its hostname, hosts and
 * resolv.conf files, as Docker does.
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
 * the target's bind-mounted netns on the bridge, the host's on host, else its PID 1's (/proc/PID/ns/net).
 */
export function specNetwork(
  containers: ContainerStore,
  c: ContainerRecord,
  mode: string,
): 'none' | 'host' | { netns: string } {
  if (mode === 'bridge') return { netns: netnsPath(c.ID) };
  const name = joinedName(mode);
  if (name !== undefined) {
    const nc = networkedContainer(containers, c, name);
    const theirs = containers.hostConfig(nc.ID).NetworkMode;
    if (theirs === 'bridge' && fs.existsSync(netnsPath(nc.ID))) return { netns: netnsPath(nc.ID) };
    if (theirs === 'host') return 'host';
    return { netns: `/proc/${nc.State.Pid}/ns/net` };
  }
  return mode === 'host' ? 'host' : 'none';
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

/** Connect a container about to start (bridge, or a container's network); its NetworkSettings are set on `c`. */
export async function connectContainer(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const hc = containers.hostConfig(c.ID);
  const joined = joinedName(hc.NetworkMode);
  if (joined !== undefined) {
    await joinContainer(containers, c, joined);
    c.NetworkSettings = networkSettings(c.ID, hc.NetworkMode);
    c.NetworkSettings.Networks = {};
    return;
  }
  if (hc.NetworkMode !== 'bridge') return;
  const ep = await connectBridge(
    c.ID,
    hc.PortBindings ?? {},
    Object.keys(c.Config.ExposedPorts ?? {}),
    !!hc.PublishAllPorts,
  );
  try {
    // the file mounted at /etc/hosts: rewritten in place (its inode is what the container binds)
    const hostname = c.Config.Hostname || c.ID.slice(0, 12);
    fs.writeFileSync(c.HostsPath, hostsFile(hostname, 'bridge', ep.IPAddress, extraHosts(containers, hc)));
  } catch (err) {
    await disconnectBridge(c.ID).catch(() => {});
    throw err;
  }
  c.NetworkSettings = networkSettings(c.ID, 'bridge', ep);
}

/** NetworkSettings of a container that does not run (none under Networks on `container:`, as Docker's). */
export function stoppedSettings(c: ContainerRecord, mode: string): NetworkSettings {
  const s = networkSettings(c.ID, mode, undefined, Object.keys(c.Config.ExposedPorts ?? {}));
  if (joinedName(mode) !== undefined) s.Networks = {};
  return s;
}

/** Release a container's network (nothing if it has none). Returns its NetworkSettings once stopped. */
export async function disconnectContainer(c: ContainerRecord, mode: string): Promise<NetworkSettings> {
  if (hasNetwork(c.ID)) await disconnectBridge(c.ID);
  return stoppedSettings(c, mode);
}

/** Release the network of a container id whose record may be gone (`rm -f` before its clean-up ran). */
export async function disconnectId(id: string): Promise<void> {
  if (hasNetwork(id)) await disconnectBridge(id);
}
