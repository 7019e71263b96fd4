/**
 * LayerStore.size: a layer's size from its size file alone (what listing images sums), as `require` reads it; a
 * missing layer or a size that is not a number fails as `require` does.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { chainIDs, hexOf, sha256, type ChainID } from '../../src/core/digest.js';
import { BerthError } from '../../src/core/errors.js';
import { ImageStore } from '../../src/image/store.js';
import { imageSize } from '../../src/image/views.js';
import { berthOk, tempRoot } from '../helpers/berth.js';

const tmp = tempRoot('berth-layer-size');
after(() => tmp.remove());

test('size: the size file, as require and the image views read it; errors as require', async () => {
  berthOk(tmp.root, ['image', 'from-host', 'base', 'sh', 'true']);
  const store = await ImageStore.open(tmp.root);
  const id = store.resolve('base');
  const chain = chainIDs(store.images.get(id).rootfs.diff_ids);
  assert.ok(chain.length > 0);
  for (const c of chain) {
    assert.equal(store.layers.size(c), store.layers.require(c).size);
    assert.ok(store.layers.size(c) > 0, 'a layer with files has a size');
  }
  assert.equal(
    imageSize(store, id),
    store.imageLayers(id).reduce((a, l) => a + l.size, 0),
  );

  const missing = `sha256:${sha256(Buffer.from('no such layer')).slice(7)}` as ChainID;
  const kindOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof BerthError ? `${e.kind}/${e.code}` : String(e);
    }
    return 'no error';
  };
  assert.equal(
    kindOf(() => store.layers.size(missing)),
    kindOf(() => store.layers.require(missing)),
  );
  assert.match(
    kindOf(() => store.layers.size(missing)),
    /^NotFound\//,
  );

  const sizeFile = `${store.paths.layerDir(hexOf(chain[0]!))}/size`;
  const saved = fs.readFileSync(sizeFile);
  fs.writeFileSync(sizeFile, 'twelve');
  try {
    assert.equal(
      kindOf(() => store.layers.size(chain[0]!)),
      kindOf(() => store.layers.require(chain[0]!)),
    );
    assert.notEqual(
      kindOf(() => store.layers.size(chain[0]!)),
      'no error',
    );
  } finally {
    fs.writeFileSync(sizeFile, saved);
  }
});
