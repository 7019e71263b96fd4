/**
 * The engine's /version, /info, /system/df and /build/prune on a real data root, and inspect's shape compared key by
 * key with dockerd 20.10's: a private dockerd given the same rootfs (`docker import`, `docker create --pull never`).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Engine } from '../../src/engine/engine.js';
import { DOCKER_HOSTCONFIG_KEYS } from '../../src/container/inspect-hostconfig.js';
import { berth, berthOk } from '../helpers/berth.js';
import { Scope, dockerOk, startDockerd, type Dockerd } from '../helpers/peers.js';

const scope = new Scope();
let root: string;
let engine: Engine;

before(
  async () => {
    root = scope.tempDir('berth-system');
    berthOk(root, ['image', 'from-host', 'base', 'sh', 'sleep', 'head', 'true']);
    engine = await Engine.open({ root });
  },
  { timeout: 120_000 },
);

after(() => {
  for (const c of berthOk(root, ['ps', '-aq']).split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  scope.dispose();
});

test('version: the engine at API 1.41 (minimum 1.24), its helper, and runc as `runc --version` says', async () => {
  const v = await engine.system.version();
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(v.Version, pkg.version);
  assert.equal(v.ApiVersion, '1.41');
  assert.equal(v.MinAPIVersion, '1.24');
  assert.equal(v.KernelVersion, os.release());
  assert.equal(v.GoVersion, process.version);
  const names = v.Components.map((c) => c.Name);
  assert.deepEqual(names.slice(0, 2), ['Engine', 'berth-helper']);
  assert.equal(v.Components[0]!.Details.MinAPIVersion, '1.24');
  assert.ok(fs.existsSync(v.Components[1]!.Details.Path!), 'the helper named is there');
  const runc = spawnSync('runc', ['--version'], { encoding: 'utf8' });
  if (runc.status === 0) {
    const comp = v.Components.find((c) => c.Name === 'runc');
    assert.ok(comp, 'runc listed');
    assert.match(runc.stdout, new RegExp(`^runc version ${comp.Version.replace(/[.+]/g, '\\$&')}$`, 'm'));
  } else assert.ok(!names.includes('runc'));
});

test('info: containers by state, images, overlay2 status, cgroups, host, a stable ID', async () => {
  berthOk(root, ['run', '-d', '--name', 'up', 'base', 'sleep', '60']);
  berthOk(root, ['create', '--name', 'idle', 'base', 'true']);
  berthOk(root, ['run', '-d', '--name', 'frozen', 'base', 'sleep', '60']);
  berthOk(root, ['pause', 'frozen']);
  const i = await engine.system.info();
  assert.deepEqual(
    [i.Containers, i.ContainersRunning, i.ContainersPaused, i.ContainersStopped],
    [3, 1, 1, 1],
    'one of each',
  );
  berthOk(root, ['unpause', 'frozen']);
  assert.equal(i.Images, engine.images.list({ all: true }).length);
  assert.equal(i.Driver, 'overlay2');
  assert.deepEqual(
    i.DriverStatus.map(([k]) => k),
    ['Backing Filesystem', 'Supports d_type', 'Using metacopy', 'Native Overlay Diff', 'userxattr'],
  );
  assert.equal(i.DriverStatus[1]![1], 'true', 'the test root supports d_type');
  const v2 = fs.statfsSync('/sys/fs/cgroup').type === 0x63677270;
  assert.equal(i.CgroupVersion, v2 ? '2' : '1');
  assert.equal(i.CgroupDriver, 'cgroupfs');
  assert.equal(i.LoggingDriver, 'json-file');
  assert.deepEqual(i.Plugins.Network, ['bridge', 'host', 'null']);
  assert.equal(i.DefaultRuntime, 'berth');
  assert.ok('berth' in i.Runtimes);
  assert.deepEqual(i.SecurityOptions, ['name=seccomp,profile=builtin', 'name=cgroupns']);
  assert.equal(i.KernelVersion, os.release());
  assert.equal(i.Architecture, os.machine());
  assert.equal(i.NCPU, os.availableParallelism());
  assert.equal(i.MemTotal, os.totalmem());
  assert.equal(i.Name, os.hostname());
  assert.equal(i.DockerRootDir, root);
  assert.match(i.OperatingSystem, /\S/);
  assert.match(i.ID, /^[0-9a-f-]{36}$/);
  const again = await (await Engine.open({ root })).system.info();
  assert.equal(again.ID, i.ID, 'the ID is kept in the data root');
  assert.equal(fs.readFileSync(`${root}/berth/engine-id`, 'utf8').trim(), i.ID);
});

test('system df: containers with their rw size; partial downloads are the build cache; builder prune removes them', async () => {
  berthOk(root, ['run', '--name', 'writer', 'base', 'sh', '-c', 'head -c 300000 /dev/zero > /big']);
  const df = await engine.system.df();
  const w = df.Containers.find((c) => c.Names[0] === '/writer');
  assert.ok(w, 'the writer is listed');
  assert.ok(w.SizeRw! >= 300000, `its rw layer holds the file (${w.SizeRw})`);
  assert.equal(df.Containers.length, (await engine.containers.list({ all: true })).length);
  // an interrupted pull's leftover, and one written "now"
  const partial = `${root}/berth/partial`;
  fs.mkdirSync(partial, { recursive: true });
  const old = `${partial}/sha256-${'a'.repeat(64)}`;
  const fresh = `${partial}/sha256-${'b'.repeat(64)}`;
  fs.writeFileSync(old, Buffer.alloc(1234));
  fs.writeFileSync(fresh, Buffer.alloc(10));
  const hourAgo = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(old, hourAgo, hourAgo);
  const cache = (await engine.system.df()).BuildCache;
  assert.deepEqual(
    cache.map((b) => [b.ID, b.Size, b.InUse]),
    [
      [`sha256:${'a'.repeat(64)}`, 1234, false],
      [`sha256:${'b'.repeat(64)}`, 10, false],
    ],
  );
  await assert.rejects(
    engine.system.buildPrune({ filters: new Map([['type', new Set(['regular'])]]) }),
    /invalid filter 'type'/,
  );
  const r = await engine.system.buildPrune({ filters: new Map([['until', new Set(['1h'])]]) });
  assert.deepEqual(r, { CachesDeleted: [`sha256:${'a'.repeat(64)}`], SpaceReclaimed: 1234 });
  assert.ok(fs.existsSync(fresh) && !fs.existsSync(old));
  const all = await engine.system.buildPrune();
  assert.deepEqual(all, { CachesDeleted: [`sha256:${'b'.repeat(64)}`], SpaceReclaimed: 10 });
  assert.deepEqual((await engine.system.df()).BuildCache, []);
});

test(
  "inspect and info have dockerd 20.10's keys: top level, HostConfig (its order), NetworkSettings, State, Config",
  { timeout: 180_000 },
  async () => {
    const rootfs = scope.tempDir('berth-system-rootfs');
    fs.mkdirSync(`${rootfs}/bin`);
    fs.copyFileSync('/bin/busybox', `${rootfs}/bin/busybox`);
    fs.chmodSync(`${rootfs}/bin/busybox`, 0o755);
    fs.symlinkSync('busybox', `${rootfs}/bin/sh`);
    const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 1 << 28 }).stdout;
    const d: Dockerd = startDockerd(scope, 'system', scope.tempDir('berth-system-dockerd'));
    dockerOk(d.host, ['import', '-', 'bbx:1'], tar);
    dockerOk(d.host, ['create', '--pull', 'never', '--name', 'plain', 'bbx:1', 'sh']);
    berthOk(root, ['import', '-', 'bbx:1'], { input: tar });
    berthOk(root, ['create', '--name', 'plain', 'bbx:1', 'sh']);
    const theirs = JSON.parse(dockerOk(d.host, ['inspect', 'plain']))[0] as Record<string, Record<string, unknown>>;
    const ours = JSON.parse(berthOk(root, ['inspect', 'plain']))[0] as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(ours), Object.keys(theirs), 'top-level keys, in order');
    assert.equal(ours.ExecIDs, null);
    assert.deepEqual(Object.keys(ours.HostConfig!), Object.keys(theirs.HostConfig!), 'HostConfig keys, in order');
    assert.deepEqual([...DOCKER_HOSTCONFIG_KEYS], Object.keys(theirs.HostConfig!), "the module's list is dockerd's");
    for (const k of ['NetworkSettings', 'State', 'Config', 'GraphDriver'])
      assert.deepEqual(Object.keys(ours[k]!).sort(), Object.keys(theirs[k]!).sort(), `${k} keys`);
    // the values berth shares with dockerd for a plain container (the rest differ by design: runtime, cgroupns...)
    for (const k of ['LogConfig', 'RestartPolicy', 'ShmSize', 'IpcMode', 'Devices', 'Ulimits', 'Dns', 'PidsLimit'])
      assert.deepEqual(ours.HostConfig![k], theirs.HostConfig![k], `HostConfig.${k}`);
    // info: every key dockerd's has, but those of things berth has not (CDI, set by newer daemons)
    const theirInfo = JSON.parse(dockerOk(d.host, ['info', '--format', '{{json .}}'])) as Record<string, unknown>;
    const ourInfo = JSON.parse(berthOk(root, ['info', '--format', '{{json .}}'])) as Record<string, unknown>;
    const missing = Object.keys(theirInfo).filter((k) => !(k in ourInfo));
    assert.deepEqual(
      missing.filter((k) => k !== 'CDISpecDirs'),
      [],
      'info keys',
    );
    for (const k of [
      'Driver',
      'LoggingDriver',
      'CgroupDriver',
      'CgroupVersion',
      'KernelVersion',
      'OperatingSystem',
      'OSType',
      'Architecture',
      'NCPU',
      'MemTotal',
      'Name',
      'IndexServerAddress',
    ])
      assert.deepEqual(ourInfo[k], theirInfo[k], `info ${k}`);
    const status = (i: Record<string, unknown>) => Object.fromEntries(i.DriverStatus as Array<[string, string]>);
    for (const k of ['Backing Filesystem', 'Supports d_type', 'Native Overlay Diff', 'userxattr'])
      assert.equal(status(ourInfo)[k], status(theirInfo)[k], `DriverStatus ${k}`);
  },
);

test("inspect's ExecIDs: the execs this engine made in the container until they end; null when none", async () => {
  berthOk(root, ['run', '-d', '--name', 'execd', 'base', 'sleep', '60']);
  assert.equal((await engine.containers.inspect('execd')).ExecIDs, null);
  const { Id } = await engine.containers.execCreate('execd', { Cmd: ['true'] });
  assert.deepEqual((await engine.containers.inspect('execd')).ExecIDs, [Id]);
  assert.equal(await engine.containers.execStart(Id), 0);
  assert.equal((await engine.containers.inspect('execd')).ExecIDs, null, 'gone once it ended');
  assert.notEqual(((await engine.containers.inspect('execd')).NetworkSettings as object | null) ?? null, null);
});
