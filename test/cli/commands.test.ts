import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';

const t = tempRoot('berth-cli');
const root = t.root;
after(() => t.remove());

let miniId = '';
before(() => {
  miniId = berthOk(root, ['image', 'from-host', 'mini:1', 'sh', 'ls', 'cat']).trim();
});

test('from-host: an image whose layer runs the programs with only its own files (chroot into diff/)', () => {
  assert.match(miniId, /^sha256:[a-f0-9]{64}$/);
  const inspect = JSON.parse(berthOk(root, ['image', 'inspect', 'mini:1']))[0];
  assert.equal(inspect.Id, miniId);
  assert.deepEqual(inspect.RepoTags, ['mini:1']);
  assert.equal(inspect.GraphDriver.Name, 'overlay2');
  const diff = inspect.GraphDriver.Data.UpperDir as string;
  for (const d of [
    'bin',
    'dev',
    'etc',
    'home',
    'lib',
    'mnt',
    'opt',
    'proc',
    'root',
    'run',
    'sbin',
    'sys',
    'tmp',
    'usr',
    'var',
  ]) {
    assert.ok(fs.existsSync(`${diff}/${d}`), `skeleton dir ${d}`);
  }
  assert.match(fs.readFileSync(`${diff}/etc/passwd`, 'utf8'), /^root:x:0:0:/);
  const r = spawnSync('chroot', [diff, '/bin/sh', '-c', 'read l < /etc/group; echo hello from $l; ls /'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^hello from root:x:0:/);
  assert.match(r.stdout, /\bproc\b/);
});

test('images: table, -q, --no-trunc, --format, json, reference filter', () => {
  berthOk(root, ['tag', 'mini:1', 'other/mini:2']);
  const table = berthOk(root, ['images']);
  const lines = table.trim().split('\n');
  assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.ok(
    lines.some((l) => /^mini\s+1\s+[a-f0-9]{12}\s+.*ago\s+\d/.test(l)),
    table,
  );
  assert.ok(
    lines.some((l) => /^other\/mini\s+2\s/.test(l)),
    table,
  );
  assert.equal(berthOk(root, ['images', '-q']).trim(), miniId.slice(7, 19));
  assert.match(berthOk(root, ['images', '--no-trunc']), new RegExp(miniId));
  assert.equal(berthOk(root, ['images', '--format', '{{.Repository}}:{{.Tag}}', 'mini']).trim(), 'mini:1');
  assert.equal(berthOk(root, ['images', '--filter', 'reference=other/*']).trim().split('\n').length, 2);
  const json = berthOk(root, ['images', '--format', 'json'])
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(json.length, 2);
  assert.equal(json[0].ID, miniId.slice(7, 19));
});

test('history and image layers show the walk through the store', () => {
  const h = berthOk(root, ['history', 'mini:1']);
  assert.match(h, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
  assert.match(h, /berth image from-host sh ls/);
  const layers = berthOk(root, ['image', 'layers', 'mini:1']);
  const diffID = JSON.parse(berthOk(root, ['image', 'inspect', 'mini:1']))[0].RootFS.Layers[0];
  assert.match(layers, new RegExp(`diffID:\\s+${diffID}`));
  const cacheId = /cache-id:\s+([a-f0-9]{64})/.exec(layers)![1]!;
  assert.equal(fs.readFileSync(`${root}/image/overlay2/layerdb/sha256/${diffID.slice(7)}/cache-id`, 'utf8'), cacheId);
  const link = fs.readFileSync(`${root}/overlay2/${cacheId}/link`, 'utf8');
  assert.equal(fs.readlinkSync(`${root}/overlay2/l/${link}`), `../${cacheId}/diff`);
  assert.match(layers, new RegExp(`lowerdir=l/${link}`));
});

test('import with --change and --message; layer of identical content is stored once', () => {
  const rootfs = fs.mkdtempSync('/var/tmp/berth-rootfs-');
  try {
    fs.mkdirSync(`${rootfs}/etc`);
    fs.writeFileSync(`${rootfs}/etc/os-release`, 'ID=test\n');
    const tarFile = `${rootfs}.tar.gz`;
    assert.equal(spawnSync('tar', ['-C', rootfs, '-czf', tarFile, '.']).status, 0);
    const id1 = berthOk(root, [
      'import',
      '--change',
      'CMD ["/bin/sh"]',
      '--change',
      'ENV A=b',
      '-m',
      'hello',
      tarFile,
      'imp:1',
    ]).trim();
    const id2 = berthOk(root, ['import', '-', 'imp:2'], { input: fs.readFileSync(tarFile) }).trim();
    assert.notEqual(id1, id2, 'different configs');
    const [i1] = JSON.parse(berthOk(root, ['image', 'inspect', 'imp:1']));
    const [i2] = JSON.parse(berthOk(root, ['image', 'inspect', 'imp:2']));
    assert.deepEqual(i1.Config.Cmd, ['/bin/sh']);
    assert.deepEqual(i1.Config.Env, ['A=b']);
    assert.equal(i1.Comment, 'hello');
    assert.equal(i2.Comment, 'Imported from -');
    assert.deepEqual(i1.RootFS.Layers, i2.RootFS.Layers);
    assert.equal(i1.GraphDriver.Data.UpperDir, i2.GraphDriver.Data.UpperDir, 'one layer, stored once');
    fs.rmSync(tarFile);
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
});

test('rmi: untag, then delete image and its unused layers; errors for unknown images', () => {
  const layersBefore = fs.readdirSync(`${root}/image/overlay2/layerdb/sha256`).length;
  assert.equal(berthOk(root, ['rmi', 'other/mini:2']).trim(), 'Untagged: other/mini:2');
  const out = berthOk(root, ['rmi', 'mini:1']);
  assert.match(out, /^Untagged: mini:1\nDeleted: sha256:/);
  assert.equal(fs.readdirSync(`${root}/image/overlay2/layerdb/sha256`).length, layersBefore - 1);
  const r = berth(root, ['rmi', 'nosuch:1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No such image: nosuch:1/);
  assert.match(berthOk(root, ['system', 'check']), /ok/);
});

test('image prune removes dangling images; system df shows totals', () => {
  berthOk(root, ['tag', 'imp:2', 'keep:1']);
  berthOk(root, ['rmi', 'imp:2']);
  // imp:1 stays tagged; nothing dangling yet
  assert.match(berthOk(root, ['image', 'prune', '-f']), /Total reclaimed space: 0B/);
  const df = berthOk(root, ['system', 'df']);
  assert.match(df, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+2\s+0\s/);
  const all = berthOk(root, ['image', 'prune', '-a', '-f']);
  assert.match(all, /Deleted Images:/);
  assert.equal(berthOk(root, ['images', '-q']).trim(), '');
  assert.deepEqual(fs.readdirSync(`${root}/image/overlay2/layerdb/sha256`), []);
  assert.deepEqual(
    fs.readdirSync(`${root}/overlay2`).filter((n) => n !== 'l'),
    [],
  );
  assert.deepEqual(fs.readdirSync(`${root}/overlay2/l`), []);
});

test('usage errors exit 125 or 1 with a message', () => {
  const r = berth(root, ['images', '--bogus']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^unknown flag: --bogus\n/);
  const r2 = berth(root, ['frobnicate']);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /^berth: unknown command: berth frobnicate\n/);
});
