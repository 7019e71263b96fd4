import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { stats as cgroupStats } from '../runtime/cgroups/cgroups.js';
import { findCgroup } from './cgroup.js';
import type { ContainerRecord } from './types.js';

/** One reading of a container's usage, with the host CPU time it is measured against. */
export interface Sample {
  cpuNs: number;
  systemNs: number;
  memUsage: number;
  memLimit: number;
  pids: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
}

/** Total host CPU time (ns) from /proc/stat, as Docker's systemCPUUsage (USER_HZ is 100). */
export function systemCpuNs(stat = fs.readFileSync('/proc/stat', 'utf8')): number {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '))!;
  return (
    line
      .trim()
      .split(/\s+/)
      .slice(1, 8)
      .reduce((a, v) => a + Number(v), 0) * 1e7
  );
}

/**
 * Bytes received and sent on the interfaces of a network namespace (not lo: Docker counts the container's own
 * interfaces).
 */
export function netBytes(netDev: string): { rx: number; tx: number } {
  let rx = 0,
    tx = 0;
  for (const line of netDev.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name!.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rx, tx };
}

export function sample(c: ContainerRecord): Sample | undefined {
  const cg = findCgroup(c.ID);
  if (!cg) return undefined;
  const s = cgroupStats(cg);
  let net = { rx: 0, tx: 0 };
  // with --network host the interfaces are the host's: Docker shows none for them
  try {
    if (c.State.Pid) net = netBytes(fs.readFileSync(`/proc/${c.State.Pid}/net/dev`, 'utf8'));
  } catch {
    /* it ended */
  }
  return {
    cpuNs: s.cpuUsageNs,
    systemNs: systemCpuNs(),
    memUsage: s.memoryUsage,
    memLimit: s.memoryLimit,
    pids: s.pids,
    netRx: net.rx,
    netTx: net.tx,
    blkRead: s.blkioRead,
    blkWrite: s.blkioWrite,
  };
}

/** Docker's CPU %: the container's share of host CPU time between two readings, times the CPUs. */
export function cpuPercent(prev: Sample, cur: Sample, cpus = availableParallelism()): number {
  const cpu = cur.cpuNs - prev.cpuNs;
  const sys = cur.systemNs - prev.systemNs;
  return sys > 0 && cpu > 0 ? (cpu / sys) * cpus * 100 : 0;
}
