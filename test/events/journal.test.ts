import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { REPO, TMP } from '../helpers/berth.js';
import {
  eventJSON,
  makeEvent,
  nanoTime,
  parseGoDuration,
  parseLine,
  parseTimestamp,
  textLine,
  toMessage,
  type JournalEvent,
} from '../../src/events/event.js';
import { matchEvent, checkEventFilters } from '../../src/events/filter.js';
import { parseFilterFlags } from '../../src/core/filters.js';
import { appendEvent, journalFiles, journalTuning } from '../../src/events/journal.js';
import { followJournal, readJournal } from '../../src/events/follow.js';

// The event journal as files: line format, time values, filters, rotation, concurrent writers, following.
const tmpDir = () => fs.mkdtempSync(`${TMP}/berth-events-`);

test('--since/--until values: durations, unix seconds, RFC 3339 (Docker GetTimestamp)', () => {
  const now = Date.parse('2026-12-08T01:00:00Z');
  const cases: Array<[string, bigint]> = [
    ['10m', BigInt(now - 600_000) * 1_000_000n],
    ['1h30m', BigInt(now - 5_400_000) * 1_000_000n],
    ['1500ms', BigInt(now - 1500) * 1_000_000n],
    ['1700000000', 1_700_000_000_000_000_000n],
    ['1700000000.5', 1_700_000_000_500_000_000n],
    ['2026-12-08T01:02:03Z', BigInt(Date.parse('2026-12-08T01:02:03Z')) * 1_000_000n],
    ['2026-12-08T01:02:03.123456789Z', BigInt(Date.parse('2026-12-08T01:02:03Z')) * 1_000_000n + 123_456_789n],
    ['2026-12-08T03:02:03+02:00', BigInt(Date.parse('2026-12-08T01:02:03Z')) * 1_000_000n],
    ['2026-12-08', BigInt(Date.parse('2026-12-08T00:00:00Z')) * 1_000_000n],
  ];
  for (const [v, want] of cases) assert.equal(parseTimestamp(v, 'since', now), want, v);
  for (const bad of ['yesterday', '10x', '2026-13-45', ''])
    assert.throws(() => parseTimestamp(bad, 'until', now), /invalid value for --until/, bad);
  assert.equal(parseGoDuration('2h'), 7200e9);
  assert.equal(parseGoDuration('h'), undefined);
});

test('lines: exact timeNano, Docker text line and legacy fields, torn lines skipped', () => {
  const e: JournalEvent = {
    Type: 'container',
    Action: 'start',
    Actor: { ID: 'abc', Attributes: { name: 'web', image: 'alpine', 'com.x': 'y' } },
    scope: 'local',
    time: 1796691723,
    timeNano: 1796691723123456789n,
  };
  const line = eventJSON(e);
  assert.deepEqual(parseLine(line), e);
  assert.match(line, /"timeNano":1796691723123456789}$/);
  assert.equal(nanoTime(e.timeNano), '2026-12-08T01:02:03.123456789Z');
  assert.equal(textLine(e), '2026-12-08T01:02:03.123456789Z container start abc (com.x=y, image=alpine, name=web)');
  const m = toMessage(e);
  assert.deepEqual([m.status, m.id, m.from], ['start', 'abc', 'alpine']);
  assert.deepEqual(Object.keys(m.Actor.Attributes), ['com.x', 'image', 'name']);
  const v = toMessage({ ...e, Type: 'volume' });
  assert.equal(v.status, undefined);
  for (const torn of [line.slice(0, 40), '', 'garbage', '{"Type":"container"}'])
    assert.equal(parseLine(torn), undefined);
});

test('filters: keys ANDed, values ORed, as dockerd', () => {
  const c = makeEvent('container', 'die', 'a1b2c3', { name: 'web', image: 'alpine:3', exitCode: '1', tier: 'x' });
  const h = makeEvent('container', 'health_status: healthy', 'a1b2c3', { name: 'web', image: 'alpine:3' });
  const n = makeEvent('network', 'connect', 'n1', { name: 'net1', container: 'a1b2c3', type: 'bridge' });
  const v = makeEvent('volume', 'create', 'vol1', { driver: 'local' });
  const i = makeEvent('image', 'tag', 'sha256:ff', { name: 'alpine:3' });
  const cases: Array<[string[], JournalEvent, boolean]> = [
    [['type=container'], c, true],
    [['type=volume'], c, false],
    [['type=volume', 'type=container'], c, true],
    [['event=die'], c, true],
    [['event=start', 'event=die'], c, true],
    [['event=health_status'], h, true],
    [['container=web'], c, true],
    [['container=a1b'], c, true],
    [['container=other'], c, false],
    [['container=web'], v, false],
    [['container=a1b2c3'], n, true],
    [['network=net1'], n, true],
    [['network=net1'], c, false],
    [['volume=vol1'], v, true],
    [['image=alpine'], c, true],
    [['image=alpine:3'], i, true],
    [['image=busybox'], c, false],
    [['label=tier'], c, true],
    [['label=tier=x'], c, true],
    [['label=tier=y'], c, false],
    [['type=container', 'event=start'], c, false],
  ];
  for (const [flags, e, want] of cases) assert.equal(matchEvent(parseFilterFlags(flags), e), want, flags.join(' '));
  assert.throws(() => checkEventFilters(parseFilterFlags(['foo=bar'])), /invalid filter 'foo'/);
  assert.throws(() => checkEventFilters(parseFilterFlags(['type=bogus'])), /unknown event type "bogus"/);
});

test('rotation keeps the newest files: at most keep+1 of rotateBytes each', () => {
  const dir = tmpDir();
  const saved = { ...journalTuning };
  try {
    journalTuning.rotateBytes = 4096;
    journalTuning.keep = 2;
    for (let k = 0; k < 200; k++) appendEvent(dir, makeEvent('volume', 'create', `v${k}`, { driver: 'local' }));
    const files = journalFiles(dir);
    assert.deepEqual(
      files.map((f) => f.slice(dir.length + 1)),
      ['events.log.2', 'events.log.1', 'events.log'].slice(3 - files.length),
    );
    assert.equal(files.length, 3);
    for (const f of files) assert.ok(fs.statSync(f).size < 4096 + 200, f);
    const ids = readJournal(dir).map((e) => Number(e.Actor.ID.slice(1)));
    assert.equal(ids.at(-1), 199, 'the newest is kept');
    assert.ok(ids[0]! > 0, 'the oldest were dropped');
    assert.deepEqual(
      ids,
      ids.map((_, k) => ids[0]! + k),
      'in order, none missing in between',
    );
  } finally {
    Object.assign(journalTuning, saved);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A child process appending `n` events tagged `w` (rotating at `rotate` bytes, keeping `keep`). */
function writer(dir: string, w: number, n: number, rotate: number, keep: number): Promise<number> {
  const code = `
    const j = await import(${JSON.stringify(`${REPO}/dist/src/events/journal.js`)});
    const ev = await import(${JSON.stringify(`${REPO}/dist/src/events/event.js`)});
    j.journalTuning.rotateBytes = ${rotate}; j.journalTuning.keep = ${keep};
    const pad = 'x'.repeat(${200 + w * 37});
    for (let k = 0; k < ${n}; k++) j.appendEvent(${JSON.stringify(dir)}, ev.makeEvent('container', 'exec_start', 'w${w}', { seq: String(k), pad }));
  `;
  const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => p.on('exit', (c) => resolve(c ?? -1)));
}

test('concurrent writers never tear or lose a line, across rotations', async () => {
  const dir = tmpDir();
  const saved = { ...journalTuning };
  try {
    journalTuning.rotateBytes = 256 * 1024;
    journalTuning.keep = 1000;
    const n = 1500;
    const codes = await Promise.all([0, 1, 2, 3].map((w) => writer(dir, w, n, journalTuning.rotateBytes, 1000)));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const files = journalFiles(dir);
    assert.ok(files.length > 4, `rotated (${files.length} files)`);
    let lines = 0;
    for (const f of files)
      for (const l of fs.readFileSync(f, 'utf8').split('\n').slice(0, -1)) {
        lines++;
        assert.ok(parseLine(l), `a whole event line in ${f}: ${l.slice(0, 80)}`);
      }
    assert.equal(lines, 4 * n);
    const seen = new Map<string, number[]>();
    for (const e of readJournal(dir)) {
      const s = seen.get(e.Actor.ID) ?? [];
      s.push(Number(e.Actor.Attributes.seq));
      seen.set(e.Actor.ID, s);
    }
    for (let w = 0; w < 4; w++)
      assert.deepEqual(seen.get(`w${w}`), [...Array(n).keys()], `writer ${w}: every event, in its order`);
  } finally {
    Object.assign(journalTuning, saved);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a follower sees what another process writes, also across rotations, and stops on abort', async () => {
  const dir = tmpDir();
  const saved = { ...journalTuning };
  const abort = new AbortController();
  try {
    // several rotations may pass between two reads; a file is lost only once `keep` more followed it
    journalTuning.rotateBytes = 16 * 1024;
    journalTuning.keep = 50;
    appendEvent(dir, makeEvent('volume', 'create', 'before', {})); // not shown: no --since
    const got: string[] = [];
    const reading = (async () => {
      for await (const e of followJournal(dir, { signal: abort.signal })) {
        got.push(`${e.Actor.ID}/${e.Actor.Attributes.seq}`);
        if (got.length === 300) abort.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await writer(dir, 7, 300, 16 * 1024, 50), 0);
    await Promise.race([
      reading,
      new Promise((_, rej) =>
        setTimeout(
          () =>
            rej(
              new Error(
                `follower timed out: ${got.length} ${got.slice(0, 3).join(' ')} ... ${got.slice(-3).join(' ')}`,
              ),
            ),
          10000,
        ),
      ),
    ]);
    assert.deepEqual(
      got,
      [...Array(300).keys()].map((k) => `w7/${k}`),
    );
    assert.ok(journalFiles(dir).length > 1, 'the journal rotated meanwhile');
  } finally {
    abort.abort();
    Object.assign(journalTuning, saved);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
