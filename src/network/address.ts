import type { ConfList } from './cni.js';

/*
 * The address a restarted container asks for: Docker's default bridge gives a container its previous address back
 * when it is still free; host-local takes a wanted address as runtimeConfig.ips (the `ips` capability of the bridge
 * plugin, which hands its config to IPAM).
 */

/** A dotted IPv4 address as a number (NaN if it is none). */
function ipv4(a: string): number {
  const p = a.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return NaN;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/**
 * The address to ask host-local for (pure), as `ip/prefix`: the container's previous one when it lies in the network's
 * subnet, is not the gateway and no lease holds it (`leased`); undefined otherwise (host-local picks the next free).
 */
export function preferredAddress(
  list: ConfList,
  previous: string | undefined,
  leased: (ip: string) => boolean,
): string | undefined {
  if (!previous) return undefined;
  const bridge = list.plugins.find((p) => p.type === 'bridge');
  const range = (bridge?.ipam as { ranges?: Array<Array<{ subnet: string; gateway?: string }>> } | undefined)
    ?.ranges?.[0]?.[0];
  if (!range) return undefined;
  const [net, len] = range.subnet.split('/');
  const bits = Number(len);
  const ip = ipv4(previous);
  if (Number.isNaN(ip) || !(bits >= 8 && bits <= 30)) return undefined;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  const base = ipv4(net ?? '');
  if ((ip & mask) >>> 0 !== base) return undefined;
  const host = (ip & ~mask) >>> 0;
  if (host === 0 || host === ~mask >>> 0) return undefined; // the network's and the broadcast address
  if (previous === range.gateway || leased(previous)) return undefined;
  return `${previous}/${bits}`;
}

/** The conflist with the bridge plugin taking runtimeConfig.ips (a conflist written before it declared it). */
export function withIpsCapability(list: ConfList): ConfList {
  return {
    ...list,
    plugins: list.plugins.map((p) =>
      p.type === 'bridge' ? { ...p, capabilities: { ...(p.capabilities ?? {}), ips: true } } : p,
    ),
  };
}
