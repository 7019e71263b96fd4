import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalid } from '../core/errors.js';
import { containerChanges, type Change } from '../container/changes.js';
import { findCgroup } from '../container/cgroup.js';
import { commitContainer } from '../container/commit.js';
import { pauseContainer, unpauseContainer } from '../container/lifecycle.js';
import { systemCpuNs } from '../container/stats.js';
import { top as psTop } from '../container/top.js';
import type { ContainerRecord } from '../container/types.js';
import type { ContainerConfig } from '../image/config.js';
import { parseReference, withDefaultTag } from '../image/reference.js';
import { stats as cgroupStats } from '../runtime/cgroups/cgroups.js';
import type { Engine } from './engine.js';
import { findContainer } from './container-io-find.js';

/**
 * Container operations on what runs and what is stored: top, stats, changes,
 * commit (exec, logs and attach are in container-io-exec.ts and
 * container-io-streams.ts; archives and export in container-io-archive.ts).
 * Docker Engine API 1.41 shapes in and out; nothing printed, no process-wide state read.
 */

/** `GET /containers/{id}/top`: ps on the host (default -ef, or psArgs) reduced to the container's processes. */
export async function top(
  engine: Engine,
  id: string,
  psArgs: string | string[] = [],
): Promise<{ Titles: string[]; Processes: string[][] }> {
  const c = await findContainer(engine, id);
  const args = typeof psArgs === 'string' ? psArgs.split(/\s+/).filter(Boolean) : psArgs;
  return psTop(engine.containerStore, c, args);
}

/** `GET /containers/{id}/changes`: the rw layer as Docker's changes (Kind 0 modified, 1 added, 2 deleted). */
export async function changes(engine: Engine, id: string): Promise<Change[]> {
  const c = await findContainer(engine, id);
  return containerChanges(engine.store.paths, c.MountID);
}

/** Docker's container stats JSON (API 1.41, the fields a Linux container has). */
export interface StatsJSON {
  read: string;
  preread: string;
  id: string;
  name: string;
  num_procs: number;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: Array<{ major: number; minor: number; op: string; value: number }> | null;
  };
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  storage_stats: Record<string, never>;
  networks?: Record<string, NetStats>;
}

interface CpuStats {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

interface NetStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';
const noCpu = (): CpuStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/** /proc/<pid>/net/dev per interface, lo left out (Docker counts the container's own interfaces). */
export function netStats(netDev: string): Record<string, NetStats> {
  const out: Record<string, NetStats> = {};
  for (const line of netDev.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name!.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    out[name!.trim()] = {
      rx_bytes: f[0]!,
      rx_packets: f[1]!,
      rx_errors: f[2]!,
      rx_dropped: f[3]!,
      tx_bytes: f[8]!,
      tx_packets: f[9]!,
      tx_errors: f[10]!,
      tx_dropped: f[11]!,
    };
  }
  return out;
}

/** One reading; a container that does not run reads as Docker's zero frame. */
function reading(c: ContainerRecord, hostNetwork: boolean, prev?: StatsJSON): StatsJSON {
  const base: StatsJSON = {
    read: ZERO_TIME,
    preread: prev?.read ?? ZERO_TIME,
    id: c.ID,
    name: c.Name,
    num_procs: 0,
    pids_stats: {},
    blkio_stats: { io_service_bytes_recursive: null },
    cpu_stats: noCpu(),
    precpu_stats: prev?.cpu_stats ?? noCpu(),
    memory_stats: {},
    storage_stats: {},
  };
  const cg = c.State.Running ? findCgroup(c.ID) : undefined;
  if (!cg) return base;
  const s = cgroupStats(cg);
  let networks: Record<string, NetStats> | undefined;
  // with --network host the interfaces are the host's: Docker reports none for the container
  try {
    if (c.State.Pid && !hostNetwork) networks = netStats(fs.readFileSync(`/proc/${c.State.Pid}/net/dev`, 'utf8'));
  } catch {
    /* it ended */
  }
  return {
    ...base,
    read: new Date().toISOString(),
    pids_stats: { current: s.pids, ...(s.pidsLimit ? { limit: s.pidsLimit } : {}) },
    // berth's cgroup reader sums the devices: one entry per direction
    blkio_stats: {
      io_service_bytes_recursive: [
        { major: 0, minor: 0, op: 'read', value: s.blkioRead },
        { major: 0, minor: 0, op: 'write', value: s.blkioWrite },
      ],
    },
    cpu_stats: {
      ...noCpu(),
      cpu_usage: { total_usage: s.cpuUsageNs, usage_in_kernelmode: 0, usage_in_usermode: 0 },
      system_cpu_usage: systemCpuNs(),
      online_cpus: availableParallelism(),
    },
    // usage is already net of inactive file pages (what Docker's CLI would subtract)
    memory_stats: {
      usage: s.memoryUsage,
      limit: s.memoryLimit,
      stats: s.memoryCache !== undefined ? { cache: s.memoryCache } : {},
    },
    ...(networks && Object.keys(networks).length ? { networks } : {}),
  };
}

const isHostNetwork = (engine: Engine, c: ContainerRecord) =>
  engine.containerStore.hostConfig(c.ID).NetworkMode === 'host';

/**
 * `GET /containers/{id}/stats?stream=false`: one frame. As dockerd, the frame
 * comes after a second reading `intervalMs` later (1 s) so that precpu_stats
 * is filled, unless `oneShot` (then precpu_stats is empty).
 */
export async function stats(
  engine: Engine,
  id: string,
  o: { stream?: false; oneShot?: boolean; intervalMs?: number } = {},
): Promise<StatsJSON> {
  if ((o as { stream?: boolean }).stream) throw invalid('stats_stream', 'stats: use statsStream for a stream');
  const c = await findContainer(engine, id);
  const host = isHostNetwork(engine, c);
  const first = reading(c, host);
  if (o.oneShot) return first;
  await sleep(o.intervalMs ?? 1000);
  return reading(engine.containerStore.tryGet(c.ID) ?? c, host, first);
}

/** `GET /containers/{id}/stats` (stream): a frame every `intervalMs` (1 s) until the container stops or `signal` aborts. */
export async function* statsStream(
  engine: Engine,
  id: string,
  o: { intervalMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<StatsJSON> {
  const c = await findContainer(engine, id);
  const host = isHostNetwork(engine, c);
  let prev: StatsJSON | undefined;
  while (!o.signal?.aborted) {
    const now = engine.containerStore.tryGet(c.ID);
    if (!now) return;
    prev = reading(now, host, prev);
    yield prev;
    if (!now.State.Running) return;
    try {
      await sleep(o.intervalMs ?? 1000, undefined, { signal: o.signal });
    } catch {
      return;
    }
  }
}

/** POST /commit query and body. */
export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions (CMD, ENV, ...) applied to the new image's config. */
  changes?: string[];
  /** Freeze a running container while its layer is read (default true, as Docker). */
  pause?: boolean;
  /** Config fields that replace the container's in the new image, before `changes`. */
  config?: Partial<ContainerConfig>;
}

/** `POST /commit`: the container's rw layer as a new image on its image. */
export async function commit(engine: Engine, id: string, o: CommitOptions = {}): Promise<{ Id: string }> {
  if (o.tag && !o.repo)
    throw invalid('invalid_reference', `commit: tag ${JSON.stringify(o.tag)} given without a repository`);
  const tags = o.repo ? [withDefaultTag(parseReference(o.tag ? `${o.repo}:${o.tag}` : o.repo))] : [];
  const cs = engine.containerStore;
  const c = await findContainer(engine, id);
  const pause = (o.pause ?? true) && c.State.Running && !c.State.Paused && cs.isLive(c.ID);
  if (pause) await pauseContainer(cs, c);
  try {
    const Id = await commitContainer(cs, c, {
      author: o.author,
      message: o.comment,
      changes: o.changes ?? [],
      tags,
      config: o.config,
    });
    return { Id };
  } finally {
    if (pause) await unpauseContainer(cs, c);
  }
}
