import type { BridgeEndpoint } from './bridge.js';
import type { PortMap } from './ports.js';

/**
 * inspect's NetworkSettings as Docker's (pure): the container's address,
 * gateway, MAC and ports while it runs on the bridge, the same fields blank
 * otherwise, and one entry under Networks named as its network mode.
 */
export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: null;
  /** The names it answers to on a user network (Docker 25's field); null elsewhere. */
  DNSNames?: string[] | null;
}

export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  Ports: PortMap;
  SandboxKey: string;
  SecondaryIPAddresses: null;
  SecondaryIPv6Addresses: null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** A stable id for a name (Docker's are random 64-hex; berth derives one so inspect stays the same). */
export function hexId(seed: string): string {
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < 64; round++) {
    for (const ch of `${round}:${seed}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 64);
}

/**
 * NetworkSettings for a container on `mode` (none, host, bridge); with `ep` while it is connected. `exposed`: its
 * exposed ports, shown (unbound) when it is not running, as Docker shows them on a created container.
 */
export function networkSettings(
  containerId: string,
  mode: string,
  ep?: BridgeEndpoint,
  exposed: readonly string[] = [],
): NetworkSettings {
  const endpointId = ep ? hexId(`${containerId}/${mode}/${ep.IPAddress}`) : '';
  const endpoint: EndpointSettings = {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    NetworkID: hexId(`network/${mode}`),
    EndpointID: endpointId,
    Gateway: ep?.Gateway ?? '',
    IPAddress: ep?.IPAddress ?? '',
    IPPrefixLen: ep?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: ep?.MacAddress ?? '',
    DriverOpts: null,
  };
  const ports: PortMap = ep?.Ports ?? {};
  if (!ep && mode === 'bridge') for (const p of exposed) ports[p] = null;
  return {
    Bridge: '',
    SandboxID: ep ? hexId(`sandbox/${containerId}`) : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: ports,
    SandboxKey: ep?.SandboxKey ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: endpointId,
    Gateway: endpoint.Gateway,
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: endpoint.IPAddress,
    IPPrefixLen: endpoint.IPPrefixLen,
    IPv6Gateway: '',
    MacAddress: endpoint.MacAddress,
    Networks: { [mode]: endpoint },
  };
}
