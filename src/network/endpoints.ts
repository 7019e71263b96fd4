import { invalid } from '../core/errors.js';
import type { PortMap } from './ports.js';
import { hexId, type EndpointSettings, type NetworkSettings } from './settings.js';

/**
 * A container's networks as data (pure): what it asked of each (Docker's
 * EndpointSettings as a create request or `network connect` gives them), and
 * inspect's NetworkSettings for all of them.
 */
export interface EndpointConfig {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string } | null;
  MacAddress?: string;
}

/** The host config fields this reads. */
export interface NetworkHostConfig {
  NetworkMode: string;
  BerthEndpoints?: Record<string, EndpointConfig>;
}

export const isUserNetwork = (name: string): boolean =>
  name !== 'none' && name !== 'host' && name !== 'bridge' && name !== 'default' && !name.startsWith('container:');

/** The networks a container joins at start, in order (NetworkMode first), each with its request. */
export function networksOf(hc: NetworkHostConfig): Array<{ name: string; config: EndpointConfig }> {
  const eps = hc.BerthEndpoints;
  if (!eps) return hc.NetworkMode === 'none' || hc.NetworkMode === 'host' ? [] : [{ name: hc.NetworkMode, config: {} }];
  return Object.entries(eps).map(([name, config]) => ({ name, config }));
}

/** A MAC address as Docker takes it (six colon-separated hex pairs, unicast). */
export function checkMac(mac: string): string {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac))
    throw invalid('invalid_mac', `invalid MAC address ${JSON.stringify(mac)}: six hex pairs, 02:42:ac:11:00:02`);
  if (parseInt(mac.slice(0, 2), 16) & 1)
    throw invalid('invalid_mac', `invalid MAC address ${JSON.stringify(mac)}: a multicast address`);
  return mac.toLowerCase();
}

/** One network of a container for its NetworkSettings: the live endpoint while it runs. */
export interface NetworkEntry {
  name: string;
  networkId: string;
  config: EndpointConfig;
  ep?: { IPAddress: string; IPPrefixLen: number; Gateway: string; MacAddress: string };
  dnsNames?: string[];
}

function endpointSettings(containerId: string, e: NetworkEntry): EndpointSettings {
  const user = isUserNetwork(e.name);
  const aliases = e.config.Aliases?.length ? [...e.config.Aliases] : [];
  // a running container's short id is an alias on a user network, as Docker adds it at connect
  if (e.ep && user && !aliases.includes(containerId.slice(0, 12))) aliases.push(containerId.slice(0, 12));
  return {
    IPAMConfig: e.config.IPAMConfig?.IPv4Address ? { IPv4Address: e.config.IPAMConfig.IPv4Address } : null,
    Links: null,
    Aliases: aliases.length ? aliases : null,
    NetworkID: e.networkId,
    EndpointID: e.ep ? hexId(`${containerId}/${e.name}/${e.ep.IPAddress}`) : '',
    Gateway: e.ep?.Gateway ?? '',
    IPAddress: e.ep?.IPAddress ?? '',
    IPPrefixLen: e.ep?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: e.ep?.MacAddress ?? '',
    DriverOpts: null,
    DNSNames: e.ep && user ? (e.dnsNames ?? null) : null,
  };
}

/**
 * NetworkSettings for a container on several networks. The top-level address fields are the default bridge's (empty
 * on user networks, as Docker leaves them); Ports and SandboxKey are the container's.
 */
export function multiNetworkSettings(
  containerId: string,
  entries: readonly NetworkEntry[],
  running: { ports: PortMap; sandboxKey: string } | undefined,
  exposed: readonly string[] = [],
): NetworkSettings {
  const networks: Record<string, EndpointSettings> = {};
  for (const e of entries) networks[e.name] = endpointSettings(containerId, e);
  const bridge = networks.bridge;
  const ports: PortMap = running?.ports ?? {};
  if (!running && entries.length) for (const p of exposed) ports[p] = null;
  return {
    Bridge: '',
    SandboxID: running ? hexId(`sandbox/${containerId}`) : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: ports,
    SandboxKey: running?.sandboxKey ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: networks,
  };
}
