import { invalid } from '../core/errors.js';
import { checkMac, isUserNetwork, type EndpointConfig } from '../network/endpoints.js';
import { NetworkStore } from '../network/store.js';
import { checkAddress } from '../network/subnets.js';

/**
 * A create request's network checked (the user network exists; aliases, --ip and --mac-address are for user
 * networks, the address inside its subnet): the NetworkMode to store (the network's name) and what the container
 * asks of it.
 */
export function userNetwork(
  root: string,
  mode: string,
  endpoints: Record<string, EndpointConfig> | undefined,
): { NetworkMode: string; BerthEndpoints?: Record<string, EndpointConfig> } {
  const given = Object.entries(endpoints ?? {});
  if (given.length > 1)
    throw invalid('usage', 'a container is created on one network; `network connect` adds the others');
  const user = isUserNetwork(mode);
  const rec = user ? new NetworkStore(root).require(mode) : undefined;
  const name = rec?.Name ?? mode;
  const [key, cfg] = given[0] ?? [name, {}];
  // the docker CLI names the default network `default` (NetworkMode and its endpoint alike)
  if (key !== mode && key !== name && !(key === 'default' && mode === 'bridge'))
    throw invalid('usage', `endpoint config for network ${JSON.stringify(key)}, but the container joins ${name}`);
  const aliases = (cfg.Aliases ?? []).filter(Boolean);
  const ip = cfg.IPAMConfig?.IPv4Address;
  const out: EndpointConfig = {};
  if (aliases.length) {
    if (!user)
      throw invalid('invalid_alias', 'network-scoped alias is supported only for containers in user defined networks');
    out.Aliases = aliases;
  }
  if (ip) {
    if (!rec) throw invalid('invalid_ip', 'user specified IP address is supported on user defined networks only');
    checkAddress(ip, rec.IPAM.Config[0]!, rec.Name);
    out.IPAMConfig = { IPv4Address: ip };
  }
  if (cfg.MacAddress) {
    if (!user) throw invalid('invalid_mac', '--mac-address: berth sets a MAC address on user-defined networks only');
    out.MacAddress = checkMac(cfg.MacAddress);
  }
  return { NetworkMode: name, ...(rec ? { BerthEndpoints: { [name]: out } } : {}) };
}
