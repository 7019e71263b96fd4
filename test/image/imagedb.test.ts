/** imagedb: configs are content-addressed and verified against their id when read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ImageDB } from '../../src/image/imagedb.js';
import { StorePaths } from '../../src/storage/paths.js';
import { tempRoot } from '../helpers/berth.js';

test('a config is verified against its id: a changed file is refused with the id named; a removed one is not found', (t) => {
  const tmp = tempRoot('berth-imagedb');
  t.after(() => tmp.remove());
  const paths = new StorePaths(tmp.root);
  const db = new ImageDB(paths);
  db.init();
  const bytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const id = db.put(bytes);
  assert.deepEqual(db.getBytes(id), bytes);
  assert.equal(db.get(id).os, 'linux');
  // tampered on disk: a reader that has not seen it yet refuses it
  const file = `${paths.imagedbContent}/${id.slice('sha256:'.length)}`;
  fs.writeFileSync(file, Buffer.concat([bytes, Buffer.from(' ')]));
  assert.throws(
    () => new ImageDB(paths).getBytes(id),
    (e: Error & { kind?: string }) =>
      e.kind === 'Corrupt' && e.message.includes(`image ${id}: config content does not match its id`),
  );
  // also a reader that read it before: its cache serves only the file it read (another process may change the store)
  assert.throws(
    () => db.getBytes(id),
    (e: Error & { kind?: string }) => e.kind === 'Corrupt',
  );
  fs.writeFileSync(file, bytes);
  assert.deepEqual(db.getBytes(id), bytes);
  // removed by another process (not through this ImageDB): not found, not served from the cache
  fs.rmSync(file);
  assert.throws(() => db.getBytes(id), /No such image/);
  db.put(bytes);
  db.delete(id);
  assert.throws(() => db.getBytes(id), /No such image/);
});
