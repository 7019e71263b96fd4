import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PullProgress, progressString } from '../../src/cli/commands/pull-progress.js';

class Sink {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
  ) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

test("progress bar as Docker's JSONProgress.String()", () => {
  assert.equal(
    progressString({ current: 12_345_678, total: 40_000_000 }, 120),
    `[${'='.repeat(15)}>${' '.repeat(35)}]  12.35MB/40MB`,
  );
  assert.equal(progressString({ current: 40_000_000, total: 40_000_000 }, 120), `[${'='.repeat(50)}>]     40MB/40MB`);
  assert.equal(progressString({ current: 1000, total: 2000 }, 80), '     1kB/2kB');
  assert.equal(progressString({ current: 0, total: 0 }, 120), '');
});

test('not a terminal: plain status lines, no byte counts; quiet: nothing', () => {
  const s = new Sink(false);
  const p = new PullProgress(s as unknown as NodeJS.WritableStream, false);
  p.write({ id: 'v1', status: 'Pulling from app' });
  p.write({ id: 'aaa', status: 'Pulling fs layer' });
  p.write({ id: 'aaa', status: 'Downloading', progressDetail: { current: 5, total: 10 } });
  p.write({ id: 'aaa', status: 'Pull complete' });
  p.write({ status: 'Digest: sha256:x' });
  assert.equal(s.text, 'v1: Pulling from app\naaa: Pulling fs layer\naaa: Pull complete\nDigest: sha256:x\n');
  const q = new Sink(false);
  new PullProgress(q as unknown as NodeJS.WritableStream, true).write({ status: 'Digest: x' });
  assert.equal(q.text, '');
});

test('a terminal: one line per layer, rewritten in place', () => {
  const s = new Sink(true);
  const p = new PullProgress(s as unknown as NodeJS.WritableStream, false);
  p.write({ id: 'v1', status: 'Pulling from app' });
  p.write({ id: 'aaa', status: 'Pulling fs layer' });
  p.write({ id: 'bbb', status: 'Pulling fs layer' });
  p.write({ id: 'aaa', status: 'Pull complete' });
  p.write({ status: 'Digest: d' });
  assert.equal(
    s.text,
    'v1: Pulling from app\n' +
      '\n\x1b[1A\x1b[2K\raaa: Pulling fs layer\r\x1b[1B' +
      '\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer\r\x1b[1B' +
      '\x1b[2A\x1b[2K\raaa: Pull complete\r\x1b[2B' +
      'Digest: d\n',
  );
});
