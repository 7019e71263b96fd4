import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSignal } from '../../src/container/lifecycle.js';
import { Demux, DetachScanner, parseDetachKeys } from '../../src/container/attach.js';
import { parseLogTime, parseRecord } from '../../src/container/logs.js';
import { rfc3339Nano, rfc3339NanoFixed } from '../../src/core/time.js';
import { healthSettings } from '../../src/container/spec.js';
import { netBytes, cpuPercent, systemCpuNs } from '../../src/container/stats.js';
import { parseDevice, parseDuration, parseRestart, parseUlimit } from '../../src/cli/container-flags.js';
import { parseFilters, statusText } from '../../src/cli/commands/ps.js';
import { createdState, type ContainerRecord } from '../../src/container/types.js';

// Pure parts of the container lifecycle: flags, signals, attach framing, log records, ps status.

test('signals by name, SIG-name, number and RTMIN+n', () => {
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('sigusr1'), 10);
  assert.equal(parseSignal('2'), 2);
  assert.equal(parseSignal('RTMIN+3'), 37);
  assert.throws(() => parseSignal('NOPE'), /invalid signal: NOPE/);
  assert.throws(() => parseSignal('99'), /invalid signal/);
});

test('restart policies, durations, ulimits and devices as Docker parses them', () => {
  assert.deepEqual(parseRestart(undefined, false), { Name: 'no', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestart('on-failure:5', false), { Name: 'on-failure', MaximumRetryCount: 5 });
  assert.deepEqual(parseRestart('unless-stopped', false), { Name: 'unless-stopped', MaximumRetryCount: 0 });
  assert.throws(() => parseRestart('always:3', false), /only on-failure takes a maximum retry count/);
  assert.throws(() => parseRestart('always', true), /conflicting options: --restart and --rm/);
  assert.throws(() => parseRestart('sometimes', false), /invalid restart policy/);
  assert.equal(parseDuration('health-interval', '1m30s'), 90e9);
  assert.equal(parseDuration('health-interval', '500ms'), 500e6);
  assert.equal(parseDuration('health-interval', '0'), 0);
  assert.throws(() => parseDuration('health-interval', '10'), /invalid duration "10"/);
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=512'), { Name: 'nproc', Soft: 512, Hard: 512 });
  assert.throws(() => parseUlimit('nofile=10:5'), /soft limit must be less than or equal to hard limit/);
  assert.throws(() => parseUlimit('files=1'), /invalid ulimit/);
  assert.deepEqual(parseDevice('/dev/sda'), {
    PathOnHost: '/dev/sda',
    PathInContainer: '/dev/sda',
    CgroupPermissions: 'rwm',
  });
  assert.deepEqual(parseDevice('/dev/sda:/dev/xvda:r'), {
    PathOnHost: '/dev/sda',
    PathInContainer: '/dev/xvda',
    CgroupPermissions: 'r',
  });
  assert.deepEqual(parseDevice('/dev/sda:rw'), {
    PathOnHost: '/dev/sda',
    PathInContainer: '/dev/sda',
    CgroupPermissions: 'rw',
  });
  assert.throws(() => parseDevice('sda'), /invalid device specification/);
});

test('healthcheck settings: Docker defaults, CMD and CMD-SHELL, NONE', () => {
  assert.deepEqual(healthSettings({ Test: ['CMD-SHELL', 'curl -f x'] }), {
    cmd: ['/bin/sh', '-c', 'curl -f x'],
    intervalMs: 30000,
    timeoutMs: 30000,
    startPeriodMs: 0,
    retries: 3,
  });
  assert.deepEqual(
    healthSettings({ Test: ['CMD', 'check', '--fast'], Interval: 2e9, Timeout: 5e8, StartPeriod: 1e10, Retries: 5 }),
    { cmd: ['check', '--fast'], intervalMs: 2000, timeoutMs: 500, startPeriodMs: 10000, retries: 5 },
  );
  assert.equal(healthSettings({ Test: ['NONE'] }), undefined);
  assert.equal(healthSettings(null), undefined);
  assert.throws(() => healthSettings({ Test: ['SHELL', 'x'] }), /unknown test type/);
});

test('attach: detach keys, the detach scanner holds back a partial sequence, stdcopy frames split across chunks', () => {
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('a,ctrl-@'), [97, 0]);
  assert.throws(() => parseDetachKeys('ctrl-pp'), /invalid detach keys/);
  const s = new DetachScanner([16, 17]);
  assert.deepEqual(s.push(Buffer.from([1, 16])), { forward: Buffer.from([1]), detach: false });
  assert.deepEqual(
    s.push(Buffer.from([2])),
    { forward: Buffer.from([16, 2]), detach: false },
    'a failed match is forwarded',
  );
  assert.deepEqual(s.push(Buffer.from([16, 16, 17])), { forward: Buffer.from([16]), detach: true });
  const got: Array<[number, string]> = [];
  const d = new Demux((stream, data) => got.push([stream, data.toString()]));
  const frame = (st: number, text: string) =>
    Buffer.concat([Buffer.from([st, 0, 0, 0, 0, 0, 0, text.length]), Buffer.from(text)]);
  const all = Buffer.concat([frame(1, 'out'), frame(2, 'err!'), frame(1, '')]);
  d.push(all.subarray(0, 5));
  d.push(all.subarray(5, 13));
  d.push(all.subarray(13));
  assert.deepEqual(got, [
    [1, 'out'],
    [2, 'err!'],
    [1, ''],
  ]);
});

test('logs: json-file records, --since/--until times, -t display', () => {
  assert.deepEqual(parseRecord('{"log":"hi\\n","stream":"stdout","time":"2026-11-28T09:00:00.123456789Z"}'), {
    log: 'hi\n',
    stream: 'stdout',
    time: '2026-11-28T09:00:00.123456789Z',
  });
  assert.equal(parseRecord('{"log":"torn'), undefined);
  assert.equal(parseRecord('{"log":1,"stream":"stdout"}'), undefined);
  const now = Date.parse('2026-11-28T10:00:00Z');
  assert.equal(parseLogTime('10m', now), now - 600000);
  assert.equal(parseLogTime('1h30m', now), now - 5400000);
  assert.equal(parseLogTime('1700000000.5', now), 1700000000500);
  assert.equal(parseLogTime('2026-11-28', now), Date.parse('2026-11-28T00:00:00Z'));
  assert.equal(parseLogTime('2026-11-28T09:30:00Z', now), Date.parse('2026-11-28T09:30:00Z'));
  assert.throws(() => parseLogTime('yesterday', now), /invalid time value/);
  assert.equal(rfc3339Nano('2026-11-28T09:00:00.120000000Z'), '2026-11-28T09:00:00.12Z');
  assert.equal(rfc3339Nano('2026-11-28T09:00:00.000000000Z'), '2026-11-28T09:00:00Z');
  // logs --timestamps: always nine digits, as Go's RFC3339NanoFixed
  assert.equal(rfc3339NanoFixed('2026-12-07T18:43:41.19843986Z'), '2026-12-07T18:43:41.198439860Z');
  assert.equal(rfc3339NanoFixed('2026-12-07T18:43:41.198439860Z'), '2026-12-07T18:43:41.198439860Z');
  assert.equal(rfc3339NanoFixed('2026-12-07T18:43:41Z'), '2026-12-07T18:43:41.000000000Z');
  assert.equal(rfc3339NanoFixed('2026-12-07T18:43:41.5Z'), '2026-12-07T18:43:41.500000000Z');
});

test('ps: STATUS strings and filters as Docker', () => {
  const rec = (state: Partial<ContainerRecord['State']>): ContainerRecord =>
    ({ State: { ...createdState(), ...state } }) as ContainerRecord;
  const now = Date.parse('2026-11-28T10:00:00Z');
  assert.equal(statusText(rec({}), now), 'Created');
  assert.equal(
    statusText(rec({ Status: 'running', Running: true, StartedAt: '2026-11-28T09:59:55Z' }), now),
    'Up 5 seconds',
  );
  assert.equal(
    statusText(rec({ Status: 'running', Running: true, Paused: true, StartedAt: '2026-11-28T09:00:00Z' }), now),
    'Up About an hour (Paused)',
  );
  assert.equal(
    statusText(
      rec({
        Status: 'running',
        Running: true,
        StartedAt: '2026-11-28T09:59:00Z',
        Health: { Status: 'starting', FailingStreak: 0, Log: [] },
      }),
      now,
    ),
    'Up About a minute (health: starting)',
  );
  assert.equal(
    statusText(rec({ Status: 'exited', ExitCode: 3, FinishedAt: '2026-11-28T09:58:00Z' }), now),
    'Exited (3) 2 minutes ago',
  );
  assert.equal(
    statusText(
      rec({ Status: 'restarting', Running: true, Restarting: true, ExitCode: 1, FinishedAt: '2026-11-28T09:59:59Z' }),
      now,
    ),
    'Restarting (1) 1 second ago',
  );
  const f = parseFilters(['status=running', 'status=paused', 'label=a=b']);
  assert.deepEqual(f.get('status'), ['running', 'paused']);
  assert.throws(() => parseFilters(['status=sleeping']), /invalid filter 'status=sleeping'/);
  assert.throws(() => parseFilters(['colour=red']), /invalid filter 'colour'/);
  assert.throws(() => parseFilters(['exited=x']), /invalid filter 'exited=x'/);
});

test('stats: host CPU time, network bytes without lo, CPU % between two readings', () => {
  assert.equal(systemCpuNs('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n'), 1000 * 1e7);
  const dev =
    'Inter-|   Receive\n face |bytes packets\n    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n  eth0: 1200 10 0 0 0 0 0 0 3400 20 0 0 0 0 0 0\n';
  assert.deepEqual(netBytes(dev), { rx: 1200, tx: 3400 });
  const base = { memUsage: 0, memLimit: 0, pids: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0 };
  assert.equal(cpuPercent({ ...base, cpuNs: 0, systemNs: 0 }, { ...base, cpuNs: 5e8, systemNs: 2e9 }, 2), 50);
  assert.equal(cpuPercent({ ...base, cpuNs: 0, systemNs: 0 }, { ...base, cpuNs: 0, systemNs: 0 }, 2), 0);
});
