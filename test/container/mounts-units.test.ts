/** -v and --mount syntax, pure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromApiMount, mountRequests, parseVolumeFlag, parseVolumesFrom } from '../../src/container/mounts.js';
import { parseMountFlag } from '../../src/cli/container-flags.js';

test('-v: anonymous, named and bind mounts with their modes; bad ones refused', () => {
  assert.deepEqual(parseVolumeFlag('/data'), {
    type: 'volume',
    destination: '/data',
    readonly: false,
    nocopy: false,
    mode: '',
  });
  assert.deepEqual(parseVolumeFlag('name:/d/:ro,nocopy'), {
    type: 'volume',
    name: 'name',
    destination: '/d',
    readonly: true,
    nocopy: true,
    mode: 'ro,nocopy',
  });
  assert.deepEqual(parseVolumeFlag('/h:/c:rw,rshared'), {
    type: 'bind',
    source: '/h',
    destination: '/c',
    readonly: false,
    mode: 'rw,rshared',
  });
  for (const [v, re] of [
    ['rel', /must be absolute/],
    ['a:b', /must be absolute/],
    ['/h:/c:ro,rw', /invalid mode/],
    ['/h:/c:nocopy', /invalid mode: nocopy/],
    ['v:/c:rshared', /propagation applies to binds only/],
    ['b@d:/c', /invalid characters for a local volume name/],
    ['/h:/', /destination can't be "\/"/],
    ['a:b:c:d', /invalid volume specification/],
  ] as const)
    assert.throws(() => parseVolumeFlag(v), re, v);
  assert.throws(
    () => mountRequests({ Binds: ['/a:/x', 'vv:/x/'], Mounts: null, Tmpfs: null }, []),
    /Duplicate mount point: \/x/,
  );
  assert.throws(
    () => mountRequests({ Binds: ['vv:/t'], Mounts: null, Tmpfs: { '/t': '' } }, []),
    /Duplicate mount point/,
  );
  // the image's VOLUME under a -v is the -v's
  assert.deepEqual(
    mountRequests({ Binds: ['vv:/data'], Mounts: null, Tmpfs: null }, ['/data', '/other/']).map((m) => m.destination),
    ['/data', '/other'],
  );
});

test('--mount: the docker CLI CSV and the API shape checked', () => {
  assert.deepEqual(parseMountFlag('type=volume,src=v,dst=/d,readonly,volume-nocopy,volume-label=a=b'), {
    Type: 'volume',
    Source: 'v',
    Target: '/d',
    ReadOnly: true,
    VolumeOptions: { NoCopy: true, Labels: { a: 'b' } },
  });
  assert.deepEqual(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777'), {
    Type: 'tmpfs',
    Target: '/t',
    TmpfsOptions: { SizeBytes: 64 << 20, Mode: 0o1777 },
  });
  assert.deepEqual(parseMountFlag('target=/x'), { Type: 'volume', Target: '/x' });
  assert.throws(() => parseMountFlag('type=volume'), /target is required/);
  assert.throws(() => parseMountFlag('type=nfs,target=/x'), /invalid mount type: nfs/);
  assert.throws(() => parseMountFlag('target=/x,colour=red'), /unexpected key 'colour'/);
  assert.throws(() => parseMountFlag('target=/x,junk'), /must be a key=value pair/);
  assert.throws(() => parseMountFlag('target=/x,readonly=maybe'), /invalid value for readonly/);
  assert.equal(fromApiMount({ Type: 'tmpfs', Target: '/t' }), undefined);
  assert.throws(() => fromApiMount({ Type: 'bind', Target: '/t' }), /field Source must not be empty/);
  assert.throws(() => fromApiMount({ Type: 'tmpfs', Source: 'x', Target: '/t' }), /Source must not be specified/);
  assert.throws(() => fromApiMount({ Type: 'volume', Target: 'rel' }), /must be absolute/);
});

test('--volumes-from: CONTAINER[:ro|rw]', () => {
  assert.deepEqual(parseVolumesFrom('c1'), { container: 'c1' });
  assert.deepEqual(parseVolumesFrom('c1:ro'), { container: 'c1', mode: 'ro' });
  assert.throws(() => parseVolumesFrom('c1:rx'), /invalid mode: rx/);
});
