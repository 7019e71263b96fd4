import { runIfMain } from './fixtures.js';
/**
 * push and pull side by side, on the machine's own filesystem, against Debian's docker-registry on
 * 127.0.0.1 (plain http, its storage under $BERTH_TMP): berth vs docker vs podman (and skopeo copy),
 * on the same images:
 *   debootstrap  the ~128 MB / 6.7k-file debootstrap rootfs as a one-layer image (berth import + save)
 *   5-layer      the same rootfs split by top-level directory into 5 layers (a docker-archive made here)
 * push: each tool's store gets the image first (berth/podman load into a new root, docker load into a
 *   dockerd on its default data-root started once; untimed), then `push` is timed into a registry
 *   started fresh for that run (no tool finds a blob there or in its own metadata). skopeo copies the
 *   docker-archive to the registry (no store: its floor). Every tool compresses the layers itself.
 * pull: the image is put in one registry once (skopeo copy: Go's gzip, as docker pushes it); each run
 *   pulls it into an empty store (berth/podman: a new root; docker: the image removed after each run).
 * Only the command is timed (wall clock, spawn to exit); tools in rotating order; sync before each
 * run. Prints the medians and the ratios to docker (the target: push <= 0.5x docker); writes
 * bench/results/registry-<date>.json.
 *
 * berth-zstd: `berth push --compression zstd` (an OCI manifest, tar+zstd layers; push only).
 *
 *   node dist/bench/registry.js   (BENCH_REPS=3; BENCH_CASES=debootstrap,5-layer; BENCH_TOOLS=berth,berth-zstd,docker,podman,skopeo)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { BERTH, REPO, TMP, berthOk, debootstrapTar, tempRoot } from '../test/helpers/berth.js';
import { DEBOOTSTRAP_GROUPS, debootstrapGroup, splitRootfsTar, writeDockerArchive } from '../test/helpers/layered.js';
import { Scope } from '../test/helpers/peers.js';
import { startRegistry, type Registry } from '../test/helpers/registry.js';

const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const ONLY = process.env.BENCH_CASES?.split(',').map((s) => s.trim());
const DOCKERD_NAME = `berth-bench-reg-${process.pid}`;
const DOCKER_ROOT = process.env.BENCH_DOCKER_ROOT || '/var/lib/docker';
type Tool = 'berth' | 'berth-zstd' | 'docker' | 'podman' | 'skopeo';
const ALL: Tool[] = ['berth', 'berth-zstd', 'docker', 'podman', 'skopeo'];
/** `berth push --compression zstd` (beyond Docker): pushes only; its pull would be berth's again. */
const PUSH_ONLY = new Set<Tool>(['berth-zstd']);
const TOOLS = process.env.BENCH_TOOLS ? ALL.filter((t) => process.env.BENCH_TOOLS!.split(',').includes(t)) : ALL;
/** The target: berth push <= 0.5x docker push, same image, same registry, same run. */
const TARGET_PUSH = 0.5;
type Op = 'push' | 'pull';

const scope = new Scope();
let dockerEnv: NodeJS.ProcessEnv | undefined;
let dockerRootCreated = false;
let dockerImagesBefore = new Set<string>();
function cleanup(): void {
  if (dockerEnv) {
    removeDockerImages();
    spawnSync(`${REPO}/scripts/dockerd.sh`, ['stop', DOCKERD_NAME]);
    fs.rmSync(`/run/${DOCKERD_NAME}`, { recursive: true, force: true });
    fs.rmSync(`/run/${DOCKERD_NAME}.log`, { force: true });
    if (dockerRootCreated) fs.rmSync(DOCKER_ROOT, { recursive: true, force: true });
    dockerEnv = undefined;
  }
  scope.dispose();
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
}
function ok(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = sh(cmd, args, env);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  ok(cmd, args, env);
  return performance.now() - t0;
}
function tmpDir(prefix: string): string {
  const t = tempRoot(prefix);
  scope.defer(`remove ${t.root}`, t.remove);
  return t.root;
}

interface Case {
  name: string;
  archive: string;
  layers: number;
  bytes: number;
}

async function makeCases(work: string): Promise<Case[]> {
  const deb = debootstrapTar();
  const cases: Case[] = [];
  if (!ONLY || ONLY.includes('debootstrap')) {
    const root = tmpDir('berth-bench-mk');
    berthOk(root, ['import', deb, 'bench/debootstrap:latest']);
    const archive = `${work}/debootstrap.tar`;
    berthOk(root, ['save', '-o', archive, 'bench/debootstrap:latest']);
    fs.rmSync(root, { recursive: true, force: true });
    cases.push({ name: 'debootstrap', archive, layers: 1, bytes: fs.statSync(archive).size });
  }
  if (!ONLY || ONLY.includes('5-layer')) {
    const layers = splitRootfsTar(deb, DEBOOTSTRAP_GROUPS.length, debootstrapGroup, 'debootstrap5');
    const archive = `${work}/five-layer.tar`;
    await writeDockerArchive(archive, [{ layers, tags: ['bench/five:latest'], label: 'bench' }]);
    cases.push({ name: '5-layer', archive, layers: 5, bytes: fs.statSync(archive).size });
  }
  return cases;
}

/** The tag the archive carries (its manifest.json's first RepoTag). */
function archiveTag(archive: string): string {
  const m = JSON.parse(ok('tar', ['-xOf', archive, 'manifest.json'])) as Array<{ RepoTags: string[] }>;
  return m[0]!.RepoTags[0]!;
}

function docker(args: string[]): string {
  if (!dockerEnv) {
    dockerRootCreated = !fs.existsSync(DOCKER_ROOT);
    const start = sh(`${REPO}/scripts/dockerd.sh`, ['start', DOCKERD_NAME, DOCKER_ROOT]);
    if (start.status !== 0) throw new Error(`dockerd did not start on ${DOCKER_ROOT}: ${start.stderr.trim()}`);
    dockerEnv = { ...process.env, DOCKER_HOST: start.stdout.trim() };
    dockerImagesBefore = new Set(dockerImageIds());
  }
  return ok('docker', args, dockerEnv);
}
function dockerImageIds(): string[] {
  return ok('docker', ['images', '-aq', '--no-trunc'], dockerEnv).split('\n').filter(Boolean);
}
function removeDockerImages(): void {
  const ids = dockerImageIds().filter((id) => !dockerImagesBefore.has(id));
  if (ids.length) sh('docker', ['rmi', '-f', ...new Set(ids)], dockerEnv);
}
function podmanFlags(dir: string): string[] {
  return ['--root', `${dir}/root`, '--runroot', `${dir}/run`, '--storage-driver', 'overlay'];
}

/** One timed push of the case's image by `tool` into `reg` (a fresh registry). */
function push(tool: Tool, c: Case, reg: Registry, rep: number): number {
  const target = `${reg.host}/bench/${tool}-${c.name}:r${rep}`;
  const tag = archiveTag(c.archive);
  switch (tool) {
    case 'berth':
    case 'berth-zstd': {
      const root = tmpDir('berth-bench-push');
      berthOk(root, ['load', '-q', '-i', c.archive]);
      berthOk(root, ['tag', tag, target]);
      const zstd = tool === 'berth-zstd' ? ['--compression', 'zstd'] : [];
      const ms = timed(BERTH, ['--root', root, 'push', '-q', ...zstd, target]);
      fs.rmSync(root, { recursive: true, force: true });
      return ms;
    }
    case 'docker': {
      try {
        docker(['load', '-q', '-i', c.archive]);
        docker(['tag', tag, target]);
        const t0 = performance.now();
        docker(['push', '-q', target]);
        return performance.now() - t0;
      } finally {
        removeDockerImages();
      }
    }
    case 'podman': {
      const dir = tmpDir('berth-bench-podman');
      const g = podmanFlags(dir);
      ok('podman', [...g, 'load', '-q', '-i', c.archive]);
      ok('podman', [...g, 'tag', tag, target]);
      const ms = timed('podman', [...g, 'push', '-q', '--tls-verify=false', target]);
      fs.rmSync(dir, { recursive: true, force: true });
      return ms;
    }
    case 'skopeo':
      return timed('skopeo', [
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `docker-archive:${c.archive}`,
        `docker://${target}`,
      ]);
  }
}

/** One timed pull of `ref` by `tool` into an empty store (skopeo: into a new dir layout). */
function pull(tool: Tool, ref: string): number {
  switch (tool) {
    case 'berth-zstd':
      throw new Error('push only');
    case 'berth': {
      const root = tmpDir('berth-bench-pull');
      const ms = timed(BERTH, ['--root', root, 'pull', '-q', ref]);
      fs.rmSync(root, { recursive: true, force: true });
      return ms;
    }
    case 'docker':
      try {
        docker(['images', '-q']);
        const t0 = performance.now();
        docker(['pull', '-q', ref]);
        return performance.now() - t0;
      } finally {
        removeDockerImages();
      }
    case 'podman': {
      const dir = tmpDir('berth-bench-podman');
      const ms = timed('podman', [...podmanFlags(dir), 'pull', '-q', '--tls-verify=false', ref]);
      fs.rmSync(dir, { recursive: true, force: true });
      return ms;
    }
    case 'skopeo': {
      const dir = tmpDir('berth-bench-skopeo');
      const ms = timed('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}/img`]);
      fs.rmSync(dir, { recursive: true, force: true });
      return ms;
    }
  }
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

type Results = Record<string, Record<Op, Record<Tool, { runs: number[]; median: number | null; error?: string }>>>;

export async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('bench/registry: needs root (dockerd, podman and berth stores)');
    return 1;
  }
  const load0 = os.loadavg();
  const work = tmpDir('berth-bench-registry');
  console.error('bench/registry: preparing images...');
  const cases = await makeCases(work);
  const results: Results = {};
  let failed = false;
  for (const c of cases) {
    const res = (results[c.name] = {} as Results[string]);
    for (const op of ['push', 'pull'] as Op[])
      res[op] = Object.fromEntries(TOOLS.map((t) => [t, { runs: [], median: null }])) as unknown as Results[string][Op];
    // the image every pull reads, pushed once by skopeo (Go's gzip, as docker pushes)
    const source = await startRegistry(scope);
    const ref = `${source.host}/bench/${c.name}:latest`;
    ok('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${c.archive}`, `docker://${ref}`]);
    for (let rep = 0; rep < REPS; rep++) {
      const order = TOOLS.map((_, i) => TOOLS[(i + rep) % TOOLS.length]!);
      for (const op of ['push', 'pull'] as Op[])
        for (const t of order) {
          const r = res[op][t];
          if (r.error || (op === 'pull' && PUSH_ONLY.has(t))) continue;
          let reg: Registry | undefined;
          try {
            if (op === 'push') reg = await startRegistry(scope);
            spawnSync('sync');
            const ms = op === 'push' ? push(t, c, reg!, rep) : pull(t, ref);
            r.runs.push(ms);
            console.error(`bench/registry: ${c.name} ${op} ${t} rep ${rep + 1}/${REPS}: ${ms.toFixed(0)} ms`);
          } catch (err) {
            r.error = (err as Error).message;
            failed = true;
            console.error(`bench/registry: ${c.name} ${op} ${t}: ${r.error}`);
          } finally {
            if (reg) {
              reg.stop();
              fs.rmSync(reg.dir, { recursive: true, force: true });
            }
          }
        }
    }
    for (const op of ['push', 'pull'] as Op[]) for (const t of TOOLS) res[op][t].median = median(res[op][t].runs);
    source.stop();
  }

  const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(0));
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? null : a / b);
  const rows: string[][] = [['case', 'op', ...TOOLS.map((t) => `${t} ms`), 'berth/docker', 'berth/podman', 'target']];
  for (const c of cases)
    for (const op of ['push', 'pull'] as Op[]) {
      const m = (t: Tool) => results[c.name]![op][t]?.median ?? null;
      const rd = ratio(m('berth'), m('docker'));
      rows.push([
        `${c.name} (${(c.bytes / 1e6).toFixed(0)} MB, ${c.layers} layer${c.layers > 1 ? 's' : ''})`,
        op,
        ...TOOLS.map((t) => fmt(m(t))),
        rd?.toFixed(2) ?? 'n/a',
        ratio(m('berth'), m('podman'))?.toFixed(2) ?? 'n/a',
        op === 'push'
          ? rd === null
            ? 'n/a'
            : rd <= TARGET_PUSH
              ? `met (<=${TARGET_PUSH})`
              : `NOT met (<=${TARGET_PUSH})`
          : '',
      ]);
    }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(
    `\npush and pull, registry on 127.0.0.1 (docker-registry, storage under ${TMP}), median of ${REPS} (wall ms); load average ${load0[0]!.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end\n`,
  );
  console.log(
    rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n'),
  );
  console.log('  skopeo: push = copy docker-archive -> registry; pull = copy registry -> dir: (no store)');
  for (const c of cases)
    for (const op of ['push', 'pull'] as Op[])
      for (const t of TOOLS)
        if (results[c.name]![op][t].error) console.log(`  ${c.name} ${op} ${t}: ${results[c.name]![op][t].error}`);

  const now = new Date();
  const out = {
    bench: 'registry',
    date: now.toISOString(),
    reps: REPS,
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      kernel: os.release(),
      filesystem: sh('findmnt', ['-no', 'SOURCE,FSTYPE,OPTIONS', '-T', TMP]).stdout.trim(),
      loadavgStart: load0,
      loadavgEnd: os.loadavg(),
    },
    versions: {
      berth: sh(BERTH, ['--version']).stdout.trim(),
      docker: sh('docker', ['--version']).stdout.trim(),
      podman: sh('podman', ['--version']).stdout.trim(),
      skopeo: sh('skopeo', ['--version']).stdout.trim(),
    },
    target: { pushBerthToDocker: TARGET_PUSH },
    cases: cases.map((c) => ({ ...c, archive: undefined, ...results[c.name] })),
  };
  const dir = `${REPO}/bench/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/registry-${now.toISOString().slice(0, 10)}.json`;
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  return failed ? 1 : 0;
}

runIfMain(import.meta.url, main, cleanup);
