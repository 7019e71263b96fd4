import { invalid, unavailable } from '../core/errors.js';
import type { Route } from './bridge.js';

/**
 * IPv4 subnets of user networks (pure): CIDR parsing, overlap, and the choice
 * of a free subnet as dockerd makes it from its default address pools
 * (172.17-31.0.0/16, then 192.168.0.0/16 cut in /20s), skipping every subnet
 * a route of the host or another network already covers.
 */
export interface Cidr {
  /** The network address as a 32-bit number. */
  net: number;
  bits: number;
}

const maskOf = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0) as number;
}

export const formatIPv4 = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');

/** "10.1.0.0/16" as a Cidr (host bits cleared), or undefined if it is none. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIPv4(m[1]!);
  const bits = Number(m[2]);
  if (ip === undefined || bits > 32) return undefined;
  return { net: (ip & maskOf(bits)) >>> 0, bits };
}

export const formatCidr = (c: Cidr): string => `${formatIPv4(c.net)}/${c.bits}`;

/** Whether two subnets share an address (one contains the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const m = maskOf(Math.min(a.bits, b.bits));
  return (a.net & m) >>> 0 === (b.net & m) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return (ip & maskOf(c.bits)) >>> 0 === c.net;
}

/** dockerd's default pools, in its order: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export function defaultPools(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push({ net: ((172 << 24) | (b << 16)) >>> 0, bits: 16 });
  for (let c = 0; c < 256; c += 16) out.push({ net: ((192 << 24) | (168 << 16) | (c << 8)) >>> 0, bits: 20 });
  return out;
}

/**
 * The first pool subnet no host route (default routes and the routes of berth's bridges aside: those are the
 * networks themselves, in `taken`) and no other network overlaps.
 */
export function chooseFreeSubnet(
  routes: readonly Route[],
  taken: readonly Cidr[],
  ownBridge: (iface: string) => boolean,
): Cidr {
  const busy: Cidr[] = [
    ...routes
      .filter((r) => r.mask !== 0 && !ownBridge(r.iface))
      .map((r) => ({ net: (r.dst & r.mask) >>> 0, bits: popcount(r.mask) })),
    ...taken,
  ];
  const free = defaultPools().find((p) => !busy.some((b) => overlaps(p, b)));
  if (!free)
    throw unavailable(
      'no_subnet',
      'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
    );
  return free;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x = (x & (x - 1)) >>> 0) c++;
  return c;
}

/** What `network create` gives for IPAM, checked; the gateway defaults to the subnet's first address. */
export interface IpamRequest {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

export interface IpamConfig {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
}

/**
 * The network's IPAM config: the given subnet (checked: no overlap with another network) or a free one, its
 * gateway (inside it, not its network or broadcast address), the range (inside it).
 */
export function ipamConfig(req: IpamRequest, choose: () => Cidr, taken: readonly Cidr[]): IpamConfig {
  if ((req.gateway || req.ipRange) && !req.subnet)
    throw invalid('invalid_subnet', `${req.gateway ? '--gateway' : '--ip-range'} needs --subnet`);
  let subnet: Cidr;
  if (req.subnet) {
    const c = parseCidr(req.subnet);
    if (!c) throw invalid('invalid_subnet', `invalid subnet ${JSON.stringify(req.subnet)}: an IPv4 CIDR (10.1.0.0/16)`);
    if (c.bits > 30) throw invalid('invalid_subnet', `subnet ${JSON.stringify(req.subnet)} is too small: /30 at most`);
    if (taken.some((t) => overlaps(t, c)))
      throw invalid('invalid_subnet', `invalid pool request: Pool overlaps with other one on this address space`);
    subnet = c;
  } else subnet = choose();
  const broadcast = (subnet.net | ~maskOf(subnet.bits)) >>> 0;
  let gateway = (subnet.net + 1) >>> 0;
  if (req.gateway) {
    const g = parseIPv4(req.gateway);
    if (g === undefined)
      throw invalid('invalid_gateway', `invalid gateway ${JSON.stringify(req.gateway)}: an IPv4 address`);
    if (!contains(subnet, g) || g === subnet.net || g === broadcast)
      throw invalid(
        'invalid_gateway',
        `gateway ${JSON.stringify(req.gateway)} is not a host address of subnet ${formatCidr(subnet)}`,
      );
    gateway = g;
  }
  const out: IpamConfig = { Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway) };
  if (req.ipRange) {
    const r = parseCidr(req.ipRange);
    if (!r) throw invalid('invalid_ip_range', `invalid ip range ${JSON.stringify(req.ipRange)}: an IPv4 CIDR`);
    if (r.bits < subnet.bits || !contains(subnet, r.net))
      throw invalid('invalid_ip_range', `ip range ${req.ipRange} is not inside subnet ${formatCidr(subnet)}`);
    out.IPRange = formatCidr(r);
  }
  return out;
}

/** host-local's range for a network: the subnet, its gateway, and the --ip-range as rangeStart/rangeEnd. */
export function hostLocalRange(c: IpamConfig): Record<string, string> {
  const range: Record<string, string> = { subnet: c.Subnet, gateway: c.Gateway };
  if (c.IPRange) {
    const r = parseCidr(c.IPRange)!;
    const s = parseCidr(c.Subnet)!;
    const last = (r.net | ~maskOf(r.bits)) >>> 0;
    const sLast = (s.net | ~maskOf(s.bits)) >>> 0;
    // never the subnet's network or broadcast address
    range.rangeStart = formatIPv4(Math.max(r.net, s.net + 1) >>> 0);
    range.rangeEnd = formatIPv4(Math.min(last, sLast - 1) >>> 0);
  }
  return range;
}

/** A requested container address (--ip) checked against the network's subnet. */
export function checkAddress(ip: string, c: IpamConfig, network: string): void {
  const n = parseIPv4(ip);
  if (n === undefined) throw invalid('invalid_ip', `invalid IPv4 address ${JSON.stringify(ip)}`);
  const s = parseCidr(c.Subnet)!;
  if (!contains(s, n))
    throw invalid('invalid_ip', `address ${ip} is not in subnet ${c.Subnet} of network ${JSON.stringify(network)}`);
  if (ip === c.Gateway)
    throw invalid('invalid_ip', `address ${ip} is the gateway of network ${JSON.stringify(network)}`);
}
