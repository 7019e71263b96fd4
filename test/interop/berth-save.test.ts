/**
 * berth save -> the peers: `docker load` in a fresh dockerd 20.10, `podman load`, and the archive
 * as an OCI image layout read by skopeo and umoci. Images are made by a real dockerd (import +
 * legacy build), moved to berth with docker save | berth load, then saved by berth: whatever the
 * peers see must be what dockerd made (image IDs, diff_ids, files, the whiteout and opaque dir).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BERTH, berthOk } from '../helpers/berth.js';
import {
  MULTI_FILES,
  MULTI_GONE,
  PODMAN_RUN_FLAGS,
  STAT_EXPECTED,
  STAT_SCRIPT,
  Scope,
  chainIDs,
  dockerOk,
  makeDockerImages,
  privatePodman,
  readLayerdb,
  run,
  runOk,
  sha256,
  since,
  startDockerd,
  tarList,
  tarRead,
  type DockerImages,
  type Dockerd,
  type Podman,
} from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`berth-save.test: ${since(T0)} in all\n`);
});

const REFS = ['bbx:base', 'bbx:multi'] as const;
let work: string;
let imgs: DockerImages;
/** A fresh dockerd that never saw the images before `docker load`. */
let fresh: Dockerd;
let br: string;
/** berth save of both images (-o) and of bbx:multi alone (stdout). */
let saveBoth: string;
let saveMulti: string;

before(
  () => {
    work = scope.tempDir('bsave');
    const maker = startDockerd(scope, 'bsave-src', join(work, 'docker-src'));
    imgs = makeDockerImages(maker, work);
    maker.stop();
    br = scope.tempDir('bsave-berth');
    berthOk(br, ['load', '-i', imgs.saveTar]);
    saveBoth = join(work, 'berth-save.tar');
    const t0 = Date.now();
    berthOk(br, ['save', '-o', saveBoth, ...REFS]);
    process.stderr.write(`berth-save.test: berth save of 2 images ${since(t0)}\n`);
    saveMulti = join(work, 'berth-save-multi.tar');
    fs.writeFileSync(saveMulti, berthSaveStdout(br, ['bbx:multi']));
    fresh = startDockerd(scope, 'bsave-fresh', join(work, 'docker-fresh'));
    process.stderr.write(`berth-save.test: dockerd start ${fresh.startMs}ms, fixtures ${imgs.buildMs}ms\n`);
  },
  { timeout: 300_000 },
);

/** berth save to stdout, as bytes (berthOk decodes stdout as text, which would corrupt a tar). */
function berthSaveStdout(root: string, refs: string[]): Buffer {
  const r = spawnSync(BERTH, ['--root', root, 'save', ...refs], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`berth save ${refs.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test('berth save archive: docker-archive manifest.json and OCI index.json, layer blobs hash to the diff_ids', () => {
  const names = tarList(saveBoth);
  for (const n of ['manifest.json', 'index.json', 'oci-layout']) assert.ok(names.includes(n), `${n} in the archive`);
  const manifest = JSON.parse(tarRead(saveBoth, 'manifest.json').toString());
  assert.deepEqual(
    manifest
      .map((m: { RepoTags: string[] }) => m.RepoTags)
      .flat()
      .sort(),
    [...REFS],
  );
  for (const m of manifest as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>) {
    const ref = m.RepoTags[0] as (typeof REFS)[number];
    assert.equal(
      `sha256:${sha256(tarRead(saveBoth, m.Config))}`,
      imgs.ids[ref],
      `${ref} config blob hashes to the image ID`,
    );
    assert.deepEqual(
      m.Layers.map((l) => `sha256:${sha256(tarRead(saveBoth, l))}`),
      imgs.diffIDs[ref],
      `${ref} layer blobs hash to diff_ids`,
    );
  }
  const layout = JSON.parse(tarRead(saveBoth, 'oci-layout').toString());
  assert.equal(layout.imageLayoutVersion, '1.0.0');
});

test("berth save archive: legacy `repositories` maps each tag to its top layer's diffID hex, as docker >= 25 save writes it", () => {
  // moby image/tarexport/save.go (v25+): saveImage collects layers = rootfs.diff_ids and
  // reposLegacy[name][tag] = layers[len-1].Encoded(), i.e. the TOP LAYER's diffID (the blob name
  // in blobs/sha256), not its chainID. (Unused by docker load when manifest.json is present.)
  const repos = JSON.parse(tarRead(saveBoth, 'repositories').toString());
  const top = (ref: (typeof REFS)[number]) => imgs.diffIDs[ref][imgs.diffIDs[ref].length - 1]!.slice('sha256:'.length);
  assert.deepEqual(
    repos,
    { bbx: { base: top('bbx:base'), multi: top('bbx:multi') } },
    `bbx:multi top layer chainID is ${chainIDs(imgs.diffIDs['bbx:multi']).pop()}`,
  );
});

test('docker load of berth save in a fresh dockerd: same image IDs and layer chain', () => {
  const t0 = Date.now();
  const out = dockerOk(fresh.host, ['load', '-i', saveBoth]);
  process.stderr.write(`berth-save.test: docker load ${since(t0)}\n`);
  assert.deepEqual(out.trim().split('\n').sort(), ['Loaded image: bbx:base', 'Loaded image: bbx:multi']);
  const listed = dockerOk(fresh.host, ['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])
    .trim()
    .split('\n')
    .sort();
  assert.deepEqual(listed, REFS.map((r) => `${r} ${imgs.ids[r]}`).sort());
  for (const ref of REFS) {
    const info = JSON.parse(dockerOk(fresh.host, ['image', 'inspect', ref]))[0];
    assert.equal(info.Id, imgs.ids[ref]);
    assert.deepEqual(info.RootFS.Layers, imgs.diffIDs[ref]);
  }
  const layers = readLayerdb(fresh.dataRoot);
  assert.deepEqual(
    [...layers.keys()].sort(),
    chainIDs(imgs.diffIDs['bbx:multi']).sort(),
    'fresh dockerd layerdb chainIDs',
  );
  const berthLayers = readLayerdb(br);
  for (const [chain, l] of layers) assert.equal(l.size, berthLayers.get(chain)!.size, `${chain} size`);
});

test('docker run on the loaded image shows the files, the deleted file and the hidden dir contents are gone', () => {
  const files = Object.keys(MULTI_FILES);
  const cat = dockerOk(fresh.host, ['run', '--rm', '--network', 'none', 'bbx:multi', 'cat', ...files]);
  assert.equal(cat, Object.values(MULTI_FILES).join(''));
  const gone = dockerOk(fresh.host, [
    'run',
    '--rm',
    '--network',
    'none',
    'bbx:multi',
    'sh',
    '-c',
    `for f in ${MULTI_GONE.join(' ')}; do if [ -e "$f" ]; then echo "present $f"; else echo "gone $f"; fi; done; ls -A /opq; echo "FOO=$FOO"`,
  ]);
  assert.equal(gone, MULTI_GONE.map((f) => `gone ${f}\n`).join('') + 'new.txt\nFOO=bar\n');
  const stat = dockerOk(fresh.host, ['run', '--rm', '--network', 'none', 'bbx:multi', 'sh', '-c', STAT_SCRIPT]);
  assert.equal(stat, STAT_EXPECTED);
  // the base image is untouched by the upper layers
  const base = dockerOk(fresh.host, [
    'run',
    '--rm',
    '--network',
    'none',
    'bbx:base',
    'sh',
    '-c',
    'cat /etc/todelete.txt /opq/old.txt /opq/sub/x',
  ]);
  assert.equal(base, 'gone\nold\nold2\n');
});

test('docker load of berth save streamed to stdin (one image)', () => {
  const bytes = fs.readFileSync(saveMulti);
  dockerOk(fresh.host, ['rmi', 'bbx:multi', 'bbx:base']);
  const out = dockerOk(fresh.host, ['load'], bytes);
  assert.equal(out.trim(), 'Loaded image: bbx:multi');
  assert.equal(
    dockerOk(fresh.host, ['image', 'inspect', '--format', '{{.Id}}', 'bbx:multi']).trim(),
    imgs.ids['bbx:multi'],
  );
  assert.equal(dockerOk(fresh.host, ['run', '--rm', '--network', 'none', 'bbx:multi', 'cat', '/hello.txt']), 'hello\n');
});

test('podman load of berth save: same image IDs; podman run (runc) shows the files', () => {
  const podman: Podman = privatePodman(scope, 'bsave');
  const t0 = Date.now();
  const out = podman.ok(['load', '-i', saveBoth]);
  process.stderr.write(`berth-save.test: podman load ${since(t0)}\n`);
  assert.match(out, /Loaded image: (localhost\/)?bbx:base/);
  assert.match(out, /Loaded image: (localhost\/)?bbx:multi/);
  const listed = podman
    .ok(['images', '--no-trunc', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'])
    .trim()
    .split('\n')
    .sort();
  assert.deepEqual(listed, REFS.map((r) => `localhost/${r} ${imgs.ids[r]}`).sort());
  for (const ref of REFS) {
    const info = JSON.parse(podman.ok(['image', 'inspect', ref]))[0];
    assert.deepEqual(info.RootFS.Layers, imgs.diffIDs[ref], `${ref} podman RootFS.Layers`);
  }
  const r = podman.run([
    'run',
    '--rm',
    '--network',
    'none',
    ...PODMAN_RUN_FLAGS,
    'bbx:multi',
    'sh',
    '-c',
    `cat /hello.txt /opq/new.txt; ls -A /opq; [ -e /etc/todelete.txt ] && echo present || echo gone`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\nnew\nnew.txt\ngone\n');
});

test('the extracted archive is an OCI image layout: skopeo inspect oci:DIR:TAG', () => {
  const dir = join(work, 'oci-layout');
  fs.mkdirSync(dir);
  runOk('tar', ['-xf', saveBoth, '-C', dir]);
  const index = JSON.parse(fs.readFileSync(join(dir, 'index.json'), 'utf8'));
  for (const [ref, tag] of [
    ['bbx:base', 'base'],
    ['bbx:multi', 'multi'],
  ] as const) {
    const desc = index.manifests.find(
      (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
    );
    assert.ok(desc, `index.json has a manifest named ${tag}`);
    const info = JSON.parse(runOk('skopeo', ['inspect', `oci:${dir}:${tag}`]));
    assert.equal(info.Digest, desc.digest, `${ref} manifest digest`);
    assert.deepEqual(info.Layers, imgs.diffIDs[ref], `${ref} layers`);
    const raw = JSON.parse(runOk('skopeo', ['inspect', '--raw', `oci:${dir}:${tag}`]));
    assert.equal(raw.config.digest, imgs.ids[ref], `${ref} config digest is the image ID`);
    const config = JSON.parse(runOk('skopeo', ['inspect', '--config', '--raw', `oci:${dir}:${tag}`]));
    assert.deepEqual(config.rootfs.diff_ids, imgs.diffIDs[ref]);
  }
  const multi = JSON.parse(runOk('skopeo', ['inspect', `oci:${dir}:multi`]));
  assert.ok(multi.Env.includes('FOO=bar'), 'ENV from the build');
});

test('umoci unpack of the OCI layout produces the files (whiteout and opaque dir applied)', () => {
  const dir = join(work, 'oci-layout');
  const bundle = join(work, 'bundle');
  const t0 = Date.now();
  runOk('umoci', ['unpack', '--image', `${dir}:multi`, bundle]);
  process.stderr.write(`berth-save.test: umoci unpack ${since(t0)}\n`);
  const rootfs = join(bundle, 'rootfs');
  for (const [f, content] of Object.entries(MULTI_FILES))
    assert.equal(fs.readFileSync(join(rootfs, f), 'utf8'), content, f);
  for (const f of MULTI_GONE) assert.ok(!fs.existsSync(join(rootfs, f)), `${f} is gone`);
  assert.deepEqual(fs.readdirSync(join(rootfs, 'opq')), ['new.txt']);
  const owned = fs.lstatSync(join(rootfs, 'home/user/owned.txt'));
  assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1000, 1000, 0o640]);
  assert.equal(fs.lstatSync(join(rootfs, 'bin/suid-tool')).mode & 0o7777, 0o4755);
  assert.ok(fs.lstatSync(join(rootfs, 'etc/fifo')).isFIFO());
  assert.equal(
    fs.lstatSync(join(rootfs, 'etc/hard.txt')).ino,
    fs.lstatSync(join(rootfs, 'etc/base.txt')).ino,
    'hardlink kept',
  );
  assert.equal(fs.readlinkSync(join(rootfs, 'bin/sh')), 'busybox');
  const config = JSON.parse(fs.readFileSync(join(bundle, 'config.json'), 'utf8'));
  assert.ok(config.process.env.includes('FOO=bar'));
});

test('skopeo copy oci-archive:berth-save.tar (one image) -> oci:DIR2:x, and oci-archive:FILE:REF of the two-image archive', () => {
  // skopeo gzips uncompressed layers on the way into an oci: layout, so the copies are checked
  // by their config (image ID and diff_ids), not by blob digests
  const configOf = (dir: string, tag: string) => {
    const manifest = JSON.parse(runOk('skopeo', ['inspect', '--raw', `oci:${dir}:${tag}`]));
    const config = JSON.parse(runOk('skopeo', ['inspect', '--config', '--raw', `oci:${dir}:${tag}`]));
    return {
      id: manifest.config.digest as string,
      diffIDs: config.rootfs.diff_ids as string[],
      layers: manifest.layers.length as number,
    };
  };
  const dir2 = join(work, 'oci2');
  runOk('skopeo', ['copy', `oci-archive:${saveMulti}`, `oci:${dir2}:x`]);
  assert.deepEqual(configOf(dir2, 'x'), { id: imgs.ids['bbx:multi'], diffIDs: imgs.diffIDs['bbx:multi'], layers: 4 });
  // an archive with two images needs a ref (skopeo: "more than one image in oci, choose an image")
  const noRef = run('skopeo', ['copy', `oci-archive:${saveBoth}`, `oci:${join(work, 'oci5')}:x`]);
  assert.notEqual(noRef.code, 0, 'skopeo refuses an unnamed pick from a two-image archive');
  assert.match(noRef.stderr, /more than one image/);
  const dir3 = join(work, 'oci3');
  runOk('skopeo', ['copy', `oci-archive:${saveBoth}:base`, `oci:${dir3}:y`]);
  assert.deepEqual(configOf(dir3, 'y'), { id: imgs.ids['bbx:base'], diffIDs: imgs.diffIDs['bbx:base'], layers: 1 });
  // the docker-archive side of the same file, through skopeo
  const dir4 = join(work, 'oci4');
  runOk('skopeo', ['copy', `docker-archive:${saveBoth}:bbx:multi`, `oci:${dir4}:z`]);
  // (docker-archive -> oci: makes skopeo convert the Docker config to an OCI one: new digest, same diff_ids)
  const c4 = configOf(dir4, 'z');
  assert.deepEqual([c4.diffIDs, c4.layers], [imgs.diffIDs['bbx:multi'], 4]);
  // and unpacked by umoci, the copy holds the files
  const bundle = join(work, 'bundle2');
  runOk('umoci', ['unpack', '--image', `${dir2}:x`, bundle]);
  assert.equal(fs.readFileSync(join(bundle, 'rootfs/hello.txt'), 'utf8'), 'hello\n');
  assert.ok(!fs.existsSync(join(bundle, 'rootfs/etc/todelete.txt')));
});
