import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { unavailable } from '../core/errors.js';
import { RUN_DIR } from './bridge.js';

/**
 * Names on user networks, served by aardvark-dns as daemonless Podman runs it:
 * one process for the host, reading one file per network from its config
 * directory and answering on each network's gateway, port 53. A file's first
 * line is the addresses to listen on, a space, and the upstream resolvers;
 * each further line a container: `ID IPV4S IPV6S NAMES` (comma-separated
 * lists; an empty IPv6 column is an empty field). aardvark-dns forks itself
 * into the background, writes aardvark.pid in the directory, and reloads every
 * file on SIGHUP. berth starts it when the first entry is written, signals it
 * on every change, and stops it when the last file goes. Callers hold the CNI
 * lock (bridge.ts), so no two berth processes change the files at once.
 */
export const DNS_DIR = `${RUN_DIR}/aardvark`;
/** Files are written here, then renamed into DNS_DIR (same file system): aardvark never reads a half-written one. */
const STAGE_DIR = `${RUN_DIR}/aardvark.stage`;
const PID_FILE = `${DNS_DIR}/aardvark.pid`;
const BINARIES = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns'];

export interface DnsEntry {
  id: string;
  ipv4: string[];
  names: string[];
}

export interface DnsConfig {
  listen: string[];
  upstreams: string[];
  entries: DnsEntry[];
}

/** The nameservers of a resolv.conf an aardvark-dns may forward to: loopback stubs skipped (pure). */
export function upstreamResolvers(resolvConf: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && !/^127\./.test(m[1]!) && m[1] !== '::1' && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** A network's file for aardvark-dns (pure). */
export function renderDnsConfig(c: DnsConfig): string {
  const first = c.upstreams.length ? `${c.listen.join(',')} ${c.upstreams.join(',')}` : c.listen.join(',');
  return [first, ...c.entries.map((e) => `${e.id} ${e.ipv4.join(',')}  ${e.names.join(',')}`), ''].join('\n');
}

/** A network's file read back (pure); undefined for an empty one. */
export function parseDnsConfig(text: string): DnsConfig | undefined {
  const lines = text.split('\n').filter((l) => l !== '');
  if (!lines.length) return undefined;
  const [listen, upstreams] = lines[0]!.split(' ');
  return {
    listen: listen!.split(',').filter(Boolean),
    upstreams: (upstreams ?? '').split(',').filter(Boolean),
    entries: lines.slice(1).map((l) => {
      const [id, v4, , names] = l.split(' ');
      return { id: id!, ipv4: (v4 ?? '').split(',').filter(Boolean), names: (names ?? '').split(',').filter(Boolean) };
    }),
  };
}

/** The names a container answers to on a network: its name, its aliases, its short id (Docker's DNSNames). */
export function dnsNames(name: string, aliases: readonly string[], id: string): string[] {
  const out: string[] = [];
  for (const n of [name.replace(/^\//, ''), ...aliases, id.slice(0, 12)]) if (n && !out.includes(n)) out.push(n);
  return out;
}

const netFile = (netId: string): string => `${DNS_DIR}/${netId}`;

function readConfig(netId: string): DnsConfig | undefined {
  try {
    return parseDnsConfig(fs.readFileSync(netFile(netId), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function writeConfig(netId: string, c: DnsConfig | undefined): void {
  if (!c || !c.entries.length) {
    fs.rmSync(netFile(netId), { force: true });
    return;
  }
  fs.mkdirSync(DNS_DIR, { recursive: true, mode: 0o755 });
  fs.mkdirSync(STAGE_DIR, { recursive: true, mode: 0o755 });
  const tmp = `${STAGE_DIR}/${netId}.${process.pid}`;
  fs.writeFileSync(tmp, renderDnsConfig(c));
  fs.renameSync(tmp, netFile(netId));
}

function hostUpstreams(): string[] {
  try {
    return upstreamResolvers(fs.readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}

/** Add (or replace) a container's entry on a network and let aardvark-dns know. Under the CNI lock. */
export async function addDnsEntry(netId: string, gateway: string, entry: DnsEntry): Promise<void> {
  const c = readConfig(netId) ?? { listen: [gateway], upstreams: hostUpstreams(), entries: [] };
  c.entries = [...c.entries.filter((e) => e.id !== entry.id), entry];
  writeConfig(netId, c);
  await reconcileServer();
}

/** Remove a container's entry from a network (nothing if it has none); the server stops with the last. */
export async function removeDnsEntry(netId: string, containerId: string): Promise<void> {
  const c = readConfig(netId);
  if (!c?.entries.some((e) => e.id === containerId)) return;
  c.entries = c.entries.filter((e) => e.id !== containerId);
  writeConfig(netId, c);
  await reconcileServer();
}

/** Every container with an entry in a network's file, and those networks' ids (a read of each file). */
export function dnsEntriesById(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let files: string[];
  try {
    files = fs.readdirSync(DNS_DIR).filter((f) => /^[0-9a-f]{64}$/.test(f));
  } catch {
    return out;
  }
  for (const netId of files) {
    let c: DnsConfig | undefined;
    try {
      c = readConfig(netId);
    } catch {
      continue;
    }
    for (const e of c?.entries ?? []) out.set(e.id, [...(out.get(e.id) ?? []), netId]);
  }
  return out;
}

/**
 * Remove a container's entries from every network's file (those its attachments no longer name: a berth killed
 * between the two, a reboot that kept /run). Under the CNI lock.
 */
export async function removeDnsEntries(containerId: string): Promise<void> {
  const nets = dnsEntriesById().get(containerId) ?? [];
  for (const netId of nets) {
    const c = readConfig(netId);
    if (c) writeConfig(netId, { ...c, entries: c.entries.filter((e) => e.id !== containerId) });
  }
  if (nets.length) await reconcileServer();
}

/** The running aardvark-dns's pid (its pid file, and a live process of that name), or 0. */
export function serverPid(): number {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(PID_FILE, 'utf8').trim());
  } catch {
    return 0;
  }
  try {
    const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm.startsWith('aardvark') && running(pid) ? pid : 0;
  } catch {
    return 0;
  }
}

const run = promisify(execFile);

function binary(): string {
  const found = BINARIES.find((b) => fs.existsSync(b));
  if (!found)
    throw unavailable(
      'no_aardvark',
      `names on user networks need aardvark-dns (Debian package aardvark-dns; looked in ${BINARIES.join(', ')})`,
    );
  return found;
}

/** Start, reload or stop the server so that it serves exactly the files there are. */
async function reconcileServer(): Promise<void> {
  const files = fs.existsSync(DNS_DIR) ? fs.readdirSync(DNS_DIR).filter((f) => /^[0-9a-f]{64}$/.test(f)) : [];
  const pid = serverPid();
  if (!files.length) {
    if (pid) await stopServer(pid);
    fs.rmSync(PID_FILE, { force: true });
    return;
  }
  if (pid) {
    process.kill(pid, 'SIGHUP');
    return;
  }
  // the parent returns once its forked child serves (it writes aardvark.pid first)
  await run(binary(), ['--config', DNS_DIR, '-p', '53', 'run'], { timeout: 10_000 }).catch((err: Error) => {
    throw unavailable('aardvark_failed', `start aardvark-dns: ${err.message}`, err);
  });
}

/** Whether a process still runs: gone, or a zombie its reaper (init: aardvark-dns daemonizes) has not collected yet. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

async function stopServer(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 200; i++) {
    if (!running(pid)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * resolv.conf of a container on user networks (pure): the gateways answer (aardvark-dns, which forwards what it does
 * not know to the host's resolvers); the host's search and options lines stay.
 */
export function dnsResolvConf(gateways: readonly string[], hostResolvConf: string): string {
  const kept = hostResolvConf.split('\n').filter((l) => /^\s*(search|domain|options)\s/.test(l));
  return [...kept, ...gateways.map((g) => `nameserver ${g}`), ''].join('\n');
}
