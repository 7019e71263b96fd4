/**
 * `load` side by side: berth vs docker (private dockerd, Debian's docker.io) vs
 * podman, each into a fresh store for every repetition, on the same archives:
 *   debootstrap  the ~128 MB / 6.7k-file debootstrap rootfs as a one-layer image
 *                (made with `berth import` + `berth save`)
 *   5-layer      the same rootfs split by top-level directory into 5 layers
 *                (base, etc, var, usr, usr/share), a docker-archive written here
 * Only the load command is timed (wall clock, from spawn to exit): not dockerd's
 * start-up, not creating or removing stores. Each repetition runs the tools in a
 * rotating order after a `sync`. Prints a table; writes bench/results/load-<date>.json.
 *
 *   node dist/bench/load.js            (BENCH_REPS=3 by default; BENCH_CASES=debootstrap,5-layer)
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { BERTH, REPO, berthOk, debootstrapTar, tempRoot } from '../test/helpers/berth.js';
import { DEBOOTSTRAP_GROUPS, debootstrapGroup, splitRootfsTar, writeDockerArchive } from '../test/helpers/layered.js';

const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const ONLY = process.env.BENCH_CASES?.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const DOCKERD_NAME = `berth-bench-load-${process.pid}`;

type Tool = 'berth' | 'docker' | 'podman';
const TOOLS: Tool[] = ['berth', 'docker', 'podman'];

interface Case {
  name: string;
  archive: string;
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
function stopDockerd(): void {
  spawnSync(`${REPO}/scripts/dockerd.sh`, ['stop', DOCKERD_NAME]);
  dockerdUp = false;
  // dockerd.sh stop leaves the exec-root and the log behind
  fs.rmSync(`/run/${DOCKERD_NAME}`, { recursive: true, force: true });
  fs.rmSync(`/run/${DOCKERD_NAME}.log`, { force: true });
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
      bytes: fs.statSync(archive).size,
      layers: 5,
      files,
      describe: `debootstrap split by top-level dir: ${DEBOOTSTRAP_GROUPS.map((g, i) => `${g} ${(layers[i]!.size / 1e6).toFixed(1)} MB`).join(', ')}`,
    });
  }
  return cases;
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

function loadDocker(archive: string): number {
  const root = tmpDir('berth-bench-docker');
  try {
    const start = sh(`${REPO}/scripts/dockerd.sh`, ['start', DOCKERD_NAME, root]);
    if (start.status !== 0) throw new Error(`dockerd did not start: ${start.stderr.trim()}`);
    dockerdUp = true;
    const env = { ...process.env, DOCKER_HOST: start.stdout.trim() };
    const ms = timed('docker', ['load', '-i', archive], env);
    const ids = sh('docker', ['images', '-q'], env).stdout.trim();
    if (!ids) throw new Error('docker load: no image in the store afterwards');
    return ms;
  } finally {
    stopDockerd();
    rmDir(root);
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

const LOADERS: Record<Tool, (archive: string) => number> = { berth: loadBerth, docker: loadDocker, podman: loadPodman };

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
          const ms = LOADERS[t](c.archive);
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
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? 'n/a' : (a / b).toFixed(2));
  const rows = [['case', 'berth ms', 'docker ms', 'podman ms', 'berth/docker', 'berth/podman']];
  for (const r of results) {
    const b = r.results.berth.median,
      d = r.results.docker.median,
      p = r.results.podman.median;
    rows.push([
      `${r.name} (${(r.bytes / 1e6).toFixed(0)} MB, ${r.layers} layer${r.layers > 1 ? 's' : ''})`,
      fmt(b),
      fmt(d),
      fmt(p),
      ratio(b, d),
      ratio(b, p),
    ]);
  }
  console.log(
    `\nload, fresh store per run, median of ${REPS} (wall ms); load average ${loadStart[0]!.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end\n`,
  );
  console.log(table(rows));
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
      loadavgStart: loadStart,
      loadavgEnd: os.loadavg(),
    },
    versions: versions(),
    method:
      'wall time of the load command only, from spawn to exit; fresh store per run (berth --root, dockerd --data-root started before timing, podman --root/--runroot); tools in rotating order; sync before each run',
    cases: results.map((r) => ({
      name: r.name,
      describe: r.describe,
      archiveBytes: r.bytes,
      layers: r.layers,
      files: r.files,
      berth: r.results.berth,
      docker: r.results.docker,
      podman: r.results.podman,
      ratios: {
        berthToDocker:
          r.results.berth.median && r.results.docker.median ? r.results.berth.median / r.results.docker.median : null,
        berthToPodman:
          r.results.berth.median && r.results.podman.median ? r.results.berth.median / r.results.podman.median : null,
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

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main().then(
    (code) => {
      cleanup();
      process.exitCode = code;
    },
    (err) => {
      cleanup();
      console.error(err);
      process.exitCode = 1;
    },
  );
}
