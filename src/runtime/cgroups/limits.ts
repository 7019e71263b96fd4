/**
 * Resource limits as Docker's HostConfig carries them, the parsers of the CLI
 * flags that set them, and the daemon's checks and defaults. Pure: the host's
 * facts (CPU count, swap accounting) are arguments.
 */
import { invalid } from '../../core/errors.js';

/**
 * A container's resource limits, named after Docker's HostConfig fields.
 * `undefined` (and 0 where noted) leaves a limit unset, or unchanged on update.
 */
export interface Limits {
  /** Memory: hard memory limit in bytes (0 unset, -1 unlimited); --memory. */
  memory?: number;
  /** MemorySwap: memory plus swap in bytes, -1 unlimited swap (0 unset); --memory-swap. */
  memorySwap?: number;
  /** MemoryReservation: soft limit in bytes, enforced under host memory pressure; --memory-reservation. */
  memoryReservation?: number;
  /** NanoCpus: CPU quota in units of 1e-9 CPUs (1.5 CPUs = 1_500_000_000, 0 unset); --cpus. */
  nanoCpus?: number;
  /** CpuShares: relative CPU weight (1024 is the default, 0 unset); --cpu-shares. */
  cpuShares?: number;
  /** CpusetCpus: the CPUs allowed, as a list like "0-2,4"; --cpuset-cpus. */
  cpusetCpus?: string;
  /** CpusetMems: the memory nodes allowed, as a list like "0"; --cpuset-mems. */
  cpusetMems?: string;
  /** PidsLimit: most tasks at once; 0 or -1 unlimited; --pids-limit. */
  pidsLimit?: number;
  /** OomKillDisable: do not OOM-kill the container's processes (cgroup v1 only); --oom-kill-disable. */
  oomKillDisable?: boolean;
}

/** CFS period berth uses for --cpus, as Docker (100 ms). */
export const CPU_PERIOD_US = 100_000;
/** Docker's minimum for Memory and MemoryReservation (6 MiB). */
export const MIN_MEMORY = 6 * 1024 * 1024;

const UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

const bad = (flag: string, value: string, why: string) =>
  invalid('invalid_flag_value', `invalid argument ${JSON.stringify(value)} for "--${flag}" flag: ${why}`);

/**
 * Docker's RAMInBytes (go-units): a decimal number with an optional binary
 * suffix b, k, m, g, t or p (case-insensitive), which may be followed by "b"
 * or "ib": '512m', '512mb', '1.5g', '1024', '10 KiB'. Fractions truncate.
 */
export function parseBytes(value: string, flag = 'memory'): number {
  const m = /^(\d+\.?\d*|\.\d+) ?([a-z]*)$/i.exec(value);
  if (!m) throw bad(flag, value, 'invalid size');
  let size = Number(m[1]);
  const sfx = m[2]!.toLowerCase();
  if (sfx !== '' && sfx !== 'b') {
    const mul = UNITS[sfx[0]!];
    if (mul === undefined || sfx.length > 3 || (sfx.length >= 2 && sfx.slice(1) !== 'b' && sfx.slice(1) !== 'ib')) {
      throw bad(flag, value, `invalid suffix ${JSON.stringify(sfx)}`);
    }
    size *= mul;
  }
  size = Math.trunc(size);
  if (!Number.isSafeInteger(size)) throw bad(flag, value, 'size is too large');
  return size;
}

/** --memory-swap: bytes as parseBytes, or "-1" for unlimited swap. */
export function parseMemorySwap(value: string): number {
  return value === '-1' ? -1 : parseBytes(value, 'memory-swap');
}

/**
 * Docker's --cpus: a decimal number of CPUs, exact to 1e-9, as NanoCpus and
 * the CFS quota and period the daemon derives from it (quota = cpus * period).
 */
export function parseCpus(value: string, flag = 'cpus'): { nanoCpus: number; quota: number; period: number } {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(value);
  if (!m || (m[1] === '' && !m[2])) throw bad(flag, value, `failed to parse ${value} as a rational number`);
  const frac = m[2] ?? '';
  if (frac.replace(/0+$/, '').length > 9) throw bad(flag, value, 'value is too precise');
  const nanoCpus = Number(m[1] || '0') * 1e9 + Number(frac.slice(0, 9).padEnd(9, '0'));
  if (!Number.isSafeInteger(nanoCpus)) throw bad(flag, value, 'value is too large');
  return { nanoCpus, quota: cfsQuota(nanoCpus), period: CPU_PERIOD_US };
}

/** The CFS quota in microseconds per CPU_PERIOD_US for NanoCpus (integer division, as Docker). */
export function cfsQuota(nanoCpus: number): number {
  return Math.floor((nanoCpus * CPU_PERIOD_US) / 1e9);
}

export interface LimitsHost {
  /** Online CPUs (os.availableParallelism()). */
  cpus: number;
  /** Whether the kernel accounts and limits swap (memory.memsw.* on v1, memory.swap.max on v2). */
  swapAccounting: boolean;
}

/**
 * The daemon's checks and defaults (Docker's verifyPlatformContainerResources
 * and adaptContainerSettings): errors for impossible combinations, warnings
 * for limits the host drops. On create (not update) a memory limit without a
 * swap limit allows as much swap again (MemorySwap = 2 * Memory), or unlimited
 * swap when swap is not accounted.
 */
export function checkLimits(l: Limits, host: LimitsHost, update = false): { limits: Limits; warnings: string[] } {
  const out: Limits = { ...l };
  const warnings: string[] = [];
  const fail = (msg: string) => invalid('invalid_resources', msg);
  const mem = out.memory ?? 0;
  if (mem > 0 && mem < MIN_MEMORY) throw fail('Minimum memory limit allowed is 6MB');
  if (!update && mem > 0 && !out.memorySwap) out.memorySwap = host.swapAccounting ? 2 * mem : -1;
  const swap = out.memorySwap ?? 0;
  if (mem > 0 && swap > 0 && !host.swapAccounting) {
    warnings.push(
      'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    );
    out.memorySwap = -1;
  }
  if (mem > 0 && swap > 0 && swap < mem)
    throw fail('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0 && !update)
    throw fail('You should always set the Memory limit when using Memoryswap limit, see usage');
  const res = out.memoryReservation ?? 0;
  if (res > 0 && res < MIN_MEMORY) throw fail('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && res > 0 && mem < res)
    throw fail('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (out.oomKillDisable && mem <= 0) {
    warnings.push(
      'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    );
  }
  const nano = out.nanoCpus ?? 0;
  if (nano < 0 || nano > host.cpus * 1e9 || (nano > 0 && nano < 1e7)) {
    throw fail(`Range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
  }
  if ((out.cpuShares ?? 0) < 0) throw fail(`invalid CPU shares ${out.cpuShares}: must not be negative`);
  if (out.cpusetCpus) checkCpuList('CPUs', out.cpusetCpus, host.cpus);
  if (out.cpusetMems) checkCpuList('MEMs', out.cpusetMems);
  return { limits: out, warnings };
}

/** Parse a cpuset list ("0-2,4") into its members; throws on bad syntax or members not below `available`. */
export function checkCpuList(what: 'CPUs' | 'MEMs', list: string, available = Infinity): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m || (m[2] !== undefined && (Number(m[2]) < Number(m[1]) || Number(m[2]) - Number(m[1]) > 65536))) {
      throw invalid('invalid_resources', `Invalid value ${JSON.stringify(list)} for cpuset ${what.toLowerCase()}`);
    }
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) {
      if (i >= available)
        throw invalid(
          'invalid_resources',
          `Requested ${what} are not available - requested ${list}, available: 0-${available - 1}`,
        );
      out.push(i);
    }
  }
  return out;
}
