/**
 * berth commit -> berth save -> docker load (a private dockerd 20.10) -> docker run. A berth container
 * adds files (a hardlink and a symlink among them), changes metadata, deletes an image file (a
 * whiteout) and deletes an image dir and makes it again with new content (an opaque dir). Whatever
 * dockerd sees must be what berth has: the same image ID and diff_ids, the same files and deletions
 * in its containers, the same files in its overlay2 diff dir for the committed layer.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk } from '../helpers/berth.js';
import {
  STAT_EXPECTED,
  STAT_SCRIPT,
  Scope,
  busyboxRootfs,
  chainIDs,
  dockerOk,
  readLayerdb,
  runOk,
  since,
  startDockerd,
  tarDir,
  tarList,
  tarRead,
  treeSnapshot,
  type Dockerd,
} from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`commit.test: ${since(T0)} in all\n`);
});

const CHANGES = [
  'echo hello > /hello.txt',
  'ln /hello.txt /hello-hard.txt',
  'ln -s /hello.txt /hello-link',
  'mkdir -p /data && echo one > /data/one.txt && chown 1000:1000 /data/one.txt',
  'chmod 600 /etc/group',
  'rm /etc/todelete.txt',
  'rm -rf /opq && mkdir /opq && echo new > /opq/new.txt',
].join(' && ');

/** Run in a container of the committed image, by berth and by docker: both must print EXPECTED. */
const CHECK = [
  'cat /hello.txt /data/one.txt /opq/new.txt',
  'ls -A /opq',
  'for f in /etc/todelete.txt /opq/old.txt /opq/sub /etc/base.txt; do test -e $f && echo "present $f" || echo "gone $f"; done',
  'stat -c "%n %u:%g %a %F %h" /etc/group /data/one.txt /hello.txt /hello-hard.txt',
  'readlink /hello-link',
  'test /hello.txt -ef /hello-hard.txt && echo hardlinked',
  STAT_SCRIPT,
].join('; ');
const EXPECTED =
  [
    'hello',
    'one',
    'new',
    'new.txt',
    'gone /etc/todelete.txt',
    'gone /opq/old.txt',
    'gone /opq/sub',
    'present /etc/base.txt',
    '/etc/group 0:0 600 regular file 1',
    '/data/one.txt 1000:1000 644 regular file 1',
    '/hello.txt 0:0 644 regular file 2',
    '/hello-hard.txt 0:0 644 regular file 2',
    '/hello.txt',
    'hardlinked',
  ].join('\n') +
  '\n' +
  STAT_EXPECTED;

const REF = 'bbx:committed';
let work: string;
let br: string;
let d: Dockerd;
let committedId: string;
let berthLayers: string[];
let saveTar: string;

before(
  () => {
    work = scope.tempDir('commit');
    br = scope.tempDir('commit-berth');
    const rootfs = join(work, 'rootfs');
    fs.mkdirSync(rootfs);
    busyboxRootfs(rootfs);
    berthOk(br, ['import', tarDir(rootfs, join(work, 'rootfs.tar')), 'bbx:base']);
    const r = berth(br, ['run', '--name', 'changer', 'bbx:base', 'sh', '-c', CHANGES]);
    assert.equal(r.code, 0, r.stderr);
    committedId = berthOk(br, ['commit', '-m', 'berth commit', '-c', 'ENV COMMITTED=1', 'changer', REF]).trim();
    assert.match(committedId, /^sha256:[0-9a-f]{64}$/);
    berthLayers = JSON.parse(berthOk(br, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', REF]));
    saveTar = join(work, 'berth-save.tar');
    berthOk(br, ['save', '-o', saveTar, REF]);
    d = startDockerd(scope, 'commit', join(work, 'docker'));
    process.stderr.write(`commit.test: dockerd start ${d.startMs}ms\n`);
    dockerOk(d.host, ['load', '-i', saveTar]);
  },
  { timeout: 300_000 },
);

// Found by this test: for a dir deleted and made again (an opaque dir in the rw layer), dockerd 20.10
// (overlay2, "Native Overlay Diff: true", same kernel) lists each entry of the lower dir it hides as
// deleted (D /opq/old.txt, D /opq/sub); berth diff (src/container/changes.ts) lists only C /opq and the
// new entries. (docker diff's order is not sorted, so the lists are compared sorted.)
test('berth diff of the container lists what docker diff lists for the same changes in a dockerd container (incl. the entries an opaque dir hides)', () => {
  const bdiff = berthOk(br, ['diff', 'changer']).trim().split('\n');
  for (const l of [
    'C /etc',
    'C /etc/group',
    'D /etc/todelete.txt',
    'A /data',
    'A /data/one.txt',
    'A /hello-hard.txt',
    'A /hello-link',
    'A /hello.txt',
    'A /opq/new.txt',
  ]) {
    assert.ok(bdiff.includes(l), `${l} in berth diff:\n${bdiff.join('\n')}`);
  }
  dockerOk(d.host, ['import', join(work, 'rootfs.tar'), 'bbx:base']);
  dockerOk(d.host, ['run', '--name', 'changer', '--network', 'none', 'bbx:base', 'sh', '-c', CHANGES]);
  const ddiff = dockerOk(d.host, ['diff', 'changer']).trim().split('\n');
  dockerOk(d.host, ['rm', 'changer']);
  assert.deepEqual([...bdiff].sort(), [...ddiff].sort(), `berth:\n${bdiff.join('\n')}\ndocker:\n${ddiff.join('\n')}`);
});

test('the saved layer holds a whiteout for the deleted file and an opaque marker for the recreated dir', () => {
  const manifest = JSON.parse(tarRead(saveTar, 'manifest.json').toString());
  assert.equal(manifest.length, 1);
  assert.deepEqual(manifest[0].RepoTags, [REF]);
  const top = join(work, 'top.tar');
  fs.writeFileSync(top, tarRead(saveTar, manifest[0].Layers[manifest[0].Layers.length - 1]));
  const names = tarList(top).map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
  for (const n of [
    'etc/.wh.todelete.txt',
    'opq/.wh..wh..opq',
    'opq/new.txt',
    'hello.txt',
    'hello-hard.txt',
    'hello-link',
    'data/one.txt',
    'etc/group',
  ]) {
    assert.ok(names.includes(n), `${n} in the committed layer: ${names.join(' ')}`);
  }
  for (const n of ['opq/old.txt', 'opq/sub', 'opq/.wh.old.txt', 'opq/.wh.sub', 'etc/base.txt', 'etc/todelete.txt'])
    assert.ok(!names.includes(n), `${n} not in the layer`);
  const verbose = runOk('tar', ['-tvf', top]);
  assert.match(
    verbose,
    /^h.* \.?\/?hello-hard\.txt link to \.?\/?hello\.txt$|^h.* \.?\/?hello\.txt link to \.?\/?hello-hard\.txt$/m,
    verbose,
  );
});

test('docker image inspect: the same image ID, diff_ids, comment and config as berth', () => {
  const [info] = JSON.parse(dockerOk(d.host, ['image', 'inspect', REF]));
  assert.equal(info.Id, committedId);
  assert.deepEqual(info.RootFS.Layers, berthLayers);
  assert.equal(info.RootFS.Layers.length, 2);
  assert.equal(info.Comment, 'berth commit');
  assert.ok(info.Config.Env.includes('COMMITTED=1'), JSON.stringify(info.Config.Env));
  const [binfo] = JSON.parse(berthOk(br, ['image', 'inspect', REF]));
  assert.deepEqual(info.Config, binfo.Config);
  assert.equal(info.Created, binfo.Created);
  // dockerd registered the layers under the same chainIDs berth uses
  const dl = readLayerdb(d.dataRoot);
  assert.deepEqual([...dl.keys()].sort(), chainIDs(berthLayers).sort());
  const bl = readLayerdb(br);
  for (const chain of chainIDs(berthLayers)) {
    assert.equal(dl.get(chain)!.diff, bl.get(chain)!.diff, `${chain} diff`);
    assert.equal(dl.get(chain)!.size, bl.get(chain)!.size, `${chain} size`);
  }
});

test('docker run of the loaded image sees the same files and deletions as berth run', () => {
  const inDocker = dockerOk(d.host, ['run', '--rm', '--network', 'none', REF, 'sh', '-c', CHECK]);
  const inBerth = berthOk(br, ['run', '--rm', REF, 'sh', '-c', CHECK]);
  assert.equal(inBerth, EXPECTED);
  assert.equal(inDocker, inBerth);
  const env = dockerOk(d.host, ['run', '--rm', '--network', 'none', REF, 'sh', '-c', 'echo $COMMITTED']);
  assert.equal(env, '1\n');
});

test("dockerd's overlay2 diff dir of the committed layer holds what berth's does (whiteout 0/0, opaque xattr)", () => {
  const top = chainIDs(berthLayers).pop()!;
  const dCache = readLayerdb(d.dataRoot).get(top)!.cacheID;
  const bCache = readLayerdb(br).get(top)!.cacheID;
  const dSnap = treeSnapshot(join(d.dataRoot, 'overlay2', dCache, 'diff'));
  const bSnap = treeSnapshot(join(br, 'overlay2', bCache, 'diff'));
  assert.deepEqual(bSnap, dSnap);
  assert.ok(
    dSnap.some((l) => l.startsWith('opq dir ') && l.includes('opaque=y')),
    dSnap.join('\n'),
  );
  assert.ok(
    dSnap.some((l) => l.startsWith('etc/todelete.txt char ') && l.includes('rdev=0')),
    dSnap.join('\n'),
  );
});

test('and back: docker save of the loaded image -> berth load in a fresh root gives the same ID', () => {
  const back = join(work, 'docker-save.tar');
  dockerOk(d.host, ['save', '-o', back, REF]);
  const fresh = scope.tempDir('commit-fresh');
  berthOk(fresh, ['load', '-i', back]);
  assert.equal(berthOk(fresh, ['image', 'inspect', '--format', '{{.Id}}', REF]).trim(), committedId);
  assert.equal(berthOk(fresh, ['run', '--rm', REF, 'sh', '-c', CHECK]), EXPECTED);
  assert.match(berthOk(fresh, ['system', 'check']), /ok/);
});
