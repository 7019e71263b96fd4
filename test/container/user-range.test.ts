import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';

// A numeric uid or gid the kernel would take but Docker refuses (above 2^31-1, or negative) never reaches the kernel.
const t = tempRoot('berth-uid');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
const existing = () => ok(['ps', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean).sort();
const RANGE = /uids and gids must be in range 0-2147483647/;

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
});
after(() => t.remove());

test("a numeric uid or gid outside 0-2147483647 is refused with Docker's message; nothing is stored", () => {
  const cases: string[][] = [
    ['run', '--rm', '-u', '4294967296', 'base', 'true'],
    ['run', '-u', '2147483648', 'base', 'true'],
    ['run', '-u', '0:4294967295', 'base', 'true'],
    ['run', '--user=-1', 'base', 'true'],
    ['run', '--group-add', '3000000000', 'base', 'true'],
    ['create', '-u', '99999999999999999999', 'base', 'true'],
  ];
  for (const args of cases) {
    const r = berth(root, args);
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, RANGE, args.join(' '));
  }
  assert.deepEqual(existing(), [], 'no container was made');
  assert.equal(ok(['run', '--rm', '-u', '2147483647:2147483647', 'base', 'true']), '', 'the largest id is accepted');
  const d = ok(['run', '-d', 'base', 'sleep', '600']);
  for (const env of [{}, { BERTH_NO_LAUNCHER: '1' }] as Array<Record<string, string>>) {
    const r = berth(root, ['exec', '-u', '4294967294', d, 'true'], { env });
    assert.equal(r.code, 126, r.stderr);
    assert.match(r.stderr, RANGE);
  }
  ok(['rm', '-f', d]);
});

test('an image whose User is out of range: metadata builds, its containers and RUN steps are refused', () => {
  const dir = fs.mkdtempSync(`${root}-ctx`);
  try {
    fs.writeFileSync(`${dir}/Dockerfile`, 'FROM base\nUSER 4294967296\n');
    ok(['build', '-q', '-t', 'baduser', dir]);
    assert.equal(ok(['image', 'inspect', '-f', '{{.Config.User}}', 'baduser']), '4294967296');
    const r = berth(root, ['run', '--rm', 'baduser', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, RANGE);
    // an explicit -u in range overrides it
    assert.equal(berth(root, ['run', '--rm', '-u', '0', 'baduser', 'true']).code, 0);
    fs.writeFileSync(`${dir}/Dockerfile`, 'FROM base\nUSER 0:-2\nRUN true\n');
    const b = berth(root, ['build', '-q', dir]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, RANGE);
    assert.deepEqual(existing(), [], 'no container was made');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
