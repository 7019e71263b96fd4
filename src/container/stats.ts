import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';

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

/** Docker's CPU %: the container's share of host CPU time between two readings, times the CPUs. */
export function cpuPercent(prev: Sample, cur: Sample, cpus = availableParallelism()): number {
  const cpu = cur.cpuNs - prev.cpuNs;
  const sys = cur.systemNs - prev.systemNs;
  return sys > 0 && cpu > 0 ? (cpu / sys) * cpus * 100 : 0;
}
