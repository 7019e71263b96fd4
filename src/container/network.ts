import * as fs from 'node:fs';
import { resolve } from 'node:path';
import { connectBridge, disconnectBridge, hasNetwork, netnsPath } from '../network/bridge.js';
import { networkSettings, type NetworkSettings } from '../network/settings.js';
import { hostsFile } from './etc-files.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

/**
 * A container's network at start and end: on the bridge, its netns and CNI
 * attachment are made before its process runs and released when it is done
 * for good (foreground end, the monitor's clean-up, settling after a kill,
 * removal). Its /etc/hosts names its address; config.v2.json keeps
 * NetworkSettings while it runs.
 */

/** The network namespace the container's plan joins, for the spec ('none' and 'host' as they are). */
export function specNetwork(c: ContainerRecord, mode: string): 'none' | 'host' | { netns: string } {
  if (mode === 'bridge') return { netns: netnsPath(c.ID) };
  return mode === 'host' ? 'host' : 'none';
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

/** Connect a container about to start (bridge only); its NetworkSettings are set on `c` (recorded with its state). */
export async function connectContainer(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const hc = containers.hostConfig(c.ID);
  if (hc.NetworkMode !== 'bridge') return;
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
    // the file mounted at /etc/hosts: rewritten in place (its inode is what the container binds)
    fs.writeFileSync(c.HostsPath, hostsFile(c.Config.Hostname || c.ID.slice(0, 12), 'bridge', ep.IPAddress));
  } catch (err) {
    await disconnectBridge(c.ID).catch(() => {});
    throw err;
  }
  c.NetworkSettings = networkSettings(c.ID, 'bridge', ep);
}

/** Release a container's network (nothing if it has none). Returns its NetworkSettings once stopped. */
export async function disconnectContainer(c: ContainerRecord, mode: string): Promise<NetworkSettings> {
  if (hasNetwork(c.ID)) await disconnectBridge(c.ID);
  return networkSettings(c.ID, mode, undefined, Object.keys(c.Config.ExposedPorts ?? {}));
}

/** Release the network of a container id whose record may be gone (`rm -f` before its clean-up ran). */
export async function disconnectId(id: string): Promise<void> {
  if (hasNetwork(id)) await disconnectBridge(id);
}
