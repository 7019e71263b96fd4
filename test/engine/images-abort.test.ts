import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Engine } from '../../src/engine/engine.js';
import { BerthError } from '../../src/core/errors.js';
import { loadArchive } from '../../src/image/load.js';
import { tempRoot } from '../helpers/berth.js';
import { syntheticLayer, writeDockerArchive, type ArchiveImage } from '../helpers/layered.js';
import { checkClean, copyRoot, diffSnapshots, snapshot, type StoreSnapshot } from '../helpers/store-state.js';

/**
 * load, save and import stopped by an AbortSignal at several points of real work (a 4-layer
 * docker-archive of a few thousand files): each rejects with the "aborted" error, and the store is
 * exactly as before (same layers, dirs, links and names; no journal, staging entry or layer lock left;
 * `system check` clean), as a failed operation leaves it. An abort after the images were written is
 * too late: the load then succeeds and the store is the loaded one.
 */
const work = tempRoot('berth-abort');
after(() => work.remove());

let archive = '';
let layerTar = '';
let seeded = '';
before(async () => {
  const dir = `${work.root}/layers`;
  const layers = [0, 1, 2, 3].map((i) => syntheticLayer(dir, `l${i}`, 1500, 4096, 11 + i));
  const images: ArchiveImage[] = [
    { layers, tags: ['abort/four:1'] },
    { layers: layers.slice(0, 2), tags: ['abort/two:1'], label: 'two' },
  ];
  archive = `${work.root}/four.tar`;
  await writeDockerArchive(archive, images);
  layerTar = layers[0]!.path;
  // a store that already holds something: an abort must keep it exactly
  seeded = `${work.root}/seeded`;
  const e = await Engine.open({ root: seeded });
  const base = `${work.root}/base.tar`;
  await writeDockerArchive(base, [{ layers: [syntheticLayer(dir, 'base', 10, 100, 99)], tags: ['abort/base:1'] }]);
  await e.images.load({ path: base });
});

/** A copy of the seeded store for one case, its snapshot, and an engine on it. */
async function freshStore(name: string): Promise<{ root: string; before: StoreSnapshot; engine: Engine }> {
  const root = `${work.root}/${name}`;
  fs.mkdirSync(root);
  copyRoot(seeded, root);
  const before = snapshot(root);
  return { root, before, engine: await Engine.open({ root }) };
}

/** Nothing of the stopped operation is left, before any later command could have recovered it. */
function assertUnchanged(root: string, before: StoreSnapshot): void {
  const ls = (p: string) => (fs.existsSync(p) ? fs.readdirSync(p) : []);
  assert.deepEqual(ls(`${root}/berth/txn`), [], 'the journal is settled by the aborted operation itself');
  assert.deepEqual(
    ls(`${root}/berth/locks`).filter((n) => n.startsWith('layer-')),
    [],
    'no layer lock file is left',
  );
  assert.deepEqual(ls(`${root}/berth/tmp`), [], 'no spool file is left');
  assert.deepEqual(diffSnapshots(snapshot(root), before, true), []);
  const c = checkClean(root);
  assert.ok(c.ok, c.output);
}

async function assertAborted(p: Promise<unknown>, action: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BerthError, String(err));
    assert.equal(err.code, 'aborted');
    assert.equal(err.message, `${action}: aborted (test stops it)`);
    return true;
  });
}

/** Resolves when `dir` gets an entry. */
function whenEntryIn(dir: string): Promise<void> {
  return new Promise((resolve) => {
    const w = fs.watch(dir, () => {
      w.close();
      resolve();
    });
  });
}

const STOP = 'test stops it';

test('load: an abort before it starts changes nothing', async () => {
  const { root, before, engine } = await freshStore('pre');
  await assertAborted(engine.images.load({ path: archive }, { signal: AbortSignal.abort(STOP) }), 'load');
  assertUnchanged(root, before);
});

test('load in worker threads: aborted once the layers are being extracted, the store is as before', async () => {
  const { root, before, engine } = await freshStore('workers');
  const ac = new AbortController();
  const started = whenEntryIn(`${root}/overlay2`).then(() => sleep(30));
  const p = engine.images.load({ path: archive }, { signal: ac.signal });
  await started;
  ac.abort(STOP);
  await assertAborted(p, 'load');
  assertUnchanged(root, before);
});

test('load on the calling thread: aborted while the layer is extracted, the store is as before', async () => {
  const { root, before, engine } = await freshStore('inline');
  const ac = new AbortController();
  const old = fs.readdirSync(`${root}/overlay2`);
  const p = loadArchive(engine.store, { path: archive }, { parallel: false, signal: ac.signal });
  // a new layer's first directory was written: the extraction is under way
  const extracting = () =>
    fs
      .readdirSync(`${root}/overlay2`)
      .some((n) => !old.includes(n) && n.length === 64 && fs.existsSync(`${root}/overlay2/${n}/diff/opt`));
  while (!extracting()) await sleep(1);
  ac.abort(STOP);
  await assertAborted(p, 'load');
  assertUnchanged(root, before);
});

test('load from a stream: aborted while the archive is spooled, the spool file goes', async () => {
  const { root, before, engine } = await freshStore('spool');
  const ac = new AbortController();
  const input = new PassThrough();
  const fd = fs.openSync(archive, 'r');
  const head = Buffer.alloc(1 << 20);
  input.write(head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)));
  fs.closeSync(fd);
  const p = engine.images.load(input, { signal: ac.signal });
  // the spool file exists and holds the first MiB; the rest never comes
  const spooled = () =>
    fs.existsSync(`${root}/berth/tmp`) && fs.readdirSync(`${root}/berth/tmp`).some((n) => n.startsWith('load-'));
  while (!spooled()) await sleep(5);
  ac.abort(STOP);
  await assertAborted(p, 'load');
  input.destroy();
  assertUnchanged(root, before);
});

test('load: aborted at timed points, the store is as before or (too late) fully loaded', async () => {
  // how long a load takes here, to spread the points over it
  const probe = await freshStore('probe');
  const t0 = performance.now();
  await probe.engine.images.load({ path: archive });
  const full = performance.now() - t0;
  const loaded = snapshot(probe.root);
  let aborted = 0;
  for (const frac of [0.1, 0.3, 0.5, 0.7, 0.9, 1.1]) {
    const { root, before, engine } = await freshStore(`timed-${frac}`);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(STOP), frac * full);
    const res = await engine.images.load({ path: archive }, { signal: ac.signal }).then(
      () => 'loaded' as const,
      (err: unknown) => err,
    );
    clearTimeout(timer);
    if (res === 'loaded') {
      assert.deepEqual(diffSnapshots(snapshot(root), loaded, false), [], `abort at ${frac}: loaded store`);
      continue;
    }
    assert.ok(res instanceof BerthError && res.code === 'aborted', `abort at ${frac}: ${String(res)}`);
    aborted++;
    assertUnchanged(root, before);
  }
  assert.ok(aborted >= 2, `only ${aborted} of the timed aborts landed during the load`);
});

test('import: aborted while the rootfs is extracted, the store is as before', async () => {
  const { root, before, engine } = await freshStore('import');
  const ac = new AbortController();
  // a stream that stops after 2 MiB: the abort finds the import waiting for more
  const input = new PassThrough();
  const fd = fs.openSync(layerTar, 'r');
  const head = Buffer.alloc(2 << 20);
  input.write(head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)));
  fs.closeSync(fd);
  const started = whenEntryIn(`${root}/overlay2`);
  const p = engine.images.import(input, { repo: 'abort/imported', signal: ac.signal });
  await started;
  await sleep(50);
  // the import now waits for more input, which never comes: the abort must not wait for it
  ac.abort(STOP);
  await assertAborted(p, 'import');
  input.destroy();
  assertUnchanged(root, before);
});

test('save to a file: aborted, the path keeps what it held and nothing is staged beside it', async () => {
  const { root, engine } = await freshStore('save');
  await engine.images.load({ path: archive });
  const outDir = `${work.root}/save-out`;
  fs.mkdirSync(outDir);
  // how long a whole save takes here, to spread the aborts over it
  const t0 = performance.now();
  await engine.images.saveToFile(['abort/four:1'], `${outDir}/probe.tar`);
  const full = performance.now() - t0;
  fs.rmSync(`${outDir}/probe.tar`);
  const out = `${outDir}/saved.tar`;
  fs.writeFileSync(out, 'what was there\n');
  await assertAborted(engine.images.saveToFile(['abort/four:1'], out, { signal: AbortSignal.abort(STOP) }), 'save');
  let aborted = 0;
  for (const frac of [0.05, 0.2, 0.4, 0.6]) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(STOP), frac * full);
    const res = await engine.images.saveToFile(['abort/four:1'], out, { signal: ac.signal }).then(
      () => 'saved' as const,
      (err: unknown) => err,
    );
    clearTimeout(timer);
    if (res === 'saved') {
      fs.writeFileSync(out, 'what was there\n');
      continue;
    }
    assert.ok(res instanceof BerthError && res.code === 'aborted', `abort at ${frac}: ${String(res)}`);
    aborted++;
    assert.equal(fs.readFileSync(out, 'utf8'), 'what was there\n', `abort at ${frac}: the old file is kept`);
    assert.deepEqual(fs.readdirSync(outDir), ['saved.tar'], `abort at ${frac}: nothing staged is left`);
  }
  assert.ok(aborted >= 1, 'no timed abort landed during the save');
  assert.ok(checkClean(root).ok);
});

test('save as a stream: an abort ends the stream with the aborted error', async () => {
  const { engine } = await freshStore('save-stream');
  await engine.images.load({ path: archive });
  const ac = new AbortController();
  const s: Readable = engine.images.save(['abort/four:1'], { signal: ac.signal });
  let bytes = 0;
  await assert.rejects(
    (async () => {
      for await (const c of s) {
        bytes += (c as Buffer).length;
        if (bytes > 2 << 20) ac.abort(STOP);
      }
    })(),
    (err: unknown) => err instanceof BerthError && err.code === 'aborted',
  );
  assert.ok(bytes < fs.statSync(archive).size, 'the stream stopped before the end');
});
