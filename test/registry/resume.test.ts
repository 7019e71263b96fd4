/**
 * Resumable pulls: a registry written for the test (test/helpers/registry.ts, in this process) serves an
 * image whose big layer is random bytes, and drops the connection after N bytes, stalls, ignores or refuses
 * ranges. A dropped connection is resumed with a Range in the same pull; a pull that fails keeps the bytes it
 * got in berth/partial/ and the next pull asks only for the rest (the registry's byte counters say how much
 * it sent); a registry that ignores or refuses the Range makes the pull start over; wrong kept bytes cost
 * the partial file, never a bad layer; a registry that stalls fails in bounded time with a clear error;
 * `system check` lists partial files (not as problems) and `system prune` removes those no pull holds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Engine } from '../../src/engine/index.js';
import { BerthError } from '../../src/core/errors.js';
import { PartialBlob } from '../../src/storage/partial-blobs.js';
import { StorePaths } from '../../src/storage/paths.js';
import { berth, tempRoot } from '../helpers/berth.js';
import { Scope } from '../helpers/peers.js';
import { diffSnapshots, snapshot } from '../helpers/store-state.js';
import { type FakeRegistry, fakeRegistry, layerTar, makeImage } from '../helpers/registry.js';

const scope = new Scope();
let reg: FakeRegistry;
// random content: the gzip'd layer is about as big as the file (a few hundred KB)
const big = layerTar({ 'data/random.bin': randomBytes(300_000).toString('latin1') });
const img = makeImage([layerTar({ 'etc/base.txt': 'base\n' }), big, layerTar({ 'app/one.txt': 'one\n' })]);
const bigDigest = img.layerDigests[1]!;
const bigSize = () => reg.blobs.get(bigDigest)!.length;
const partialFile = (root: string, digest = bigDigest) => `${root}/berth/partial/${digest.replace(':', '-')}`;

before(async () => {
  reg = await fakeRegistry(scope);
  reg.add('app', 'v1', img);
});
after(() => scope.dispose());

async function freshEngine(): Promise<{ engine: Engine; root: string }> {
  const r = tempRoot('berth-resume');
  scope.defer(`remove ${r.root}`, r.remove);
  return { engine: await Engine.open({ root: r.root }), root: r.root };
}

/** Requests for the big blob from now on (with their Range headers), and its bytes sent. */
function watchBig(): { ranges: () => Array<string | undefined>; sent: () => number } {
  const seen0 = reg.seen.length;
  const sent0 = reg.blobBytesSent.get(bigDigest) ?? 0;
  return {
    ranges: () =>
      reg.seen
        .slice(seen0)
        .filter((s) => s.path === `/v2/app/blobs/${bigDigest}`)
        .map((s) => s.range),
    sent: () => (reg.blobBytesSent.get(bigDigest) ?? 0) - sent0,
  };
}

/** Pull with the big blob dropped after `cut` bytes and then every try dropped at once: fails, keeps `cut` bytes. */
async function failedPull(engine: Engine, cut: number): Promise<BerthError> {
  let first = true;
  reg.blobPlan = (d) => {
    if (d !== bigDigest) return undefined;
    const plan = { dropAfter: first ? cut : 0 };
    first = false;
    return plan;
  };
  try {
    let err: unknown;
    await engine.registries.pull(`${reg.host}/app:v1`).catch((e: unknown) => (err = e));
    assert.ok(err instanceof BerthError, String(err));
    return err;
  } finally {
    reg.blobPlan = undefined;
  }
}

test('a connection dropped mid-blob is resumed with a Range in the same pull (nothing sent twice)', async () => {
  const { engine, root } = await freshEngine();
  const w = watchBig();
  let first = true;
  reg.blobPlan = (d) => (d === bigDigest && first ? ((first = false), { dropAfter: 100_000 }) : undefined);
  const events: Array<{ status: string; id?: string; current?: number }> = [];
  try {
    const r = await engine.registries.pull(`${reg.host}/app:v1`, {
      onProgress: (e) => events.push({ status: e.status, id: e.id, current: e.progressDetail?.current }),
    });
    assert.equal(r.Id, img.id);
  } finally {
    reg.blobPlan = undefined;
  }
  assert.deepEqual(w.ranges(), [undefined, 'bytes=100000-']);
  assert.equal(w.sent(), bigSize());
  const id = bigDigest.slice(7, 19);
  const mine = events.filter((e) => e.id === id).map((e) => e.status);
  assert.ok(mine.includes('Retrying in 1 second'), mine.join(', '));
  // after the retry, "Downloading" goes on from the bytes already in
  const afterRetry = events.slice(events.findIndex((e) => e.id === id && e.status === 'Retrying in 1 second'));
  assert.equal(afterRetry.find((e) => e.status === 'Downloading')?.current, 100_000);
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
});

test('a failed pull keeps what it got; the next pull asks for the rest only and gets the same image', async () => {
  const { engine, root } = await freshEngine();
  const before = snapshot(root, { withImagesCommand: false });
  const err = await failedPull(engine, 120_000);
  assert.equal(err.kind, 'Unavailable', err.message);
  assert.match(
    err.message,
    /download stopped at 120000 of \d+ bytes \(4 tries in a row brought nothing\); the next pull resumes from byte 120000: /,
  );
  // nothing tagged, the store as it was (the partial file aside), system check clean and listing it
  assert.equal(engine.images.find(`${reg.host}/app:v1`), undefined);
  assert.deepEqual(diffSnapshots(snapshot(root, { withImagesCommand: false }), before, true), []);
  assert.equal(fs.statSync(partialFile(root)).size, 120_000);
  // the small layers came whole before the big one failed: their (verified) blobs are kept too
  const { findings } = await engine.images.check({ content: false });
  assert.deepEqual(
    findings.map((f) => `${f.severity} ${f.where}`).sort(),
    img.layerDigests.map((d) => `partial berth/partial/${d.replace(':', '-')}`).sort(),
  );
  const bigFinding = findings.find((f) => f.where.endsWith(bigDigest.slice(7)))!;
  assert.match(bigFinding.message, /^120000 bytes of blob sha256:[a-f0-9]{64} \(the next pull of it resumes there/);

  const w = watchBig();
  const seen0 = reg.seen.length;
  const events: Array<{ status: string; id?: string; current?: number }> = [];
  const r = await engine.registries.pull(`${reg.host}/app:v1`, {
    onProgress: (e) => events.push({ status: e.status, id: e.id, current: e.progressDetail?.current }),
  });
  assert.equal(r.Id, img.id);
  assert.deepEqual(w.ranges(), ['bytes=120000-']);
  assert.equal(w.sent(), bigSize() - 120_000);
  // the blobs kept whole are read from their files: no GET at all
  for (const d of [img.layerDigests[0]!, img.layerDigests[2]!])
    assert.equal(reg.seen.slice(seen0).filter((q) => q.path.endsWith(d)).length, 0, d);
  // Docker's bar starts at the resumed offset
  const downloading = events.filter((e) => e.id === bigDigest.slice(7, 19) && e.status === 'Downloading');
  assert.equal(downloading[0]?.current, 120_000);
  assert.equal(fs.existsSync(partialFile(root)), false);
  assert.deepEqual(
    (await engine.images.check({ content: true })).findings.map((f) => `${f.severity} ${f.where}: ${f.message}`),
    [],
  );
});

test('a registry that ignores the Range (200) or refuses it (416): the pull starts over and succeeds', async () => {
  for (const plan of [{ ignoreRange: true }, { refuseRange: true }]) {
    const { engine, root } = await freshEngine();
    await failedPull(engine, 50_000);
    assert.equal(fs.statSync(partialFile(root)).size, 50_000);
    const w = watchBig();
    reg.blobPlan = (d) => (d === bigDigest ? plan : undefined);
    try {
      assert.equal((await engine.registries.pull(`${reg.host}/app:v1`)).Id, img.id);
    } finally {
      reg.blobPlan = undefined;
    }
    assert.equal(w.ranges()[0], 'bytes=50000-');
    if (plan.refuseRange) assert.deepEqual(w.ranges(), ['bytes=50000-', undefined]);
    else assert.deepEqual(w.ranges(), ['bytes=50000-']);
    assert.equal(w.sent(), bigSize(), JSON.stringify(plan));
    assert.equal(fs.existsSync(partialFile(root)), false);
  }
});

test('a dropped connection answered with 200 on the retry: the bytes already used are skipped, not used twice', async () => {
  const { engine } = await freshEngine();
  let n = 0;
  reg.blobPlan = (d) => (d !== bigDigest ? undefined : n++ === 0 ? { dropAfter: 70_000 } : { ignoreRange: true });
  const w = watchBig();
  try {
    assert.equal((await engine.registries.pull(`${reg.host}/app:v1`)).Id, img.id);
  } finally {
    reg.blobPlan = undefined;
  }
  assert.deepEqual(w.ranges(), [undefined, 'bytes=70000-']);
  assert.equal(w.sent(), 70_000 + bigSize());
});

test('kept bytes that are wrong: the pull fails on them, loses them, and the next pull is clean', async () => {
  const { engine, root } = await freshEngine();
  await failedPull(engine, 90_000);
  // the kept bytes damaged (a disk that lied, a power cut): the digest is the judge
  const fd = fs.openSync(partialFile(root), 'r+');
  fs.writeSync(fd, Buffer.from('garbage'), 0, 7, 40_000);
  fs.closeSync(fd);
  const before = snapshot(root, { withImagesCommand: false });
  await assert.rejects(engine.registries.pull(`${reg.host}/app:v1`), (e: unknown) => {
    // the damage shows in the gzip stream's check (or else in the blob's digest)
    assert.ok(e instanceof BerthError && /corrupt gzip data|digest/.test(e.message), String(e));
    return true;
  });
  assert.equal(fs.existsSync(partialFile(root)), false);
  assert.deepEqual(diffSnapshots(snapshot(root, { withImagesCommand: false }), before, true), []);
  const w = watchBig();
  assert.equal((await engine.registries.pull(`${reg.host}/app:v1`)).Id, img.id);
  assert.deepEqual(w.ranges(), [undefined]);
});

test('a blob complete before the pull failed (on another layer) is read from its partial file: no GET', async () => {
  const { engine, root } = await freshEngine();
  const other = img.layerDigests[2]!;
  reg.blobPlan = (d) => (d === other ? { dropAfter: 0 } : undefined);
  try {
    await assert.rejects(engine.registries.pull(`${reg.host}/app:v1`));
  } finally {
    reg.blobPlan = undefined;
  }
  assert.equal(fs.statSync(partialFile(root)).size, bigSize());
  const w = watchBig();
  assert.equal((await engine.registries.pull(`${reg.host}/app:v1`)).Id, img.id);
  assert.deepEqual(w.ranges(), []);
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
});

test('stalls: no answer, or a body that stops, fail in bounded time with a clear error (BERTH_REGISTRY_TIMEOUT)', async (t) => {
  const { engine, root } = await freshEngine();
  process.env.BERTH_REGISTRY_TIMEOUT = '0.4';
  try {
    for (const plan of [{ delayMs: 600_000 }, { stallAfter: 0 }, { stallAfter: 30_000 }]) {
      // the first answer as planned, every later one stalls at once (resumed tries that bring nothing)
      let n = 0;
      reg.blobPlan = (d) => (d !== bigDigest ? undefined : n++ === 0 ? plan : { stallAfter: 0 });
      const t0 = Date.now();
      await assert.rejects(engine.registries.pull(`${reg.host}/app:v1`), (e: unknown) => {
        assert.ok(e instanceof BerthError, String(e));
        assert.equal(e.code, 'registry_timeout', e.message);
        assert.match(e.message, /nothing received for 0\.4 s/);
        return true;
      });
      const took = Date.now() - t0;
      assert.ok(took < 15_000, `${JSON.stringify(plan)}: failed after ${took} ms`);
      t.diagnostic(`${JSON.stringify(plan)}: failed after ${took} ms`);
      assert.equal(engine.images.find(`${reg.host}/app:v1`), undefined);
    }
    // the bytes the last one got are kept; pruned here, so that the next pull starts at 0
    assert.equal(fs.statSync(partialFile(root)).size, 30_000);
    const pruned = await engine.images.prunePartials();
    assert.deepEqual(pruned.PartialsDeleted.sort(), [...img.layerDigests].sort());
    assert.equal(
      pruned.SpaceReclaimed,
      30_000 + reg.blobs.get(img.layerDigests[0]!)!.length + reg.blobs.get(img.layerDigests[2]!)!.length,
    );
    // a body that stalls once is resumed
    let first = true;
    reg.blobPlan = (d) => (d === bigDigest && first ? ((first = false), { stallAfter: 40_000 }) : undefined);
    const w = watchBig();
    assert.equal((await engine.registries.pull(`${reg.host}/app:v1`)).Id, img.id);
    assert.deepEqual(w.ranges(), [undefined, 'bytes=40000-']);
  } finally {
    delete process.env.BERTH_REGISTRY_TIMEOUT;
    reg.blobPlan = undefined;
  }
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
});

test('system prune removes partial files, except one a pull holds; system check lists them', async () => {
  const { engine, root } = await freshEngine();
  await failedPull(engine, 80_000);
  // another blob's partial file, held as a pull in progress holds it (this process: the CLI is another)
  const paths = new StorePaths(root);
  const busyDigest = `sha256:${'ab'.repeat(32)}`;
  const busy = PartialBlob.open(paths, busyDigest)!;
  busy.append(Buffer.from('some bytes'));
  try {
    const check = berth(root, ['system', 'check', '--quick']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      new RegExp(`^partial: berth/partial/${bigDigest.replace(':', '-')}: 80000 bytes of blob`, 'm'),
    );
    assert.match(
      check.stdout,
      new RegExp(
        `^partial: berth/partial/${busyDigest.replace(':', '-')}: 10 bytes of blob .* \\(a pull is writing it\\)$`,
        'm',
      ),
    );
    assert.match(check.stdout, /: ok \(/);
    const prune = berth(root, ['system', 'prune', '-f']);
    assert.equal(prune.code, 0, prune.stderr);
    const deleted = [...img.layerDigests].sort().join('\n');
    assert.match(
      prune.stdout,
      new RegExp(`^Deleted partial downloads:\n${deleted}\n\nTotal reclaimed space: 80\\.\\d+kB\n$`),
    );
    assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), [busyDigest.replace(':', '-')]);
  } finally {
    busy.remove();
  }
  assert.deepEqual(fs.readdirSync(`${root}/berth/partial`), []);
  // a label filter: partial files have no labels, so none matches
  await failedPull(engine, 10_000);
  assert.equal(berth(root, ['system', 'prune', '-f', '--filter', 'label=a=b']).stdout, 'Total reclaimed space: 0B\n');
  assert.ok(fs.existsSync(partialFile(root)));
  // containers and images too, as docker's: the stopped container first, then (-a) the image it kept
  await engine.images.prunePartials();
  await engine.registries.pull(`${reg.host}/app:v1`);
  const created = berth(root, ['create', `${reg.host}/app:v1`]);
  assert.equal(created.code, 0, created.stderr);
  const kept = berth(root, ['system', 'prune', '-f']);
  assert.equal(kept.stdout, `Deleted Containers:\n${created.stdout.trim()}\n\nTotal reclaimed space: 0B\n`);
  const all = berth(root, ['system', 'prune', '-a', '-f']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`^Deleted Images:\nuntagged: ${reg.host}/app:v1\n(?:.*\n)*deleted: ${img.id}\n`));
  assert.equal(berth(root, ['images', '-q']).stdout, '');
  const refused = berth(root, ['system', 'prune', '-f', '--filter', 'dangling=true']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /invalid filter 'dangling'/);
});
