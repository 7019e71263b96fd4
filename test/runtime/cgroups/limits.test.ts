import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkCpuList,
  checkLimits,
  parseBytes,
  parseCpus,
  parseMemorySwap,
} from '../../../src/runtime/cgroups/limits.js';

const MiB = 1024 * 1024;

test('parseBytes: Docker RAMInBytes suffixes, any case, optional b or ib, fractions truncate', () => {
  const cases: Array<[string, number]> = [
    ['1024', 1024],
    ['0', 0],
    ['512b', 512],
    ['512B', 512],
    ['1k', 1024],
    ['1K', 1024],
    ['1kb', 1024],
    ['1KiB', 1024],
    ['512m', 512 * MiB],
    ['512mb', 512 * MiB],
    ['512MB', 512 * MiB],
    ['1g', 1024 * MiB],
    ['1.5g', 1536 * MiB],
    ['2t', 2 * 1024 ** 4],
    ['1p', 1024 ** 5],
    ['10 KiB', 10240],
    ['1.5', 1],
    ['.5k', 512],
    ['32M', 32 * MiB],
    ['1 ', 1],
  ];
  for (const [v, want] of cases) assert.equal(parseBytes(v), want, v);
});

test('parseBytes: bad sizes name the flag and the value', () => {
  for (const v of [
    '',
    'm',
    '-1',
    '512x',
    '512mbb',
    '1kk',
    ' 1',
    '1.2.3',
    '0x10',
    '1e3',
    '1bb',
    '12q',
    '1mib2',
    '9999999p',
  ]) {
    assert.throws(
      () => parseBytes(v, 'memory-reservation'),
      (e: Error & { kind?: string }) => {
        assert.equal(e.kind, 'InvalidArgument');
        assert.ok(
          e.message.startsWith(`invalid argument ${JSON.stringify(v)} for "--memory-reservation" flag: `),
          e.message,
        );
        return true;
      },
      v,
    );
  }
  assert.throws(() => parseBytes('512x'), /--memory" flag: invalid suffix "x"/);
  assert.equal(parseMemorySwap('-1'), -1);
  assert.equal(parseMemorySwap('1g'), 1024 * MiB);
  assert.throws(() => parseMemorySwap('-2'), /--memory-swap/);
});

test('parseCpus: NanoCpus exactly, quota = cpus * 100000 us', () => {
  assert.deepEqual(parseCpus('1.5'), { nanoCpus: 1_500_000_000, quota: 150_000, period: 100_000 });
  assert.deepEqual(parseCpus('0.5'), { nanoCpus: 500_000_000, quota: 50_000, period: 100_000 });
  assert.deepEqual(parseCpus('2'), { nanoCpus: 2_000_000_000, quota: 200_000, period: 100_000 });
  assert.deepEqual(parseCpus('.01'), { nanoCpus: 10_000_000, quota: 1000, period: 100_000 });
  assert.equal(parseCpus('0.000000001').nanoCpus, 1);
  assert.equal(parseCpus('0.1000000000').nanoCpus, 100_000_000, 'trailing zeros are not precision');
  assert.equal(parseCpus('3.').nanoCpus, 3e9);
  assert.throws(() => parseCpus('0.0000000001'), /"--cpus" flag: value is too precise/);
  for (const v of ['', '.', 'abc', '-1', '1,5', '1.5.1', '1e9'])
    assert.throws(() => parseCpus(v), /invalid argument .* for "--cpus" flag: failed to parse/, v);
});

test('checkLimits: Docker defaults (swap twice the memory) and its errors', () => {
  const host = { cpus: 2, swapAccounting: true };
  assert.deepEqual(checkLimits({ memory: 64 * MiB }, host), {
    limits: { memory: 64 * MiB, memorySwap: 128 * MiB },
    warnings: [],
  });
  assert.deepEqual(checkLimits({ memory: 64 * MiB }, host, true).limits, { memory: 64 * MiB }, 'update keeps swap');
  assert.deepEqual(checkLimits({ memory: 64 * MiB, memorySwap: -1 }, host).limits.memorySwap, -1);
  const noSwap = checkLimits({ memory: 64 * MiB, memorySwap: 100 * MiB }, { cpus: 2, swapAccounting: false });
  assert.equal(noSwap.limits.memorySwap, -1);
  assert.match(noSwap.warnings[0]!, /Memory limited without swap/);
  assert.match(checkLimits({ oomKillDisable: true }, host).warnings[0]!, /no memory limit is set/);
  const errors: Array<[object, RegExp]> = [
    [{ memory: 4 * MiB }, /Minimum memory limit allowed is 6MB/],
    [{ memory: 64 * MiB, memorySwap: 32 * MiB }, /memoryswap limit should be larger than memory limit/],
    [{ memorySwap: 64 * MiB }, /always set the Memory limit when using Memoryswap/],
    [{ memoryReservation: 1 * MiB }, /Minimum memory reservation allowed is 6MB/],
    [{ memory: 64 * MiB, memoryReservation: 128 * MiB }, /can not be less than memory reservation/],
    [{ nanoCpus: 3e9 }, /Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/],
    [{ nanoCpus: 1e6 }, /Range of CPUs/],
    [{ cpuShares: -1 }, /CPU shares/],
    [{ cpusetCpus: '0-2' }, /Requested CPUs are not available - requested 0-2, available: 0-1/],
    [{ cpusetCpus: '1-0' }, /Invalid value "1-0" for cpuset cpus/],
    [{ cpusetMems: 'x' }, /Invalid value "x" for cpuset mems/],
  ];
  for (const [l, re] of errors) assert.throws(() => checkLimits(l, host), re, JSON.stringify(l));
  assert.deepEqual(checkCpuList('CPUs', '0-2,5', 8), [0, 1, 2, 5]);
  assert.throws(() => checkCpuList('MEMs', '0-99999999'), /Invalid value/);
});
