/**
 * rmi and image prune of built chains against dockerd 20.10: a store where berth
 * built two images is copied, dockerd is started on the copy, and the same
 * commands run on both sides print the same lines and leave the same images.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk } from '../helpers/berth.js';
import { Scope, dockerOk, docker, since, startDockerd, type Dockerd } from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`rmi-chain-dockerd.test: ${since(T0)} in all\n`);
});

let template: string;
let ctx: string;

before(
  () => {
    template = scope.tempDir('rmi-template');
    ctx = scope.tempDir('rmi-ctx');
    const files: Record<string, string> = {
      app: 'FROM base\nRUN echo one > /a\nENV X=1\nRUN echo two > /b\nLABEL team=blue\n',
      other: 'FROM base\nRUN echo other > /o\nLABEL team=red\n',
    };
    berthOk(template, ['image', 'from-host', 'base', 'sh', 'echo']);
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(join(ctx, name));
      fs.writeFileSync(join(ctx, name, 'Dockerfile'), text);
      berthOk(template, ['build', '-q', '-t', `${name}:1`, join(ctx, name)]);
    }
  },
  { timeout: 300_000 },
);

/** Two copies of the template: one for berth, one with a dockerd on it. */
function pair(tag: string): { br: string; d: Dockerd } {
  const br = scope.tempDir(`rmi-${tag}-berth`);
  const dr = scope.tempDir(`rmi-${tag}-docker`);
  fs.cpSync(template, br, { recursive: true, verbatimSymlinks: true });
  fs.cpSync(template, dr, { recursive: true, verbatimSymlinks: true });
  return { br, d: startDockerd(scope, `rmi-${tag}`, dr) };
}

function images(d: Dockerd | string): string[] {
  const args = ['images', '-a', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'];
  const out = typeof d === 'string' ? berthOk(d, args) : dockerOk(d.host, args);
  return out.split('\n').filter(Boolean).sort();
}

/** Prune reports list images in map order in dockerd: compare the lines as sets, the rest exactly. */
const sorted = (s: string) => s.split('\n').sort();

test(
  'rmi of a built image: the same lines and the same images left as dockerd, with and without --no-prune',
  { timeout: 300_000 },
  () => {
    const { br, d } = pair('rmi');
    for (const args of [
      ['rmi', '--no-prune', 'other:1'],
      ['rmi', 'app:1'],
    ]) {
      const want = dockerOk(d.host, args);
      assert.equal(berthOk(br, args), want, args.join(' '));
      assert.deepEqual(images(br), images(d), `after ${args.join(' ')}`);
    }
    const refused = [
      'rmi',
      images(d)
        .find((l) => l.endsWith('base:latest'))!
        .slice(7, 19),
    ];
    docker(d.host, ['tag', 'base', 'base:two']);
    berthOk(br, ['tag', 'base', 'base:two']);
    const dr = docker(d.host, refused);
    const b = berth(br, refused);
    assert.equal(b.code, dr.code);
    assert.equal(b.stderr.replace('berth', 'daemon'), dr.stderr);
    assert.match(berthOk(br, ['system', 'check']), /: ok \(/);
  },
);

test('image prune: one run takes a whole untagged chain, -a the rest, as dockerd', { timeout: 300_000 }, () => {
  const { br, d } = pair('prune');
  dockerOk(d.host, ['rmi', '--no-prune', 'app:1']);
  berthOk(br, ['rmi', '--no-prune', 'app:1']);
  for (const args of [
    ['image', 'prune', '-f'],
    ['image', 'prune', '-f'],
    ['image', 'prune', '-a', '-f', '--filter', 'label=team=red'],
    ['image', 'prune', '-a', '-f'],
  ]) {
    assert.deepEqual(sorted(berthOk(br, args)), sorted(dockerOk(d.host, args)), args.join(' '));
    assert.deepEqual(images(br), images(d), `after ${args.join(' ')}`);
  }
  assert.deepEqual(images(br), []);
  assert.match(berthOk(br, ['system', 'check']), /: ok \(/);
});
