import { setTimeout as sleep } from 'node:timers/promises';
import { cpuPercent, type Sample } from '../../container/stats.js';
import type { ContainerRecord } from '../../container/types.js';
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

/** The reading a StatsJSON frame holds, for Docker's CPU % between two frames. */
function sampleOf(s: StatsJSON): Sample {
  const blk = (op: string) =>
    (s.blkio_stats.io_service_bytes_recursive ?? []).filter((e) => e.op === op).reduce((a, e) => a + e.value, 0);
  const nets = Object.values(s.networks ?? {});
  return {
    cpuNs: s.cpu_stats.cpu_usage.total_usage,
    systemNs: s.cpu_stats.system_cpu_usage ?? 0,
    memUsage: s.memory_stats.usage ?? 0,
    memLimit: s.memory_stats.limit ?? 0,
    pids: s.pids_stats.current ?? 0,
    netRx: nets.reduce((a, n) => a + n.rx_bytes, 0),
    netTx: nets.reduce((a, n) => a + n.tx_bytes, 0),
    blkRead: blk('read'),
    blkWrite: blk('write'),
  };
}

function row(c: ContainerRecord, prevFrame: StatsJSON | undefined, frame: StatsJSON | undefined, noTrunc: boolean) {
  const id = noTrunc ? c.ID : c.ID.slice(0, 12);
  const cur = frame && c.State.Running ? sampleOf(frame) : undefined;
  const prev = prevFrame?.cpu_stats.system_cpu_usage ? sampleOf(prevFrame) : undefined;
  if (!cur)
    return {
      Container: id,
      ID: id,
      Name: c.Name.slice(1),
      CPUPerc: '0.00%',
      MemUsage: '0B / 0B',
      MemPerc: '0.00%',
      NetIO: '0B / 0B',
      BlockIO: '0B / 0B',
      PIDs: '0',
    };
  return {
    Container: id,
    ID: id,
    Name: c.Name.slice(1),
    CPUPerc: `${(prev ? cpuPercent(prev, cur, frame!.cpu_stats.online_cpus) : 0).toFixed(2)}%`,
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
    const containers = engine.containerStore;
    await containers.reapStale();
    const pick = () =>
      (args.length ? args.map((a) => containers.resolve(a)) : containers.list().filter((c) => o.all || c.State.Running))
        .map((c) => containers.tryGet(c.ID) ?? c)
        .sort((a, b) => a.Name.localeCompare(b.Name));
    const frames = (list: ContainerRecord[]) =>
      Promise.all(list.map(async (c) => [c.ID, await engine.containers.stats(c.ID, { oneShot: true })] as const));
    let prev = new Map(await frames(pick()));
    for (;;) {
      // CPU % needs two readings: the first table comes a moment after the first reading, as Docker's
      await sleep(o['no-stream'] ? 500 : 1000);
      const list = pick();
      const cur = new Map(await frames(list));
      const text = formatOutput(
        o.format as string | undefined,
        DEFAULT,
        HEADERS,
        list.map((c) => row(c, prev.get(c.ID), cur.get(c.ID), !!o['no-trunc'])),
      );
      if (o['no-stream']) {
        ctx.stdout.write(text);
        return;
      }
      ctx.stdout.write(`\x1b[2J\x1b[H${text}`);
      prev = cur;
    }
  },
};
