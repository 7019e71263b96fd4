/**
 * Crash safety of the store: berth is killed with SIGKILL at many points during
 * `load -i`, `load` from stdin, `rmi`, `import -` and `save -o`. After each kill:
 *   - `berth system check` exits 0, says "ok" and lists no problem or leftover
 *     (opening the store must have recovered the dead journal);
 *   - the store is exactly as before the command or exactly as after it
 *     (images, imagedb, repositories.json, layerdb, overlay2 dirs, l/ links,
 *     empty staging areas);
 *   - re-running the command succeeds and gives the "after" store.
 * Kill points: BERTH_CRASH_POINTS (default 12; BERTH_CRASH_EXTRA_POINTS, default
 * 10, for load from stdin, import and save, a third of it for rmi of a built chain) random delays
 * between 0 and the command's measured normal duration, plus points triggered by
 * inotify on the store (a layer registered, an image written, repositories.json
 * replaced...) and, where a race would rarely hit a short window, kills just
 * before a chosen filesystem change (test/helpers/killed-at.ts).
 * BERTH_CRASH_SEED reproduces a run's delays; BERTH_CRASH_KEEP=1 keeps the roots
 * of failed points for inspection.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BERTH, berthOk, debootstrapTar } from '../helpers/berth.js';
import {
  DEBOOTSTRAP_GROUPS,
  debootstrapGroup,
  splitRootfsTar,
  syntheticLayer,
  writeDockerArchive,
  type ArchiveImage,
} from '../helpers/layered.js';
import { Tracked } from '../helpers/tracked.js';
import { berthKilledAt } from '../helpers/killed-at.js';
import { buildChainStore } from '../helpers/built-chain.js';
import {
  checkClean,
  copyRoot,
  diffSnapshots,
  imageHexes,
  journalSummary,
  maskNewImages,
  snapshot,
  type StoreSnapshot,
} from '../helpers/store-state.js';

const POINTS = Number(process.env.BERTH_CRASH_POINTS ?? 12);
const EXTRA_POINTS = Number(process.env.BERTH_CRASH_EXTRA_POINTS ?? 10);
const SEED = Number(process.env.BERTH_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KEEP = process.env.BERTH_CRASH_KEEP === '1';
const TIMEOUT = 60 * 60 * 1000;

// ---- bookkeeping: every root and child is cleaned up, also on failure ---------------------------
const tracked = new Tracked();
const { roots, children } = tracked;
const newRoot = (prefix: string) => tracked.newRoot(prefix);

/** Deterministic delays from the seed (xorshift32). */
let rng = SEED >>> 0 || 1;
function random(): number {
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return rng / 2 ** 32;
}

// ---- fixtures ---------------------------------------------------------------------------------
interface Fixtures {
  work: string;
  /** Store with crash/base:latest and crash/alt:latest (layers L0, L1). */
  baseRoot: string;
  /** baseRoot + crash/five (L0..L4) and crash/alt moved to [L0, L1, S2]: the rmi "before" store. */
  rmiRoot: string;
  loadArchive: string;
  images: Record<'base' | 'five' | 'six' | 'alt', ArchiveImage>;
}
let fixtures: Promise<Fixtures> | undefined;
function getFixtures(): Promise<Fixtures> {
  return (fixtures ??= (async () => {
    const work = newRoot('berth-crash-fx').root;
    const L = splitRootfsTar(debootstrapTar(), DEBOOTSTRAP_GROUPS.length, debootstrapGroup, 'debootstrap5');
    const s1 = syntheticLayer(work, 's1', 40, 50_000, 1);
    const s2 = syntheticLayer(work, 's2', 400, 3_000, 2);
    const images = {
      base: { layers: [L[0]!, L[1]!], tags: ['crash/base:latest', 'crash/alt:latest'], label: 'base' },
      five: { layers: L, tags: ['crash/five:latest'], label: 'five' },
      six: { layers: [...L, s1], tags: ['crash/six:latest', 'crash/six:v1'], label: 'six' },
      alt: { layers: [L[0]!, L[1]!, s2], tags: ['crash/alt:latest'], label: 'alt' },
    };
    const pre = `${work}/pre.tar`,
      loadArchive = `${work}/load.tar`,
      rmiArchive = `${work}/rmi.tar`;
    await writeDockerArchive(pre, [images.base]);
    await writeDockerArchive(loadArchive, [images.five, images.six, images.alt]);
    await writeDockerArchive(rmiArchive, [images.five, images.alt]);
    const baseRoot = newRoot('berth-crash-base').root;
    berthOk(baseRoot, ['load', '-i', pre]);
    const rmiRoot = newRoot('berth-crash-rmi').root;
    copyRoot(baseRoot, rmiRoot);
    berthOk(rmiRoot, ['load', '-i', rmiArchive]);
    return { work, baseRoot, rmiRoot, loadArchive, images };
  })());
}

// ---- running and killing -------------------------------------------------------------------
type KillPoint =
  | { kind: 'delay'; ms: number }
  /** Kill as soon as `dir` (relative to the root) sees an inotify event whose file name matches. */
  | { kind: 'event'; label: string; dir: string; match: (name: string) => boolean }
  /**
   * Kill just before the k-th filesystem change whose "<function> <path>" matches (deterministic: it must be reached).
   */
  | { kind: 'fs-change'; label: string; k: number; match: RegExp };

interface RunOutcome {
  killed: boolean;
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  killedAtMs?: number;
}

function describe(p: KillPoint): string {
  if (p.kind === 'delay') return `after ${p.ms.toFixed(0)} ms`;
  return p.kind === 'event' ? `on event "${p.label}"` : `before change ${p.k} matching ${p.match.source} (${p.label})`;
}

async function run(
  root: string,
  args: string[],
  opts: { stdinFile?: string; point?: KillPoint } = {},
): Promise<RunOutcome> {
  if (opts.point?.kind === 'fs-change') {
    const t0 = performance.now();
    const r = await berthKilledAt(tracked, opts.point.k, ['--root', root, ...args], opts.point.match);
    return { killed: r.killed, code: r.killed ? null : 0, ms: performance.now() - t0, stdout: r.out, stderr: '' };
  }
  const child = spawn(BERTH, ['--root', root, ...args], {
    stdio: [opts.stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const t0 = performance.now();
  let stdout = '',
    stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d;
  });
  if (opts.stdinFile) {
    child.stdin!.on('error', () => {
      /* EPIPE after the kill */
    });
    const src = fs.createReadStream(opts.stdinFile);
    src.on('error', () => undefined);
    src.pipe(child.stdin!);
  }
  let killedAtMs: number | undefined;
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null || killedAtMs !== undefined) return;
    killedAtMs = performance.now() - t0;
    child.kill('SIGKILL');
  };
  let timer: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher | undefined;
  const p = opts.point;
  if (p?.kind === 'delay') timer = setTimeout(kill, p.ms);
  if (p?.kind === 'event')
    watcher = fs.watch(`${root}/${p.dir}`, (_ev, name) => {
      if (name && p.match(String(name))) kill();
    });
  const [code] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  const ms = performance.now() - t0;
  clearTimeout(timer);
  watcher?.close();
  children.delete(child);
  return {
    killed: child.signalCode === 'SIGKILL',
    code,
    ms,
    stdout,
    stderr,
    ...(killedAtMs !== undefined ? { killedAtMs } : {}),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Scenario {
  name: string;
  /** The store before the command (copied for every point). */
  before: string;
  args: string[];
  stdinFile?: string;
  events: KillPoint[];
  points: number;
  /** Compare snapshots after masking image ids absent from "before" (import: the id has a timestamp). */
  maskNew?: boolean;
  /** What a successful re-run means when the kill came after the command took effect. */
  rerunAfterDone: 'succeeds' | 'no-such-image';
}

interface PointReport {
  point: string;
  killed: boolean;
  killedAtMs?: number;
  journalsAtKill: string[];
  check: string;
  state: 'before' | 'after' | 'neither';
  diffBefore?: string[];
  diffAfter?: string[];
  rerun?: string;
  afterRerun?: string[];
  problems: string[];
}

async function crashScenario(t: TestContext, sc: Scenario): Promise<void> {
  const norm = (s: StoreSnapshot, known: Set<string>) => (sc.maskNew ? maskNewImages(s, known) : s);
  const beforeSnap = snapshot(sc.before);
  const known = imageHexes(beforeSnap);
  const pre = checkClean(sc.before);
  assert.ok(pre.ok, `the "before" store is not clean: ${pre.output}`);

  // the reference "after" and the normal duration (median of 3 uninterrupted runs)
  const durations: number[] = [];
  let afterSnap: StoreSnapshot | undefined;
  for (let i = 0; i < 3; i++) {
    const r = newRoot(`berth-crash-${sc.name}-ref`);
    copyRoot(sc.before, r.root);
    const out = await run(r.root, sc.args, sc.stdinFile ? { stdinFile: sc.stdinFile } : {});
    assert.equal(out.code, 0, `${sc.name}: uninterrupted run failed: ${out.stderr}`);
    durations.push(out.ms);
    if (!afterSnap) {
      const c = checkClean(r.root);
      assert.ok(c.ok, `${sc.name}: check after an uninterrupted run: ${c.output}`);
      afterSnap = norm(snapshot(r.root), known);
    }
    r.remove();
    roots.delete(r);
  }
  const duration = median(durations);
  t.diagnostic(
    `${sc.name}: normal duration ${duration.toFixed(0)} ms (runs ${durations.map((d) => d.toFixed(0)).join(', ')}), seed ${SEED}`,
  );
  assert.notDeepEqual(
    diffSnapshots(norm(beforeSnap, known), afterSnap!, false),
    [],
    `${sc.name}: the command changes nothing?`,
  );

  const points: KillPoint[] = [
    ...Array.from({ length: sc.points }, () => ({ kind: 'delay' as const, ms: random() * duration })),
    ...sc.events,
  ];
  const reports: PointReport[] = [];
  for (const point of points) {
    const r = newRoot(`berth-crash-${sc.name}`);
    copyRoot(sc.before, r.root);
    const out = await run(r.root, sc.args, { ...(sc.stdinFile ? { stdinFile: sc.stdinFile } : {}), point });
    const rep: PointReport = {
      point: describe(point),
      killed: out.killed,
      ...(out.killedAtMs !== undefined ? { killedAtMs: Math.round(out.killedAtMs) } : {}),
      journalsAtKill: journalSummary(r.root),
      check: '',
      state: 'neither',
      problems: [],
    };
    if (!out.killed && out.code !== 0) rep.problems.push(`not killed, but exited ${out.code}: ${out.stderr.trim()}`);
    if (!out.killed && point.kind === 'fs-change') rep.problems.push('the filesystem change to kill before never came');
    const check = checkClean(r.root);
    rep.check = check.output;
    if (!check.ok) rep.problems.push(`system check after the kill is not clean: ${check.output}`);
    const snap = norm(snapshot(r.root), known);
    const dB = diffSnapshots(snap, norm(beforeSnap, known), !sc.maskNew);
    const dA = diffSnapshots(snap, afterSnap!, false);
    rep.state = dB.length === 0 ? 'before' : dA.length === 0 ? 'after' : 'neither';
    if (rep.state === 'neither') {
      rep.diffBefore = dB;
      rep.diffAfter = dA;
      rep.problems.push('store is neither as before nor as after the command');
    }
    // re-run
    const again = await run(r.root, sc.args, sc.stdinFile ? { stdinFile: sc.stdinFile } : {});
    rep.rerun = `exit ${again.code}${again.code ? `: ${again.stderr.trim()}` : ''}`;
    const expectFail = rep.state === 'after' && sc.rerunAfterDone === 'no-such-image';
    if (expectFail) {
      if (again.code === 0 || !/No such image/.test(again.stderr))
        rep.problems.push(`re-run after completion should fail with "No such image": ${rep.rerun}`);
    } else if (again.code !== 0) rep.problems.push(`re-run failed: ${rep.rerun}`);
    const check2 = checkClean(r.root, true);
    if (!check2.ok) rep.problems.push(`system check after the re-run is not clean: ${check2.output}`);
    if (!(rep.state === 'after' && sc.maskNew)) {
      // a second import adds a second image: nothing to compare
      const d2 = diffSnapshots(norm(snapshot(r.root), known), afterSnap!, false);
      if (d2.length) {
        rep.afterRerun = d2;
        rep.problems.push('store after the re-run differs from the reference "after" store');
      }
    }
    reports.push(rep);
    if (rep.problems.length && KEEP) {
      roots.delete(r);
      t.diagnostic(`kept ${r.root}`);
    } else {
      r.remove();
      roots.delete(r);
    }
  }

  const killed = reports.filter((r) => r.killed).length;
  const states = { before: 0, after: 0, neither: 0 };
  for (const r of reports) states[r.state]++;
  t.diagnostic(`${sc.name}: ${reports.length} points, ${killed} killed; states: ${JSON.stringify(states)}`);
  const failed = reports.filter((r) => r.problems.length);
  // the full per-point report is kept only when something failed
  const reportFile = `/var/tmp/berth-crash-report-${sc.name}-${SEED}.json`;
  if (failed.length) fs.writeFileSync(reportFile, JSON.stringify({ seed: SEED, duration, reports }, null, 2));
  for (const f of failed) t.diagnostic(`FAILED ${sc.name} ${f.point}: ${JSON.stringify(f)}`);
  assert.deepEqual(
    failed.map((f) => ({ point: f.point, problems: f.problems })),
    [],
    `${sc.name}: ${failed.length} of ${reports.length} kill points broke the store (seed ${SEED}, details in ${reportFile})`,
  );
}

const hex64 = (n: string) => /^[a-f0-9]{64}$/.test(n);

test('load: kill -9 at random points and at store events', { timeout: TIMEOUT }, async (t) => {
  const fx = await getFixtures();
  await crashScenario(t, {
    name: 'load',
    before: fx.baseRoot,
    args: ['load', '-i', fx.loadArchive],
    points: POINTS,
    rerunAfterDone: 'succeeds',
    events: [
      { kind: 'event', label: 'first prepared overlay2 dir', dir: 'overlay2', match: hex64 },
      {
        kind: 'event',
        label: 'first layerdb write-set staged',
        dir: 'image/overlay2/layerdb/tmp',
        match: (n) => n.startsWith('write-set-'),
      },
      { kind: 'event', label: 'first layer registered', dir: 'image/overlay2/layerdb/sha256', match: hex64 },
      {
        kind: 'event',
        label: 'first image config written',
        dir: 'image/overlay2/imagedb/content/sha256',
        match: hex64,
      },
      {
        kind: 'event',
        label: 'repositories.json replaced',
        dir: 'image/overlay2',
        match: (n) => n === 'repositories.json',
      },
    ],
  });
});

test('load from stdin (spooled): kill -9 at random points and at store events', { timeout: TIMEOUT }, async (t) => {
  const fx = await getFixtures();
  await crashScenario(t, {
    name: 'load-stdin',
    before: fx.baseRoot,
    args: ['load'],
    stdinFile: fx.loadArchive,
    points: EXTRA_POINTS,
    rerunAfterDone: 'succeeds',
    events: [
      { kind: 'event', label: 'spool file created', dir: 'berth', match: (n) => n === 'tmp' },
      { kind: 'event', label: 'first layer registered', dir: 'image/overlay2/layerdb/sha256', match: hex64 },
    ],
  });
});

test('rmi: kill -9 at random points and at store events', { timeout: TIMEOUT }, async (t) => {
  const fx = await getFixtures();
  await crashScenario(t, {
    name: 'rmi',
    before: fx.rmiRoot,
    args: ['rmi', 'crash/five:latest'],
    points: POINTS,
    rerunAfterDone: 'no-such-image',
    events: [
      {
        kind: 'event',
        label: 'repositories.json replaced',
        dir: 'image/overlay2',
        match: (n) => n === 'repositories.json',
      },
      { kind: 'event', label: 'image config deleted', dir: 'image/overlay2/imagedb/content/sha256', match: hex64 },
      { kind: 'event', label: 'first layer unregistered', dir: 'image/overlay2/layerdb/sha256', match: hex64 },
      {
        kind: 'event',
        label: 'first layer staged for deletion',
        dir: 'image/overlay2/layerdb/tmp',
        match: (n) => n.startsWith('del-'),
      },
      { kind: 'event', label: 'first short link removed', dir: 'overlay2/l', match: () => true },
    ],
  });
});

test(
  'rmi of a built chain: kill -9 mid-chain leaves the store as before or as after, the shared parent stays',
  { timeout: TIMEOUT },
  async (t) => {
    const store = newRoot('berth-crash-chain').root;
    const chain = buildChainStore(store, newRoot('berth-crash-chain-ctx').root);
    const [p0, p1] = chain.parents.map((id) => id.slice(7));
    const [ownLayer0, ownLayer1] = chain.doomedLayers.map((c) => c.slice(7));
    const images = 'image/overlay2/imagedb';
    await crashScenario(t, {
      name: 'rmi-chain',
      before: store,
      args: ['rmi', 'app:1'],
      points: Math.ceil(EXTRA_POINTS / 3),
      rerunAfterDone: 'no-such-image',
      events: [
        // right after the untag, before the image is deleted: no filesystem change to kill before, so the event is
        // tried twice
        ...[1, 2].map((i) => ({
          kind: 'event' as const,
          label: `repositories.json replaced (try ${i})`,
          dir: 'image/overlay2',
          match: (n: string) => n === 'repositories.json',
        })),
        {
          kind: 'event',
          label: 'first parent config deleted',
          dir: `${images}/content/sha256`,
          match: (n) => n === p0,
        },
        {
          kind: 'event',
          label: 'second parent metadata deleted',
          dir: `${images}/metadata/sha256`,
          match: (n) => n === p1,
        },
        {
          kind: 'event',
          label: "second parent's layer unregistered",
          dir: 'image/overlay2/layerdb/sha256',
          match: (n) => n === ownLayer1,
        },
        // app deletes its own layer before its parents: the first parent is the first image whose metadata goes after a
        // layer
        {
          kind: 'fs-change',
          label: 'first parent, after its own layer',
          k: 2,
          match: /^rmSync .*\/imagedb\/metadata\/sha256\/[a-f0-9]{64}$/,
        },
        {
          kind: 'fs-change',
          label: 'first parent: metadata (its parent link) gone, config not yet',
          k: 2,
          match: /^rmSync .*\/imagedb\/content\/sha256\/[a-f0-9]{64}$/,
        },
        {
          kind: 'fs-change',
          label: 'second parent gone, its layer not yet',
          k: 2,
          match: /^renameSync .*\/layerdb\/tmp\/del-/,
        },
      ],
    });
    // the reference "after" of crashScenario is the uninterrupted rmi's: check it is the partial chain deletion
    // intended
    const after = newRoot('berth-crash-chain-after').root;
    copyRoot(store, after);
    berthOk(after, ['rmi', 'app:1']);
    const left = imageHexes(snapshot(after));
    assert.deepEqual(
      [chain.app, ...chain.parents].filter((id) => left.has(id.slice(7))),
      [],
      'app:1 and its two untagged parents are deleted',
    );
    assert.deepEqual(
      [chain.shared, chain.other, chain.base].filter((id) => !left.has(id.slice(7))),
      [],
      'the parent other:1 shares, other:1 and base stay',
    );
    assert.deepEqual(
      [ownLayer0, ownLayer1].filter((c) => fs.existsSync(`${after}/image/overlay2/layerdb/sha256/${c}`)),
      [],
      "app's own layers are deleted",
    );
  },
);

test('import from stdin: kill -9 at random points and at store events', { timeout: TIMEOUT }, async (t) => {
  const fx = await getFixtures();
  await crashScenario(t, {
    name: 'import',
    before: fx.baseRoot,
    args: ['import', '-', 'crash/imported:latest'],
    stdinFile: debootstrapTar(),
    points: EXTRA_POINTS,
    rerunAfterDone: 'succeeds',
    maskNew: true,
    events: [
      { kind: 'event', label: 'layer registered', dir: 'image/overlay2/layerdb/sha256', match: hex64 },
      { kind: 'event', label: 'image config written', dir: 'image/overlay2/imagedb/content/sha256', match: hex64 },
    ],
  });
});

test('save -o: kill -9 leaves no partial output file and an unchanged store', { timeout: TIMEOUT }, async (t) => {
  const fx = await getFixtures();
  const root = newRoot('berth-crash-save');
  copyRoot(fx.rmiRoot, root.root);
  const outDir = newRoot('berth-crash-save-out').root;
  const before = snapshot(root.root);
  const file = `${outDir}/images.tar`;
  const args = ['save', '-o', file, 'crash/five:latest', 'crash/alt:latest'];
  const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  const durations: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = await run(root.root, args);
    assert.equal(out.code, 0, out.stderr);
    durations.push(out.ms);
  }
  const want = { size: fs.statSync(file).size, sha: sha(file) };
  fs.rmSync(file);
  const duration = median(durations);
  t.diagnostic(`save: normal duration ${duration.toFixed(0)} ms, archive ${want.size} bytes, seed ${SEED}`);
  const problems: string[] = [];
  const tempLeft: string[] = [];
  let killed = 0;
  for (let i = 0; i < EXTRA_POINTS; i++) {
    const point: KillPoint = { kind: 'delay', ms: random() * duration };
    const out = await run(root.root, args, { point });
    if (out.killed) killed++;
    const where = `save killed ${describe(point)}`;
    if (fs.existsSync(file)) {
      const got = { size: fs.statSync(file).size, sha: sha(file) };
      if (out.killed && (got.size !== want.size || got.sha !== want.sha))
        problems.push(`${where}: partial ${file} left (${got.size} of ${want.size} bytes)`);
      fs.rmSync(file);
    }
    for (const n of fs.readdirSync(outDir)) {
      tempLeft.push(`${where}: ${n} (${fs.statSync(`${outDir}/${n}`).size} bytes)`);
      fs.rmSync(`${outDir}/${n}`, { force: true });
    }
    const c = checkClean(root.root);
    if (!c.ok) problems.push(`${where}: system check not clean: ${c.output}`);
    const d = diffSnapshots(snapshot(root.root), before, true);
    if (d.length) problems.push(`${where}: store changed: ${d.join('; ')}`);
    const again = await run(root.root, args);
    if (again.code !== 0) problems.push(`${where}: re-run failed: ${again.stderr}`);
    else if (sha(file) !== want.sha) problems.push(`${where}: re-run wrote a different archive`);
    fs.rmSync(file, { force: true });
  }
  t.diagnostic(`save: ${EXTRA_POINTS} points, ${killed} killed; temp files left beside the output: ${tempLeft.length}`);
  for (const l of tempLeft) t.diagnostic(`temp left: ${l}`);
  assert.deepEqual(problems, []);
  // save -o writes an unnamed O_TMPFILE and names it only when complete
  assert.deepEqual(tempLeft, [], 'no temporary sibling of the output is left either');
});
