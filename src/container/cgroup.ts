import {
  createCgroup,
  DEFAULT_DEVICE_RULES,
  applyDeviceRules,
  detectCgroups,
  oomCounterFile,
  openCgroup,
  oomKilled,
  removeCgroup,
  type Cgroup,
  type CgroupHost,
  type DeviceRule,
  type Limits,
} from '../runtime/cgroups/cgroups.js';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalid } from '../core/errors.js';
import { cgroupPaths } from '../runtime/cgroups/host.js';
import type { HostConfig } from './types.js';

/**
 * A container's cgroup: berth/<container-id> in every hierarchy, made when it
 * starts (limits from its HostConfig, Docker's device rules) and removed when
 * it has stopped.
 */
export const CGROUP_PARENT = 'berth';

/**
 * The hierarchies a container joins (as runc: every v1 hierarchy, name=systemd
 * included, so its /sys/fs/cgroup shows its own cgroups everywhere); a hybrid
 * host's controller-less cgroup2 tree limits nothing and is left out (every
 * hierarchy joined costs the start a cgroup migration).
 */
export function containerCgroupHost(host: CgroupHost = detectCgroups()): CgroupHost {
  if (host.version === 2) return host;
  return { version: 1, hierarchies: host.hierarchies };
}

export function limitsOf(hc: HostConfig): Limits {
  return {
    memory: hc.Memory || undefined,
    memorySwap: hc.MemorySwap || undefined,
    memoryReservation: hc.MemoryReservation || undefined,
    nanoCpus: hc.NanoCpus || undefined,
    cpuShares: hc.CpuShares || undefined,
    cpusetCpus: hc.CpusetCpus || undefined,
    cpusetMems: hc.CpusetMems || undefined,
    pidsLimit: hc.PidsLimit ?? undefined,
    oomKillDisable: hc.OomKillDisable ?? undefined,
  };
}

/** A --device: the host node's type and numbers (symlinks followed), where it goes, what the cgroup allows. */
export interface HostDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  access: string;
}

export function hostDevices(hc: HostConfig): HostDevice[] {
  return (hc.Devices ?? []).map((d) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(d.PathOnHost);
    } catch (e) {
      throw invalid(
        'invalid_device',
        `error gathering device information while adding custom device ${JSON.stringify(d.PathOnHost)}: ${(e as Error).message}`,
      );
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice())
      throw invalid('invalid_device', `${d.PathOnHost} is not a device node`);
    return {
      path: d.PathInContainer,
      type: st.isBlockDevice() ? ('b' as const) : ('c' as const),
      major: Number((BigInt(st.rdev) >> 8n) & 0xfffn),
      minor: Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n)),
      fileMode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      access: d.CgroupPermissions,
    };
  });
}

/** Docker's device rules, plus --device ones; --privileged allows every device. */
export function deviceRules(hc: HostConfig, devices = hostDevices(hc)): DeviceRule[] {
  if (hc.Privileged) return [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }];
  return [
    ...DEFAULT_DEVICE_RULES,
    ...devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access })),
  ];
}

/**
 * Make (or reuse, after a crash) the container's cgroup with its limits and
 * device rules. `monitorInside`: the helper that monitors the container is in
 * the cgroup too (a foreground run's early start), so --pids-limit counts one more.
 */
export function startCgroup(
  id: string,
  hc: HostConfig,
  opts: { monitorInside?: boolean } = {},
): { cgroup: Cgroup; oomCounter?: string; warnings: string[] } {
  const limits = limitsOf(hc);
  if (opts.monitorInside && limits.pidsLimit && limits.pidsLimit > 0) limits.pidsLimit += 1;
  const rules = deviceRules(hc); // (a bad --device fails here, before anything is made)
  const cg = createCgroup(id, limits, CGROUP_PARENT, containerCgroupHost());
  let warnings: string[];
  try {
    warnings = [...cg.warnings, ...applyDeviceRules(cg, rules)];
  } catch (err) {
    for (const dir of Object.values(cg.paths)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        /* reported by the error */
      }
    }
    throw err;
  }
  return { cgroup: cg, oomCounter: oomCounterFile(cg), warnings };
}

/** The cgroup of a container, if it exists. */
export function findCgroup(id: string): Cgroup | undefined {
  try {
    return openCgroup(id, CGROUP_PARENT, containerCgroupHost());
  } catch {
    return undefined;
  }
}

/** Whether the container's cgroup exists (in some hierarchy). */
export function hasCgroup(id: string, host: CgroupHost = containerCgroupHost()): boolean {
  try {
    openCgroup(id, CGROUP_PARENT, host);
    return true;
  } catch {
    return false;
  }
}

/**
 * The ids that have a container cgroup in some hierarchy: one readdir per hierarchy, for checking many containers at
 * once.
 */
export function cgroupIds(host: CgroupHost = containerCgroupHost()): Set<string> {
  const ids = new Set<string>();
  for (const dir of Object.values(cgroupPaths(host, CGROUP_PARENT, ''))) {
    try {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) ids.add(e.name);
    } catch {
      /* no berth cgroups there */
    }
  }
  return ids;
}

/**
 * Remove the cgroup of a container that no longer runs without killing
 * anything: rmdir in every hierarchy, retried briefly while the kernel still
 * counts exiting processes (EBUSY). A cgroup still in use is left as it is
 * (for the next settle). Whether it is gone.
 */
export async function removeEmptyCgroup(id: string, timeoutMs = 1000): Promise<boolean> {
  const cg = findCgroup(id);
  if (!cg) return true;
  const end = Date.now() + timeoutMs;
  let gone = true;
  for (const dir of Object.values(cg.paths)) {
    for (;;) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() > end) {
          gone = false;
          break;
        }
        await sleep(20);
      }
    }
  }
  return gone;
}

/** Remove a stopped container's cgroup (SIGKILLing what still runs in it); whether the kernel OOM-killed in it. */
export async function endCgroup(id: string): Promise<boolean> {
  const cg = findCgroup(id);
  if (!cg) return false;
  const oom = oomKilled(cg);
  await removeCgroup(cg);
  return oom;
}
