import { setTimeout as sleep } from 'node:timers/promises';
import type { StatsJSON } from '../../engine/container-io.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { bytesSize, humanSizeWithPrecision } from '../format/units.js';

const HEADERS = {
  Container: 'CONTAINER ID',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};
const DEFAULT =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
const dec = (n: number) => humanSizeWithPrecision(n, 3);

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** What a frame read: nothing for a container that does not run (Docker's zero frame). */
function sampleOf(s: StatsJSON) {
  const blk = (op: string) =>
    (s.blkio_stats.io_service_bytes_recursive ?? []).filter((e) => e.op === op).reduce((a, e) => a + e.value, 0);
  const nets = Object.values(s.networks ?? {});
  return {
    memUsage: s.memory_stats.usage ?? 0,
    memLimit: s.memory_stats.limit ?? 0,
    pids: s.pids_stats.current ?? 0,
    netRx: nets.reduce((a, n) => a + n.rx_bytes, 0),
    netTx: nets.reduce((a, n) => a + n.tx_bytes, 0),
    blkRead: blk('read'),
    blkWrite: blk('write'),
  };
}

/**
 * Docker's CPU % (its CLI's calculateCPUPercentUnix): the container's share of host CPU time between two frames,
 * times the CPUs; 0 without an earlier reading.
 */
export function cpuPercent(prev: StatsJSON | undefined, cur: StatsJSON): number {
  if (!prev?.cpu_stats.system_cpu_usage) return 0;
  const cpu = cur.cpu_stats.cpu_usage.total_usage - prev.cpu_stats.cpu_usage.total_usage;
  const sys = (cur.cpu_stats.system_cpu_usage ?? 0) - prev.cpu_stats.system_cpu_usage;
  return sys > 0 && cpu > 0 ? (cpu / sys) * (cur.cpu_stats.online_cpus ?? 1) * 100 : 0;
}

function row(frame: StatsJSON, prevFrame: StatsJSON | undefined, noTrunc: boolean) {
  const id = noTrunc ? frame.id : frame.id.slice(0, 12);
  const name = frame.name.replace(/^\//, '');
  if (frame.read === ZERO_TIME)
    return {
      Container: id,
      ID: id,
      Name: name,
      CPUPerc: '0.00%',
      MemUsage: '0B / 0B',
      MemPerc: '0.00%',
      NetIO: '0B / 0B',
      BlockIO: '0B / 0B',
      PIDs: '0',
    };
  const cur = sampleOf(frame);
  return {
    Container: id,
    ID: id,
    Name: name,
    CPUPerc: `${cpuPercent(prevFrame, frame).toFixed(2)}%`,
    MemUsage: `${bytesSize(cur.memUsage)} / ${bytesSize(cur.memLimit)}`,
    MemPerc: `${(cur.memLimit ? (cur.memUsage / cur.memLimit) * 100 : 0).toFixed(2)}%`,
    NetIO: `${dec(cur.netRx)} / ${dec(cur.netTx)}`,
    BlockIO: `${dec(cur.blkRead)} / ${dec(cur.blkWrite)}`,
    PIDs: String(cur.pids),
  };
}

export const stats: Command = {
  names: [['stats'], ['container', 'stats']],
  usage: 'stats [OPTIONS] [CONTAINER...]',
  summary: 'Display a live stream of container(s) resource usage statistics',
  options: {
    all: { type: 'boolean', short: 'a' },
    'no-stream': { type: 'boolean' },
    'no-trunc': { type: 'boolean' },
    format: { type: 'string' },
  },
  async run(ctx, args, o) {
    const engine = await ctx.engine();
    // the containers named, or those listed (running ones, all with -a), each round: new ones show up
    const pick = async () => (args.length ? args : (await engine.containers.list({ all: !!o.all })).map((c) => c.Id));
    const frames = async (ids: string[]) =>
      (await Promise.all(ids.map((id) => engine.containers.stats(id, { oneShot: true })))).sort((a, b) =>
        a.name.localeCompare(b.name),
      );
    let prev = new Map((await frames(await pick())).map((f) => [f.id, f] as const));
    for (;;) {
      // CPU % needs two readings: the first table comes a moment after the first reading, as Docker's
      await sleep(o['no-stream'] ? 500 : 1000);
      const cur = await frames(await pick());
      const text = formatOutput(
        o.format as string | undefined,
        DEFAULT,
        HEADERS,
        cur.map((f) => row(f, prev.get(f.id), !!o['no-trunc'])),
      );
      if (o['no-stream']) {
        ctx.stdout.write(text);
        return;
      }
      ctx.stdout.write(`\x1b[2J\x1b[H${text}`);
      prev = new Map(cur.map((f) => [f.id, f] as const));
    }
  },
};
