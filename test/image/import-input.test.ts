/**
 * `import FILE`: a missing, unreadable or directory input is a message naming the file, exit 1, nothing
 * stored (it was "apply rootfs tarball: ENOENT", which named neither the file nor the problem).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';
import { hdr, makeTar } from '../helpers/archive.js';
import { snapshot } from '../helpers/store-state.js';

const t = tempRoot('berth-import-input');
after(() => t.remove());

test('import FILE: a missing or directory input is a message naming it, exit 1, nothing stored', () => {
  const root = `${t.root}/root`;
  const tar = `${t.root}/rootfs.tar`;
  fs.writeFileSync(tar, makeTar([[hdr('etc/hostname'), 'box\n']]));
  berthOk(root, ['import', tar, 'seed:1']);
  const before = snapshot(root);
  fs.mkdirSync(`${t.root}/a-directory`);
  const cases: Array<[string, RegExp]> = [
    [`${t.root}/no-such.tar`, /^Error response from berth: open ".*\/no-such.tar": no such file or directory$/m],
    [`${t.root}/no-dir/x.tar`, /open ".*\/no-dir\/x.tar": no such file or directory/],
    [`${t.root}/a-directory`, /read ".*\/a-directory": is a directory/],
  ];
  for (const [path, re] of cases) {
    const r = berth(root, ['import', path, 'imp:1']);
    assert.equal(r.code, 1, path);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at |ENOENT|EISDIR|Error:/, 'no stack trace or raw Node error');
    assert.deepEqual(snapshot(root), before, path);
  }
  // a file that is there still imports, by path
  assert.match(berthOk(root, ['import', tar, 'imp:2']), /^sha256:[0-9a-f]{64}\n$/);
});
