import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { applyLayer } from '../../src/archive/layer-apply.js';
import { buildTar, chunked } from '../helpers/tarbuild.js';

// Cases where Docker's unpacker is lenient or skips things, and berth must do the same.
const tmp = fs.mkdtempSync('/var/tmp/berth-compat-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = `${tmp}/${n++}`;
  fs.mkdirSync(d);
  return d;
};

test('a user.* xattr on a symlink (EPERM) is ignored, the layer applies', async () => {
  const root = fresh();
  await applyLayer(
    root,
    chunked(
      buildTar([
        { name: 'l', type: 'symlink', linkname: 'x', xattrs: { 'user.a': 'b' } },
        { name: 'f', body: 'x', xattrs: { 'user.a': 'b' } },
      ]),
    ),
  );
  assert.equal(fs.readlinkSync(`${root}/l`), 'x');
  assert.equal(fs.readFileSync(`${root}/f`, 'utf8'), 'x');
});

test('AUFS metadata dirs (.wh..wh.plnk) at the top are skipped with their content', async () => {
  const root = fresh();
  await applyLayer(
    root,
    chunked(
      buildTar([
        { name: '.wh..wh.plnk/', type: 'dir' },
        { name: '.wh..wh.plnk/123.456', body: 'hardlink target' },
        { name: 'a', body: 'a' },
      ]),
    ),
  );
  assert.deepEqual(fs.readdirSync(root), ['a']);
});

test('a zstd frame asking for a window over 128 MiB is refused before allocating it', async () => {
  const root = fresh();
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  await assert.rejects(applyLayer(root, chunked(frame)), /zstd frame asks for a 1073741824-byte window/);
  assert.deepEqual(fs.readdirSync(root), []);
});
