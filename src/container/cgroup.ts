import { createCgroup, DEFAULT_DEVICE_RULES, applyDeviceRules, oomCounterFile, openCgroup, oomKilled, removeCgroup, type Cgroup, type Limits } from '../runtime/cgroups.js';
import type { HostConfig } from './types.js';

/**
 * A container's cgroup: berth/<container-id> in every hierarchy, made when it
 * starts (limits from its HostConfig, Docker's device rules) and removed when
 * it has stopped.
 */
export const CGROUP_PARENT = 'berth';

export function limitsOf(hc: HostConfig): Limits {
  return {
    memory: hc.Memory || undefined, memorySwap: hc.MemorySwap || undefined, memoryReservation: hc.MemoryReservation || undefined,
    nanoCpus: hc.NanoCpus || undefined, cpuShares: hc.CpuShares || undefined, cpusetCpus: hc.CpusetCpus || undefined,
    cpusetMems: hc.CpusetMems || undefined, pidsLimit: hc.PidsLimit ?? undefined, oomKillDisable: hc.OomKillDisable ?? undefined,
  };
}

/** Make (or reuse, after a crash) the container's cgroup with its limits and device rules. */
export function startCgroup(id: string, hc: HostConfig): { cgroup: Cgroup; oomCounter?: string; warnings: string[] } {
  const cg = createCgroup(id, limitsOf(hc), CGROUP_PARENT);
  // --privileged: every device (as Docker); otherwise deny all but the usual nodes
  const rules = hc.Privileged ? [{ allow: true, type: 'a' as const, major: -1, minor: -1, access: 'rwm' }] : DEFAULT_DEVICE_RULES;
  const warnings = [...cg.warnings, ...applyDeviceRules(cg, rules)];
  return { cgroup: cg, oomCounter: oomCounterFile(cg), warnings };
}

/** The cgroup of a container, if it exists. */
export function findCgroup(id: string): Cgroup | undefined {
  try { return openCgroup(id, CGROUP_PARENT); } catch { return undefined; }
}

/** Remove a stopped container's cgroup; whether the kernel OOM-killed in it. */
export async function endCgroup(id: string): Promise<boolean> {
  const cg = findCgroup(id);
  if (!cg) return false;
  const oom = oomKilled(cg);
  await removeCgroup(cg);
  return oom;
}
