import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { ImageStore } from '../../src/image/store.js';
import * as native from '../../src/native/index.js';
import { diffDirTar } from '../../src/archive/diff-tar.js';
import { tempRoot } from '../helpers/berth.js';

async function sha(src: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of src) h.update(c);
  return `sha256:${h.digest('hex')}`;
}

test('a directory in overlay2 diff format becomes a layer by rename: same diffID as its tar, exact tar rebuilt, overlayfs bookkeeping xattrs gone', async () => {
  const t = tempRoot('berth-adopt');
  try {
    const store = await ImageStore.open(`${t.root}/store`);
    const dir = `${t.root}/upper`;
    fs.mkdirSync(`${dir}/app/sub`, { recursive: true });
    fs.writeFileSync(`${dir}/app/a.txt`, 'a\n');
    fs.writeFileSync(`${dir}/app/sub/b`, Buffer.alloc(70000, 7));
    fs.symlinkSync('a.txt', `${dir}/app/link`);
    fs.linkSync(`${dir}/app/a.txt`, `${dir}/app/hard`);
    native.mknod(`${dir}/app/gone`, 0o20000, 0, 0); // a whiteout
    fs.mkdirSync(`${dir}/opaque`);
    native.lsetxattr(`${dir}/opaque`, 'trusted.overlay.opaque', Buffer.from('y'), 0);
    native.lsetxattr(`${dir}/app`, 'trusted.overlay.origin', Buffer.from([0, 1, 2]), 0);
    native.lsetxattr(`${dir}/app`, 'trusted.overlay.impure', Buffer.from('y'), 0);
    native.lsetxattr(dir, 'trusted.overlay.uuid', Buffer.alloc(16, 1), 0);
    const layer = await store.withTxn('test', (txn) => store.layers.adopt(txn, undefined, dir, (fn) => store.lock(fn)));
    assert.ok(!fs.existsSync(dir), 'the directory was moved');
    const diff = `${store.paths.cacheDir(layer.cacheId)}/diff`;
    assert.equal(fs.readFileSync(`${diff}/app/a.txt`, 'utf8'), 'a\n');
    assert.deepEqual(
      native.llistxattr(`${diff}/app`).filter((n) => n.startsWith('trusted.')),
      [],
    );
    assert.deepEqual(
      native.llistxattr(diff).filter((n) => n.startsWith('trusted.')),
      [],
    );
    assert.equal(native.lgetxattr(`${diff}/opaque`, 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(layer.diffID, await sha(diffDirTar(diff)), 'the diffID is the tar of the moved files');
    assert.equal(await sha(store.layers.tar(layer.chainID)), layer.diffID, 'tar-split + diff/ rebuild the exact tar');
    assert.equal(layer.size, 2 + 70000 + 5);
    assert.equal(
      native.lremovexattr(diff, 'trusted.overlay.uuid'),
      false,
      'lremovexattr: absent is false, not an error',
    );
  } finally {
    t.remove();
  }
});
