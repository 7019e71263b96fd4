import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { applyLayer } from '../../src/archive/layer-apply.js';
import { diffDirTar } from '../../src/archive/diff-tar.js';
import { encodeHeader, padding, type TarHeader } from '../../src/archive/tar-header.js';
import * as native from '../../src/native/index.js';

const tmp = fs.mkdtempSync('/var/tmp/berth-difftar-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function h(name: string, over: Partial<TarHeader> = {}): TarHeader {
  return {
    name,
    linkname: '',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 1700000000,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  };
}

function tar(entries: Array<[TarHeader, string?]>): Buffer {
  const parts: Buffer[] = [];
  for (const [hd, body] of entries) {
    const b = Buffer.from(body ?? '');
    parts.push(encodeHeader({ ...hd, size: b.length }), b, Buffer.alloc(padding(b.length)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function* once(b: Buffer) {
  yield b;
}
async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

const layer = tar([
  [h('etc/', { type: 'dir', mode: 0o755 })],
  [h('etc/hosts', { mode: 0o644, uid: 1000, gid: 1000 }), '127.0.0.1 localhost\n'],
  [h('etc/.wh.passwd')],
  [h('opaque/', { type: 'dir', mode: 0o750 })],
  [h('opaque/.wh..wh..opq')],
  [h('opaque/new', { mode: 0o600 }), 'x'],
  [h('bin/', { type: 'dir' })],
  [h('bin/tool', { mode: 0o4755 }), '#!/bin/sh\n'],
  [h('bin/tool2', { type: 'link', linkname: 'bin/tool' })],
  [h('bin/sh', { type: 'symlink', linkname: '/bin/busybox' })],
  [h('dev/', { type: 'dir' })],
  [h('dev/null', { type: 'char', mode: 0o666, devmajor: 1, devminor: 3 })],
  [h('fifo', { type: 'fifo', mode: 0o600 })],
  [
    h('cap', {
      xattrs: new Map([
        ['security.capability', Buffer.from([1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
      ]),
    }),
    'c',
  ],
]);

test('upper dir -> tar: whiteouts and opaque dirs come back as .wh. entries; applying it again gives the same tree and bytes', async () => {
  const a = `${tmp}/a`,
    b = `${tmp}/b`;
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  await applyLayer(a, once(layer));
  assert.ok(fs.lstatSync(`${a}/etc/passwd`).isCharacterDevice());
  assert.equal(native.lgetxattr(`${a}/opaque`, 'trusted.overlay.opaque')?.toString(), 'y');
  const t1 = await collect(diffDirTar(a));
  const names: string[] = [];
  let off = 0;
  while (off < t1.length && t1[off] !== 0) {
    const name = t1.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
    const size = parseInt(t1.toString('latin1', off + 124, off + 136).replace(/\0.*$/, ''), 8) || 0;
    const flag = String.fromCharCode(t1[off + 156]!);
    if (flag !== 'x') names.push(name);
    off += 512 + size + padding(size);
  }
  assert.deepEqual(names, [
    'bin/',
    'bin/sh',
    'bin/tool',
    'bin/tool2',
    'cap',
    'dev/',
    'dev/null',
    'etc/',
    'etc/hosts',
    'etc/.wh.passwd',
    'fifo',
    'opaque/',
    'opaque/.wh..wh..opq',
    'opaque/new',
  ]);
  const r = await applyLayer(b, once(t1));
  assert.equal(r.diffID, `sha256:${createHash('sha256').update(t1).digest('hex')}`);
  const t2 = await collect(diffDirTar(b));
  assert.ok(t1.equals(t2), 'deterministic: the same content gives the same bytes');
  assert.equal(fs.lstatSync(`${b}/bin/tool`).mode & 0o7777, 0o4755);
  assert.equal(fs.lstatSync(`${b}/bin/tool`).ino, fs.lstatSync(`${b}/bin/tool2`).ino);
  assert.equal(fs.lstatSync(`${b}/etc/hosts`).uid, 1000);
  assert.equal(fs.readlinkSync(`${b}/bin/sh`), '/bin/busybox');
  assert.equal(fs.lstatSync(`${b}/dev/null`).rdev, fs.lstatSync('/dev/null').rdev);
  assert.ok(fs.lstatSync(`${b}/fifo`).isFIFO());
  assert.ok(native.lgetxattr(`${b}/cap`, 'security.capability'));
  assert.equal(native.lgetxattr(`${b}/opaque`, 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(fs.statSync(`${b}/etc/hosts`).mtimeMs, 1700000000 * 1000);
});
