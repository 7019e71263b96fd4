import { runIfMain } from './fixtures.js';
/**
 * `load` side by side, on the machine's own filesystem (where users' stores live): berth vs docker vs
 * podman vs GNU `tar -x` of the same layer tars, on the same archives:
 *   debootstrap  the ~128 MB / 6.7k-file debootstrap rootfs as a one-layer image
 *                (made with `berth import` + `berth save`)
 *   5-layer      the same rootfs split by top-level directory into 5 layers
 *                (base, etc, var, usr, usr/share), a docker-archive written here
 * berth loads into a new `--root` under $BERTH_TMP (/var/tmp); docker into a dockerd on its default
 * data-root (/var/lib/docker, or $BENCH_DOCKER_ROOT), started once before the runs (not timed), the
 * loaded image removed after each run; podman into a new --root; `tar -x` extracts each layer tar
 * of the archive into its own new dir under $BERTH_TMP (the floor: no digest, no metadata), and
 * once more into a dir whose parent has ext4's FS_TOPDIR_FL (`chattr +T`), which is where berth's
 * layers go (overlay2/ has the flag), for the same placement. Only the command is timed (wall clock,
 * spawn to exit). Each repetition runs the tools in a rotating order after a `sync`. Prints a table
 * with the ratios and the targets; writes bench/results/load-<date>.json.
 *
 *   node dist/bench/load.js     (BENCH_REPS=3; BENCH_CASES=debootstrap,5-layer; BENCH_TOOLS=berth,docker,podman,tar,tar+T)
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { BERTH, REPO, TMP, berthOk, debootstrapTar, tempRoot } from '../test/helpers/berth.js';
import { DEBOOTSTRAP_GROUPS, debootstrapGroup, splitRootfsTar, writeDockerArchive } from '../test/helpers/layered.js';

const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const ONLY = process.env.BENCH_CASES?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const DOCKERD_NAME = `berth-bench-load-${process.pid}`;
const DOCKER_ROOT = process.env.BENCH_DOCKER_ROOT || '/var/lib/docker';

type Tool = 'berth' | 'docker' | 'podman' | 'tar' | 'tar+T';
const ALL_TOOLS: Tool[] = ['berth', 'docker', 'podman', 'tar', 'tar+T'];
const TOOLS: Tool[] = process.env.BENCH_TOOLS
  ? ALL_TOOLS.filter((t) => process.env.BENCH_TOOLS!.split(',').includes(t))
  : ALL_TOOLS;
/** The issue's targets, same run, same filesystem: berth <= 0.6x docker and <= 1.5x GNU tar -x. */
const TARGET_DOCKER = 0.6;
const TARGET_TAR = 1.5;

interface Case {
  name: string;
  archive: string;
  /** The archive's layer tars, extracted once (untimed) for `tar -x`. */
  layerTars: string[];
  bytes: number;
  layers: number;
  files: number;
  describe: string;
}
interface ToolResult {
  runs: number[];
  median: number | null;
  error?: string;
}
interface CaseResult extends Case {
  results: Record<Tool, ToolResult>;
}

// ---- cleanup of everything this run creates -----------------------------------------------------
const dirs = new Set<string>();
let dockerdUp = false;
let dockerEnv: NodeJS.ProcessEnv | undefined;
/** The data-root did not exist before this run: removed again at the end. */
let dockerRootCreated = false;
/** Images in the docker store before the run: never removed. */
let dockerImagesBefore = new Set<string>();
function stopDockerd(): void {
  if (dockerEnv) removeDockerImages();
  spawnSync(`${REPO}/scripts/dockerd.sh`, ['stop', DOCKERD_NAME]);
  dockerdUp = false;
  dockerEnv = undefined;
  // dockerd.sh stop leaves the exec-root and the log behind
  fs.rmSync(`/run/${DOCKERD_NAME}`, { recursive: true, force: true });
  fs.rmSync(`/run/${DOCKERD_NAME}.log`, { force: true });
  if (dockerRootCreated) fs.rmSync(DOCKER_ROOT, { recursive: true, force: true });
  dockerRootCreated = false;
}
function cleanup(): void {
  if (dockerdUp) stopDockerd();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
function tmpDir(prefix: string): string {
  const t = tempRoot(prefix);
  dirs.add(t.root);
  return t.root;
}
function rmDir(d: string): void {
  fs.rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
}

/** Run and time one command; throws with its output when it fails. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return ms;
}

function countFiles(tar: string): number {
  const r = sh('tar', ['-tf', tar]);
  return r.status === 0 ? r.stdout.split('\n').filter((l) => l && !l.endsWith('/')).length : -1;
}

// ---- fixtures -------------------------------------------------------------------------------
async function makeCases(work: string): Promise<Case[]> {
  const deb = debootstrapTar();
  const files = countFiles(deb);
  const cases: Case[] = [];
  if (!ONLY || ONLY.includes('debootstrap')) {
    const root = tmpDir('berth-bench-mk');
    berthOk(root, ['import', deb, 'bench/debootstrap:latest']);
    const archive = `${work}/debootstrap.tar`;
    berthOk(root, ['save', '-o', archive, 'bench/debootstrap:latest']);
    rmDir(root);
    cases.push({
      name: 'debootstrap',
      archive,
      layerTars: layerTarsOf(archive, `${work}/debootstrap-layers`),
      bytes: fs.statSync(archive).size,
      layers: 1,
      files,
      describe: 'debootstrap minbase rootfs, 1 layer (berth import + berth save)',
    });
  }
  if (!ONLY || ONLY.includes('5-layer')) {
    const layers = splitRootfsTar(deb, DEBOOTSTRAP_GROUPS.length, debootstrapGroup, 'debootstrap5');
    const archive = `${work}/five-layer.tar`;
    await writeDockerArchive(archive, [{ layers, tags: ['bench/five:latest'], label: 'bench' }]);
    cases.push({
      name: '5-layer',
      archive,
      layerTars: layerTarsOf(archive, `${work}/five-layer-layers`),
      bytes: fs.statSync(archive).size,
      layers: 5,
      files,
      describe: `debootstrap split by top-level dir: ${DEBOOTSTRAP_GROUPS.map((g, i) => `${g} ${(layers[i]!.size / 1e6).toFixed(1)} MB`).join(', ')}`,
    });
  }
  return cases;
}

/** The layer tars of a docker-archive (manifest order), extracted into `dir`. */
function layerTarsOf(archive: string, dir: string): string[] {
  const manifest = JSON.parse(sh('tar', ['-xOf', archive, 'manifest.json']).stdout) as Array<{ Layers: string[] }>;
  const layers = [...new Set(manifest.flatMap((m) => m.Layers))];
  fs.mkdirSync(dir, { recursive: true });
  const r = sh('tar', ['-xf', archive, '-C', dir, ...layers]);
  if (r.status !== 0) throw new Error(`extracting the layer tars of ${archive}: ${r.stderr}`);
  return layers.map((l) => `${dir}/${l}`);
}

// ---- one timed load per tool, into a fresh store ---------------------------------------------------
function loadBerth(archive: string): number {
  const root = tmpDir('berth-bench-berth');
  try {
    const ms = timed(BERTH, ['--root', root, 'load', '-i', archive]);
    const ids = berthOk(root, ['images', '-q']).trim();
    if (!ids) throw new Error('berth load: no image in the store afterwards');
    return ms;
  } finally {
    rmDir(root);
  }
}

function startDocker(): void {
  dockerRootCreated = !fs.existsSync(DOCKER_ROOT);
  const start = sh(`${REPO}/scripts/dockerd.sh`, ['start', DOCKERD_NAME, DOCKER_ROOT]);
  dockerdUp = true;
  if (start.status !== 0) throw new Error(`dockerd did not start on ${DOCKER_ROOT}: ${start.stderr.trim()}`);
  dockerEnv = { ...process.env, DOCKER_HOST: start.stdout.trim() };
  dockerImagesBefore = new Set(dockerImageIds());
}

function dockerImageIds(): string[] {
  const r = sh('docker', ['images', '-aq', '--no-trunc'], dockerEnv);
  if (r.status !== 0) throw new Error(`docker images: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** Remove what the runs loaded (not what was there before), so every load starts from the same store. */
function removeDockerImages(): void {
  const ids = dockerImageIds().filter((id) => !dockerImagesBefore.has(id));
  if (ids.length) sh('docker', ['rmi', '-f', ...new Set(ids)], dockerEnv);
}

function loadDocker(archive: string): number {
  if (!dockerEnv) startDocker();
  try {
    const ms = timed('docker', ['load', '-i', archive], dockerEnv);
    if (!dockerImageIds().some((id) => !dockerImagesBefore.has(id)))
      throw new Error('docker load: no image in the store afterwards');
    return ms;
  } finally {
    removeDockerImages();
  }
}

/** GNU tar -x of each layer tar into its own new dir (under a FS_TOPDIR_FL parent for tar+T). */
function tarExtract(layerTars: string[], spread: boolean): number {
  const base = tmpDir(spread ? 'berth-bench-tarT' : 'berth-bench-tar');
  try {
    let parent = base;
    if (spread) {
      parent = `${base}/spread`;
      fs.mkdirSync(parent);
      const r = sh('chattr', ['+T', parent]);
      if (r.status !== 0) throw new Error(`chattr +T: ${r.stderr.trim()} (the filesystem has no FS_TOPDIR_FL)`);
    }
    const script = layerTars.map((_, i) => `mkdir "$1/l${i}" && tar -xf "$${i + 2}" -C "$1/l${i}"`).join(' && ');
    return timed('sh', ['-c', script, 'sh', parent, ...layerTars]);
  } finally {
    rmDir(base);
  }
}

function loadPodman(archive: string): number {
  const dir = tmpDir('berth-bench-podman');
  const g = ['--root', `${dir}/root`, '--runroot', `${dir}/run`, '--storage-driver', 'overlay'];
  try {
    const ms = timed('podman', [...g, 'load', '-q', '-i', archive]);
    const ids = sh('podman', [...g, 'images', '-q']).stdout.trim();
    if (!ids) throw new Error('podman load: no image in the store afterwards');
    return ms;
  } finally {
    // load mounts nothing: removing the dirs is enough (no `system reset`, which also touches shared config)
    rmDir(dir);
  }
}

const LOADERS: Record<Tool, (c: Case) => number> = {
  berth: (c) => loadBerth(c.archive),
  docker: (c) => loadDocker(c.archive),
  podman: (c) => loadPodman(c.archive),
  tar: (c) => tarExtract(c.layerTars, false),
  'tar+T': (c) => tarExtract(c.layerTars, true),
};

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function versions(): Record<string, string> {
  const first = (cmd: string, args: string[]) => {
    const r = sh(cmd, args);
    return r.status === 0 ? r.stdout.trim().split('\n')[0]! : 'unavailable';
  };
  return {
    berth: first(BERTH, ['--version']),
    node: process.version,
    docker: first('docker', ['--version']),
    dockerd: first('dockerd', ['--version']),
    podman: first('podman', ['--version']),
    tar: first('tar', ['--version']),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

export async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('bench/load: needs root (dockerd, podman and berth stores)');
    return 1;
  }
  const loadStart = os.loadavg();
  const work = tmpDir('berth-bench-load');
  console.error('bench/load: preparing archives...');
  const cases = await makeCases(work);
  const available: Record<Tool, boolean> = {
    berth: true,
    docker: have('docker') && have('dockerd'),
    podman: have('podman'),
    tar: have('tar'),
    'tar+T': have('tar') && have('chattr'),
  };
  const results: CaseResult[] = [];
  for (const c of cases) {
    const res = Object.fromEntries(
      TOOLS.map((t) => [t, { runs: [] as number[], median: null } as ToolResult]),
    ) as Record<Tool, ToolResult>;
    for (const t of TOOLS) if (!available[t]) res[t].error = 'not installed';
    for (let rep = 0; rep < REPS; rep++) {
      const order = TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length]!);
      for (const t of order) {
        if (res[t].error) continue;
        spawnSync('sync');
        try {
          const ms = LOADERS[t](c);
          res[t].runs.push(ms);
          console.error(`bench/load: ${c.name} ${t} rep ${rep + 1}/${REPS}: ${ms.toFixed(0)} ms`);
        } catch (err) {
          res[t].error = (err as Error).message;
          console.error(`bench/load: ${c.name} ${t}: ${res[t].error}`);
        }
      }
    }
    for (const t of TOOLS) res[t].median = res[t].error ? null : median(res[t].runs);
    results.push({ ...c, results: res });
  }

  const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(0));
  const ratioOf = (a: number | null, b: number | null) => (a === null || b === null ? null : a / b);
  const ratio = (a: number | null, b: number | null) => ratioOf(a, b)?.toFixed(2) ?? 'n/a';
  const med = (r: CaseResult, t: Tool) => r.results[t]?.median ?? null;
  const met = (x: number | null, limit: number) => (x === null ? 'n/a' : x <= limit ? 'met' : 'NOT met');
  const rows = [
    [
      'case',
      ...TOOLS.map((t) => `${t} ms`),
      'berth/docker',
      'berth/tar',
      'berth/tar+T',
      `<=${TARGET_DOCKER}x docker`,
      `<=${TARGET_TAR}x tar`,
    ],
  ];
  for (const r of results) {
    const b = med(r, 'berth');
    rows.push([
      `${r.name} (${(r.bytes / 1e6).toFixed(0)} MB, ${r.layers} layer${r.layers > 1 ? 's' : ''})`,
      ...TOOLS.map((t) => fmt(med(r, t))),
      ratio(b, med(r, 'docker')),
      ratio(b, med(r, 'tar')),
      ratio(b, med(r, 'tar+T')),
      met(ratioOf(b, med(r, 'docker')), TARGET_DOCKER),
      met(ratioOf(b, med(r, 'tar')), TARGET_TAR),
    ]);
  }
  console.log(
    `\nload on this machine's filesystem (berth and tar under ${TMP}, docker data-root ${DOCKER_ROOT}), median of ${REPS} (wall ms); load average ${loadStart[0]!.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end\n`,
  );
  console.log(table(rows));
  console.log(
    '  tar: GNU tar -x of each layer tar into a new dir; tar+T: the same under a chattr +T parent, as berth places layers',
  );
  for (const r of results)
    for (const t of TOOLS) if (r.results[t].error) console.log(`  ${r.name} ${t}: ${r.results[t].error}`);

  const now = new Date();
  const out = {
    bench: 'load',
    date: now.toISOString(),
    reps: REPS,
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memGB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      filesystem: sh('findmnt', ['-no', 'SOURCE,FSTYPE,OPTIONS', '-T', TMP]).stdout.trim(),
      loadavgStart: loadStart,
      loadavgEnd: os.loadavg(),
    },
    versions: versions(),
    method: `wall time of the command only, from spawn to exit; berth: a new --root under ${TMP} per run; docker: one dockerd on data-root ${DOCKER_ROOT} started before timing, loaded images removed after each run; podman: a new --root/--runroot per run; tar: GNU tar -x of each layer tar into a new dir under ${TMP} (tar+T: under a chattr +T parent, as berth's overlay2/); tools in rotating order; sync before each run`,
    targets: { berthToDocker: TARGET_DOCKER, berthToTar: TARGET_TAR },
    cases: results.map((r) => ({
      name: r.name,
      describe: r.describe,
      archiveBytes: r.bytes,
      layers: r.layers,
      files: r.files,
      ...r.results,
      ratios: {
        berthToDocker: ratioOf(med(r, 'berth'), med(r, 'docker')),
        berthToPodman: ratioOf(med(r, 'berth'), med(r, 'podman')),
        berthToTar: ratioOf(med(r, 'berth'), med(r, 'tar')),
        berthToTarT: ratioOf(med(r, 'berth'), med(r, 'tar+T')),
      },
    })),
  };
  const dir = `${REPO}/bench/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/load-${now.toISOString().slice(0, 10)}.json`;
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  return results.some((r) => TOOLS.some((t) => available[t] && r.results[t].error)) ? 1 : 0;
}

runIfMain(import.meta.url, main, cleanup);
