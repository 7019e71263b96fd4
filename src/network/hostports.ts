import * as net from 'node:net';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import { conflict } from '../core/errors.js';
import type { RuntimeConfig } from './cni.js';
import { splitPort, type PortMap } from './ports.js';
import { RESULTS_DIR } from './run-dirs.js';

/** Host ports of published ports: free ones chosen, conflicts with other containers and host processes found. */

/** A free host port on an address (for -P and `-p :80`): one the kernel hands out, as Docker's allocator does. */
async function freePort(ip: string, proto: string): Promise<number> {
  const host = ip || '0.0.0.0';
  if (proto === 'udp') {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((res, rej) => s.once('error', rej).bind(0, host, () => res()));
    const port = s.address().port;
    s.close();
    return port;
  }
  const srv = net.createServer();
  await new Promise<void>((res, rej) => srv.once('error', rej).listen(0, host, () => res()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

/** The ports with every empty host port given a free one, and portmap's mappings for them. */
export async function resolvePorts(
  bindings: PortMap,
  exposed: readonly string[],
  publishAll: boolean,
): Promise<{ ports: PortMap; mappings: NonNullable<RuntimeConfig['portMappings']> }> {
  const ports: PortMap = {};
  const mappings: NonNullable<RuntimeConfig['portMappings']> = [];
  for (const key of exposed) ports[key] = publishAll ? [{ HostIp: '', HostPort: '' }] : null;
  for (const [key, list] of Object.entries(bindings)) if (list?.length) ports[key] = list.map((b) => ({ ...b }));
  for (const [key, list] of Object.entries(ports)) {
    const { port, proto } = splitPort(key);
    for (const b of list ?? []) {
      if (!b.HostPort) b.HostPort = String(await freePort(b.HostIp, proto));
      mappings.push({
        hostPort: Number(b.HostPort),
        containerPort: port,
        protocol: proto,
        ...(b.HostIp ? { hostIP: b.HostIp } : {}),
      });
    }
    // Docker shows an all-addresses binding as 0.0.0.0
    for (const b of list ?? []) if (!b.HostIp) b.HostIp = '0.0.0.0';
  }
  return { ports, mappings };
}

type Mapping = NonNullable<RuntimeConfig['portMappings']>[number];

/** The first of `mine` whose host port another container holds (same port and protocol, overlapping address). */
export function conflictingMapping(mine: readonly Mapping[], others: readonly Mapping[]): Mapping | undefined {
  return mine.find((m) =>
    others.some(
      (o) =>
        o.hostPort === m.hostPort &&
        o.protocol === m.protocol &&
        (!o.hostIP || !m.hostIP || o.hostIP === '0.0.0.0' || m.hostIP === '0.0.0.0' || o.hostIP === m.hostIP),
    ),
  );
}

/** The port mappings of every other container on the bridge (their saved CNI calls). */
export function otherMappings(id: string): Mapping[] {
  const out: Mapping[] = [];
  for (const f of fs.readdirSync(RESULTS_DIR)) {
    if (f === `${id}.json` || !f.endsWith('.json')) continue;
    try {
      const saved = JSON.parse(fs.readFileSync(`${RESULTS_DIR}/${f}`, 'utf8')) as { runtime?: RuntimeConfig };
      out.push(...(saved.runtime?.portMappings ?? []));
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}

export function portAllocated(m: Mapping): Error {
  return conflict(
    'port_allocated',
    `Bind for ${m.hostIP || '0.0.0.0'}:${m.hostPort} failed: port is already allocated`,
  );
}

/** A host port a host process listens on cannot be published (Docker's error). */
export async function refuseListened(m: Mapping): Promise<void> {
  const host = m.hostIP || '0.0.0.0';
  try {
    if (m.protocol === 'udp') {
      const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((res, rej) => s.once('error', rej).bind(m.hostPort, host, () => res()));
      s.close();
    } else if (m.protocol === 'tcp') {
      const srv = net.createServer();
      await new Promise<void>((res, rej) => srv.once('error', rej).listen(m.hostPort, host, () => res()));
      await new Promise<void>((res) => srv.close(() => res()));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw portAllocated(m);
    // another error (an address this host lacks): the plugins report it
  }
}
