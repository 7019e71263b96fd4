/**
 * Volumes, with real containers: `volume create|ls|inspect|rm|prune`, `-v NAME:/path` (made when
 * missing, kept after the container), the image's VOLUMEs and `-v /path` as anonymous volumes
 * (removed by `rm -v` and `--rm`), Docker's copy-up of the image's content into an empty volume
 * (owners and modes kept; not with nocopy; never over content), Docker's layout on disk.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';

const t = tempRoot('berth-volumes');
const root = t.root;
const PROGRAMS = ['sh', 'ls', 'cat', 'echo', 'mkdir', 'chown', 'chmod', 'stat', 'touch', 'true'];
before(() => {
  berthOk(root, ['image', 'from-host', 'base', ...PROGRAMS]);
  const ctx = join(root, '..', `${root.split('/').pop()}-ctx`);
  fs.mkdirSync(ctx);
  try {
    fs.writeFileSync(
      join(ctx, 'Dockerfile'),
      'FROM base\nRUN mkdir -p /data/sub && echo seed > /data/seed && chown 123:45 /data/seed && chmod 0640 /data/seed && chmod 0750 /data\nVOLUME /data\n',
    );
    berthOk(root, ['build', '-q', '-t', 'withvol', ctx]);
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
});
after(() => {
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the tests');
  t.remove();
});

const volumeNames = () => berthOk(root, ['volume', 'ls', '-q']).split('\n').filter(Boolean).sort();

test('volume create, ls, inspect, rm: Docker layout, labels, filters, errors', () => {
  assert.equal(berthOk(root, ['volume', 'create', '--label', 'team=a', '--label', 'tier', 'v-one']), 'v-one\n');
  assert.equal(berthOk(root, ['volume', 'create', 'v-two']), 'v-two\n');
  // again: the same volume, as dockerd answers
  assert.equal(berthOk(root, ['volume', 'create', 'v-two']), 'v-two\n');
  const anon = berthOk(root, ['volume', 'create']).trim();
  assert.match(anon, /^[0-9a-f]{64}$/);
  assert.ok(fs.statSync(join(root, 'volumes', 'v-one', '_data')).isDirectory());
  const [info] = JSON.parse(berthOk(root, ['volume', 'inspect', 'v-one']));
  assert.equal(info.Name, 'v-one');
  assert.equal(info.Driver, 'local');
  assert.equal(info.Scope, 'local');
  assert.equal(info.Mountpoint, join(root, 'volumes', 'v-one', '_data'));
  assert.deepEqual(info.Labels, { team: 'a', tier: '' });
  assert.match(info.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(berthOk(root, ['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'v-two']), 'v-two local\n');
  assert.equal(
    berthOk(root, ['inspect', '-f', '{{.Mountpoint}}', 'v-two']),
    `${join(root, 'volumes', 'v-two', '_data')}\n`,
  );
  assert.equal(berthOk(root, ['inspect', '--type', 'volume', '-f', '{{.Scope}}', 'v-two']), 'local\n');
  assert.match(berth(root, ['inspect', '--type', 'volume', 'base']).stderr, /No such volume: base/);

  const ls = berthOk(root, ['volume', 'ls']).split('\n');
  assert.match(ls[0]!, /^DRIVER +VOLUME NAME$/);
  assert.ok(ls.some((l) => /^local +v-one$/.test(l)));
  assert.equal(berthOk(root, ['volume', 'ls', '-q', '--filter', 'label=team=a']), 'v-one\n');
  assert.equal(berthOk(root, ['volume', 'ls', '-q', '-f', 'name=two']), 'v-two\n');
  assert.equal(
    berthOk(root, ['volume', 'ls', '--format', '{{.Name}}: {{.Labels}}', '-f', 'name=v-one']),
    'v-one: team=a,tier=\n',
  );
  const bad = berth(root, ['volume', 'ls', '--filter', 'colour=red']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid filter 'colour'/);

  const invalidName = berth(root, ['volume', 'create', 'bad/name']);
  assert.equal(invalidName.code, 1);
  assert.match(invalidName.stderr, /includes invalid characters for a local volume name/);
  const driver = berth(root, ['volume', 'create', '-d', 'nfs', 'x1']);
  assert.equal(driver.code, 1);
  assert.match(driver.stderr, /plugin "nfs" not found/);
  const missing = berth(root, ['volume', 'inspect', 'nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such volume: nosuch/);
  const rmMissing = berth(root, ['volume', 'rm', 'nosuch']);
  assert.equal(rmMissing.code, 1);
  assert.match(rmMissing.stderr, /no such volume/);
  assert.equal(berth(root, ['volume', 'rm', '-f', 'nosuch']).code, 0);

  assert.equal(berthOk(root, ['volume', 'rm', 'v-one', 'v-two', anon]), `v-one\nv-two\n${anon}\n`);
  assert.deepEqual(volumeNames(), []);
  assert.deepEqual(fs.readdirSync(join(root, 'volumes')), []);
});

test('-v NAME:/path makes the volume, keeps its data across containers; a used volume cannot be removed', () => {
  const w = berth(root, ['run', '--rm', '-v', 'keep:/store', 'base', 'sh', '-c', 'echo kept > /store/file']);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(fs.readFileSync(join(root, 'volumes', 'keep', '_data', 'file'), 'utf8'), 'kept\n');
  const r = berth(root, ['run', '--rm', '-v', 'keep:/other:ro', 'base', 'sh', '-c', 'cat /other/file; touch /other/x']);
  assert.equal(r.stdout, 'kept\n');
  assert.match(r.stderr, /Read-only file system/);

  const id = berthOk(root, ['create', '--name', 'user', '-v', 'keep:/store', 'base', 'true']).trim();
  const mounts = JSON.parse(berthOk(root, ['inspect', '--format', '{{json .Mounts}}', 'user']));
  assert.deepEqual(mounts, [
    {
      Type: 'volume',
      Name: 'keep',
      Source: join(root, 'volumes', 'keep', '_data'),
      Destination: '/store',
      Driver: 'local',
      Mode: '',
      RW: true,
      Propagation: '',
    },
  ]);
  const inUse = berth(root, ['volume', 'rm', 'keep']);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, new RegExp(`remove keep: volume is in use - \\[${id}\\]`));
  // cp reaches a volume as Docker's does (the container does not run)
  const src = join(root, '..', `${root.split('/').pop()}-cp`);
  fs.writeFileSync(src, 'copied\n');
  try {
    berthOk(root, ['cp', src, 'user:/store/copied']);
  } finally {
    fs.rmSync(src, { force: true });
  }
  assert.equal(fs.readFileSync(join(root, 'volumes', 'keep', '_data', 'copied'), 'utf8'), 'copied\n');
  // rm -v removes anonymous volumes only: a named one stays
  berthOk(root, ['rm', '-v', 'user']);
  assert.deepEqual(volumeNames(), ['keep']);
  berthOk(root, ['volume', 'rm', 'keep']);
  const dup = berth(root, ['create', '-v', 'a1:/x', '-v', 'a2:/x/', 'base', 'true']);
  assert.equal(dup.code, 125);
  assert.match(dup.stderr, /Duplicate mount point: \/x/);
  const mode = berth(root, ['create', '-v', '/tmp:/x:nocopy', 'base', 'true']);
  assert.equal(mode.code, 125);
  assert.match(mode.stderr, /invalid mode: nocopy/);
  assert.deepEqual(volumeNames(), []);
});

test("the image's VOLUME: an anonymous volume filled from the image (owners, modes), removed by --rm and rm -v", () => {
  const out = berth(root, [
    'run',
    '--rm',
    'withvol',
    'sh',
    '-c',
    'cat /data/seed; stat -c "%u:%g %a" /data/seed /data',
  ]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, 'seed\n123:45 640\n0:0 750\n');
  assert.deepEqual(volumeNames(), [], '--rm removes the anonymous volume');

  assert.equal(
    berthOk(root, ['run', '-v', '/scratch', 'withvol', 'sh', '-c', 'echo new > /data/added; touch /scratch/s']),
    '',
  );
  const names = volumeNames();
  assert.equal(names.length, 2);
  const [info] = JSON.parse(berthOk(root, ['volume', 'inspect', names[0]!]));
  assert.deepEqual(info.Labels, { 'com.docker.volume.anonymous': '' });
  const ps = berthOk(root, ['ps', '-aq', '--no-trunc']).trim();
  berthOk(root, ['rm', '-v', ps]);
  assert.deepEqual(volumeNames(), []);

  // a named volume that is empty gets the image's content; nocopy and a volume with content do not
  berthOk(root, ['run', '--rm', '-v', 'filled:/data', 'withvol', 'true']);
  assert.deepEqual(fs.readdirSync(join(root, 'volumes', 'filled', '_data')).sort(), ['seed', 'sub']);
  assert.equal(fs.statSync(join(root, 'volumes', 'filled', '_data')).mode & 0o7777, 0o750);
  berthOk(root, ['run', '--rm', '-v', 'bare:/data:nocopy', 'withvol', 'true']);
  assert.deepEqual(fs.readdirSync(join(root, 'volumes', 'bare', '_data')), []);
  fs.writeFileSync(join(root, 'volumes', 'bare', '_data', 'mine'), 'mine\n');
  const own = berth(root, ['run', '--rm', '-v', 'bare:/data', 'withvol', 'ls', '/data']);
  assert.equal(own.stdout, 'mine\n');
  berthOk(root, ['volume', 'rm', 'filled', 'bare']);
});

test('volume prune: unused anonymous volumes (all unused with -a), label filters, asks first', () => {
  berthOk(root, ['volume', 'create', '--label', 'keep=yes', 'named-keep']);
  berthOk(root, ['volume', 'create', 'named-free']);
  const anon = berthOk(root, ['volume', 'create']).trim(); // made by hand, no anonymous label: a named volume to prune
  berthOk(root, ['create', '--name', 'holder', '-v', '/held', 'base', 'true']);
  const held = volumeNames().find((n) => ![anon, 'named-keep', 'named-free'].includes(n))!;
  const no = berth(root, ['volume', 'prune'], { input: 'n\n' });
  assert.equal(no.code, 0);
  assert.match(no.stdout, /WARNING! This will remove anonymous local volumes not used by at least one container\./);
  assert.equal(volumeNames().length, 4);
  const bad = berth(root, ['volume', 'prune', '-f', '--filter', 'until=1h']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid filter 'until'/);

  berthOk(root, ['rm', 'holder']); // without -v: its anonymous volume stays, unused
  const anonPrune = berthOk(root, ['volume', 'prune', '-f']);
  assert.equal(anonPrune, `Deleted Volumes:\n${held}\n\nTotal reclaimed space: 0B\n`);
  const all = berthOk(root, ['volume', 'prune', '-a', '-f', '--filter', 'label!=keep=yes']);
  assert.match(all, /^Deleted Volumes:\n/);
  assert.deepEqual(volumeNames(), ['named-keep']);
  berthOk(root, ['volume', 'rm', 'named-keep']);
});

test('--mount (volume, bind, tmpfs) and --volumes-from', () => {
  const host = join(root, '..', `${root.split('/').pop()}-bind`);
  fs.mkdirSync(host);
  try {
    fs.writeFileSync(join(host, 'h'), 'host\n');
    const missing = berth(root, ['create', '--mount', `type=bind,source=${host}/nope,target=/b`, 'base', 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /bind source path does not exist/);
    const r = berth(root, [
      'run',
      '--name',
      'src',
      '--mount',
      'type=volume,source=mvol,target=/m,volume-label=from=mount',
      '--mount',
      `type=bind,src=${host},dst=/b,readonly`,
      '--mount',
      'type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770',
      'base',
      'sh',
      '-c',
      'echo vol > /m/v; cat /b/h; touch /b/x 2>/dev/null || echo ro; stat -c %a /t; cat /proc/self/mountinfo',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [vol, ro, mode] = r.stdout.split('\n');
    assert.deepEqual([vol, ro, mode], ['host', 'ro', '1770']);
    assert.match(r.stdout, / \/t [^\n]* - tmpfs tmpfs [^\n]*size=1024k/);
    assert.deepEqual(JSON.parse(berthOk(root, ['volume', 'inspect', 'mvol']))[0].Labels, { from: 'mount' });

    // --volumes-from: the other container's volume and bind, read-only when asked
    const f = berth(root, ['run', '--rm', '--volumes-from', 'src:ro', 'base', 'sh', '-c', 'cat /m/v /b/h; touch /m/y']);
    assert.equal(f.stdout, 'vol\nhost\n');
    assert.match(f.stderr, /Read-only file system/);
    const none = berth(root, ['create', '--volumes-from', 'nosuch', 'base', 'true']);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /No such container: nosuch/);
    berthOk(root, ['rm', '-v', 'src']);
    assert.deepEqual(volumeNames(), ['mvol']);
    berthOk(root, ['volume', 'rm', 'mvol']);
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
});

test('system prune --volumes: the unused anonymous volumes too (named ones stay)', () => {
  berthOk(root, ['volume', 'create', 'named-stays']);
  berthOk(root, ['create', '--name', 'gone', '-v', '/anon', 'base', 'true']);
  const anon = volumeNames().find((n) => n !== 'named-stays')!;
  berthOk(root, ['rm', 'gone']);
  const without = berthOk(root, ['system', 'prune', '-f']);
  assert.doesNotMatch(without, /Deleted Volumes/);
  const out = berthOk(root, ['system', 'prune', '-f', '--volumes']);
  assert.match(out, new RegExp(`Deleted Volumes:\\n${anon}\\n\\n`));
  assert.deepEqual(volumeNames(), ['named-stays']);
  berthOk(root, ['volume', 'rm', 'named-stays']);
});

test('system df counts volumes: total, in use, size, reclaimable', () => {
  berthOk(root, ['volume', 'create', 'df-free']);
  fs.writeFileSync(join(root, 'volumes', 'df-free', '_data', 'f'), 'x'.repeat(4000));
  berthOk(root, ['create', '--name', 'df-user', '-v', 'df-used:/u', 'base', 'true']);
  const row = berthOk(root, [
    'system',
    'df',
    '--format',
    '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}',
  ])
    .split('\n')
    .find((l) => l.startsWith('Local Volumes'));
  assert.equal(row, 'Local Volumes|2|1|4kB|4kB (100%)');
  berthOk(root, ['rm', 'df-user']);
  berthOk(root, ['volume', 'rm', 'df-free', 'df-used']);
});

test('volume create -o: tmpfs and bind volumes of the local driver (opts.json as dockerd writes it)', () => {
  const host = join(root, '..', `${root.split('/').pop()}-dev`);
  fs.mkdirSync(host);
  try {
    fs.writeFileSync(join(host, 'on-host'), 'device\n');
    berthOk(root, ['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'bindvol']);
    berthOk(root, [
      'volume',
      'create',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt',
      'o=size=2m,mode=1777',
      'tmpvol',
    ]);
    assert.deepEqual(JSON.parse(fs.readFileSync(join(root, 'volumes', 'bindvol', 'opts.json'), 'utf8')), {
      MountType: 'none',
      MountOpts: 'bind',
      MountDevice: host,
      Quota: { Size: 0 },
    });
    assert.deepEqual(JSON.parse(berthOk(root, ['volume', 'inspect', 'tmpvol']))[0].Options, {
      type: 'tmpfs',
      o: 'size=2m,mode=1777',
      device: 'tmpfs',
    });
    const r = berth(root, [
      'run',
      '--rm',
      '-v',
      'bindvol:/b',
      '-v',
      'tmpvol:/t',
      'base',
      'sh',
      '-c',
      'cat /b/on-host; echo back > /b/from-ctr; stat -c %a /t; cat /proc/self/mountinfo',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^device\n1777\n/);
    assert.match(r.stdout, / \/t [^\n]* - tmpfs tmpfs [^\n]*size=2048k/);
    assert.equal(fs.readFileSync(join(host, 'from-ctr'), 'utf8'), 'back\n');
    for (const [opts, re] of [
      [['-o', 'size=1g'], /invalid option key: "size"/],
      [['-o', 'device=/x'], /missing required option: "type"/],
      [['-o', 'type=none', '-o', 'o=bind', '-o', 'device=rel'], /absolute device path/],
    ] as const) {
      const bad = berth(root, ['volume', 'create', ...opts, 'badopts']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, re);
    }
    berthOk(root, ['volume', 'rm', 'bindvol', 'tmpvol']);
    assert.ok(fs.existsSync(join(host, 'on-host')), "removing a bind volume leaves the device's files");
  } finally {
    fs.rmSync(host, { recursive: true, force: true });
  }
});
