/**
 * dockerd 20.10 started with --data-root = a store berth wrote (no daemon in between: berth is
 * daemonless). dockerd must list berth's images with the same IDs and tags, point GraphDriver at
 * berth's overlay2 dirs, run containers from them, and `docker save` (rebuilding layer tars from
 * berth's tar-split files) must reproduce the diff_ids. Afterwards berth must still read the
 * store (also an image dockerd committed there) and `berth system check` must stay clean.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, mountsUnder } from '../helpers/berth.js';
import {
  STAT_EXPECTED,
  STAT_SCRIPT,
  Scope,
  chainIDs,
  dockerOk,
  makeDockerImages,
  readLayerdb,
  readRepositories,
  runOk,
  sha256,
  since,
  startDockerd,
  tarRead,
  treeSnapshot,
  type DockerImages,
  type Dockerd,
} from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`dockerd-on-berth-store.test: ${since(T0)} in all\n`);
});

let work: string;
let imgs: DockerImages;
/** berth's store, later dockerd's data root. */
let br: string;
let d: Dockerd;
/** What berth said before dockerd touched the store: ref -> image ID, and the top-level entries. */
let berthRefs: Record<string, string>;
let berthTopLevel: string[];
const REFS = ['bbx:base', 'bbx:multi', 'mini:1', 'imp:1', 'doomed:1'];
/** doomed:1 is removed by dockerd (docker rmi) before the end. */
const KEPT = REFS.filter((r) => r !== 'doomed:1');

const imageIdOf = (ref: string) => berthOk(br, ['image', 'inspect', '--format', '{{.Id}}', ref]).trim();
const layersOf = (ref: string): string[] =>
  JSON.parse(berthOk(br, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]));

before(
  () => {
    work = scope.tempDir('onstore');
    const maker = startDockerd(scope, 'onstore-src', join(work, 'docker-src'));
    imgs = makeDockerImages(maker, work);
    maker.stop();
    br = scope.tempDir('onstore-berth');
    const t0 = Date.now();
    berthOk(br, ['load', '-i', imgs.saveTar]);
    berthOk(br, ['image', 'from-host', 'mini:1', 'sh', 'ls', 'cat']);
    berthOk(br, ['import', imgs.rootfsTar, 'imp:1']);
    berthOk(br, ['image', 'from-host', 'doomed:1', 'true']);
    process.stderr.write(`dockerd-on-berth-store.test: berth load + from-host + import ${since(t0)}\n`);
    berthRefs = Object.fromEntries(REFS.map((r) => [r, imageIdOf(r)]));
    const check = berth(br, ['system', 'check']);
    assert.equal(check.code, 0, `berth system check before dockerd:\n${check.stdout}${check.stderr}`);
    berthTopLevel = fs.readdirSync(br).sort();
    d = startDockerd(scope, 'onstore', br);
    process.stderr.write(
      `dockerd-on-berth-store.test: dockerd start on berth's store ${d.startMs}ms, fixtures ${imgs.buildMs}ms\n`,
    );
  },
  { timeout: 300_000 },
);

test("docker images --no-trunc lists berth's images with the same IDs and tags", () => {
  assert.equal(berthRefs['bbx:multi'], imgs.ids['bbx:multi']);
  const listed = dockerOk(d.host, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])
    .trim()
    .split('\n')
    .sort();
  const berthListed = berthOk(br, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])
    .trim()
    .split('\n')
    .sort();
  assert.deepEqual(listed, REFS.map((r) => `${r} ${berthRefs[r]}`).sort());
  assert.deepEqual(listed, berthListed);
  for (const ref of REFS) {
    const info = JSON.parse(dockerOk(d.host, ['image', 'inspect', ref]))[0];
    assert.equal(info.Id, berthRefs[ref], `${ref} Id`);
    assert.deepEqual(info.RepoTags, [ref], `${ref} RepoTags`);
    assert.deepEqual(info.RootFS.Layers, layersOf(ref), `${ref} RootFS.Layers`);
  }
});

test("docker image inspect GraphDriver points at berth's overlay2 dirs (UpperDir = top layer, LowerDir = the chain below)", () => {
  const layerdb = readLayerdb(br);
  for (const ref of REFS) {
    const gd = JSON.parse(dockerOk(d.host, ['image', 'inspect', '--format', '{{json .GraphDriver}}', ref]));
    assert.equal(gd.Name, 'overlay2');
    const cacheDirs = chainIDs(layersOf(ref)).map((c) => {
      const l = layerdb.get(c);
      assert.ok(l, `${ref}: berth has layer ${c}`);
      return join(br, 'overlay2', l.cacheID);
    });
    const top = cacheDirs[cacheDirs.length - 1]!;
    assert.equal(gd.Data.UpperDir, `${top}/diff`, `${ref} UpperDir`);
    assert.equal(gd.Data.MergedDir, `${top}/merged`, `${ref} MergedDir`);
    assert.equal(gd.Data.WorkDir, `${top}/work`, `${ref} WorkDir`);
    const lower = cacheDirs
      .slice(0, -1)
      .reverse()
      .map((c) => `${c}/diff`)
      .join(':');
    assert.equal(gd.Data.LowerDir ?? '', lower, `${ref} LowerDir`);
  }
});

test('docker run --rm works on the from-host image and the imported one (and the loaded build)', () => {
  const t0 = Date.now();
  const mini = dockerOk(d.host, ['run', '--rm', '--network', 'none', 'mini:1', 'sh', '-c', 'echo hi; ls /']);
  process.stderr.write(`dockerd-on-berth-store.test: docker run --rm mini:1 ${since(t0)}\n`);
  const [hi, ...ls] = mini.trim().split('\n');
  assert.equal(hi, 'hi');
  // every top-level entry berth put in the from-host layer shows, plus what docker adds
  const layerdb = readLayerdb(br);
  const miniTop = layerdb.get(chainIDs(layersOf('mini:1')).pop()!)!;
  const inLayer = fs.readdirSync(join(br, 'overlay2', miniTop.cacheID, 'diff'));
  for (const e of inLayer) assert.ok(ls.includes(e), `ls / shows ${e}: ${ls.join(' ')}`);
  for (const e of ['dev', 'proc', 'sys', 'etc']) assert.ok(ls.includes(e), `docker's ${e} in ls /`);

  const imp = dockerOk(d.host, ['run', '--rm', '--network', 'none', 'imp:1', 'sh', '-c', 'echo hi; ls /']);
  const [hi2, ...ls2] = imp.trim().split('\n');
  assert.equal(hi2, 'hi');
  const rootfsTop = fs.readdirSync(imgs.rootfs);
  for (const e of rootfsTop) assert.ok(ls2.includes(e), `imp:1 ls / shows ${e}`);
  assert.equal(
    dockerOk(d.host, ['run', '--rm', '--network', 'none', 'imp:1', 'cat', '/etc/base.txt', '/etc/todelete.txt']),
    'base\ngone\n',
  );
  assert.equal(dockerOk(d.host, ['run', '--rm', '--network', 'none', 'imp:1', 'sh', '-c', STAT_SCRIPT]), STAT_EXPECTED);

  const multi = dockerOk(d.host, [
    'run',
    '--rm',
    '--network',
    'none',
    'bbx:multi',
    'sh',
    '-c',
    'cat /hello.txt /copied.txt; ls -A /opq; [ -e /etc/todelete.txt ] && echo present || echo gone',
  ]);
  assert.equal(multi, 'hello\ncopied\nnew.txt\ngone\n');
  // --rm left no container or mount behind
  assert.equal(dockerOk(d.host, ['ps', '-aq']).trim(), '');
  assert.deepEqual(
    fs.readdirSync(join(br, 'image/overlay2/layerdb/mounts')).length,
    0,
    'layerdb/mounts empty after --rm',
  );
});

test("docker save from dockerd on berth's store rebuilds the layer tars from berth's tar-split (digests = diff_ids)", () => {
  const out = join(work, 'docker-save-of-berth-store.tar');
  const t0 = Date.now();
  dockerOk(d.host, ['save', '-o', out, 'mini:1', 'imp:1', 'bbx:multi']);
  process.stderr.write(`dockerd-on-berth-store.test: docker save of berth-written layers ${since(t0)}\n`);
  // dockerd 20.10 writes a layer shared by two images once; the other layer.tar is a symlink to it
  const x = join(work, 'docker-save-of-berth-store');
  fs.mkdirSync(x);
  runOk('tar', ['-xf', out, '-C', x]);
  const manifest = JSON.parse(fs.readFileSync(join(x, 'manifest.json'), 'utf8')) as Array<{
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }>;
  assert.deepEqual(manifest.map((m) => m.RepoTags[0]).sort(), ['bbx:multi', 'imp:1', 'mini:1']);
  for (const m of manifest) {
    const ref = m.RepoTags[0]!;
    assert.equal(`sha256:${sha256(fs.readFileSync(join(x, m.Config)))}`, berthRefs[ref], `${ref} config`);
    assert.deepEqual(
      m.Layers.map((l) => `sha256:${sha256(fs.readFileSync(join(x, l)))}`),
      layersOf(ref),
      `${ref}: docker's rebuilt layer tars hash to berth's diff_ids`,
    );
  }
  // and that archive loads back into a fresh berth root with the same IDs
  const again = scope.tempDir('onstore-again');
  berthOk(again, ['load', '-i', out]);
  for (const ref of ['mini:1', 'imp:1', 'bbx:multi']) {
    assert.equal(berthOk(again, ['image', 'inspect', '--format', '{{.Id}}', ref]).trim(), berthRefs[ref], ref);
  }
});

test('docker rmi of a berth-written image removes its layer: layerdb dir, overlay2/<cache-id>, l/<link>', () => {
  const layerdb = readLayerdb(br);
  const chain = chainIDs(layersOf('doomed:1'));
  assert.equal(chain.length, 1);
  const l = layerdb.get(chain[0]!)!;
  const link = fs.readFileSync(join(br, 'overlay2', l.cacheID, 'link'), 'utf8');
  const out = dockerOk(d.host, ['rmi', 'doomed:1']);
  assert.match(out, /Untagged: doomed:1/);
  assert.match(out, new RegExp(`Deleted: ${berthRefs['doomed:1']}`));
  assert.match(out, new RegExp(`Deleted: ${chain[0]}`), 'dockerd deleted the layer (by chainID)');
  assert.ok(!fs.existsSync(join(br, 'image/overlay2/layerdb', chain[0]!.replace(':', '/'))), 'layerdb dir gone');
  assert.ok(!fs.existsSync(join(br, 'overlay2', l.cacheID)), 'overlay2/<cache-id> gone');
  assert.ok(!fs.existsSync(join(br, 'overlay2/l', link)), 'l/<link> gone');
  assert.ok(
    !fs.existsSync(join(br, 'image/overlay2/imagedb/content/sha256', berthRefs['doomed:1']!.slice(7))),
    'image config gone',
  );
});

let committedId = '';
test("an image dockerd commits into berth's store (container rw layer on a berth layer)", () => {
  const name = `c-${process.pid}`;
  dockerOk(d.host, [
    'run',
    '--name',
    name,
    '--network',
    'none',
    'imp:1',
    'sh',
    '-c',
    'echo made > /made.txt; rm /etc/todelete.txt',
  ]);
  committedId = dockerOk(d.host, ['commit', name, 'imp:committed']).trim();
  dockerOk(d.host, ['rm', name]);
  assert.match(committedId, /^sha256:[0-9a-f]{64}$/);
  assert.equal(
    dockerOk(d.host, [
      'run',
      '--rm',
      '--network',
      'none',
      'imp:committed',
      'sh',
      '-c',
      'cat /made.txt; [ -e /etc/todelete.txt ] && echo present || echo gone',
    ]),
    'made\ngone\n',
  );
});

test("after dockerd stops: berth reads the store (dockerd's commit too), no mounts left, berth system check is clean", () => {
  d.stop();
  assert.deepEqual(mountsUnder(br), [], 'no mounts left under the store');
  const added = fs
    .readdirSync(br)
    .filter((e) => !berthTopLevel.includes(e))
    .sort();
  process.stderr.write(`dockerd-on-berth-store.test: dockerd added to the data root: ${added.join(' ')}\n`);
  // berth still lists its images and dockerd's commit, with the same IDs
  for (const ref of KEPT) assert.equal(imageIdOf(ref), berthRefs[ref], ref);
  assert.equal(
    berth(br, ['image', 'inspect', 'doomed:1']).code,
    1,
    'doomed:1 (removed by dockerd) is gone for berth too',
  );
  assert.equal(imageIdOf('imp:committed'), committedId);
  assert.deepEqual(readRepositories(br)['imp:committed'], committedId);
  const layers = layersOf('imp:committed');
  assert.equal(layers.length, 2);
  assert.deepEqual(layers[0], layersOf('imp:1')[0]);
  // berth sees the whiteout dockerd's overlay made in the commit layer
  const top = readLayerdb(br).get(chainIDs(layers).pop()!)!;
  const snap = treeSnapshot(join(br, 'overlay2', top.cacheID, 'diff'), { mtimes: false });
  assert.ok(
    snap.some((l) => /^etc\/todelete\.txt char 0 0:0 rdev=0$/.test(l)),
    `whiteout in the commit layer:\n${snap.join('\n')}`,
  );
  assert.ok(
    snap.some((l) => l.startsWith('made.txt file 644 0:0')),
    snap.join('\n'),
  );
  const check = berth(br, ['system', 'check']);
  assert.equal(
    check.code,
    0,
    `berth system check after dockerd ran on the store (dockerd added: ${added.join(' ')}):\n${check.stdout}${check.stderr}`,
  );
  assert.match(check.stdout, /: ok \(5 images, 6 layers\)/);
  // and berth can save dockerd's commit (tar-split written by dockerd) into an archive docker-compatible tools read
  const out = join(work, 'berth-save-committed.tar');
  berthOk(br, ['save', '-o', out, 'imp:committed']);
  const manifest = JSON.parse(tarRead(out, 'manifest.json').toString());
  assert.deepEqual(
    manifest[0].Layers.map((l: string) => `sha256:${sha256(tarRead(out, l))}`),
    layers,
  );
  runOk('skopeo', ['inspect', `docker-archive:${out}`]);
});
