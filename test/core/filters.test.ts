import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boolFilter, matchLabels, parseFilterFlags, untilFilter, validateFilters } from '../../src/core/filters.js';
import { parseTimestamp } from '../../src/core/timestamp.js';

test('filter flags: key lower-cased and trimmed, value trimmed, "=" required, values of one key a set', () => {
  const f = parseFilterFlags(['Label = a=b ', 'label=c', 'label=c', 'label!=d', '']);
  assert.deepEqual(
    [...f.entries()].map(([k, v]) => [k, [...v]]),
    [
      ['label', ['a=b', 'c']],
      ['label!', ['d']],
    ],
  );
  assert.throws(() => parseFilterFlags(['dangling']), /bad format of filter \(expected name=value\)/);
});

test('unknown filter keys are refused by name', () => {
  for (const [flags, msg] of [
    [['xyz=1'], "invalid filter 'xyz'"],
    [['label=a', 'status=exited'], "invalid filter 'status'"],
  ] as const) {
    assert.throws(
      () => validateFilters(parseFilterFlags(flags), ['label', 'label!', 'until']),
      (e: Error) => e.message === msg,
    );
  }
  validateFilters(parseFilterFlags(['label=a', 'label!=b', 'until=1h']), ['label', 'label!', 'until']);
});

test('label filters as dockerd matches them for prune (every label must hold; all label! together exclude)', () => {
  const labels = { a: '1', b: '2', empty: '' };
  const cases: Array<[string[], Record<string, string> | null, boolean]> = [
    [[], labels, true],
    [[], null, true],
    [['label=a'], labels, true],
    [['label=a=1'], labels, true],
    [['label=a=2'], labels, false],
    [['label=a=1', 'label=b=2'], labels, true],
    [['label=a=1', 'label=c'], labels, false],
    [['label=empty='], labels, true],
    [['label=a'], null, false],
    [['label=a'], {}, false],
    [['label!=a'], labels, false],
    [['label!=a=2'], labels, true],
    [['label!=c'], labels, true],
    [['label!=a', 'label!=c'], labels, true],
    [['label!=a', 'label!=b'], labels, false],
    [['label!=a'], null, true],
    [['label=a', 'label!=b=3'], labels, true],
  ];
  for (const [flags, l, want] of cases)
    assert.equal(matchLabels(parseFilterFlags(flags), l), want, `${flags.join(' ')} on ${JSON.stringify(l)}`);
});

test('boolean filters: true/1, false/0; anything else or both is refused with the values', () => {
  const b = (vals: string[]) => boolFilter(parseFilterFlags(vals.map((v) => `dangling=${v}`)), 'dangling', true);
  assert.equal(b([]), true);
  assert.equal(b(['true']), true);
  assert.equal(b(['1']), true);
  assert.equal(b(['false']), false);
  assert.equal(b(['0', 'maybe']), false);
  assert.throws(() => b(['maybe']), /invalid filter 'dangling=\[maybe\]'/);
  assert.throws(() => b(['true', 'false']), /invalid filter 'dangling=\[true false\]'/);
});

test('until: one value at most', () => {
  assert.equal(untilFilter(parseFilterFlags([])), undefined);
  assert.equal(untilFilter(parseFilterFlags(['until=1700000000'])), 1700000000_000);
  assert.throws(() => untilFilter(parseFilterFlags(['until=1h', 'until=2h'])), /more than one until filter specified/);
});

test('timestamps as dockerd parses them: durations, RFC 3339 variants, Unix seconds', () => {
  const now = Date.UTC(2024, 4, 10, 12, 0, 30, 500);
  const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s).getTime();
  const cases: Array<[string, number]> = [
    ['10m', now - 500 - 600_000],
    ['1h30m', now - 500 - 5_400_000],
    ['1.5s', Math.floor((now - 1500) / 1000) * 1000],
    ['-10s', now - 500 + 10_000],
    ['1700000000', 1700000000_000],
    ['1700000000.5', 1700000000_500],
    // eslint-disable-next-line no-loss-of-precision -- as the parsed value rounds
    ['1700000000.000000001', 1700000000_000.000001],
    ['0', 0],
    ['2024-01-02', local(2024, 1, 2)],
    ['2024-01-02T03', local(2024, 1, 2, 3)],
    ['2024-01-02T03:04', local(2024, 1, 2, 3, 4)],
    ['2024-01-02T03:04:05', local(2024, 1, 2, 3, 4, 5)],
    ['2024-01-02T03:04:05.25', local(2024, 1, 2, 3, 4, 5) + 250],
    ['2024-01-02Z', Date.UTC(2024, 0, 2)],
    ['2024-01-02+02:00', Date.UTC(2024, 0, 1, 22)],
    ['2024-01-02T03Z', Date.UTC(2024, 0, 2, 3)],
    ['2024-01-02T03:04Z', Date.UTC(2024, 0, 2, 3, 4)],
    ['2024-01-02T03:04:05Z', Date.UTC(2024, 0, 2, 3, 4, 5)],
    ['2024-01-02T03:04:05-01:30', Date.UTC(2024, 0, 2, 4, 34, 5)],
    ['2024-01-02T03:04:05.123456789Z', Date.UTC(2024, 0, 2, 3, 4, 5) + 123.456789],
    ['2024-02-29', local(2024, 2, 29)],
  ];
  for (const [v, want] of cases)
    assert.ok(Math.abs(parseTimestamp(v, now) - want) < 1e-3, `${v}: ${parseTimestamp(v, now)} != ${want}`);
  const bad: Array<[string, RegExp]> = [
    ['abc', /: failed to parse value as time or duration: "abc"$/],
    ['10x', /failed to parse value as time or duration/],
    ['1700000000.', /failed to parse value as time or duration/],
    ['2023-02-29', /: parsing time "2023-02-29": day out of range$/],
    ['2024-13-01', /: parsing time "2024-13-01": month out of range$/],
    ['2024-01-02T25', /hour out of range/],
    ['2024-1-2', /: parsing time "2024-1-2" as "2006-01-02": cannot parse/],
    ['2024-01-02T03:04:05z', /cannot parse/],
    ['', /failed to parse value as time or duration/],
    // a '-' makes it a date for dockerd: a negative Unix time is not taken
    ['-5', /: parsing time "-5" as "2006-01-02": cannot parse/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseTimestamp(v, now), re, v);
});
