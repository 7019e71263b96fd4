/**
 * Several berth processes on one data root at once (no daemon: the store lock,
 * per-layer locks and journals must keep them apart):
 *   - loads of archives that share layers, started together, all succeed and
 *     each layer is extracted and stored once;
 *   - concurrent tag/rmi on different images never lose an update and never
 *     leave repositories.json unreadable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { BERTH, berthOk, debootstrapTar } from '../helpers/berth.js';
import {
  DEBOOTSTRAP_GROUPS,
  chainOf,
  debootstrapGroup,
  imageIdOf,
  splitRootfsTar,
  syntheticLayer,
  writeDockerArchive,
  type ArchiveImage,
} from '../helpers/layered.js';
import { Tracked } from '../helpers/tracked.js';
import { checkClean, snapshot } from '../helpers/store-state.js';

const TIMEOUT = 30 * 60 * 1000;
const tracked = new Tracked();
const { roots, children } = tracked;
const newRoot = (prefix: string) => tracked.newRoot(prefix);

async function berthAsync(
  root: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(BERTH, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '',
    stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  children.delete(child);
  return { code, stdout, stderr };
}

async function berthAsyncOk(root: string, args: string[]): Promise<string> {
  const r = await berthAsync(root, args);
  if (r.code !== 0)
    throw new Error(`berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

interface Fx {
  dir: string;
  images: Record<string, ArchiveImage>;
  archives: Record<string, { path: string; images: ArchiveImage[] }>;
}
let fx: Promise<Fx> | undefined;
function fixtures(): Promise<Fx> {
  return (fx ??= (async () => {
    const dir = newRoot('berth-conc-fx').root;
    const L = splitRootfsTar(debootstrapTar(), DEBOOTSTRAP_GROUPS.length, debootstrapGroup, 'debootstrap5');
    const s1 = syntheticLayer(dir, 's1', 40, 50_000, 1);
    const s2 = syntheticLayer(dir, 's2', 400, 3_000, 2);
    const s3 = syntheticLayer(dir, 's3', 20, 100_000, 3);
    const images: Record<string, ArchiveImage> = {
      five: { layers: L, tags: ['conc/five:latest'], label: 'five' },
      six: { layers: [...L, s1], tags: ['conc/six:latest'], label: 'six' },
      alt: { layers: [L[0]!, L[1]!, s2], tags: ['conc/alt:latest'], label: 'alt' },
      alt3: { layers: [L[0]!, L[1]!, s2, s3], tags: ['conc/alt3:latest'], label: 'alt3' },
    };
    const archives: Fx['archives'] = {};
    for (const [name, imgs] of Object.entries({
      a: [images.five!],
      b: [images.six!, images.alt!],
      c: [images.alt3!, images.five!],
    })) {
      const path = `${dir}/${name}.tar`;
      await writeDockerArchive(path, imgs);
      archives[name] = { path, images: imgs };
    }
    return { dir, images, archives };
  })());
}

/** Assert a root holds exactly these images, each layer once, and passes a full check. */
function assertStore(root: string, imgs: ArchiveImage[], what: string): void {
  const chains = new Set(imgs.flatMap((i) => chainOf(i).map((c) => c.slice(7))));
  const snap = snapshot(root);
  assert.deepEqual(snap.layers, [...chains].sort(), `${what}: layerdb holds other layers than the images' chains`);
  assert.equal(
    snap.rawOverlay.length,
    chains.size,
    `${what}: overlay2 dirs ${snap.rawOverlay.length} != unique layers ${chains.size}: ${snap.overlay.join(', ')}`,
  );
  assert.equal(
    snap.rawLinks.length,
    chains.size,
    `${what}: l/ links ${snap.rawLinks.length} != unique layers ${chains.size}: ${snap.links.join(', ')}`,
  );
  assert.deepEqual(snap.overlay, [...chains].map((c) => `layer:${c}`).sort(), `${what}: overlay2 dirs`);
  assert.deepEqual(snap.links, [...chains].map((c) => `link:${c}`).sort(), `${what}: l/ links`);
  assert.deepEqual(snap.staging, [], `${what}: staging areas not empty`);
  const want = [...new Set(imgs.flatMap((i) => i.tags.map((t) => `${imageIdOf(i)} ${t}`)))].sort();
  assert.deepEqual(snap.images, want, `${what}: images`);
  const c = checkClean(root);
  assert.ok(c.ok, `${what}: system check: ${c.output}`);
}

test(
  'concurrent loads of archives sharing layers: all succeed, each layer stored once',
  { timeout: TIMEOUT },
  async (t) => {
    const f = await fixtures();
    const rounds: Array<{ name: string; archives: string[] }> = [
      { name: 'a+b', archives: ['a', 'b'] },
      { name: 'b+a', archives: ['b', 'a'] },
      { name: 'a+b (again)', archives: ['a', 'b'] },
      { name: 'a+b+c', archives: ['a', 'b', 'c'] },
      { name: 'b+b (the same archive twice)', archives: ['b', 'b'] },
    ];
    for (const round of rounds) {
      const r = newRoot('berth-conc-load');
      const t0 = Date.now();
      const results = await Promise.all(
        round.archives.map((a) => berthAsync(r.root, ['load', '-i', f.archives[a]!.path])),
      );
      results.forEach((res, i) =>
        assert.equal(res.code, 0, `${round.name}: load of ${round.archives[i]} failed: ${res.stderr}`),
      );
      t.diagnostic(`${round.name}: ${Date.now() - t0} ms`);
      const imgs = [...new Set(round.archives.flatMap((a) => f.archives[a]!.images))];
      assertStore(r.root, imgs, round.name);
      r.remove();
      roots.delete(r);
    }
  },
);

test('concurrent load onto a store that already holds some of the layers', { timeout: TIMEOUT }, async () => {
  const f = await fixtures();
  const r = newRoot('berth-conc-load2');
  berthOk(r.root, ['load', '-i', f.archives.a!.path]);
  const results = await Promise.all([
    berthAsync(r.root, ['load', '-i', f.archives.b!.path]),
    berthAsync(r.root, ['load', '-i', f.archives.c!.path]),
  ]);
  results.forEach((res) => assert.equal(res.code, 0, res.stderr));
  assertStore(r.root, [...f.archives.a!.images, ...f.archives.b!.images, ...f.archives.c!.images], 'b+c onto a');
});

test("operations starting at the same moment do not break each other's journals", { timeout: TIMEOUT }, async (t) => {
  // Every rmi begins a journaled transaction (before resolving its argument) and every
  // command's store open recovers dead journals: many of them at once stress the window
  // in which one process's new journal exists but is not yet locked.
  const r = newRoot('berth-conc-txn');
  berthOk(r.root, ['images']);
  const WORKERS = 6,
    ROUNDS = 15;
  const failures: string[] = [];
  let n = 0;
  const worker = async (i: number) => {
    for (let k = 0; k < ROUNDS; k++) {
      const res = await berthAsync(r.root, ['rmi', `conc/missing${i}:r${k}`]);
      n++;
      if (res.code !== 1 || !/No such image/.test(res.stderr))
        failures.push(`rmi conc/missing${i}:r${k}: exit ${res.code}: ${res.stderr.split('\n')[0]}`);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
  t.diagnostic(`${n} concurrent rmi commands, ${failures.length} failed other than "No such image"`);
  assert.deepEqual(failures, []);
  const c = checkClean(r.root);
  assert.ok(c.ok, c.output);
});

test(
  '4 concurrent tag/rmi sequences on different images keep repositories.json valid and complete',
  { timeout: TIMEOUT },
  async (t) => {
    const f = await fixtures();
    const r = newRoot('berth-conc-tag');
    const imgs = Array.from({ length: 4 }, (_, i): ArchiveImage => ({
      layers: [syntheticLayer(`${f.dir}/tag`, `t${i}`, 3, 1000, 100 + i)],
      tags: [`conc/img${i}:latest`],
      label: `img${i}`,
    }));
    const archive = `${f.dir}/tag.tar`;
    await writeDockerArchive(archive, imgs);
    berthOk(r.root, ['load', '-i', archive]);
    const repos = `${r.root}/image/overlay2/repositories.json`;

    // a reader parsing repositories.json all the time: it is replaced atomically, so it must always parse
    let reads = 0;
    const invalid: string[] = [];
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        try {
          JSON.parse(fs.readFileSync(repos, 'utf8'));
          reads++;
        } catch (err) {
          invalid.push((err as Error).message);
        }
        await new Promise((res) => setTimeout(res, 2));
      }
    })();

    const TAGS = 8;
    const worker = async (i: number) => {
      const base = `conc/img${i}`;
      for (let k = 1; k <= TAGS; k++) await berthAsyncOk(r.root, ['tag', `${base}:latest`, `${base}:t${k}`]);
      await berthAsyncOk(r.root, ['tag', `${base}:latest`, `conc/shared${i}:x`]);
      for (let k = 1; k <= TAGS / 2; k++) {
        const out = await berthAsyncOk(r.root, ['rmi', `${base}:t${k}`]);
        assert.match(out, new RegExp(`Untagged: ${base}:t${k}`));
      }
      // images 2 and 3 are deleted entirely (by id, forced: they have several tags)
      if (i >= 2) {
        const out = await berthAsyncOk(r.root, ['rmi', '-f', imageIdOf(imgs[i]!)]);
        assert.match(out, /Deleted: sha256:/);
      }
    };
    const t0 = Date.now();
    try {
      await Promise.all([0, 1, 2, 3].map(worker));
    } finally {
      stop = true;
      await reader;
    }
    t.diagnostic(`4 workers: ${Date.now() - t0} ms; repositories.json parsed ${reads} times while they ran`);
    assert.deepEqual(invalid, [], 'repositories.json was unreadable at some point');

    const want: Record<string, Record<string, string>> = {};
    for (const i of [0, 1]) {
      const id = imageIdOf(imgs[i]!);
      want[`conc/img${i}`] = Object.fromEntries(
        [`conc/img${i}:latest`, ...Array.from({ length: TAGS / 2 }, (_, k) => `conc/img${i}:t${k + 1 + TAGS / 2}`)].map(
          (tg) => [tg, id],
        ),
      );
      want[`conc/shared${i}`] = { [`conc/shared${i}:x`]: id };
    }
    const got = JSON.parse(fs.readFileSync(repos, 'utf8')) as { Repositories: Record<string, Record<string, string>> };
    assert.deepEqual(got.Repositories, want);
    assertStore(
      r.root,
      [0, 1].map((i) => ({ ...imgs[i]!, tags: Object.keys(want[`conc/img${i}`]!).concat(`conc/shared${i}:x`) })),
      'after tag/rmi',
    );
  },
);
