import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  controllerOf,
  parseBlkio,
  parseIoStat,
  parseKeyed,
  parseLimit,
  sharesToWeight,
  v1Writes,
  v2Writes,
} from '../../../src/runtime/cgroups/files.js';

const MiB = 1024 * 1024;
const all = {
  memory: 64 * MiB,
  memorySwap: 128 * MiB,
  memoryReservation: 32 * MiB,
  nanoCpus: 5e8,
  cpuShares: 512,
  cpusetCpus: '0',
  cpusetMems: '0',
  pidsLimit: 20,
  oomKillDisable: true,
};

test('v1: every limit becomes its file, memory before memsw on a fresh cgroup', () => {
  assert.deepEqual(v1Writes(all, { memsw: true }), {
    writes: [
      ['memory.limit_in_bytes', String(64 * MiB)],
      ['memory.memsw.limit_in_bytes', String(128 * MiB)],
      ['memory.soft_limit_in_bytes', String(32 * MiB)],
      ['memory.oom_control', '1'],
      ['cpu.cfs_period_us', '100000'],
      ['cpu.cfs_quota_us', '50000'],
      ['cpu.shares', '512'],
      ['cpuset.cpus', '0'],
      ['cpuset.mems', '0'],
      ['pids.max', '20'],
    ],
    warnings: [],
  });
  assert.deepEqual(v1Writes({}, { memsw: true }), { writes: [], warnings: [] });
  assert.deepEqual(v1Writes({ pidsLimit: 0 }, { memsw: true }).writes, [['pids.max', 'max']]);
  assert.deepEqual(v1Writes({ pidsLimit: -1 }, { memsw: true }).writes, [['pids.max', 'max']]);
  assert.deepEqual(v1Writes({ oomKillDisable: false }, { memsw: true }).writes, [['memory.oom_control', '0']]);
});

test('v1: memsw is written first when raising past the current limit, or when unlimited; memory -1 lifts swap too', () => {
  const raise = v1Writes({ memory: 128 * MiB, memorySwap: 256 * MiB }, { memsw: true, currentMemoryLimit: 64 * MiB });
  assert.deepEqual(
    raise.writes.map(([f]) => f),
    ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes'],
  );
  const lower = v1Writes({ memory: 32 * MiB, memorySwap: 64 * MiB }, { memsw: true, currentMemoryLimit: 128 * MiB });
  assert.deepEqual(
    lower.writes.map(([f]) => f),
    ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'],
  );
  assert.deepEqual(
    v1Writes({ memory: 64 * MiB, memorySwap: -1 }, { memsw: true, currentMemoryLimit: 8 * MiB }).writes,
    [
      ['memory.memsw.limit_in_bytes', '-1'],
      ['memory.limit_in_bytes', String(64 * MiB)],
    ],
  );
  assert.deepEqual(v1Writes({ memory: -1 }, { memsw: true }).writes, [
    ['memory.memsw.limit_in_bytes', '-1'],
    ['memory.limit_in_bytes', '-1'],
  ]);
});

test("v1 without swap accounting: the swap limit is dropped with Docker's warning", () => {
  const p = v1Writes({ memory: 64 * MiB, memorySwap: 128 * MiB }, { memsw: false });
  assert.deepEqual(p.writes, [['memory.limit_in_bytes', String(64 * MiB)]]);
  assert.match(p.warnings[0]!, /does not support swap limit capabilities/);
  assert.deepEqual(
    v1Writes({ memory: 64 * MiB, memorySwap: -1 }, { memsw: false }).warnings,
    [],
    'unlimited swap needs no warning',
  );
});

test('v2: memory.swap.max is swap only, shares become weight, OomKillDisable is dropped', () => {
  assert.deepEqual(v2Writes(all, { swap: true }), {
    writes: [
      ['memory.swap.max', String(64 * MiB)],
      ['memory.max', String(64 * MiB)],
      ['memory.low', String(32 * MiB)],
      ['cpu.max', '50000 100000'],
      ['cpu.weight', '20'],
      ['cpuset.cpus', '0'],
      ['cpuset.mems', '0'],
      ['pids.max', '20'],
    ],
    warnings: ['OomKillDisable is not supported on cgroup v2: ignored.'],
  });
  assert.deepEqual(v2Writes({ memory: 64 * MiB, memorySwap: -1 }, { swap: true }).writes, [
    ['memory.swap.max', 'max'],
    ['memory.max', String(64 * MiB)],
  ]);
  assert.deepEqual(v2Writes({ memory: -1 }, { swap: true }).writes, [
    ['memory.swap.max', 'max'],
    ['memory.max', 'max'],
  ]);
  assert.deepEqual(v2Writes({ memory: 64 * MiB, memorySwap: 64 * MiB }, { swap: true }).writes[0], [
    'memory.swap.max',
    '0',
  ]);
  assert.deepEqual(v2Writes({ pidsLimit: -1 }, { swap: true }).writes, [['pids.max', 'max']]);
  const noSwap = v2Writes({ memory: 64 * MiB, memorySwap: 128 * MiB }, { swap: false });
  assert.deepEqual(noSwap.writes, [['memory.max', String(64 * MiB)]]);
  assert.match(noSwap.warnings[0]!, /Memory limited without swap/);
  assert.throws(() => v2Writes({ memorySwap: 64 * MiB }, { swap: true }), /needs a memory limit/);
  assert.throws(() => v2Writes({ memory: 64 * MiB, memorySwap: 32 * MiB }, { swap: true }), /below the memory limit/);
});

test('shares to weight as runc; controllers from file names', () => {
  assert.deepEqual([0, 2, 512, 1024, 262144].map(sharesToWeight), [0, 1, 20, 39, 10000]);
  assert.equal(controllerOf('memory.memsw.limit_in_bytes'), 'memory');
  assert.equal(controllerOf('cpu.cfs_quota_us'), 'cpu');
});

test('stat file formats', () => {
  const oom = parseKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
  assert.equal(oom.get('oom_kill'), 3);
  assert.equal(parseKeyed('low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n').get('oom_kill'), 1);
  assert.equal(parseKeyed('populated 1\nfrozen 1\n').get('frozen'), 1);
  assert.deepEqual(
    parseBlkio('8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n'),
    { read: 4097, write: 8192 },
  );
  assert.deepEqual(
    parseIoStat('8:0 rbytes=4096 wbytes=100 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n'),
    { read: 4097, write: 102 },
  );
  assert.equal(parseLimit('max\n'), Infinity);
  assert.equal(parseLimit('9223372036854771712\n'), Infinity);
  assert.equal(parseLimit('67108864\n'), 67108864);
});
