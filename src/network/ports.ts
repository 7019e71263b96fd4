import { invalid } from '../core/errors.js';

/**
 * Published ports, pure: `-p` parsed as Docker's nat.ParsePortSpecs does, and
 * ports printed as the docker CLI prints them (ps's PORTS, `port`).
 */

/** One host binding of a container port (Docker's nat.PortBinding). */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** Docker's PortMap: "80/tcp" -> its bindings (null: exposed, not published). */
export type PortMap = Record<string, PortBinding[] | null>;

function portRange(s: string, what: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo)
    throw invalid(
      'invalid_port',
      `invalid ${what} ${JSON.stringify(s)} in -p ${JSON.stringify(spec)}: a port or range in 1-65535`,
    );
  return [lo, hi];
}

/**
 * `-p [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]` (each port may be a range
 * `A-B`; a host range must be as long as the container range, or one port... as Docker: equal lengths, or an empty
 * host port, which asks for a free one). IPv6 addresses in brackets.
 */
export function parsePublish(spec: string): Array<{ port: string; binding: PortBinding }> {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
      throw invalid(
        'invalid_port',
        `invalid protocol ${JSON.stringify(proto)} in -p ${JSON.stringify(spec)} (tcp, udp or sctp)`,
      );
  }
  let ip = '';
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':')
      throw invalid('invalid_port', `invalid address in -p ${JSON.stringify(spec)}: [IPv6]:HOST_PORT:CONTAINER_PORT`);
    ip = rest.slice(1, end);
    rest = rest.slice(end + 2);
  }
  const parts = rest.split(':');
  if (ip) parts.unshift(ip);
  if (parts.length > 3 || parts.some((p, i) => p === '' && i === parts.length - 1))
    throw invalid('invalid_port', `invalid -p ${JSON.stringify(spec)}: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`);
  const [hostIp, hostPort, containerPort] =
    parts.length === 3 ? parts : parts.length === 2 ? ['', parts[0]!, parts[1]!] : ['', '', parts[0]!];
  if (hostIp && !isIP(hostIp))
    throw invalid('invalid_port', `invalid IP address ${JSON.stringify(hostIp)} in -p ${JSON.stringify(spec)}`);
  const [clo, chi] = portRange(containerPort!, 'container port', spec);
  const host = hostPort ? portRange(hostPort, 'host port', spec) : undefined;
  const n = chi - clo + 1;
  if (host && host[1] - host[0] + 1 !== n && !(n === 1 && host[1] > host[0]))
    throw invalid(
      'invalid_port',
      `invalid -p ${JSON.stringify(spec)}: the host range and the container range differ in length`,
    );
  const out: Array<{ port: string; binding: PortBinding }> = [];
  for (let i = 0; i < n; i++) {
    // a host range for one container port: Docker takes a free port in it (here: its first)
    const hp = host ? String(n === 1 ? host[0] : host[0] + i) : '';
    out.push({ port: `${clo + i}/${proto}`, binding: { HostIp: hostIp ?? '', HostPort: hp } });
  }
  return out;
}

function isIP(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) return s.split('.').every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:]+$/.test(s) && s.includes(':');
}

/** Every -p of a command line as HostConfig.PortBindings (and the ports they expose). */
export function portBindings(specs: readonly string[]): PortMap {
  const out: PortMap = {};
  for (const s of specs) for (const { port, binding } of parsePublish(s)) (out[port] ??= []).push(binding);
  return out;
}

/** `--expose PORT[/PROTO]` and ranges: the ports (as ExposedPorts' keys). */
export function exposedPorts(specs: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of specs) {
    const [p, proto = 'tcp'] = s.split('/');
    const [lo, hi] = portRange(p!, 'port', s);
    for (let i = lo; i <= hi; i++) out.push(`${i}/${proto.toLowerCase()}`);
  }
  return out;
}

/** A "80/tcp" key's number and protocol. */
export function splitPort(key: string): { port: number; proto: string } {
  const [p, proto = 'tcp'] = key.split('/');
  return { port: Number(p), proto };
}

interface PortRow {
  ip: string;
  publicPort: number;
  privatePort: number;
  type: string;
}

/** Rows as the Engine API's container list gives them (Ports: IP, PrivatePort, PublicPort, Type). */
export function portRows(ports: PortMap | undefined): PortRow[] {
  const rows: PortRow[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const { port, proto } = splitPort(key);
    if (!bindings?.length) rows.push({ ip: '', publicPort: 0, privatePort: port, type: proto });
    else
      for (const b of bindings)
        rows.push({ ip: b.HostIp || '0.0.0.0', publicPort: Number(b.HostPort), privatePort: port, type: proto });
  }
  return rows;
}

/**
 * ps's PORTS column, as the docker CLI's DisplayablePorts: "127.0.0.1:18080->80/tcp", consecutive ports of one
 * address and protocol grouped into ranges ("0.0.0.0:8000-8001->80-81/tcp"), exposed-only ports as "80/tcp",
 * sorted by address and port.
 */
export function displayPorts(rows: readonly PortRow[]): string {
  const groups = new Map<string, PortRow[]>();
  for (const r of rows) {
    const k = `${r.publicPort ? r.ip : ''}/${r.type}/${r.publicPort ? 'pub' : 'priv'}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: Array<{ sort: string; text: string }> = [];
  for (const list of groups.values()) {
    list.sort((a, b) => a.privatePort - b.privatePort || a.publicPort - b.publicPort);
    let start = 0;
    for (let i = 1; i <= list.length; i++) {
      const prev = list[i - 1]!;
      const cur = list[i];
      const next =
        cur &&
        cur.privatePort === prev.privatePort + 1 &&
        (prev.publicPort === 0 ? cur.publicPort === 0 : cur.publicPort === prev.publicPort + 1);
      if (next) continue;
      const first = list[start]!;
      const range = (a: number, b: number) => (a === b ? String(a) : `${a}-${b}`);
      const priv = `${range(first.privatePort, prev.privatePort)}/${first.type}`;
      const ip = first.ip.includes(':') ? `[${first.ip}]` : first.ip;
      out.push({
        sort: `${first.ip}\0${String(first.privatePort).padStart(5, '0')}`,
        text: first.publicPort ? `${ip}:${range(first.publicPort, prev.publicPort)}->${priv}` : priv,
      });
      start = i;
    }
  }
  return out
    .sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0))
    .map((o) => o.text)
    .join(', ');
}

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: "80/tcp -> 127.0.0.1:18080" lines (only published ports). */
export function portLines(ports: PortMap | undefined, only?: string): string[] {
  const want = only ? (only.includes('/') ? only : `${only}/tcp`) : undefined;
  const lines: string[] = [];
  const keys = Object.keys(ports ?? {}).sort((a, b) => splitPort(a).port - splitPort(b).port || (a < b ? -1 : 1));
  for (const key of keys) {
    if (want && key !== want) continue;
    for (const b of ports![key] ?? []) {
      const ip = (b.HostIp || '0.0.0.0').includes(':') ? `[${b.HostIp}]` : b.HostIp || '0.0.0.0';
      lines.push(want ? `${ip}:${b.HostPort}` : `${key} -> ${ip}:${b.HostPort}`);
    }
  }
  return lines;
}
