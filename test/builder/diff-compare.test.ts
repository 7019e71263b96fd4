import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ENTRY_DIFFS,
  canonical,
  cleanPath,
  compareImages,
  compareLayer,
  historyEntry,
  type ImageFacts,
  type LayerEntry,
} from '../helpers/build-diff.js';
import { layerEntries } from '../helpers/build-corpus.js';
import { buildTar as tarBytes } from '../helpers/tarbuild.js';

const file = (path: string, over: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  size: 2,
  sha256: 'aa',
  ...over,
});

function image(over: Partial<ImageFacts> = {}): ImageFacts {
  return {
    config: { Env: ['PATH=/bin', 'A=b'], Cmd: ['sh'], Labels: { x: 'y', a: 'b' }, ExposedPorts: { '80/tcp': {} } },
    history: [
      { created_by: '', empty_layer: false },
      { created_by: '/bin/sh -c #(nop)  ENV A=b', empty_layer: true },
      { created_by: '/bin/sh -c echo hi > /hi', empty_layer: false },
    ],
    diffIDs: ['sha256:1', 'sha256:2'],
    layers: [[file('bin'), file('etc/passwd')], [file('hi', { sha256: 'bb', size: 3 })]],
    ...over,
  };
}

test('the same facts compare equal; map key order does not matter', () => {
  const b = image({
    config: { Env: ['PATH=/bin', 'A=b'], Cmd: ['sh'], Labels: { a: 'b', x: 'y' }, ExposedPorts: { '80/tcp': {} } },
  });
  assert.deepEqual(compareImages('c', image(), b), []);
});

test('config fields: a differing value names the case, the field and both values; absent equals null but not {}', () => {
  const b = image({
    config: {
      Env: ['PATH=/bin', 'A=c'],
      Cmd: null,
      Labels: { x: 'y', a: 'b' },
      ExposedPorts: { '80/tcp': {} },
      Volumes: {},
    },
  });
  assert.deepEqual(compareImages('env-case', image(), b), [
    'case "env-case": config.Env: docker ["PATH=/bin","A=b"], berth ["PATH=/bin","A=c"]',
    'case "env-case": config.Cmd: docker ["sh"], berth null',
    'case "env-case": config.Volumes: docker null, berth {}',
  ]);
  // Env order is part of the value
  const swapped = image({ config: { ...image().config, Env: ['A=b', 'PATH=/bin'] } });
  assert.equal(compareImages('c', image(), swapped).length, 1);
  // fields outside the compared set are ignored
  assert.deepEqual(
    compareImages('c', image(), image({ config: { ...image().config, Image: 'sha256:other', Hostname: 'h' } })),
    [],
  );
});

test('author (MAINTAINER) is compared', () => {
  assert.deepEqual(compareImages('m', image({ author: 'Jane' }), image()), [
    'case "m": author: docker "Jane", berth absent',
  ]);
});

test('history: created_by and empty_layer per entry, and the count', () => {
  const h = image().history.map((e) => ({ ...e }));
  h[1] = { created_by: '/bin/sh -c #(nop) ENV A=b', empty_layer: false };
  const diffs = compareImages('h', image(), image({ history: h }));
  assert.deepEqual(diffs, [
    'case "h": history[1].created_by: docker "/bin/sh -c #(nop)  ENV A=b", berth "/bin/sh -c #(nop) ENV A=b"',
    'case "h": history[1].empty_layer (/bin/sh -c #(nop)  ENV A=b): docker true, berth false',
  ]);
  const short = compareImages('h', image(), image({ history: image().history.slice(0, 2) }));
  assert.equal(short.length, 1);
  assert.match(short[0]!, /^case "h": history length: docker 3, berth 2\n/);
});

test("diff_ids count and each layer's entries; the message names the step that made the layer", () => {
  const diffs = compareImages(
    'l',
    image(),
    image({
      diffIDs: ['sha256:1'],
      layers: [
        [file('bin'), file('etc/passwd', { mode: 0o600, uid: 1000 })],
        [file('hi', { sha256: 'cc', size: 3 }), file('extra')],
      ],
    }),
  );
  assert.equal(diffs[0], 'case "l": rootfs.diff_ids count: docker 2, berth 1');
  assert.equal(
    diffs[1],
    'case "l": layer 0: \n  "etc/passwd" mode: docker 0644, berth 0600\n  "etc/passwd" uid: docker 0, berth 1000',
  );
  assert.equal(
    diffs[2],
    'case "l": layer 1 (/bin/sh -c echo hi > /hi): \n  "extra" only in berth\'s layer (file mode=0644 0:0 size=2 sha256=aa)\n  "hi" sha256: docker "bb", berth "cc"',
  );
});

test('compareLayer: only-in-docker, link targets, xattrs; long lists are cut', () => {
  assert.deepEqual(
    compareLayer(
      [file('a'), { path: 'l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, link: 'x' }],
      [{ path: 'l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, link: 'y' }],
    ),
    ['"a" only in docker\'s layer (file mode=0644 0:0 size=2 sha256=aa)', '"l" link: docker "x", berth "y"'],
  );
  assert.deepEqual(compareLayer([file('c', { xattrs: { 'security.capability': '1' } })], [file('c')]), [
    '"c" xattrs: docker {"security.capability":"1"}, berth absent',
  ]);
  const many = Array.from({ length: 40 }, (_, i) => file(`f${String(i).padStart(2, '0')}`));
  const cut = compareLayer(many, []);
  assert.equal(cut.length, MAX_ENTRY_DIFFS + 1);
  assert.equal(cut[cut.length - 1], `... and ${40 - MAX_ENTRY_DIFFS} more`);
});

test('helpers: canonical sorts keys, historyEntry defaults, cleanPath', () => {
  assert.equal(canonical({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
  assert.deepEqual(historyEntry({ created_by: 'x' }), { created_by: 'x', empty_layer: false });
  assert.deepEqual(historyEntry({ empty_layer: true }), { created_by: '', empty_layer: true });
  assert.equal(cleanPath('./etc/x/'), 'etc/x');
  assert.equal(cleanPath('/etc'), 'etc');
  assert.equal(cleanPath('./'), '.');
});

test('layerEntries reads a layer tar: types, modes, owners, content digests, links, devices; mtimes and names left out', () => {
  const tar = tarBytes([
    { name: './etc/', mode: 0o755 },
    { name: './etc/x', body: 'hi', mode: 0o4755, uid: 1000, gid: 50, uname: 'someone', mtime: 1 },
    { name: './etc/hard', type: 'link', linkname: './etc/x' },
    { name: './etc/sym', type: 'symlink', linkname: '/abs/target' },
    { name: './dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: './etc/.wh.gone', body: '' },
  ]);
  const e = layerEntries(tar);
  assert.deepEqual(
    e.map((x) => x.path),
    ['dev/null', 'etc', 'etc/.wh.gone', 'etc/hard', 'etc/sym', 'etc/x'],
  );
  const x = e.find((y) => y.path === 'etc/x')!;
  assert.deepEqual(x, {
    path: 'etc/x',
    type: 'file',
    mode: 0o4755,
    uid: 1000,
    gid: 50,
    size: 2,
    sha256: '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4',
  });
  assert.equal(e.find((y) => y.path === 'etc/hard')!.link, 'etc/x');
  assert.equal(e.find((y) => y.path === 'etc/sym')!.link, '/abs/target');
  assert.equal(e.find((y) => y.path === 'dev/null')!.dev, '1,3');
  // the same entries with other mtimes and owner names read the same
  const again = layerEntries(
    tarBytes([
      { name: 'etc/', mode: 0o755, mtime: 99 },
      { name: 'etc/x', body: 'hi', mode: 0o4755, uid: 1000, gid: 50, uname: 'other', mtime: 2 },
      { name: 'etc/hard', type: 'link', linkname: 'etc/x' },
      { name: 'etc/sym', type: 'symlink', linkname: '/abs/target' },
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'etc/.wh.gone', body: '' },
    ]),
  );
  assert.deepEqual(compareLayer(e, again), []);
});
