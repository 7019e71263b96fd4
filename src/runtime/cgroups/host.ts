/**
 * Which cgroup hierarchies the host has and where they are mounted. v2 when
 * /sys/fs/cgroup itself is cgroup2; otherwise v1, where each controller's
 * hierarchy is found in /proc/self/mountinfo. A hybrid host (v1 controllers
 * plus a controller-less cgroup2 tree, often at /sys/fs/cgroup/unified) counts
 * as v1 for resource control; its cgroup2 tree is joined too, as runc does.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { unsupported } from '../../core/errors.js';

export const CGROUP2_SUPER_MAGIC = 0x63677270;
/** The cgroup controllers of v1 (anything else in a cgroup mount's options is an option). */
const V1_CONTROLLERS = new Set([
  'cpuset',
  'cpu',
  'cpuacct',
  'blkio',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'perf_event',
  'net_prio',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
  'debug',
]);

export interface CgroupMount {
  version: 1 | 2;
  mountPoint: string;
  root: string;
  controllers: string[];
}

/**
 * One v1 hierarchy: `key` names it by its controllers as mounted ("memory",
 * "cpu,cpuacct", "name=systemd"); berth's cgroup handles use the same keys.
 */
export interface Hierarchy {
  key: string;
  mountPoint: string;
  controllers: string[];
}

export type CgroupHost =
  | { version: 2; root: string }
  /** `unified`: the cgroup2 mount of a hybrid host (key '' in handles). */
  | { version: 1; hierarchies: Hierarchy[]; unified?: string };

/** The cgroup and cgroup2 mounts in /proc/self/mountinfo text. */
export function parseMountinfo(text: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const controllers =
      fstype === 'cgroup2' ? [] : superOpts.split(',').filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
    out.push({
      version: fstype === 'cgroup2' ? 2 : 1,
      root: unescape(pre[3] ?? '/'),
      mountPoint: unescape(pre[4] ?? ''),
      controllers,
    });
  }
  return out;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The host from its cgroup mounts; `sysfsIsCgroup2`: /sys/fs/cgroup is a cgroup2 filesystem. */
export function hostFromMounts(mounts: CgroupMount[], sysfsIsCgroup2: boolean): CgroupHost {
  if (sysfsIsCgroup2) return { version: 2, root: '/sys/fs/cgroup' };
  const hierarchies = new Map<string, Hierarchy & { root: string }>();
  for (const m of mounts) {
    if (m.version !== 1 || m.controllers.length === 0) continue;
    const key = m.controllers.join(',');
    const seen = hierarchies.get(key);
    // a hierarchy mounted twice: prefer the mount of its root
    if (!seen || (seen.root !== '/' && m.root === '/'))
      hierarchies.set(key, { key, mountPoint: m.mountPoint, controllers: m.controllers, root: m.root });
  }
  const unified = mounts.find((m) => m.version === 2)?.mountPoint;
  if (hierarchies.size > 0) {
    const list = [...hierarchies.values()].map(({ key, mountPoint, controllers }) => ({
      key,
      mountPoint,
      controllers,
    }));
    return unified ? { version: 1, hierarchies: list, unified } : { version: 1, hierarchies: list };
  }
  if (unified) return { version: 2, root: unified };
  throw unsupported('cgroups_missing', 'detect cgroups: no cgroup filesystem is mounted');
}

/** The running host's cgroups (statfs of /sys/fs/cgroup, then /proc/self/mountinfo). */
export function detectCgroups(): CgroupHost {
  let v2 = false;
  try {
    v2 = fs.statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    /* not mounted: look at the mounts */
  }
  return hostFromMounts(parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')), v2);
}

/** Whether the host limits swap: memory.memsw.* on v1; on v2 memory.swap.max next to our own cgroup's memory files. */
export function swapAccounting(host: CgroupHost): boolean {
  if (host.version === 1) {
    const mem = host.hierarchies.find((h) => h.controllers.includes('memory'));
    return !!mem && fs.existsSync(join(mem.mountPoint, 'memory.memsw.limit_in_bytes'));
  }
  const own = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
  const dirs = [
    join(host.root, own),
    ...fs
      .readdirSync(host.root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(host.root, d.name)),
  ];
  const withMemory = dirs.find((d) => fs.existsSync(join(d, 'memory.max')));
  return !!withMemory && fs.existsSync(join(withMemory, 'memory.swap.max'));
}

/** The directories of cgroup `parent/id` in every hierarchy, keyed as Hierarchy.key ('' for the cgroup2 tree). */
export function cgroupPaths(host: CgroupHost, parent: string, id: string): Record<string, string> {
  if (host.version === 2) return { '': join(host.root, parent, id) };
  const paths: Record<string, string> = {};
  for (const h of host.hierarchies) paths[h.key] = join(h.mountPoint, parent, id);
  if (host.unified) paths[''] = join(host.unified, parent, id);
  return paths;
}

/** The mount point a handle's path key lives under. */
export function mountPointOf(host: CgroupHost, key: string): string | undefined {
  if (host.version === 2) return key === '' ? host.root : undefined;
  return key === '' ? host.unified : host.hierarchies.find((h) => h.key === key)?.mountPoint;
}
