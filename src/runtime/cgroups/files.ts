/**
 * What berth writes to and reads from cgroup files, as pure functions: limits
 * become ordered [file, value] lists for cgroup v1 or v2 (the writer only
 * performs them), and the stat files' formats are parsed here.
 */
import { invalid } from '../../core/errors.js';
import { cfsQuota, CPU_PERIOD_US, type Limits } from './limits.js';

/** One write: the file's name in the cgroup directory, and the value. The controller is the name's prefix. */
export type CgroupWrite = readonly [file: string, value: string];
export interface WritePlan {
  writes: CgroupWrite[];
  warnings: string[];
}

/** The controller a cgroup file belongs to ("memory.max" -> "memory"). */
export const controllerOf = (file: string): string => file.slice(0, file.indexOf('.'));

const SWAP_IGNORED =
  'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.';

/**
 * cgroup v1 writes. `memsw`: memory.memsw.* exists (swap accounting is on);
 * without it a swap limit is dropped with a warning, as Docker does.
 * `currentMemoryLimit` orders memory and memsw as runc does: memsw must stay
 * >= memory after every single write.
 */
export function v1Writes(l: Limits, host: { memsw: boolean; currentMemoryLimit?: number }): WritePlan {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  const memory = l.memory ?? 0;
  let swap = l.memorySwap ?? 0;
  if (memory === -1 && swap === 0) swap = -1;
  const mem: CgroupWrite[] = memory !== 0 ? [['memory.limit_in_bytes', String(memory)]] : [];
  let sw: CgroupWrite[] = swap !== 0 ? [['memory.memsw.limit_in_bytes', String(swap)]] : [];
  if (sw.length && !host.memsw) {
    if (swap !== -1) warnings.push(SWAP_IGNORED);
    sw = [];
  }
  const swapFirst = swap === -1 || (host.currentMemoryLimit ?? Infinity) < swap;
  writes.push(...(swapFirst ? [...sw, ...mem] : [...mem, ...sw]));
  if (l.memoryReservation) writes.push(['memory.soft_limit_in_bytes', String(l.memoryReservation)]);
  if (l.oomKillDisable !== undefined) writes.push(['memory.oom_control', l.oomKillDisable ? '1' : '0']);
  if (l.nanoCpus)
    writes.push(['cpu.cfs_period_us', String(CPU_PERIOD_US)], ['cpu.cfs_quota_us', String(cfsQuota(l.nanoCpus))]);
  if (l.cpuShares) writes.push(['cpu.shares', String(l.cpuShares)]);
  if (l.cpusetCpus) writes.push(['cpuset.cpus', l.cpusetCpus]);
  if (l.cpusetMems) writes.push(['cpuset.mems', l.cpusetMems]);
  if (l.pidsLimit !== undefined) writes.push(['pids.max', pidsMax(l.pidsLimit)]);
  return { writes, warnings };
}

/**
 * cgroup v2 writes. `swap`: memory.swap.max exists. MemorySwap (memory plus
 * swap) becomes memory.swap.max = MemorySwap - Memory, MemoryReservation
 * memory.low, CpuShares cpu.weight; OomKillDisable has no v2 equivalent.
 */
export function v2Writes(l: Limits, host: { swap: boolean }): WritePlan {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  const memory = l.memory ?? 0;
  const swap = swapMax(l.memorySwap ?? 0, memory);
  if (swap !== undefined) {
    if (host.swap) writes.push(['memory.swap.max', swap]);
    else if (swap !== 'max') warnings.push(SWAP_IGNORED);
  }
  if (memory !== 0) writes.push(['memory.max', memory === -1 ? 'max' : String(memory)]);
  if (l.memoryReservation)
    writes.push(['memory.low', l.memoryReservation === -1 ? 'max' : String(l.memoryReservation)]);
  if (l.oomKillDisable) warnings.push('OomKillDisable is not supported on cgroup v2: ignored.');
  if (l.nanoCpus) writes.push(['cpu.max', `${cfsQuota(l.nanoCpus)} ${CPU_PERIOD_US}`]);
  if (l.cpuShares) writes.push(['cpu.weight', String(sharesToWeight(l.cpuShares))]);
  if (l.cpusetCpus) writes.push(['cpuset.cpus', l.cpusetCpus]);
  if (l.cpusetMems) writes.push(['cpuset.mems', l.cpusetMems]);
  if (l.pidsLimit !== undefined) writes.push(['pids.max', pidsMax(l.pidsLimit)]);
  return { writes, warnings };
}

/** runc's ConvertMemorySwapToCgroupV2Value, as the memory.swap.max value (undefined: leave it). */
function swapMax(memorySwap: number, memory: number): string | undefined {
  if (memory === -1 && memorySwap === 0) return 'max';
  if (memorySwap === -1) return 'max';
  if (memorySwap === 0) return undefined;
  if (memory <= 0)
    throw invalid('invalid_resources', 'set memory swap limit: a swap limit needs a memory limit on cgroup v2');
  if (memorySwap < memory)
    throw invalid(
      'invalid_resources',
      `set memory swap limit: memory+swap limit ${memorySwap} is below the memory limit ${memory}`,
    );
  return String(memorySwap - memory);
}

const pidsMax = (n: number) => (n > 0 ? String(n) : 'max');

/** runc's CpuShares [2, 262144] -> cpu.weight [1, 10000] mapping. */
export function sharesToWeight(shares: number): number {
  return shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** "key value" lines (memory.stat, memory.events, cpu.stat, cgroup.events, memory.oom_control). */
export function parseKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** v1 blkio.throttle.io_service_bytes: "8:0 Read 4096" lines, summed over devices. */
export function parseBlkio(text: string): { read: number; write: number } {
  let read = 0,
    write = 0;
  for (const line of text.split('\n')) {
    const [dev, op, v] = line.trim().split(/\s+/);
    if (!dev?.includes(':') || v === undefined) continue;
    if (op === 'Read') read += Number(v);
    else if (op === 'Write') write += Number(v);
  }
  return { read, write };
}

/** v2 io.stat: "8:0 rbytes=4096 wbytes=0 rios=1 ..." lines, summed over devices. */
export function parseIoStat(text: string): { read: number; write: number } {
  let read = 0,
    write = 0;
  for (const m of text.matchAll(/\b([rw])bytes=(\d+)/g)) {
    if (m[1] === 'r') read += Number(m[2]);
    else write += Number(m[2]);
  }
  return { read, write };
}

/** A limit file's value: a number, or Infinity for "max" (v2) and v1's "unlimited" page-rounded int64 max. */
export function parseLimit(text: string): number {
  const t = text.trim();
  if (t === 'max' || t === '') return Infinity;
  const n = Number(t);
  return n >= 2 ** 62 ? Infinity : n;
}
