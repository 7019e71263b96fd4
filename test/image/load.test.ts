import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';
import { dockerArchive, hdr, makeTar, sha } from '../helpers/archive.js';

const t = tempRoot('berth-load');
after(() => t.remove());

const base = makeTar([
  [hdr('etc/', { type: 'dir' })],
  [hdr('etc/passwd'), 'root:x:0:0::/root:/bin/sh\n'],
  [hdr('bin/', { type: 'dir' })],
  [hdr('bin/sh'), 'not really a shell'],
]);
const l2 = makeTar([[hdr('etc/.wh.passwd')], [hdr('app/', { type: 'dir' })], [hdr('app/x'), 'x'.repeat(5000)]]);
const l3 = makeTar([[hdr('app/', { type: 'dir' })], [hdr('app/.wh..wh..opq')], [hdr('app/y'), 'y']]);

function storeState(root: string) {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p).sort() : []);
  return {
    layers: ls(`${root}/image/overlay2/layerdb/sha256`),
    overlay: ls(`${root}/overlay2`),
    links: ls(`${root}/overlay2/l`),
    images: ls(`${root}/image/overlay2/imagedb/content/sha256`),
    tmp: ls(`${root}/image/overlay2/layerdb/tmp`),
    refs: fs.existsSync(`${root}/image/overlay2/repositories.json`)
      ? fs.readFileSync(`${root}/image/overlay2/repositories.json`, 'utf8')
      : '',
  };
}

test('load: a 3-layer docker-archive registers chainIDs, lowers and whiteouts', () => {
  const root = `${t.root}/a`;
  const arch = dockerArchive([{ layers: [base, l2, l3], tags: ['three:1'] }]);
  const out = berthOk(root, ['load'], { input: arch });
  assert.equal(out, 'Loaded image: three:1\n');
  const [img] = JSON.parse(berthOk(root, ['image', 'inspect', 'three:1']));
  assert.deepEqual(
    img.RootFS.Layers,
    [base, l2, l3].map((l) => `sha256:${sha(l)}`),
  );
  const chain2 = sha(`sha256:${sha(base)} sha256:${sha(l2)}`);
  const chain3 = sha(`sha256:${chain2} sha256:${sha(l3)}`);
  const ldb = `${root}/image/overlay2/layerdb/sha256`;
  assert.deepEqual(fs.readdirSync(ldb).sort(), [sha(base), chain2, chain3].sort());
  assert.equal(fs.readFileSync(`${ldb}/${chain3}/parent`, 'utf8'), `sha256:${chain2}`);
  assert.equal(fs.readFileSync(`${ldb}/${chain3}/diff`, 'utf8'), `sha256:${sha(l3)}`);
  assert.equal(fs.readFileSync(`${ldb}/${chain2}/size`, 'utf8'), '5000');
  const c1 = fs.readFileSync(`${ldb}/${sha(base)}/cache-id`, 'utf8');
  const c2 = fs.readFileSync(`${ldb}/${chain2}/cache-id`, 'utf8');
  const c3 = fs.readFileSync(`${ldb}/${chain3}/cache-id`, 'utf8');
  const link = (c: string) => fs.readFileSync(`${root}/overlay2/${c}/link`, 'utf8');
  assert.equal(fs.existsSync(`${root}/overlay2/${c1}/lower`), false);
  assert.equal(fs.readFileSync(`${root}/overlay2/${c3}/lower`, 'utf8'), `l/${link(c2)}:l/${link(c1)}`);
  assert.ok(fs.lstatSync(`${root}/overlay2/${c2}/diff/etc/passwd`).isCharacterDevice());
  assert.ok(fs.existsSync(`${root}/overlay2/${c1}/committed`));
  assert.equal(img.GraphDriver.Data.LowerDir, `${root}/overlay2/${c2}/diff:${root}/overlay2/${c1}/diff`);
  assert.match(berthOk(root, ['system', 'check']), /ok \(1 images, 3 layers\)/);
  // save reproduces each layer byte for byte
  const saved = `${t.root}/saved.tar`;
  berthOk(root, ['save', '-o', saved, 'three:1']);
  const index = berthOk(root, ['load', '-i', saved]);
  assert.equal(index, 'Loaded image: three:1\n');
});

test('load: a layer whose content does not match its diffID fails and leaves the store as before', () => {
  const root = `${t.root}/b`;
  berthOk(root, ['load'], { input: dockerArchive([{ layers: [base], tags: ['keep:1'] }]) });
  const before = storeState(root);
  const bad = dockerArchive([
    { layers: [base, l2, l3], tags: ['bad:1'], diffIDs: [base, l2, l2].map((l) => `sha256:${sha(l)}`) },
  ]);
  const r = berth(root, ['load'], { input: bad });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /content has diffID sha256:[a-f0-9]{64}, but the image config says/);
  assert.deepEqual(storeState(root), before);
  assert.match(berthOk(root, ['system', 'check']), /ok/);
});

test('load: hostile and malformed archives are refused with what was wrong', () => {
  const root = `${t.root}/c`;
  const cases: Array<[string, Buffer, RegExp]> = [
    [
      'not a tar',
      Buffer.from('hello world, this is not a tar archive at all'.repeat(20)),
      /checksum mismatch|neither manifest/,
    ],
    ['manifest not JSON', makeTar([[hdr('manifest.json'), '{nope']]), /manifest.json" is not valid JSON/],
    [
      'missing layer',
      dockerArchive([{ layers: [base], tags: ['x:1'] }], (f) => {
        for (const k of [...f.keys()]) if (k.endsWith('layer.tar')) f.delete(k);
      }),
      /layer ".*layer.tar" not found in the archive/,
    ],
    [
      'layer path escapes',
      dockerArchive([{ layers: [base], tags: ['x:1'] }], (f) => {
        const m = JSON.parse(f.get('manifest.json')!.toString());
        m[0].Layers = ['../../etc/passwd'];
        f.set('manifest.json', Buffer.from(JSON.stringify(m)));
      }),
      /escapes the layer root/,
    ],
    ['bad tag', dockerArchive([{ layers: [base], tags: ['UPPER:1'] }]), /must be lowercase/],
    [
      'truncated',
      dockerArchive([{ layers: [base], tags: ['x:1'] }]).subarray(0, 1500),
      /unexpected end of file|truncated|not found/,
    ],
  ];
  for (const [name, input, re] of cases) {
    const r = berth(root, ['load'], { input });
    assert.equal(r.code, 1, `${name}: ${r.stdout}`);
    assert.match(r.stderr, re, name);
    const s = storeState(root);
    assert.deepEqual([s.layers, s.images, s.tmp, s.links], [[], [], [], []], name);
  }
  assert.match(berthOk(root, ['system', 'check']), /ok/);
});
