import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Engine } from '../../src/engine/engine.js';
import type { ImageSummary } from '../../src/engine/image-types.js';
import { BerthError } from '../../src/core/errors.js';
import { parseFilterFlags } from '../../src/core/filters.js';
import { hdr, makeTar, sha } from '../helpers/archive.js';
import { tempRoot } from '../helpers/berth.js';

/**
 * The image half of the engine, called as a library (no CLI): a store
 * loaded from a docker-archive built in code (creation times and labels
 * chosen), then each operation in Docker Engine API shapes.
 */
const store = tempRoot('berth-engine-img');
const other = tempRoot('berth-engine-img2');
const ctxDir = tempRoot('berth-engine-ctx');
after(() => [store, other, ctxDir].forEach((r) => r.remove()));

interface Spec {
  name: string;
  created: string;
  labels?: Record<string, string>;
  tags: string[];
}

const SPECS: Spec[] = [
  { name: 'old', created: '2020-01-01T00:00:00Z', labels: { tier: 'db' }, tags: ['old:1'] },
  { name: 'mid', created: '2022-01-01T00:00:00Z', labels: { tier: 'web', team: 'a' }, tags: ['mid:1'] },
  { name: 'none', created: '2023-01-01T00:00:00Z', tags: [] },
  { name: 'new', created: '2024-01-01T00:00:00Z', tags: ['new:1', 'new:2'] },
];

/** A docker-archive of one-layer images with the given times, labels and tags. */
function archive(specs: Spec[]): Buffer {
  const files: Array<[string, Buffer]> = [];
  const manifest = specs.map((s) => {
    const layer = makeTar([[hdr(`file-${s.name}`), `content of ${s.name}\n`]]);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created: s.created,
        config: { Cmd: ['/bin/sh'], Labels: s.labels ?? null },
        history: [{ created: s.created, created_by: `make ${s.name}`, comment: `c-${s.name}` }],
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
      }),
    );
    files.push([`${sha(config)}.json`, config], [`${sha(layer)}/layer.tar`, layer]);
    return { Config: `${sha(config)}.json`, RepoTags: s.tags, Layers: [`${sha(layer)}/layer.tar`] };
  });
  files.push(['manifest.json', Buffer.from(JSON.stringify(manifest))]);
  return makeTar(files.map(([n, b]) => [hdr(n), b]));
}

let engine: Engine;
const ids: Record<string, string> = {};

before(async () => {
  engine = await Engine.open({ root: store.root });
  const res = await engine.images.load(Readable.from([archive(SPECS)]));
  assert.deepEqual(
    res.stream.map((m) => m.stream).filter((s) => s.startsWith('Loaded image:')),
    ['Loaded image: old:1\n', 'Loaded image: mid:1\n', 'Loaded image: new:1\n', 'Loaded image: new:2\n'],
  );
  assert.equal(res.stream.filter((m) => m.stream.startsWith('Loaded image ID: sha256:')).length, 1);
  SPECS.forEach((s, i) => (ids[s.name] = res.images[i]!.Id));
});

const names = (list: ImageSummary[]) => list.map((i) => Object.keys(ids).find((k) => ids[k] === i.Id));

test('list: every image newest first, in the ImageSummary shape', () => {
  const list = engine.images.list();
  assert.deepEqual(names(list), ['new', 'none', 'mid', 'old']);
  const mid = list[2]!;
  assert.deepEqual(Object.keys(mid).sort(), [
    'Containers',
    'Created',
    'Id',
    'Labels',
    'ParentId',
    'RepoDigests',
    'RepoTags',
    'SharedSize',
    'Size',
    'VirtualSize',
  ]);
  assert.equal(mid.Created, Date.parse('2022-01-01T00:00:00Z') / 1000);
  assert.deepEqual(mid.Labels, { tier: 'web', team: 'a' });
  assert.ok(mid.Size > 0 && mid.VirtualSize === mid.Size);
  assert.deepEqual(list[1]!.RepoTags, ['<none>:<none>']);
  assert.deepEqual(list[1]!.RepoDigests, ['<none>@<none>']);
});

test('list: each filter', () => {
  const cases: Array<[string[], string[], string[][]?]> = [
    [['reference=new'], ['new'], [['new:1', 'new:2']]],
    [['reference=new:2'], ['new'], [['new:2']]],
    [['reference=*:1'], ['new', 'mid', 'old'], [['new:1'], ['mid:1'], ['old:1']]],
    [['reference=nothing*'], []],
    [['dangling=true'], ['none']],
    [['dangling=false'], ['new', 'mid', 'old']],
    [['label=tier'], ['mid', 'old']],
    [['label=tier=web'], ['mid']],
    [['label=tier', 'label=team=a'], ['mid']],
    [['before=mid:1'], ['old']],
    [['since=mid:1'], ['new', 'none']],
    [
      ['since=old:1', 'before=new:1'],
      ['none', 'mid'],
    ],
  ];
  for (const [flags, want, tags] of cases) {
    const list = engine.images.list({ filters: parseFilterFlags(flags) });
    assert.deepEqual(names(list), want, flags.join(' '));
    if (tags)
      assert.deepEqual(
        list.map((i) => i.RepoTags),
        tags,
        flags.join(' '),
      );
  }
});

test('list: unknown filters and bad values are refused, as dockerd does', () => {
  const cases: Array<[string[], string, RegExp]> = [
    [['until=1h'], 'InvalidArgument', /invalid filter 'until'/],
    [['bogus=1'], 'InvalidArgument', /invalid filter 'bogus'/],
    [['dangling=maybe'], 'InvalidArgument', /invalid filter 'dangling=\[maybe\]'/],
    [['dangling=true', 'dangling=false'], 'InvalidArgument', /invalid filter 'dangling=\[true false\]'/],
    [['before=absent:1'], 'NotFound', /No such image: absent:1/],
    [['reference=[abc'], 'InvalidArgument', /syntax error in pattern/],
  ];
  for (const [flags, kind, message] of cases)
    assert.throws(
      () => engine.images.list({ filters: parseFilterFlags(flags) }),
      (e: unknown) => e instanceof BerthError && e.kind === kind && message.test(e.message),
      flags.join(' '),
    );
});

test('inspect and history', () => {
  const img = engine.images.inspect('mid:1');
  assert.equal(img.Id, ids.mid);
  assert.deepEqual(img.RepoTags, ['mid:1']);
  assert.equal(img.Created, '2022-01-01T00:00:00Z');
  assert.throws(
    () => engine.images.inspect('absent'),
    (e: unknown) => e instanceof BerthError && e.kind === 'NotFound',
  );
  assert.deepEqual(engine.images.history('mid:1'), [
    {
      Id: ids.mid,
      Created: Date.parse('2022-01-01T00:00:00Z') / 1000,
      CreatedBy: 'make mid',
      Tags: ['mid:1'],
      Size: img.Size,
      Comment: 'c-mid',
    },
  ]);
});

test('tag: a new name; a digest is refused', async () => {
  await engine.images.tag('old:1', 'again', 'x');
  assert.deepEqual(engine.images.inspect('again:x').Id, ids.old);
  await engine.images.tag(ids.old!, 'again');
  assert.deepEqual(engine.images.inspect('again:latest').RepoTags.sort(), ['again:latest', 'again:x', 'old:1']);
  await assert.rejects(
    engine.images.tag('old:1', `again@sha256:${'a'.repeat(64)}`),
    (e: unknown) => e instanceof BerthError && e.kind === 'InvalidArgument',
  );
});

test('remove: untag, a conflict while tagged, forced delete', async () => {
  assert.deepEqual(await engine.images.remove('new:1'), [{ Untagged: 'new:1' }]);
  await engine.images.tag('new:2', 'new', '3');
  // named by ID, an image with several tags is refused without force
  await assert.rejects(
    engine.images.remove(ids.new!),
    (e: unknown) => e instanceof BerthError && e.kind === 'Conflict' && /must be forced/.test(e.message),
  );
  const layer = engine.images.inspect('new:2').RootFS.Layers[0];
  const res = await engine.images.remove(ids.new!, { force: true });
  // the image, then its layer (a base layer's chainID is its diffID), as dockerd reports
  assert.deepEqual(res, [{ Untagged: 'new:2' }, { Untagged: 'new:3' }, { Deleted: ids.new }, { Deleted: layer }]);
  assert.equal(engine.images.find(ids.new!), undefined);
});

test('prune: dangling images go; a refused filter deletes nothing', async () => {
  await assert.rejects(
    engine.images.prune({ filters: parseFilterFlags(['reference=x']) }),
    /invalid filter 'reference'/,
  );
  const { RootFS, Size } = engine.images.inspect(ids.none!);
  const res = await engine.images.prune();
  assert.deepEqual(res.ImagesDeleted, [{ Deleted: ids.none }, { Deleted: RootFS.Layers[0] }]);
  assert.equal(res.SpaceReclaimed, Size);
  assert.deepEqual(await engine.images.prune(), { ImagesDeleted: null, SpaceReclaimed: 0 });
});

test('save and load: a round trip into another store, by stream and by file', async () => {
  assert.throws(() => engine.images.save(['absent:1']), /No such image: absent:1/);
  const chunks: Buffer[] = [];
  for await (const c of engine.images.save(['mid:1', 'old:1'])) chunks.push(c as Buffer);
  const second = await Engine.open({ root: other.root });
  const res = await second.images.load(Readable.from([Buffer.concat(chunks)]));
  assert.deepEqual(
    res.stream.map((m) => m.stream),
    ['Loaded image: mid:1\n', 'Loaded image: old:1\n'],
  );
  assert.equal(second.images.inspect('mid:1').Id, ids.mid);
  assert.deepEqual(second.images.history('old:1')[0]!.CreatedBy, 'make old');
  const file = join(ctxDir.root, 'saved.tar');
  await engine.images.saveToFile([ids.mid!], file);
  await second.images.remove('mid:1');
  const byPath = await second.images.load({ path: file });
  assert.deepEqual(byPath.stream, [{ stream: `Loaded image ID: ${ids.mid}\n` }]);
});

test('import: a rootfs tarball with changes and a message; another platform is refused', async () => {
  const tar = makeTar([[hdr('etc/', { type: 'dir', mode: 0o755 })], [hdr('etc/hello'), 'hi\n']]);
  const res = await engine.images.import(Readable.from([tar]), {
    repo: 'imp',
    tag: '1',
    changes: ['ENV A=1', 'CMD ["/bin/true"]', 'LABEL l=v'],
    message: 'made in a test',
  });
  const img = engine.images.inspect('imp:1');
  assert.equal(img.Id, res.Id);
  assert.deepEqual(img.Config?.Env, ['A=1']);
  assert.deepEqual(img.Config?.Cmd, ['/bin/true']);
  assert.deepEqual(img.Config?.Labels, { l: 'v' });
  assert.equal(engine.images.history('imp:1')[0]!.Comment, 'made in a test');
  const before = engine.images.list({ all: true }).length;
  await assert.rejects(
    engine.images.import(Readable.from([tar]), { repo: 'imp', tag: '2', platform: 'windows/amd64' }),
    (e: unknown) => e instanceof BerthError && e.kind === 'NotImplemented',
  );
  assert.equal(engine.images.list({ all: true }).length, before);
});

test('system df: layers once, the images with shared sizes and containers counted', () => {
  const df = engine.images.systemDf();
  assert.deepEqual([df.Containers, df.Volumes, df.BuildCache], [[], [], []]);
  assert.equal(df.Images.length, engine.images.list({ all: true }).length);
  assert.equal(
    df.LayersSize,
    df.Images.reduce((n, i) => n + i.Size, 0),
  );
  for (const i of df.Images) assert.deepEqual([i.SharedSize, i.Containers], [0, 0]);
});
