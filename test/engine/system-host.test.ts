/** Pure parts of /version, /info and inspect's HostConfig: parsers, formats, the key list, filters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  ENGINE_VERSION,
  ansicTime,
  fsName,
  gitCommit,
  goArch,
  parseOsRelease,
  parseRuncVersion,
} from '../../src/engine/system-host.js';
import { checkBuildPruneFilters } from '../../src/engine/system.js';
import { DOCKER_HOSTCONFIG_KEYS, inspectHostConfig } from '../../src/container/inspect-hostconfig.js';
import { VERSION } from '../../src/cli/global-args.js';
import { REPO } from '../helpers/berth.js';

test("berth's version is package.json's, for the engine and the CLI", () => {
  const pkg = JSON.parse(fs.readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };
  assert.equal(ENGINE_VERSION, pkg.version);
  assert.equal(VERSION, pkg.version);
});

test('os-release: quotes and escapes removed, comments and junk skipped', () => {
  const r = parseOsRelease(
    '# c\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME=\'Debian\'\nVERSION_ID="12"\nID=debian\nX="a \\"q\\""\nnot a line\n',
  );
  assert.deepEqual(r, {
    PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
    NAME: 'Debian',
    VERSION_ID: '12',
    ID: 'debian',
    X: 'a "q"',
  });
});

test('runc --version: version and commit; nothing when absent', () => {
  assert.deepEqual(
    parseRuncVersion('runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n'),
    { version: '1.1.5+ds1', commit: '1.1.5+ds1-1+deb12u1' },
  );
  assert.deepEqual(parseRuncVersion(''), { version: '', commit: '' });
});

test("Go's ANSIC time (docker's Built), GOARCH names, statfs magic names", () => {
  assert.equal(ansicTime(new Date('2025-05-30T12:07:14Z')), 'Fri May 30 12:07:14 2025');
  assert.equal(ansicTime(new Date('2026-12-08T02:03:04Z')), 'Tue Dec  8 02:03:04 2026');
  assert.equal(goArch('x64'), 'amd64');
  assert.equal(goArch('arm64'), 'arm64');
  assert.equal(goArch('ia32'), '386');
  assert.equal(fsName(0xef53), 'extfs');
  assert.equal(fsName(0x58465342), 'xfs');
  assert.equal(fsName(0x12345), '<unknown>');
});

test('git commit of a checkout and of a worktree (a .git file), through packed-refs too', () => {
  const dir = fs.mkdtempSync('/tmp/berth-gitcommit-');
  try {
    const sha = '0123456789abcdef0123456789abcdef01234567';
    fs.mkdirSync(`${dir}/main/.git/refs/heads`, { recursive: true });
    fs.writeFileSync(`${dir}/main/.git/HEAD`, 'ref: refs/heads/main\n');
    fs.writeFileSync(`${dir}/main/.git/refs/heads/main`, `${sha}\n`);
    assert.equal(gitCommit(`${dir}/main`), '0123456');
    // a worktree: its own HEAD, the refs in the common dir's packed-refs
    fs.mkdirSync(`${dir}/main/.git/worktrees/wt`, { recursive: true });
    fs.writeFileSync(`${dir}/main/.git/worktrees/wt/HEAD`, 'ref: refs/heads/wt\n');
    fs.writeFileSync(`${dir}/main/.git/worktrees/wt/commondir`, '../..\n');
    fs.writeFileSync(`${dir}/main/.git/packed-refs`, `# pack-refs\n${'f'.repeat(40)} refs/heads/wt\n`);
    fs.mkdirSync(`${dir}/wt`);
    fs.writeFileSync(`${dir}/wt/.git`, `gitdir: ${dir}/main/.git/worktrees/wt\n`);
    assert.equal(gitCommit(`${dir}/wt`), 'fffffff');
    fs.writeFileSync(`${dir}/main/.git/HEAD`, `${'e'.repeat(40)}\n`);
    assert.equal(gitCommit(`${dir}/main`), 'eeeeeee', 'a detached HEAD');
    assert.equal(gitCommit(`${dir}/none`), '');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("inspect's HostConfig: dockerd 20.10's keys in its order, defaults for what is not recorded, berth's after", () => {
  // the keys `docker inspect` of a container `docker create` made prints (dockerd 20.10.24)
  const docker =
    'Binds ContainerIDFile LogConfig NetworkMode PortBindings RestartPolicy AutoRemove VolumeDriver VolumesFrom CapAdd ' +
    'CapDrop CgroupnsMode Dns DnsOptions DnsSearch ExtraHosts GroupAdd IpcMode Cgroup Links OomScoreAdj PidMode ' +
    'Privileged PublishAllPorts ReadonlyRootfs SecurityOpt UTSMode UsernsMode ShmSize Runtime ConsoleSize Isolation ' +
    'CpuShares Memory NanoCpus CgroupParent BlkioWeight BlkioWeightDevice BlkioDeviceReadBps BlkioDeviceWriteBps ' +
    'BlkioDeviceReadIOps BlkioDeviceWriteIOps CpuPeriod CpuQuota CpuRealtimePeriod CpuRealtimeRuntime CpusetCpus ' +
    'CpusetMems Devices DeviceCgroupRules DeviceRequests KernelMemory KernelMemoryTCP MemoryReservation MemorySwap ' +
    'MemorySwappiness OomKillDisable PidsLimit Ulimits CpuCount CpuPercent IOMaximumIOps IOMaximumBandwidth ' +
    'MaskedPaths ReadonlyPaths';
  assert.deepEqual([...DOCKER_HOSTCONFIG_KEYS], docker.split(' '));
  const hc = inspectHostConfig({
    NetworkMode: 'bridge',
    Memory: 1 << 20,
    Devices: null,
    Tmpfs: { '/t': '' },
    Init: null,
    Sysctls: {},
    BerthOwn: 1,
  });
  assert.deepEqual(Object.keys(hc), [
    ...docker.split(' ').slice(0, docker.split(' ').indexOf('SecurityOpt') + 1),
    'Tmpfs',
    ...docker.split(' ').slice(docker.split(' ').indexOf('SecurityOpt') + 1),
    'BerthOwn',
  ]);
  assert.equal(hc.NetworkMode, 'bridge');
  assert.equal(hc.Memory, 1 << 20);
  assert.deepEqual(hc.Devices, [], 'a null list shows as the docker CLI sends it');
  assert.deepEqual(hc.LogConfig, { Type: 'json-file', Config: {} });
  assert.equal(hc.PidsLimit, null);
  assert.ok(Array.isArray(hc.MaskedPaths) && (hc.MaskedPaths as string[]).includes('/proc/kcore'));
  assert.equal(inspectHostConfig({ Privileged: true }).MaskedPaths, null, 'privileged: nothing masked');
  assert.deepEqual(inspectHostConfig({ Init: true, Tmpfs: null }).Init, true);
  assert.ok(!('Tmpfs' in inspectHostConfig({ Tmpfs: null })));
});

test('builder prune filters: until (unused-for its older name); others refused', () => {
  assert.deepEqual(
    checkBuildPruneFilters(new Map([['unused-for', new Set(['24h'])]])),
    new Map([['until', new Set(['24h'])]]),
  );
  assert.deepEqual(
    checkBuildPruneFilters(
      new Map([
        ['until', new Set(['1h'])],
        ['unused-for', new Set(['2h'])],
      ]),
    ),
    new Map([['until', new Set(['1h', '2h'])]]),
  );
  assert.throws(() => checkBuildPruneFilters(new Map([['label', new Set(['a'])]])), /invalid filter 'label'/);
});
