import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';

/**
 * rmi and image prune on real built chains: a 4-step build on a from-host base
 * leaves three untagged parents; rmi takes the whole unused chain (not with
 * --no-prune), prune empties a chain in one run, label/label!/until filters
 * choose, the question is answered from stdin, and unknown filters delete nothing.
 */
const base = tempRoot('berth-prune-img');
const ctx = tempRoot('berth-prune-ctx');
const roots: Array<{ remove(): void }> = [base, ctx];
after(() => {
  for (const r of roots) r.remove();
});

const DOCKERFILES: Record<string, string> = {
  app: 'FROM base\nRUN echo one > /a\nENV X=1\nRUN echo two > /b\nLABEL team=blue tier=web\n',
  other: 'FROM base\nRUN echo other > /o\nLABEL team=red\n',
};

before(() => {
  berthOk(base.root, ['image', 'from-host', 'base', 'sh', 'echo']);
  for (const [name, text] of Object.entries(DOCKERFILES)) {
    fs.mkdirSync(join(ctx.root, name));
    fs.writeFileSync(join(ctx.root, name, 'Dockerfile'), text);
  }
});

/** A copy of the base store with `app:1` and `other:1` built (each a chain of untagged parents). */
function built(): { root: string; ids: Record<string, string> } {
  const r = tempRoot('berth-prune-img');
  roots.push(r);
  fs.cpSync(base.root, r.root, { recursive: true, verbatimSymlinks: true });
  const ids: Record<string, string> = { base: inspectId(r.root, 'base') };
  for (const name of Object.keys(DOCKERFILES))
    ids[name] = berthOk(r.root, ['build', '-q', '-t', `${name}:1`, join(ctx.root, name)]).trim();
  return { root: r.root, ids };
}

const inspectId = (root: string, ref: string) => berthOk(root, ['image', 'inspect', '--format', '{{.Id}}', ref]).trim();
const allImages = (root: string) =>
  berthOk(root, ['images', '-a', '--no-trunc', '-q']).split('\n').filter(Boolean).sort();
const layers = (root: string) => fs.readdirSync(`${root}/image/overlay2/layerdb/sha256`).sort();
/** The image and its parents, child first. */
function chainOf(root: string, id: string): string[] {
  const out = [id];
  for (let p = parentOf(root, id); p; p = parentOf(root, p)) out.push(p);
  return out;
}
function parentOf(root: string, id: string): string | undefined {
  try {
    return fs.readFileSync(`${root}/image/overlay2/imagedb/metadata/sha256/${id.slice(7)}/parent`, 'utf8');
  } catch {
    return undefined;
  }
}
const checkClean = (root: string) => assert.match(berthOk(root, ['system', 'check']), /: ok \(/);

test('rmi of a built image deletes its untagged parent chain and their layers, down to the tagged base', () => {
  const { root, ids } = built();
  const appChain = chainOf(root, ids.app!);
  assert.equal(appChain.length, 5, 'app:1, three untagged parents, base');
  assert.equal(appChain.at(-1), ids.base);
  const before = allImages(root);
  const out = berthOk(root, ['rmi', 'app:1']).split('\n').filter(Boolean);
  const deletedImages = appChain.slice(0, 4);
  assert.equal(out[0], 'Untagged: app:1');
  assert.deepEqual(
    out.filter((l) => deletedImages.includes(l.slice('Deleted: '.length))),
    deletedImages.map((i) => `Deleted: ${i}`),
    'images deleted child first',
  );
  assert.equal(out.length, 1 + 4 + 2, 'plus the two RUN layers');
  assert.deepEqual(
    allImages(root),
    before.filter((i) => !deletedImages.includes(i)),
  );
  assert.ok(allImages(root).includes(ids.other!) && allImages(root).includes(ids.base!));
  checkClean(root);
});

test('rmi --no-prune leaves the parents; rmi by ID of a parent with children is refused; -f does not help', () => {
  const { root, ids } = built();
  const chain = chainOf(root, ids.app!);
  assert.deepEqual(berthOk(root, ['rmi', '--no-prune', 'app:1']).split('\n').filter(Boolean), [
    'Untagged: app:1',
    `Deleted: ${ids.app}`,
  ]);
  assert.ok(allImages(root).includes(chain[1]!));
  const r = berth(root, ['rmi', '-f', chain[2]!.slice(7, 19)]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(
      `conflict: unable to delete ${chain[2]!.slice(7, 19)} \\(cannot be forced\\) - image has dependent child images`,
    ),
  );
  // the parent left behind is a dangling head now: one prune run takes the rest of the chain
  const p = berthOk(root, ['image', 'prune', '-f']).split('\n');
  assert.equal(p[0], 'Deleted Images:');
  assert.deepEqual(
    p.filter((l) => chain.includes(l.slice('deleted: '.length))),
    chain.slice(1, 4).map((i) => `deleted: ${i}`),
  );
  assert.equal(p.length, 1 + 3 + 2 + 3, 'three images, two layers, a blank line, the total, the final newline');
  assert.deepEqual(p.slice(-3, -1), ['', p.at(-2)!]);
  assert.match(p.at(-2)!, /^Total reclaimed space: \d+B$/);
  assert.deepEqual(
    allImages(root),
    [ids.base!, ...chainOf(root, ids.other!)].filter((v, i, a) => a.indexOf(v) === i).sort(),
  );
  checkClean(root);
});

test('image prune: one run empties an untagged chain; -a takes every image no container uses', () => {
  const { root, ids } = built();
  const appChain = chainOf(root, ids.app!);
  berthOk(root, ['rmi', '--no-prune', 'app:1']);
  berthOk(root, ['create', '--name', 'keep', 'other:1', 'true']);
  const once = berthOk(root, ['image', 'prune', '-f']);
  for (const i of appChain.slice(1, 4)) assert.match(once, new RegExp(`^deleted: ${i}$`, 'm'));
  assert.match(once, /Total reclaimed space: [1-9]/);
  assert.match(
    berthOk(root, ['image', 'prune', '-f']),
    /^Total reclaimed space: 0B\n$/,
    'nothing left for a second run',
  );
  const all = berthOk(root, ['image', 'prune', '-a', '-f']);
  assert.match(all, /^untagged: base:latest$/m, 'base is untagged');
  assert.deepEqual(
    allImages(root),
    chainOf(root, ids.other!).sort(),
    'what the container uses stays, with its parents',
  );
  berthOk(root, ['rm', 'keep']);
  berthOk(root, ['image', 'prune', '-a', '-f']);
  assert.deepEqual(allImages(root), []);
  assert.deepEqual(layers(root), []);
  checkClean(root);
});

test('image prune filters: label, label!, until choose; an unknown key or bad value deletes nothing', () => {
  const { root, ids } = built();
  const before = allImages(root);
  const refused: Array<[string[], RegExp]> = [
    [['--filter', 'xyz=1'], /invalid filter 'xyz'/],
    [['--filter', 'reference=app'], /invalid filter 'reference'/],
    [['--filter', 'until=yesterday'], /failed to parse value as time or duration: "yesterday"/],
    [['--filter', 'until=1h', '--filter', 'until=2h'], /more than one until filter specified/],
    [['--filter', 'dangling=true'], /invalid filter 'dangling=\[true false\]'/],
    [['--filter', 'label'], /bad format of filter/],
  ];
  for (const [args, re] of refused) {
    const r = berth(root, ['image', 'prune', '-a', '-f', ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, re);
    assert.deepEqual(allImages(root), before, `${args.join(' ')} deleted nothing`);
  }
  const noMatch = ['label=nonexistent=1', 'label=team=green', 'until=2000-01-01T00:00:00Z', 'until=946684800'];
  for (const f of noMatch)
    assert.equal(berthOk(root, ['image', 'prune', '-a', '-f', '--filter', f]), 'Total reclaimed space: 0B\n', f);
  assert.deepEqual(allImages(root), before);
  // label=team=red: only other:1 (its chain goes with it); label!=team=blue spares app:1 too
  const red = berthOk(root, ['image', 'prune', '-a', '-f', '--filter', 'label=team=red']);
  assert.match(red, /^untagged: other:1$/m);
  assert.doesNotMatch(red, /app:1|base:latest/);
  assert.ok(!allImages(root).includes(ids.other!) && allImages(root).includes(ids.app!));
  assert.equal(
    berthOk(root, ['image', 'prune', '-a', '-f', '--filter', 'label!=team=blue', '--filter', 'label=team']),
    'Total reclaimed space: 0B\n',
  );
  assert.match(
    berthOk(root, ['image', 'prune', '-a', '-f', '--filter', 'label=tier', '--filter', 'until=1m']),
    /^Total reclaimed space: 0B\n$/,
    'built less than a minute ago',
  );
  const app = berthOk(root, [
    'image',
    'prune',
    '-a',
    '-f',
    '--filter',
    'label=tier=web',
    '--filter',
    `until=${Math.ceil(Date.now() / 1000) + 5}`,
  ]);
  assert.match(app, /^untagged: app:1$/m);
  assert.deepEqual(allImages(root), [ids.base!], 'base, tagged and without the labels, stays');
  checkClean(root);
});

test('image prune asks first; only "y" from stdin (pipe or not) says yes; end of input says no', () => {
  const { root } = built();
  berthOk(root, ['rmi', '--no-prune', 'app:1']);
  const before = allImages(root);
  const question = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ';
  for (const input of ['', 'n\n', 'yes\n', ' N ', 'no']) {
    const r = berth(root, ['image', 'prune'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, question, JSON.stringify(input));
    assert.deepEqual(allImages(root), before);
  }
  const all = berth(root, ['image', 'prune', '-a'], { input: 'n' });
  assert.equal(
    all.stdout,
    'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ',
  );
  const yes = berth(root, ['image', 'prune'], { input: ' Y \nmore' });
  assert.ok(yes.stdout.startsWith(`${question}Deleted Images:\ndeleted: sha256:`), yes.stdout);
  assert.equal(allImages(root).length, before.length - 3);
  checkClean(root);
});
