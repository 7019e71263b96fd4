import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';
import { dockerArchive, hdr, makeTar } from '../helpers/archive.js';
import { snapshot } from '../helpers/store-state.js';

const t = tempRoot('berth-repo-name');
after(() => t.remove());

const hex = 'c'.repeat(64);

test('a 64-hex repository name is refused by every command that names an image, and nothing is stored', () => {
  const root = `${t.root}/store`;
  const rootfs = makeTar([
    [hdr('bin/', { type: 'dir' })],
    [hdr('etc/', { type: 'dir' })],
    [hdr('etc/hostname'), 'box\n'],
  ]);
  const tarPath = `${t.root}/rootfs.tar`;
  fs.writeFileSync(tarPath, rootfs);
  berthOk(root, ['import', tarPath, 'base:1']);
  const ctr = berthOk(root, ['create', '--name', 'c1', 'base:1', '/bin/true']).trim();
  const ctx = `${t.root}/ctx`;
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(`${ctx}/Dockerfile`, 'FROM base:1\nLABEL a=b\n');
  const before = snapshot(root);
  for (const name of [hex, `${hex}:v1`, `docker.io/library/${hex}`]) {
    const runs: Array<[string, string[], Buffer?]> = [
      ['tag', ['tag', 'base:1', name]],
      ['import', ['import', tarPath, name]],
      ['commit', ['commit', ctr, name]],
      ['build -t', ['build', '-q', '-t', name, ctx]],
      ['load', ['load'], dockerArchive([{ layers: [rootfs], tags: [name] }])],
    ];
    for (const [what, args, input] of runs) {
      const r = berth(root, args, input ? { input } : {});
      assert.equal(r.code, 1, `${what} ${name}: ${r.stdout}`);
      assert.match(
        r.stderr,
        /invalid repository name \(.*\), cannot specify 64-byte hexadecimal strings/,
        `${what} ${name}`,
      );
      assert.deepEqual(snapshot(root), before, `${what} ${name} stored nothing`);
    }
  }
  // a 64-hex path under a namespace is not ambiguous, and an image is still found by its full ID
  berthOk(root, ['tag', 'base:1', `me/${hex}`]);
  const id = JSON.parse(berthOk(root, ['image', 'inspect', 'base:1']))[0].Id as string;
  assert.equal(JSON.parse(berthOk(root, ['image', 'inspect', id.slice(7)]))[0].Id, id);
});
