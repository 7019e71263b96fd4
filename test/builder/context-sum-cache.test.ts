import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openContext } from '../../src/builder/context/context.js';
import { resolveSources } from '../../src/builder/context/sources.js';
import { tempRoot } from '../helpers/berth.js';

test('context file sums are remembered between builds and never used for a changed file', async () => {
  const t = tempRoot('berth-sumcache');
  try {
    const ctxDir = `${t.root}/ctx`;
    const cacheDir = `${t.root}/cache`;
    fs.mkdirSync(`${ctxDir}/d`, { recursive: true });
    fs.writeFileSync(`${ctxDir}/Dockerfile`, 'FROM scratch\n');
    fs.writeFileSync(`${ctxDir}/d/a`, 'aaaa');
    fs.writeFileSync(`${ctxDir}/d/fresh`, 'f');
    await sleep(2100);
    fs.writeFileSync(`${ctxDir}/d/fresh`, 'g'); // changed just now: not remembered
    // (dated an hour ahead, so that it stays "just changed" however slowly this test goes on)
    const ahead = new Date(Date.now() + 3600_000);
    fs.utimesSync(`${ctxDir}/d/fresh`, ahead, ahead);
    const hashes = async () => {
      const c = await openContext({ dir: ctxDir }, {}, { sumCacheDir: cacheDir });
      const out = { dir: (await resolveSources(c, 'd'))[0]!.hash, a: (await resolveSources(c, 'd/a'))[0]!.hash };
      await c.dispose();
      return out;
    };
    const plain = await openContext({ dir: ctxDir });
    const want = { dir: (await resolveSources(plain, 'd'))[0]!.hash, a: (await resolveSources(plain, 'd/a'))[0]!.hash };
    assert.deepEqual(await hashes(), want);
    const files = fs.readdirSync(cacheDir);
    assert.equal(files.length, 1);
    const saved = JSON.parse(fs.readFileSync(`${cacheDir}/${files[0]}`, 'utf8'));
    assert.ok(saved['d/a'], 'an old file is remembered');
    assert.equal(saved['d/fresh'], undefined, 'a file changed in the last seconds is not');
    // a poisoned entry with the file's current key shows the cache is read ...
    saved['d/a'][1] = 'f'.repeat(64);
    fs.writeFileSync(`${cacheDir}/${files[0]}`, JSON.stringify(saved));
    assert.equal((await hashes()).a, `file:${'f'.repeat(64)}`);
    // ... and any change to the file (same size, new content) makes it hash again
    fs.writeFileSync(`${ctxDir}/d/a`, 'bbbb');
    const after = await hashes();
    assert.notEqual(after.a, want.a);
    assert.notEqual(after.a, `file:${'f'.repeat(64)}`);
  } finally {
    t.remove();
  }
});
