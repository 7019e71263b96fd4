import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { invalid } from '../core/errors.js';

/**
 * A container's /etc/hosts and /etc/resolv.conf, as dockerd 20.10 (libnetwork's etchosts and resolvconf) writes
 * them. A container on `container:` mode writes none: it shares those of the container whose network it joins.
 */
/** none, host, bridge or a user network's name. */
type Mode = string;

/** One --add-host entry, its address resolved (host-gateway replaced). */
export interface ExtraHost {
  name: string;
  ip: string;
}

/** --dns, --dns-search, --dns-option (HostConfig.Dns, DnsSearch, DnsOptions). */
export interface DnsSettings {
  servers?: readonly string[] | null;
  search?: readonly string[] | null;
  options?: readonly string[] | null;
}

/** The word of --add-host that stands for the host's address as the container reaches it (Docker 20.10). */
export const HOST_GATEWAY = 'host-gateway';

/**
 * `NAME:IP` (the first colon splits: an IPv6 address may follow) or `NAME=IP` (Docker 25's form), IP an address or
 * host-gateway; IPv6 also in brackets. The docker CLI's messages. Pure.
 */
export function parseExtraHost(v: string): { name: string; ip: string } {
  const eq = v.indexOf('=');
  const colon = v.indexOf(':');
  const at = eq >= 0 && (colon < 0 || eq < colon) ? eq : colon;
  const name = at < 0 ? '' : v.slice(0, at);
  if (!name || /\s/.test(name)) throw invalid('invalid_add_host', `bad format for add-host: ${JSON.stringify(v)}`);
  let ip = v.slice(at + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== HOST_GATEWAY && !isIP(ip))
    throw invalid('invalid_add_host', `invalid IP address in add-host: ${JSON.stringify(ip)}`);
  return { name, ip };
}

/** ExtraHosts as written to /etc/hosts: host-gateway replaced by `gateway` (an error naming it when none is known). */
export function resolveExtraHosts(list: readonly string[] | null | undefined, gateway?: string): ExtraHost[] {
  return (list ?? []).map((e) => {
    const h = parseExtraHost(e);
    if (h.ip !== HOST_GATEWAY) return h;
    if (!gateway)
      throw invalid('invalid_add_host', `add-host ${JSON.stringify(e)}: no address is known for host-gateway`);
    return { name: h.name, ip: gateway };
  });
}

const DEFAULT_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * /etc/hosts: loopback names, the --add-host entries, then the container's hostname: on the bridge its address once
 * it has one (`ip`, at start), as Docker appends it. With the host's network: the host's file, unless there are
 * --add-host entries (Docker then writes its own without a hostname line). `hostHosts`: the host's file (tests).
 */
export function hostsFile(
  hostname: string,
  network: Mode,
  ip?: string,
  extra: readonly ExtraHost[] = [],
  hostHosts?: string,
): string {
  if (network === 'host' && !extra.length) {
    if (hostHosts !== undefined) return hostHosts;
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* fall through */
    }
  }
  const lines = [...DEFAULT_HOSTS, ...extra.map((h) => `${h.ip}\t${h.name}`)];
  if (network !== 'host') lines.push(ip ? `${ip}\t${hostname}` : `127.0.1.1\t${hostname}`);
  return `${lines.join('\n')}\n`;
}

/** resolv.conf's lines without comments (# or ; to the end of line), as libnetwork's resolvconf reads it. */
function contentLines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/[#;].*$/, '').trim());
}

/** The nameservers of a resolv.conf (IPv4 and IPv6 addresses only). */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const l of contentLines(text)) {
    const m = /^nameserver\s+(\S+)$/.exec(l);
    if (m && isIP(m[1]!.replace(/%.*$/, ''))) out.push(m[1]!);
  }
  return out;
}

/** The fields of the last line starting with `word` (search, options): resolv.conf's own rule. */
function lastFields(text: string, word: string): string[] {
  let out: string[] = [];
  for (const l of contentLines(text))
    if (l.startsWith(`${word} `) || l.startsWith(`${word}\t`)) out = l.split(/\s+/).slice(1);
  return out;
}

const LOCALHOST_NS = /^nameserver\s+((127\.([0-9]{1,3}\.){2}[0-9]{1,3})|(::1))(?=\s|$)\s*\n*/gm;
const IPV6_NS = /^nameserver\s+([0-9A-Fa-f]*:[0-9A-Fa-f:.]*(%\S+)?)\s*\n*/gm;

/**
 * resolv.conf for a container. With --dns, --dns-search or --dns-option: Docker's built file (`search`, `nameserver`
 * lines, `options`), each part the user's or else the host's (nameservers as they are, loopback too). Otherwise on the
 * host's network the host's file; on the bridge the host's file without loopback nameservers (a separate network
 * namespace cannot reach them) nor IPv6 ones (the bridge has no IPv6), with Google's 8.8.8.8 and 8.8.4.4 appended when
 * none remain, as dockerd; with `none`, only the loopback ones dropped. Pure but for the host's file.
 */
export function resolvConf(network: Mode, host = readHostResolvConf(), dns: DnsSettings = {}): string {
  if (dns.servers?.length || dns.search?.length || dns.options?.length) {
    const servers = dns.servers?.length ? dns.servers : nameservers(host);
    const search = dns.search?.length ? dns.search : lastFields(host, 'search');
    const options = dns.options?.length ? dns.options : lastFields(host, 'options');
    let out = '';
    if (search.length && search.join(' ').trim() !== '.') out += `search ${search.join(' ')}\n`;
    for (const s of servers) out += `nameserver ${s}\n`;
    if (options.length && options.join(' ').trim() !== '') out += `options ${options.join(' ')}\n`;
    return out;
  }
  if (network === 'host') return host;
  let text = host.replace(LOCALHOST_NS, '');
  if (network !== 'bridge') return text;
  text = text.replace(IPV6_NS, '');
  if (!nameservers(text).length) text += '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n';
  return text;
}

/**
 * The host's resolv.conf as dockerd picks it: /etc/resolv.conf, or systemd-resolved's full file when the former names
 * only its stub resolver 127.0.0.53 (unreachable from another network namespace).
 */
export function readHostResolvConf(): string {
  let text = '';
  try {
    text = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
  const ns = nameservers(text);
  if (ns.length === 1 && ns[0] === '127.0.0.53') {
    try {
      return fs.readFileSync('/run/systemd/resolve/resolv.conf', 'utf8');
    } catch {
      /* not systemd-resolved's: the file as it is */
    }
  }
  return text;
}

/** --dns values are IP addresses (the docker CLI's check and message). Pure. */
export function checkDnsServer(v: string): string {
  if (!isIP(v.trim())) throw invalid('invalid_dns', `${v} is not an ip address`);
  return v.trim();
}

/** --dns-search values: a domain (at most 255 characters, not starting with a dot unless it is "."). Pure. */
export function checkDnsSearch(v: string): string {
  if (v === '.') return v;
  const d = v.replace(/\.$/, '');
  if (!d || d.length > 255 || d.startsWith('.') || /[\s/]/.test(d))
    throw invalid('invalid_dns_search', `${v} is not a valid domain`);
  return v;
}
