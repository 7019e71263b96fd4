import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupPaths, hostFromMounts, mountPointOf, parseMountinfo } from '../../../src/runtime/cgroups/host.js';

const HYBRID = `23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
90 50 0:32 /docker/abc /mnt/with\\040space rw,relatime - cgroup cgroup rw,memory
`;

test('mountinfo: cgroup mounts, controllers without options, escaped paths', () => {
  const mounts = parseMountinfo(HYBRID);
  assert.deepEqual(
    mounts.map((m) => [m.version, m.mountPoint, m.controllers.join(',')]),
    [
      [1, '/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct'],
      [1, '/sys/fs/cgroup/cpuset', 'cpuset'],
      [1, '/sys/fs/cgroup/memory', 'memory'],
      [1, '/sys/fs/cgroup/freezer', 'freezer'],
      [1, '/sys/fs/cgroup/systemd', 'name=systemd'],
      [2, '/sys/fs/cgroup/unified', ''],
      [1, '/mnt/with space', 'memory'],
    ],
  );
  assert.equal(mounts[6]!.root, '/docker/abc');
});

test('hybrid is v1 with the cgroup2 tree joined as key ""; a second mount of a hierarchy is not used', () => {
  const host = hostFromMounts(parseMountinfo(HYBRID), false);
  assert.equal(host.version, 1);
  if (host.version !== 1) return;
  assert.deepEqual(
    host.hierarchies.map((h) => h.key),
    ['cpu,cpuacct', 'cpuset', 'memory', 'freezer', 'name=systemd'],
  );
  assert.equal(host.unified, '/sys/fs/cgroup/unified');
  assert.deepEqual(cgroupPaths(host, 'berth', 'c1'), {
    'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/berth/c1',
    cpuset: '/sys/fs/cgroup/cpuset/berth/c1',
    memory: '/sys/fs/cgroup/memory/berth/c1',
    freezer: '/sys/fs/cgroup/freezer/berth/c1',
    'name=systemd': '/sys/fs/cgroup/systemd/berth/c1',
    '': '/sys/fs/cgroup/unified/berth/c1',
  });
  assert.equal(mountPointOf(host, ''), '/sys/fs/cgroup/unified');
  assert.equal(mountPointOf(host, 'memory'), '/sys/fs/cgroup/memory');
  const noRoot = hostFromMounts(
    parseMountinfo(
      HYBRID.split('\n')
        .filter((l) => !l.includes('/sys/fs/cgroup/memory'))
        .join('\n'),
    ),
    false,
  );
  assert.equal(
    noRoot.version === 1 && noRoot.hierarchies.find((h) => h.key === 'memory')?.mountPoint,
    '/mnt/with space',
    'a sub-tree mount when it is all there is',
  );
});

test('v2: /sys/fs/cgroup is cgroup2, or cgroup2 is the only cgroup mount', () => {
  const pure =
    '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
  assert.deepEqual(hostFromMounts(parseMountinfo(pure), true), { version: 2, root: '/sys/fs/cgroup' });
  assert.deepEqual(hostFromMounts(parseMountinfo(pure.replace(' /sys/fs/cgroup ', ' /cg ')), false), {
    version: 2,
    root: '/cg',
  });
  const host = hostFromMounts([], true);
  assert.deepEqual(cgroupPaths(host, 'berth/sub', 'c1'), { '': '/sys/fs/cgroup/berth/sub/c1' });
  assert.throws(() => hostFromMounts([], false), /no cgroup filesystem is mounted/);
});
