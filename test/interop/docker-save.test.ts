/**
 * docker save (from a private dockerd 20.10) -> berth load: berth's store must be what dockerd's
 * own store holds for the same images: image IDs and config bytes, diff_ids, chainIDs, layerdb
 * files, the files in each overlay2 diff dir (whiteouts as char 0/0, opaque dirs as
 * trusted.overlay.opaque=y), link/lower structure and tar-split.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { lgetxattr } from '../../src/native/index.js';
import { berth, berthOk } from '../helpers/berth.js';
import {
  Scope,
  chainIDs,
  lowerCacheIDs,
  makeDockerImages,
  readLayerdb,
  readRepositories,
  since,
  startDockerd,
  treeSnapshot,
  type DockerImages,
  type Dockerd,
  type LayerMeta,
} from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`docker-save.test: ${since(T0)} in all\n`);
});

let work: string;
let d: Dockerd;
let imgs: DockerImages;
let dockerLayers: Map<string, LayerMeta>;
/** The berth root the two-image archive was loaded into (by the first test). */
let br: string;

const REFS = ['bbx:base', 'bbx:multi'] as const;
const IMAGE_DB = 'image/overlay2/imagedb/content/sha256';

before(
  () => {
    work = scope.tempDir('dsave');
    d = startDockerd(scope, 'dsave', join(work, 'docker'));
    imgs = makeDockerImages(d, work);
    dockerLayers = readLayerdb(d.dataRoot);
    // the data root stays for comparisons; nothing else needs the daemon
    d.stop();
    br = scope.tempDir('dsave-berth');
    process.stderr.write(`docker-save.test: dockerd start ${d.startMs}ms, import+build+save ${imgs.buildMs}ms\n`);
  },
  { timeout: 300_000 },
);

const inspectIds = (root: string) =>
  Object.fromEntries(REFS.map((r) => [r, berthOk(root, ['image', 'inspect', '--format', '{{.Id}}', r]).trim()]));

/** The common checks after loading the two images into a berth root. */
function assertSameImages(root: string) {
  assert.deepEqual(inspectIds(root), imgs.ids);
  assert.deepEqual(readRepositories(root), readRepositories(d.dataRoot), 'repositories.json refs');
  for (const ref of REFS) {
    const hex = imgs.ids[ref].slice(7);
    assert.deepEqual(
      fs.readFileSync(join(root, IMAGE_DB, hex)),
      fs.readFileSync(join(d.dataRoot, IMAGE_DB, hex)),
      `${ref} config bytes`,
    );
    const layers = JSON.parse(berthOk(root, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]));
    assert.deepEqual(layers, imgs.diffIDs[ref], `${ref} diff_ids`);
  }
  const berthLayers = readLayerdb(root);
  const expectChains = chainIDs(imgs.diffIDs['bbx:multi']);
  assert.deepEqual([...berthLayers.keys()].sort(), [...expectChains].sort(), 'berth layerdb chainIDs');
  assert.deepEqual(
    [...dockerLayers.keys()].sort(),
    [...expectChains].sort(),
    'dockerd layerdb chainIDs (computed the same way)',
  );
  for (const [chain, dl] of dockerLayers) {
    const bl = berthLayers.get(chain)!;
    assert.equal(bl.diff, dl.diff, `${chain} diff`);
    assert.equal(bl.size, dl.size, `${chain} size`);
    assert.equal(bl.parent, dl.parent, `${chain} parent`);
    assert.match(bl.cacheID, /^[0-9a-f]{64}$/, `${chain} cache-id`);
  }
  const check = berth(root, ['system', 'check']);
  assert.equal(check.code, 0, `system check:\n${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /: ok \(2 images, 4 layers\)/);
}

test('berth load -i of a two-image docker save archive: same image IDs, config bytes, diff_ids, chainIDs, layerdb', () => {
  const t0 = Date.now();
  const out = berthOk(br, ['load', '-i', imgs.saveTar]);
  process.stderr.write(`docker-save.test: berth load ${since(t0)}\n`);
  assert.deepEqual(out.trim().split('\n').sort(), ['Loaded image: bbx:base', 'Loaded image: bbx:multi']);
  assertSameImages(br);
  // the multi image really has the 4 layers the build made (import, RUN, RUN, COPY)
  assert.equal(imgs.diffIDs['bbx:multi'].length, 4);
  assert.deepEqual(imgs.diffIDs['bbx:multi'][0], imgs.diffIDs['bbx:base'][0]);
});

test("every overlay2 diff dir holds the same files as dockerd's (types, modes, owners, mtimes, contents, hardlinks, whiteouts, opaque)", () => {
  const berthLayers = readLayerdb(br);
  for (const [chain, dl] of dockerLayers) {
    const bl = berthLayers.get(chain)!;
    assert.deepEqual(
      treeSnapshot(join(br, 'overlay2', bl.cacheID, 'diff')),
      treeSnapshot(join(d.dataRoot, 'overlay2', dl.cacheID, 'diff')),
      `layer ${chain} (${dl.diff})`,
    );
  }
});

test('whiteout is a char 0/0 device and the recreated dir is opaque (trusted.overlay.opaque=y)', () => {
  const berthLayers = readLayerdb(br);
  const chains = chainIDs(imgs.diffIDs['bbx:multi']);
  const diffOf = (i: number) => join(br, 'overlay2', berthLayers.get(chains[i]!)!.cacheID, 'diff');
  const rmLayer = diffOf(2); // RUN rm /etc/todelete.txt && rm -rf /opq && mkdir /opq ...
  const wh = fs.lstatSync(join(rmLayer, 'etc/todelete.txt'));
  assert.ok(wh.isCharacterDevice(), 'etc/todelete.txt is a char device');
  assert.equal(wh.rdev, 0, 'whiteout is device 0/0');
  assert.ok(!fs.existsSync(join(rmLayer, 'etc/.wh.todelete.txt')), 'no .wh. file left in the diff dir');
  assert.equal(lgetxattr(join(rmLayer, 'opq'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.deepEqual(fs.readdirSync(join(rmLayer, 'opq')), ['new.txt'], 'no .wh..wh..opq entry, only the new file');
  assert.equal(fs.readFileSync(join(rmLayer, 'opq/new.txt'), 'utf8'), 'new\n');
  // the base layer still has the originals and no opaque mark
  const base = diffOf(0);
  assert.equal(lgetxattr(join(base, 'opq'), 'trusted.overlay.opaque'), null);
  assert.equal(fs.readFileSync(join(base, 'etc/todelete.txt'), 'utf8'), 'gone\n');
  assert.equal(fs.readFileSync(join(base, 'opq/old.txt'), 'utf8'), 'old\n');
  // the other layers hold no whiteouts
  for (const i of [0, 1, 3]) {
    const devs = treeSnapshot(diffOf(i)).filter((l) => / char /.test(l));
    assert.deepEqual(devs, [], `layer ${i} has no whiteouts`);
  }
});

test("overlay2 link/lower/work structure matches dockerd's (lower chain by layer, link format, file modes)", () => {
  const berthLayers = readLayerdb(br);
  const byCache = (m: Map<string, LayerMeta>) => new Map([...m.values()].map((l) => [l.cacheID, l.chainID]));
  const bByCache = byCache(berthLayers),
    dByCache = byCache(dockerLayers);
  const modes = (dir: string) =>
    Object.fromEntries(fs.readdirSync(dir).map((n) => [n, (fs.lstatSync(join(dir, n)).mode & 0o7777).toString(8)]));
  for (const [chain, dl] of dockerLayers) {
    const bl = berthLayers.get(chain)!;
    const bdir = join(br, 'overlay2', bl.cacheID),
      ddir = join(d.dataRoot, 'overlay2', dl.cacheID);
    const link = fs.readFileSync(join(bdir, 'link'), 'utf8');
    assert.match(link, /^[A-Z2-7]{26}$/, `${chain} link`);
    assert.equal(fs.readlinkSync(join(br, 'overlay2/l', link)), `../${bl.cacheID}/diff`);
    assert.deepEqual(
      lowerCacheIDs(br, bl.cacheID).map((c) => bByCache.get(c)),
      lowerCacheIDs(d.dataRoot, dl.cacheID).map((c) => dByCache.get(c)),
      `${chain} lower`,
    );
    const bm = modes(bdir),
      dm = modes(ddir);
    // `committed` depends on history (dockerd's build ran containers on its top layer); compare where both have it
    const names = (m: Record<string, string>) =>
      Object.keys(m)
        .filter((n) => n !== 'committed')
        .sort();
    assert.deepEqual(names(bm), names(dm), `${chain} entries of overlay2/<cache-id>`);
    for (const n of Object.keys(bm))
      if (n in dm) assert.equal(bm[n], dm[n], `${chain} mode of overlay2/<cache-id>/${n}`);
    assert.equal(
      (fs.statSync(bdir).mode & 0o7777).toString(8),
      (fs.statSync(ddir).mode & 0o7777).toString(8),
      `${chain} overlay2/<cache-id> mode`,
    );
  }
});

/** tar-split entries: files as [name,size,crc], segments concatenated. */
function tarSplitSemantics(buf: Buffer) {
  const entries = buf
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const files = entries.filter((e) => e.type === 1).map((e) => [e.name ?? e.name_raw, e.size ?? 0, e.payload]);
  const segs = Buffer.concat(entries.filter((e) => e.type === 2).map((e) => Buffer.from(e.payload ?? '', 'base64')));
  const positions = entries.map((e) => e.position);
  return { files, segs, positions };
}

test("tar-split.json.gz describes the same tar as dockerd's (same file entries and CRCs, same header bytes)", () => {
  const berthLayers = readLayerdb(br);
  for (const [chain, dl] of dockerLayers) {
    const b = tarSplitSemantics(berthLayers.get(chain)!.tarSplit),
      dk = tarSplitSemantics(dl.tarSplit);
    assert.deepEqual(b.files, dk.files, `${chain} file entries`);
    assert.ok(b.segs.equals(dk.segs), `${chain} segment bytes`);
    assert.deepEqual(
      b.positions,
      b.positions.map((_, i) => i),
      `${chain} positions count from 0`,
    );
  }
});

test("tar-split.json.gz content is identical to dockerd's, entry for entry", () => {
  // dockerd (vendored vbatts/tar-split) ends the stream with: the EOF marker (1024 zero bytes, after
  // any padding of the last member) as one segment, then what follows it read in chunks of up to
  // 1 MiB, one segment each, then an EMPTY segment from the read that hit EOF.
  const berthLayers = readLayerdb(br);
  const describe = (l: string | undefined) => {
    if (l === undefined) return '(none)';
    const e = JSON.parse(l);
    return e.type === 2
      ? `segment pos=${e.position} ${Buffer.from(e.payload ?? '', 'base64').length} bytes`
      : `file pos=${e.position} ${e.name}`;
  };
  const diffs: string[] = [];
  for (const [chain, dl] of dockerLayers) {
    const lines = (b: Buffer) => b.toString('utf8').split('\n').filter(Boolean);
    const bl = lines(berthLayers.get(chain)!.tarSplit),
      dkl = lines(dl.tarSplit);
    const i = bl.findIndex((l, k) => l !== dkl[k]);
    const first = i >= 0 ? i : bl.length < dkl.length ? bl.length : -1;
    if (first >= 0) {
      diffs.push(
        `layer ${dl.diff}: ${bl.length} entries, dockerd ${dkl.length}; first difference at entry ${first}: ` +
          `berth [${
            bl
              .slice(first, first + 3)
              .map(describe)
              .join('; ') || '(end)'
          }] dockerd [${dkl
            .slice(first, first + 3)
            .map(describe)
            .join('; ')}]`,
      );
    }
  }
  assert.deepEqual(diffs, []);
});

test("berth load -i of the gzip'd docker save archive gives the same store", () => {
  const root = scope.tempDir('dsave-gz');
  const out = berthOk(root, ['load', '-i', imgs.saveTarGz]);
  assert.deepEqual(out.trim().split('\n').sort(), ['Loaded image: bbx:base', 'Loaded image: bbx:multi']);
  assertSameImages(root);
});

test("berth load from stdin (plain and gzip'd) gives the same store", () => {
  for (const file of [imgs.saveTar, imgs.saveTarGz]) {
    const root = scope.tempDir('dsave-stdin');
    const out = berthOk(root, ['load'], { input: fs.readFileSync(file) });
    assert.deepEqual(out.trim().split('\n').sort(), ['Loaded image: bbx:base', 'Loaded image: bbx:multi'], file);
    assertSameImages(root);
  }
});
