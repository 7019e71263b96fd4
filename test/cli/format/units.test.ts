import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesSize,
  createdSince,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
  truncateID,
} from '../../../src/cli/format/units.js';
import { formatFloat, goQuote } from '../../../src/cli/format/template.js';

const KB = 1000,
  MB = 1000 * KB,
  GB = 1000 * MB,
  TB = 1000 * GB,
  PB = 1000 * TB;
const KiB = 1024,
  MiB = 1024 * KiB,
  GiB = 1024 * MiB,
  TiB = 1024 * GiB,
  PiB = 1024 * TiB;

test('HumanSizeWithPrecision(size, 3) as docker images SIZE', async (t) => {
  const cases: [number, string][] = [
    [0, '0B'],
    [1, '1B'],
    [999, '999B'],
    [1000, '1kB'],
    [1024, '1.02kB'],
    [1234567, '1.23MB'],
    [77_800_000, '77.8MB'],
    [1e9, '1GB'],
    [7_800_000, '7.8MB'],
    [5_620_000_000, '5.62GB'],
    [999_900, '1e+03kB'], // Go's %.3g quirk, reproduced
  ];
  for (const [n, want] of cases) await t.test(String(n), () => assert.equal(humanSizeWithPrecision(n, 3), want));
});

test('HumanSize (go-units size_test.go)', async (t) => {
  const cases: [number, string][] = [
    [1000, '1kB'],
    [1024, '1.024kB'],
    [1_000_000, '1MB'],
    [1_048_576, '1.049MB'],
    [2 * MB, '2MB'],
    [3.42 * GB, '3.42GB'],
    [5.372 * TB, '5.372TB'],
    [2.22 * PB, '2.22PB'],
    [10_000_000_000_000 * PB, '1e+04YB'],
  ];
  for (const [n, want] of cases) await t.test(want, () => assert.equal(humanSize(n), want));
});

test('BytesSize (go-units size_test.go)', async (t) => {
  const cases: [number, string][] = [
    [1024, '1KiB'],
    [1024 * 1024, '1MiB'],
    [1_048_576, '1MiB'],
    [2 * MiB, '2MiB'],
    [3.42 * GiB, '3.42GiB'],
    [5.372 * TiB, '5.372TiB'],
    [2.22 * PiB, '2.22PiB'],
    [KiB * KiB * KiB * KiB * KiB * PiB, '1.049e+06YiB'],
    [1536, '1.5KiB'],
  ];
  for (const [n, want] of cases) await t.test(want, () => assert.equal(bytesSize(n), want));
});

test('HumanDuration (go-units duration_test.go)', async (t) => {
  const s = 1000,
    m = 60 * s,
    h = 60 * m,
    day = 24 * h,
    week = 7 * day,
    month = 30 * day,
    year = 365 * day;
  const cases: [number, string][] = [
    [450, 'Less than a second'],
    [-5 * s, 'Less than a second'],
    [1 * s, '1 second'],
    [45 * s, '45 seconds'],
    [46 * s, '46 seconds'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [1 * m, 'About a minute'],
    [3 * m, '3 minutes'],
    [35 * m, '35 minutes'],
    [35 * m + 40 * s, '35 minutes'],
    [45 * m, '45 minutes'],
    [45 * m + 40 * s, '45 minutes'],
    [46 * m, '46 minutes'],
    [59 * m, '59 minutes'],
    [1 * h, 'About an hour'],
    [1 * h + 29 * m, 'About an hour'],
    [1 * h + 31 * m, '2 hours'],
    [1 * h + 59 * m, '2 hours'],
    [3 * h, '3 hours'],
    [3 * h + 29 * m, '3 hours'],
    [3 * h + 31 * m, '4 hours'],
    [3 * h + 59 * m, '4 hours'],
    [3 * h + 60 * m, '4 hours'],
    [24 * h, '24 hours'],
    [1 * day + 12 * h, '36 hours'],
    [2 * day, '2 days'],
    [7 * day, '7 days'],
    [13 * day + 5 * h, '13 days'],
    [2 * week, '2 weeks'],
    [2 * week + 4 * day, '2 weeks'],
    [3 * week, '3 weeks'],
    [4 * week, '4 weeks'],
    [4 * week + 3 * day, '4 weeks'],
    [1 * month, '4 weeks'],
    [1 * month + 2 * week, '6 weeks'],
    [2 * month, '2 months'],
    [2 * month + 2 * week, '2 months'],
    [3 * month, '3 months'],
    [3 * month + 1 * week, '3 months'],
    [5 * month + 2 * week, '5 months'],
    [13 * month, '13 months'],
    [23 * month, '23 months'],
    [24 * month, '24 months'],
    [24 * month + 2 * week, '2 years'],
    [3 * year + 2 * month, '3 years'],
  ];
  for (const [ms, want] of cases) await t.test(`${ms}ms`, () => assert.equal(humanDuration(ms), want));
});

test('createdSince', () => {
  const now = Date.UTC(2025, 5, 1);
  assert.equal(createdSince(new Date(now - 14 * 86_400_000), now), '2 weeks ago');
  assert.equal(createdSince('2025-05-31T23:59:30Z', now), '30 seconds ago');
  assert.equal(createdSince(now / 1000 - 3600, now), 'About an hour ago');
  assert.equal(createdSince(0, now), '55 years ago'); // Unix epoch is a real time for docker
  assert.equal(createdSince(undefined, now), '');
  assert.equal(createdSince('0001-01-01T00:00:00Z', now), '');
  assert.equal(createdSince('garbage', now), '');
});

test('truncateID (stringid.TruncateID)', () => {
  const hex = 'a606584aa9aa875552092ec9e1d62cb98d486f51f389609914039aabd9414687';
  assert.equal(truncateID(`sha256:${hex}`), 'a606584aa9aa');
  assert.equal(truncateID(hex), 'a606584aa9aa');
  assert.equal(truncateID('abc'), 'abc');
  assert.equal(truncateID(''), '');
});

test('formatFloat matches Go strconv', async (t) => {
  const cases: [number, 'e' | 'f' | 'g', number, string][] = [
    [1, 'g', 3, '1'],
    [1.234567, 'g', 3, '1.23'],
    [77.8, 'g', 3, '77.8'],
    [999.9, 'g', 3, '1e+03'],
    [100, 'g', 3, '100'],
    [1023.999, 'g', 4, '1024'],
    [0.125, 'f', 2, '0.12'],
    [0.375, 'f', 2, '0.38'],
    [2.5, 'f', 0, '2'],
    [3.5, 'f', 0, '4'],
    [1.005, 'f', 2, '1.00'],
    [0.06, 'f', 0, '0'],
    [0.6, 'f', 0, '1'],
    [-1.5, 'f', 1, '-1.5'],
    [0, 'e', 2, '0.00e+00'],
    [1e21, 'g', -1, '1e+21'],
    [123456, 'g', -1, '123456'],
    [1234567, 'g', -1, '1.234567e+06'],
    [0.0001, 'g', -1, '0.0001'],
    [0.00001, 'g', -1, '1e-05'],
    [1234.5, 'e', -1, '1.2345e+03'],
    [0.1, 'f', -1, '0.1'],
    [0, 'g', -1, '0'],
    [NaN, 'g', -1, 'NaN'],
    [Infinity, 'f', 2, '+Inf'],
    [-Infinity, 'e', 2, '-Inf'],
    [5e-324, 'g', 3, '4.94e-324'],
  ];
  for (const [x, f, p, want] of cases) await t.test(`${f}/${p}/${x}`, () => assert.equal(formatFloat(x, f, p), want));
});

test('goQuote matches strconv.Quote', () => {
  assert.equal(goQuote('a"b\n\t\\'), '"a\\"b\\n\\t\\\\"');
  assert.equal(goQuote('\x00\x7f'), '"\\x00\\x7f"');
  assert.equal(goQuote('é日'), '"é日"');
  assert.equal(goQuote('\u00a0'), '"\\u00a0"');
});
