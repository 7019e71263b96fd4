import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { berth, berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';

/**
 * container prune on real containers: only stopped ones, chosen by label,
 * label! and until, after a question answered from stdin; unknown filters and
 * bad values delete nothing; the reclaimed space is their rw layers' size.
 */
const t = tempRoot('berth-ctr-prune');
const root = t.root;
const ok = (args: string[], input?: string) => berthOk(root, args, input === undefined ? {} : { input }).trim();
const names = () => ok(['ps', '-a', '--format', '{{.Names}}']).split('\n').filter(Boolean).sort();
const idOf = (name: string) => ok(['inspect', '--format', '{{.Id}}', name]);

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'head']);
});
after(() => {
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('container prune: label, label!, until choose among stopped containers; running ones stay; space is the rw layers', async () => {
  ok(['run', '--name', 'old', '-l', 'env=dev', 'base', 'sh', '-c', 'head -c 5000 /dev/zero > /five-k']);
  await sleep(1100);
  const between = new Date().toISOString();
  await sleep(1100);
  ok(['run', '--name', 'dev', '-l', 'env=dev', '-l', 'keep', 'base', 'sh', '-c', 'head -c 3000 /dev/zero > /three-k']);
  ok(['create', '--name', 'prod', '-l', 'env=prod', 'base', 'true']);
  ok(['create', '--name', 'plain', 'base', 'true']);
  ok(['run', '-d', '--name', 'live', '-l', 'env=dev', 'base', 'sleep', '60']);
  const all = names();

  const refused: Array<[string[], RegExp]> = [
    [['--filter', 'xyz=1'], /invalid filter 'xyz'/],
    [['--filter', 'dangling=true'], /invalid filter 'dangling'/],
    [['--filter', 'status=exited'], /invalid filter 'status'/],
    [['--filter', 'until=soon'], /failed to parse value as time or duration: "soon"/],
    [['--filter', 'until=2024-02-30'], /day out of range/],
    [['--filter', 'label'], /bad format of filter/],
  ];
  for (const [args, re] of refused) {
    const r = berth(root, ['container', 'prune', '-f', ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, re);
    assert.deepEqual(names(), all, `${args.join(' ')} removed nothing`);
  }
  for (const f of ['label=nonexistent=1', 'label=env=test', 'until=2000-01-01', 'until=946684800']) {
    assert.equal(ok(['container', 'prune', '-f', '--filter', f]), 'Total reclaimed space: 0B', f);
  }
  assert.deepEqual(names(), all);

  // created before `between`, with env=dev: only old
  const oldId = idOf('old');
  assert.equal(
    berthOk(root, ['container', 'prune', '-f', '--filter', 'label=env=dev', '--filter', `until=${between}`]),
    `Deleted Containers:\n${oldId}\n\nTotal reclaimed space: 5kB\n`,
  );
  // label!: every stopped one but prod
  const want = [idOf('dev'), idOf('plain')].sort();
  const r = ok(['container', 'prune', '-f', '--filter', 'label!=env=prod']);
  assert.deepEqual(r.split('\n').slice(1, -2).sort(), want);
  assert.match(r, /Total reclaimed space: 3kB$/);
  assert.deepEqual(names(), ['live', 'prod']);
  assert.equal(
    ok(['container', 'prune', '-f', '--filter', 'until=10m']),
    'Total reclaimed space: 0B',
    'prod is younger than 10 minutes',
  );
  const prodId = idOf('prod');
  assert.equal(
    ok(['container', 'prune', '-f', '--filter', `until=${Math.ceil(Date.now() / 1000) + 5}`]),
    `Deleted Containers:\n${prodId}\n\nTotal reclaimed space: 0B`,
  );
  assert.deepEqual(names(), ['live'], 'a running container is never pruned');
  ok(['rm', '-f', 'live']);
  assert.match(ok(['system', 'check']), /: ok \(/);
});

test('container prune asks first; only "y" from stdin says yes; "n", other answers and end of input say no', () => {
  ok(['create', '--name', 'p1', 'base', 'true']);
  const question = 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ';
  for (const input of ['', 'n\n', 'N', 'yes\n', 'nope\ny\n']) {
    const r = berth(root, ['container', 'prune'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, question, JSON.stringify(input));
    assert.deepEqual(names(), ['p1']);
  }
  const id = idOf('p1');
  const yes = berth(root, ['container', 'prune'], { input: 'y\n' });
  assert.equal(yes.stdout, `${question}Deleted Containers:\n${id}\n\nTotal reclaimed space: 0B\n`);
  assert.deepEqual(names(), []);
  // a refused filter fails before the question
  const bad = berth(root, ['container', 'prune', '--filter', 'xyz=1'], { input: 'y\n' });
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /invalid filter 'xyz'/);
});
