import { spawn } from 'node:child_process';
import { unavailable } from '../core/errors.js';
import { mark } from '../core/trace.js';

/**
 * CNI, as the spec (v1.0) has a runtime call plugins: each plugin of a network's
 * conflist is run in turn with its config on stdin (name and cniVersion of the
 * list, and the previous plugin's result as prevResult), CNI_* in the
 * environment and its result on stdout. DEL runs them in reverse order with the
 * ADD result as prevResult (the firewall plugin finds the addresses to forget
 * there), as libcni does from its result cache.
 */

/** Where Debian's containernetworking-plugins installs the plugins. */
export const CNI_PATH = '/usr/lib/cni';

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Array<Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> }>;
}

/** A plugin's result (the parts berth reads). */
export interface CniResult {
  cniVersion: string;
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ interface?: number; address: string; gateway?: string }>;
  routes?: Array<{ dst: string; gw?: string }>;
  dns?: unknown;
}

/** What a runtime passes for the capabilities plugins declare (here: portmap's, and host-local's `ips` via bridge). */
export interface RuntimeConfig {
  portMappings?: Array<{ hostPort: number; containerPort: number; protocol: string; hostIP?: string }>;
  /** Addresses (`ip/prefix`) to ask IPAM for. */
  ips?: string[];
}

export interface Attachment {
  containerId: string;
  netns: string;
  ifname: string;
}

/** One plugin's stdin: its config with the list's name and version, runtimeConfig for what it asked, prevResult. */
export function pluginConfig(
  list: ConfList,
  index: number,
  runtime: RuntimeConfig,
  prevResult: CniResult | undefined,
): Record<string, unknown> {
  const p = list.plugins[index]!;
  const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(p.capabilities ?? {}))
    if (on && (runtime as Record<string, unknown>)[cap] !== undefined)
      rc[cap] = (runtime as Record<string, unknown>)[cap];
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

/** Run one plugin; its stdout parsed, or an error with the plugin's own message (CNI's {code, msg, details}). */
function runPlugin(type: string, command: 'ADD' | 'DEL', a: Attachment, conf: object): Promise<CniResult | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${CNI_PATH}/${type}`, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        CNI_COMMAND: command,
        CNI_CONTAINERID: a.containerId,
        CNI_NETNS: a.netns,
        CNI_IFNAME: a.ifname,
        CNI_PATH,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(unavailable('cni_plugin', `CNI plugin ${type} (${CNI_PATH}): ${e.message}`, e)));
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString();
      if (code !== 0) {
        let msg = Buffer.concat(err).toString().trim() || text.trim();
        try {
          const j = JSON.parse(text) as { msg?: string; details?: string };
          if (j.msg) msg = j.details ? `${j.msg}: ${j.details}` : j.msg;
        } catch {
          /* not JSON: stderr as is */
        }
        reject(unavailable('cni_failed', `CNI ${command} ${type}: ${msg || `exit status ${code}`}`));
        return;
      }
      try {
        resolve(text.trim() ? (JSON.parse(text) as CniResult) : undefined);
      } catch {
        reject(unavailable('cni_failed', `CNI ${command} ${type}: output is not JSON: ${text.slice(0, 200)}`));
      }
    });
    child.stdin.on('error', () => {}); // a plugin that exits without reading reports through its status
    child.stdin.end(JSON.stringify(conf));
  });
}

/** ADD the container to the network: each plugin in order, the last result returned. */
export async function cniAdd(list: ConfList, a: Attachment, runtime: RuntimeConfig): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (let i = 0; i < list.plugins.length; i++) {
    const r = await runPlugin(list.plugins[i]!.type, 'ADD', a, pluginConfig(list, i, runtime, prev));
    if (r) prev = r;
    mark(`CNI ADD ${list.plugins[i]!.type}`);
  }
  if (!prev) throw unavailable('cni_failed', `CNI ADD ${list.name}: no result`);
  return prev;
}

/**
 * The plugin a DEL runs: the bridge plugin's IPAM plugin itself when there is no netns and no masquerade, since then
 * all the bridge plugin's DEL does is run its IPAM plugin with the same stdin (the address released); one Go process
 * fewer on every container's end.
 */
export function delType(p: ConfList['plugins'][number], a: Attachment): string {
  const ipam = p.ipam as { type?: string } | undefined;
  if (p.type === 'bridge' && a.netns === '' && !p.ipMasq && ipam?.type && /^[\w-]+$/.test(ipam.type)) return ipam.type;
  return p.type;
}

/**
 * DEL the container from the network: every plugin, each tried even when another failed (a half-done ADD, a veth
 * already gone); the first failure (in the spec's reverse order) is thrown after all ran. `parallel`: all at once
 * rather than in reverse order, which is safe when each plugin's DEL depends only on the ADD result (as bridge's,
 * portmap's and firewall's do: they remove what the result names, never what another plugin's DEL removes) and no
 * ADD can take the address meanwhile (the caller holds the CNI lock). DEL is the slowest part of a container's end
 * (the veth's removal waits for the kernel; each iptables change is a process).
 */
export async function cniDel(
  list: ConfList,
  a: Attachment,
  runtime: RuntimeConfig,
  prevResult: CniResult | undefined,
  parallel = false,
): Promise<void> {
  const del = (i: number) =>
    runPlugin(delType(list.plugins[i]!, a), 'DEL', a, pluginConfig(list, i, runtime, prevResult));
  const order = list.plugins.map((_, i) => i).reverse();
  const errors: unknown[] = [];
  if (parallel) {
    const settled = await Promise.allSettled(order.map(del));
    for (const s of settled) if (s.status === 'rejected') errors.push(s.reason);
  } else
    for (const i of order)
      await del(i).catch((err: unknown) => {
        errors.push(err);
      });
  mark(`CNI DEL ${list.plugins.map((p) => p.type).join('+')}${parallel ? ' (at once)' : ''}`);
  if (errors.length) throw errors[0];
}
