/**
 * `build` side by side, on the same Dockerfile, context and base image in every tool:
 *   berth --root R build -t APP CTX
 *   docker build -t APP CTX          (Debian's 20.10 CLI, DOCKER_BUILDKIT=0: the legacy builder, private dockerd)
 *   buildah bud --layers -t APP CTX  (private --root/--runroot, overlay, --isolation chroot by default)
 * The base is the debootstrap minbase rootfs, `berth import`ed once and `berth save`d; that archive is
 * loaded into every store (berth load, docker load, buildah pull docker-archive:), so the base has the
 * same name and the same image ID in all three. The Dockerfile has 11 steps (ARG, ENV, WORKDIR, COPY of
 * 200 files, a RUN writing 2,000 files, a RUN writing 32 MiB, USER, LABEL, EXPOSE, CMD).
 *
 * cold: BENCH_REPS repetitions; each builds every tool (rotating order) into a fresh store holding only
 *   the base image (new berth root, new dockerd data root with the daemon started before timing, new
 *   buildah root), after one untimed `run IMAGE true` in that store (so the runtime's binaries are paged
 *   in and a fresh dockerd has run a container, as a long-running one would have) and a `sync`.
 * cached: the last cold store of each tool is rebuilt with nothing changed, timed by hyperfine (-N,
 *   BENCH_WARMUP warm-ups, BENCH_RUNS runs in BENCH_ROUNDS rotating rounds); the check run before it must
 *   report every step cached and keep the image ID.
 * Wall time from spawn to exit of the CLI. Each tool's first build is verified (the image's files and
 * config), so a failing tool shows n/a instead of a fast time. Per-step times come from when each
 * `Step N/M` line arrives on the CLI's output. Then one cold and one cached berth build with
 * BERTH_TRACE=1 show where berth's time goes. Prints tables; writes bench/results/build-<date>.json.
 *
 *   node dist/bench/build.js   (BENCH_REPS=3 BENCH_RUNS=10 BENCH_ROUNDS=2 BENCH_WARMUP=2
 * BENCH_BUILDAH_ISOLATION=chroot|oci)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BERTH, REPO, debootstrapTar } from '../test/helpers/berth.js';
import { Scope, removeTree, run, startDockerd } from '../test/helpers/peers.js';
import {
  fmt,
  have,
  hyperfineRounds,
  median,
  ok,
  parseTrace,
  ratio,
  runBench,
  sh,
  stats,
  table,
  versions,
  type Cmd,
  type Timing,
  runIfMain,
} from './fixtures.js';

const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const RUNS = Math.max(2, Number(process.env.BENCH_RUNS ?? 10));
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 2));
const ROUNDS = Math.min(RUNS, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2)));
const BUILDAH_ISOLATION = process.env.BENCH_BUILDAH_ISOLATION === 'oci' ? 'oci' : 'chroot';
const TAG = 'bench/build';

/** Debian's 20.10 CLI (the machine's 28.x CLI in /usr/local/bin defaults to BuildKit). */
const DOCKER = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const BASE = 'bench/debootstrap:latest';
const APP = 'bench/app:latest';

// ---- the Dockerfile and its context ------------------------------------------------------------------

const STEPS = 11;
const DOCKERFILE = `FROM ${BASE}
ARG APP_VERSION=1.0
ENV APP_HOME=/opt/app LANG=C.UTF-8
WORKDIR /opt/app
COPY files/ /opt/app/files/
RUN mkdir small && cd small && for i in $(seq 1 2000); do echo "file $i $APP_VERSION" > f$i; done
RUN head -c 33554432 /dev/urandom > /big
USER nobody
LABEL org.example.bench=berth-build version=$APP_VERSION
EXPOSE 8080
CMD ["cat", "/opt/app/files/a/f001.dat"]
`;
const CONTEXT_FILES = 200;

/** ctx/Dockerfile and ctx/files/{a,b,c,d}/fNNN.dat: 200 files of 1-8 KiB, deterministic content. */
function makeContext(ctx: string): { files: number; bytes: number } {
  let bytes = 0;
  for (let i = 1; i <= CONTEXT_FILES; i++) {
    const dir = join(ctx, 'files', 'abcd'[(i - 1) % 4]!);
    fs.mkdirSync(dir, { recursive: true });
    const size = 1024 + ((i * 2654435761) % 7169);
    const chunks: Buffer[] = [];
    for (let n = 0; chunks.length * 32 < size; n++) chunks.push(createHash('sha256').update(`${i}/${n}`).digest());
    fs.writeFileSync(join(dir, `f${String(i).padStart(3, '0')}.dat`), Buffer.concat(chunks).subarray(0, size));
    bytes += size;
  }
  fs.writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
  return { files: CONTEXT_FILES, bytes };
}

/** What the built image must hold: run as its user, these lines. */
const VERIFY_SH =
  'id -un; stat -c %s /big; find /opt/app/small -type f | wc -l; find /opt/app/files -type f | wc -l; cat /opt/app/small/f2000';
const VERIFY_OUT = `nobody\n33554432\n2000\n${CONTEXT_FILES}\nfile 2000 1.0\n`;

interface ImageConfig {
  User?: string;
  Labels?: Record<string, string> | null;
  Env?: string[];
  WorkingDir?: string;
  Cmd?: string[];
  ExposedPorts?: Record<string, unknown>;
}
function configProblem(c: ImageConfig | undefined): string | undefined {
  if (!c) return 'no config';
  const want: Array<[string, boolean]> = [
    ['User nobody', c.User === 'nobody'],
    ['label org.example.bench=berth-build', c.Labels?.['org.example.bench'] === 'berth-build'],
    ['label version=1.0', c.Labels?.version === '1.0'],
    ['Env APP_HOME=/opt/app', !!c.Env?.includes('APP_HOME=/opt/app')],
    ['WorkingDir /opt/app', c.WorkingDir === '/opt/app'],
    ['Cmd', JSON.stringify(c.Cmd) === '["cat","/opt/app/files/a/f001.dat"]'],
    ['ExposedPorts 8080/tcp', !!c.ExposedPorts && '8080/tcp' in c.ExposedPorts],
  ];
  const bad = want.filter(([, good]) => !good).map(([w]) => w);
  return bad.length ? `config lacks ${bad.join(', ')}: ${JSON.stringify(c)}` : undefined;
}

// ---- the tools ------------------------------------------------------------------------------------------

type Key = 'berth' | 'docker' | 'buildah';
const KEYS: Key[] = ['berth', 'docker', 'buildah'];
const LABEL: Record<Key, string> = {
  berth: 'berth build',
  docker: 'docker build (legacy)',
  buildah: `buildah bud --layers (${BUILDAH_ISOLATION})`,
};

/** One tool's store holding the base image, with its own cleanup scope. */
interface Store {
  key: Key;
  scope: Scope;
  build: { cmd: string; args: string[]; env: NodeJS.ProcessEnv };
  /** Untimed warm-up in this store: a container of the base image runs `true`. */
  warm(): void;
  /** The built image's ID, config, and the output of VERIFY_SH in a container of it. */
  inspect(): { id: string; config: ImageConfig | undefined; layers: number };
  runVerify(): string;
}

function berthStore(baseTar: string): Store {
  const scope = new Scope();
  const root = scope.tempDir('bench-build-berth');
  ok(BERTH, ['--root', root, 'load', '-i', baseTar]);
  const b = (args: string[]) => ok(BERTH, ['--root', root, ...args]);
  return {
    key: 'berth',
    scope,
    build: { cmd: BERTH, args: ['--root', root, 'build', '-t', APP], env: process.env },
    warm: () => {
      b(['run', '--rm', BASE, 'true']);
    },
    inspect: () => {
      const j = JSON.parse(b(['image', 'inspect', APP]))[0];
      return { id: j.Id, config: j.Config, layers: j.RootFS?.Layers?.length ?? -1 };
    },
    runVerify: () => b(['run', '--rm', APP, 'sh', '-c', VERIFY_SH]),
  };
}

function dockerStore(baseTar: string): Store {
  const scope = new Scope();
  try {
    const d = startDockerd(scope, 'bench-build', scope.tempDir('bench-build-docker'));
    const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' };
    const dk = (args: string[]) => ok(DOCKER, args, env);
    dk(['load', '-q', '-i', baseTar]);
    return {
      key: 'docker',
      scope,
      build: { cmd: DOCKER, args: ['build', '-t', APP], env },
      warm: () => {
        dk(['run', '--rm', '--network', 'none', BASE, 'true']);
      },
      inspect: () => {
        const j = JSON.parse(dk(['image', 'inspect', APP]))[0];
        return { id: j.Id, config: j.Config, layers: j.RootFS?.Layers?.length ?? -1 };
      },
      runVerify: () => dk(['run', '--rm', '--network', 'none', APP, 'sh', '-c', VERIFY_SH]),
    };
  } catch (e) {
    scope.dispose();
    throw e;
  }
}

function buildahStore(baseTar: string): Store {
  const scope = new Scope();
  const dir = scope.tempDir('bench-build-buildah');
  for (const d of ['root', 'run', 'tmp']) fs.mkdirSync(join(dir, d));
  const flags = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay'];
  // buildah keeps temporary files (context copies, blobs) in TMPDIR: on the store's filesystem, removed with it
  const env = { ...process.env, TMPDIR: join(dir, 'tmp') };
  // working containers and their overlay mounts go before the dir does (removeTree also unmounts what is left)
  scope.defer(`buildah rm -a (${dir})`, () => {
    run('buildah', [...flags, 'rm', '-a'], { env, timeoutMs: 60_000 });
    run('buildah', [...flags, 'umount', '-a'], { env, timeoutMs: 60_000 });
    removeTree(dir);
  });
  const bh = (args: string[]) => ok('buildah', [...flags, ...args], env);
  const inContainer = (image: string, cmd: string[]) => {
    const c = bh(['from', '--pull-never', '-q', image]).trim();
    try {
      return bh([
        'run',
        '--isolation',
        BUILDAH_ISOLATION,
        ...(BUILDAH_ISOLATION === 'oci' ? ['--runtime', 'runc'] : []),
        c,
        '--',
        ...cmd,
      ]);
    } finally {
      bh(['rm', c]);
    }
  };
  try {
    bh(['pull', '-q', `docker-archive:${baseTar}`]);
    return {
      key: 'buildah',
      scope,
      build: {
        cmd: 'buildah',
        args: [
          ...flags,
          'bud',
          '--layers',
          '--pull-never',
          '--isolation',
          BUILDAH_ISOLATION,
          ...(BUILDAH_ISOLATION === 'oci' ? ['--runtime', 'runc'] : []),
          '-t',
          APP,
        ],
        env,
      },
      warm: () => {
        inContainer(BASE, ['true']);
      },
      inspect: () => {
        const j = JSON.parse(bh(['inspect', '--type', 'image', APP]));
        return {
          id: `sha256:${j.FromImageID}`,
          config: j.OCIv1?.config,
          layers: j.OCIv1?.rootfs?.diff_ids?.length ?? -1,
        };
      },
      runVerify: () => inContainer(APP, ['sh', '-c', VERIFY_SH]),
    };
  } catch (e) {
    scope.dispose();
    throw e;
  }
}

const STORES: Record<Key, (baseTar: string) => Store> = {
  berth: berthStore,
  docker: dockerStore,
  buildah: buildahStore,
};

// ---- timing one build -------------------------------------------------------------------------------------

interface StepTime {
  step: string;
  ms: number;
}
interface Build {
  ms: number;
  code: number | null;
  output: string;
  steps: StepTime[];
  cached: number;
}

/** The build CLI, spawned and timed to its exit; each output line is stamped as it arrives. */
function timedBuild(s: Store, ctx: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Build> {
  return new Promise((resolve) => {
    const lines: Array<[number, string]> = [];
    let output = '';
    const t0 = performance.now();
    const child = spawn(s.build.cmd, [...s.build.args, ctx], {
      env: { ...s.build.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let exitMs: number | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.on('data', (d: Buffer) => {
        const t = performance.now() - t0;
        const text = d.toString();
        output += text;
        partial += text;
        for (let i; (i = partial.indexOf('\n')) >= 0; partial = partial.slice(i + 1))
          lines.push([t, partial.slice(0, i)]);
      });
    }
    child.on('exit', () => {
      exitMs = performance.now() - t0;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = exitMs ?? performance.now() - t0;
      resolve({
        ms,
        code,
        output,
        steps: stepTimes(lines, ms),
        cached: (output.match(/--> Using cache/g) ?? []).length,
      });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code: -1, output: e.message, steps: [], cached: 0 });
    });
  });
}

/**
 * Time per step from the arrival of `Step N/M : X` (berth, docker) or `STEP N/M: X` (buildah) lines:
 * "start-up" until step 1's line, step k until step k+1's line, the last step until exit (its commit,
 * tagging, exit). docker's lines are relayed by the daemon, so they arrive a little late.
 */
function stepTimes(lines: Array<[number, string]>, total: number): StepTime[] {
  const starts = lines
    .map(([t, l]) => [t, /^(?:Step|STEP) (\d+)\/\d+ ?: ?(\S+)/.exec(l)] as const)
    .filter(([, m]) => m) as Array<[number, RegExpExecArray]>;
  if (!starts.length) return [];
  const out: StepTime[] = [{ step: 'start-up (to step 1)', ms: starts[0]![0] }];
  starts.forEach(([t, m], i) => out.push({ step: `${m[1]} ${m[2]}`, ms: (starts[i + 1]?.[0] ?? total) - t }));
  return out;
}

const tail = (s: string) => s.trim().slice(-1500);

/** The image a build made: its files and config as the Dockerfile says; undefined or the problem. */
function verify(s: Store): string | undefined {
  try {
    const { config } = s.inspect();
    const bad = configProblem(config);
    if (bad) return bad;
    const out = s.runVerify();
    return out === VERIFY_OUT
      ? undefined
      : `a container of the image printed ${JSON.stringify(out)}, expected ${JSON.stringify(VERIFY_OUT)}`;
  } catch (e) {
    return (e as Error).message;
  }
}

// ---- the benchmark -----------------------------------------------------------------------------------------

interface ToolCold {
  runs: number[];
  steps: StepTime[][];
  medianMs: number | null;
  layers?: number;
  imageId?: string;
  error?: string;
}

async function bench(scope: Scope): Promise<number> {
  process.env.DOCKER_BUILDKIT = '0';
  const loadStart = os.loadavg();
  const available: Record<Key, string | undefined> = {
    berth: undefined,
    docker: have(DOCKER) && have('dockerd') ? undefined : 'not installed (docker.io)',
    buildah: have('buildah') ? undefined : 'not installed (apt-get install buildah; scripts/install-deps.sh)',
  };

  const work = scope.tempDir('bench-build');
  console.error(`${TAG}: preparing the base image and the context...`);
  const baseTar = join(work, 'base.tar');
  {
    const mk = scope.tempDir('bench-build-mk');
    ok(BERTH, ['--root', mk, 'import', debootstrapTar(), BASE]);
    ok(BERTH, ['--root', mk, 'save', '-o', baseTar, BASE]);
    removeTree(mk);
  }
  const ctx = join(work, 'ctx');
  const context = makeContext(ctx);

  // cold: a fresh store per tool and repetition; the last one stays for the cached part
  const cold = Object.fromEntries(
    KEYS.map((k) => [k, { runs: [], steps: [], medianMs: null, error: available[k] } as ToolCold]),
  ) as Record<Key, ToolCold>;
  const kept: Partial<Record<Key, Store>> = {};
  for (let rep = 0; rep < REPS; rep++) {
    for (let i = 0; i < KEYS.length; i++) {
      const k = KEYS[(i + rep) % KEYS.length]!;
      if (cold[k].error) continue;
      let s: Store | undefined;
      try {
        s = STORES[k](baseTar);
        s.warm();
        spawnSync('sync');
        const b = await timedBuild(s, ctx);
        if (b.code !== 0)
          throw new Error(`${s.build.cmd} ${s.build.args.join(' ')} ${ctx} exited ${b.code}: ${tail(b.output)}`);
        if (k === 'docker' && !/^Step 1\/\d+ : FROM/m.test(b.output))
          throw new Error(`docker build did not use the legacy builder: ${tail(b.output)}`);
        if (rep === 0 || rep === REPS - 1) {
          const bad = verify(s);
          if (bad) throw new Error(`the built image is wrong: ${bad}`);
          const { id, layers } = s.inspect();
          Object.assign(cold[k], { imageId: id, layers });
        }
        cold[k].runs.push(b.ms);
        cold[k].steps.push(b.steps);
        console.error(`${TAG}: cold ${k} rep ${rep + 1}/${REPS}: ${b.ms.toFixed(0)} ms`);
      } catch (e) {
        cold[k].error = (e as Error).message;
        console.error(`${TAG}: cold ${k}: ${cold[k].error}`);
      }
      if (s && rep === REPS - 1 && !cold[k].error) kept[k] = s;
      else s?.scope.dispose();
    }
  }
  for (const k of KEYS) {
    cold[k].medianMs = cold[k].error ? null : median(cold[k].runs);
    if (kept[k]) scope.defer(`dispose ${k} store`, () => kept[k]!.scope.dispose());
  }

  // cached: rebuild with nothing changed; the check run must reuse every step and keep the image
  const cachedErrors: Partial<Record<Key, string>> = {};
  const cmds: Array<Cmd<Key>> = [];
  for (const k of KEYS) {
    const s = kept[k];
    if (!s) {
      cachedErrors[k] = cold[k].error ? 'cold build failed' : 'not run';
      continue;
    }
    const before = s.inspect().id;
    const b = await timedBuild(s, ctx);
    const after = b.code === 0 ? s.inspect().id : undefined;
    if (b.code !== 0) cachedErrors[k] = `exited ${b.code}: ${tail(b.output)}`;
    else if (b.cached < STEPS - 1)
      cachedErrors[k] = `only ${b.cached} of ${STEPS - 1} steps reported "Using cache": ${tail(b.output)}`;
    else if (after !== before) cachedErrors[k] = `the image changed (${before} -> ${after})`;
    if (cachedErrors[k]) {
      console.error(`${TAG}: cached ${k}: ${cachedErrors[k]}`);
      continue;
    }
    cmds.push({ key: k, label: LABEL[k], argv: [s.build.cmd, ...s.build.args, ctx], env: s.build.env });
  }
  const times = hyperfineRounds(cmds, cachedErrors, { work, runs: RUNS, rounds: ROUNDS, warmup: WARMUP, tag: TAG });
  const cached = Object.fromEntries(
    KEYS.map((k) => {
      const c = cmds.find((x) => x.key === k);
      return [k, stats(LABEL[k], c ? c.argv.join(' ') : '', times[k] ?? [], cachedErrors[k])];
    }),
  ) as Record<Key, Timing>;

  // where berth's time goes: one cold build (fresh store) and one cached rebuild with BERTH_TRACE=1
  const traced: Record<
    'cold' | 'cached',
    | { wallMs: number; uptimeMs: number; phases: Array<[string, number]>; unmarkedMs: number; steps: StepTime[] }
    | { error: string }
  > = { cold: { error: 'not run' }, cached: { error: 'not run' } };
  if (!cold.berth.error) {
    for (const which of ['cold', 'cached'] as const) {
      let s: Store | undefined;
      try {
        s = which === 'cold' ? berthStore(baseTar) : kept.berth!;
        if (which === 'cold') {
          s.warm();
          spawnSync('sync');
        }
        const b = await timedBuild(s, ctx, { BERTH_TRACE: '1' });
        if (b.code !== 0) throw new Error(`exited ${b.code}: ${tail(b.output)}`);
        const t = parseTrace(b.output);
        // the container phases repeat for every RUN: number the repeats (`create container #2`)
        const seen = new Map<string, number>();
        const phases = t.phases.map(([p, v]): [string, number] => {
          const n = (seen.get(p) ?? 0) + 1;
          seen.set(p, n);
          return [n > 1 ? `${p} #${n}` : p, v];
        });
        traced[which] = {
          wallMs: b.ms,
          uptimeMs: t.uptimeMs,
          phases,
          unmarkedMs: t.uptimeMs - t.phases.reduce((a, [, ms]) => a + ms, 0),
          steps: b.steps,
        };
      } catch (e) {
        traced[which] = { error: (e as Error).message };
      }
      if (which === 'cold') s?.scope.dispose();
    }
  }
  const loadEnd = os.loadavg();

  // ---- report ----
  const coldB = cold.berth.medianMs,
    coldD = cold.docker.medianMs,
    coldH = cold.buildah.medianMs;
  const cachedB = cached.berth.medianMs,
    cachedD = cached.docker.medianMs,
    cachedH = cached.buildah.medianMs;
  const r = {
    coldBerthToDocker: ratio(coldB, coldD),
    coldBerthToBuildah: ratio(coldB, coldH),
    cachedBerthToDocker: ratio(cachedB, cachedD),
    cachedBerthToBuildah: ratio(cachedB, cachedH),
  };
  const target = (v: number | null, max: number) => (v === null ? 'n/a' : v <= max ? 'met' : 'NOT met');
  const targets = {
    coldAtMost0_8xDocker: target(r.coldBerthToDocker, 0.8),
    cachedAtMost1_0xDocker: target(r.cachedBerthToDocker, 1.0),
    cachedAtMost0_2xBuildah: target(r.cachedBerthToBuildah, 0.2),
  };

  console.log(
    `\nbuild: ${STEPS}-step Dockerfile on the debootstrap base (COPY of ${context.files} files / ${(context.bytes / 1024).toFixed(0)} KiB, RUN of 2,000 files, RUN of 32 MiB); wall ms`,
  );
  console.log(
    `cold: fresh store per run, median of ${REPS}; cached: nothing changed, hyperfine median of ${RUNS} (${WARMUP} warm-ups, ${ROUNDS} rounds)`,
  );
  console.log(`load average ${loadStart[0]!.toFixed(1)} at start, ${loadEnd[0]!.toFixed(1)} at end\n`);
  const ms = (v: number | null) => fmt(v);
  const x = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)}x`);
  console.log(
    table([
      ['', 'berth', 'docker', 'buildah', 'berth/docker', 'berth/buildah'],
      ['cold (median)', ms(coldB), ms(coldD), ms(coldH), x(r.coldBerthToDocker), x(r.coldBerthToBuildah)],
      ['cold (min)', ...KEYS.map((k) => (cold[k].medianMs === null ? 'n/a' : fmt(Math.min(...cold[k].runs)))), '', ''],
      ['cached (median)', ms(cachedB), ms(cachedD), ms(cachedH), x(r.cachedBerthToDocker), x(r.cachedBerthToBuildah)],
      ['cached (min)', ms(cached.berth.minMs), ms(cached.docker.minMs), ms(cached.buildah.minMs), '', ''],
    ]),
  );
  console.log(
    `\ntargets: cold <= 0.8x docker: ${targets.coldAtMost0_8xDocker}; cached <= 1.0x docker: ${targets.cachedAtMost1_0xDocker}; cached <= 0.2x buildah: ${targets.cachedAtMost0_2xBuildah}`,
  );
  console.log(
    `cold runs: ${KEYS.map((k) => `${k} ${cold[k].runs.map((v) => v.toFixed(0)).join('/') || 'n/a'}`).join('; ')}`,
  );
  console.log(`layers: ${KEYS.map((k) => `${k} ${cold[k].layers ?? 'n/a'}`).join(', ')} (base included)`);
  for (const k of KEYS) {
    if (cold[k].error) console.log(`  cold ${k}: ${cold[k].error}`);
    if (cached[k].error && !cold[k].error) console.log(`  cached ${k}: ${cached[k].error}`);
  }

  // per-step medians of the cold runs
  const stepNames = cold.berth.steps[0]?.map((s) => s.step) ?? cold.docker.steps[0]?.map((s) => s.step) ?? [];
  const stepMedian = (k: Key, i: number) =>
    median(cold[k].steps.map((st) => st[i]?.ms).filter((v): v is number => v !== undefined));
  if (stepNames.length) {
    console.log(`\ncold, per step (median ms; from when each tool prints its step line)\n`);
    console.log(
      table([
        ['step', 'berth', 'docker', 'buildah'],
        ...stepNames.map((n, i) => [n, ...KEYS.map((k) => fmt(stepMedian(k, i)))]),
      ]),
    );
  }

  for (const which of ['cold', 'cached'] as const) {
    const t = traced[which];
    if ('error' in t) {
      console.log(`\nberth ${which} build, BERTH_TRACE=1: failed: ${t.error}`);
      continue;
    }
    console.log(
      `\nberth ${which} build with BERTH_TRACE=1: wall ${t.wallMs.toFixed(0)} ms, process uptime ${t.uptimeMs.toFixed(0)} ms`,
    );
    console.log(
      table([
        ['trace phase', 'ms'],
        ...t.phases.map(([p, v]) => [p, v.toFixed(1)]),
        ['(after the last mark, to exit)', t.unmarkedMs.toFixed(1)],
      ]),
    );
    console.log('by step (output line arrival):');
    console.log(table([['step', 'ms'], ...t.steps.map((s) => [s.step, s.ms.toFixed(0)])]));
  }
  const markedPhases = [
    ...new Set(
      (['cold', 'cached'] as const).flatMap((w) => {
        const t = traced[w];
        return 'phases' in t ? t.phases.map(([p]) => p.replace(/ #\d+$/, '')) : [];
      }),
    ),
  ];
  const containerPhases = new Set([
    'create container',
    'mount overlay',
    'spec',
    'spec + runc bundle',
    'cgroup',
    'plan',
    'helper: spawn to fork',
    'helper: namespaces, mounts, exec',
    'container process ran',
    'cgroup removed',
    'unmount',
  ]);
  const builderMarks = markedPhases.filter((p) => p !== 'cli start-up' && !containerPhases.has(p));
  if (!builderMarks.length) {
    console.log(
      `
note: the builder marks none of its own phases: the trace has only the CLI's start-up and the RUN containers' phases (${markedPhases.filter((p) => containerPhases.has(p)).length} kinds).` +
        ' A mark counts the time since the previous one, so each RUN\'s "create container" also holds the builder\'s unmarked work before it' +
        ' (context, earlier steps, committing the previous RUN\'s layer), and "after the last mark" holds the commit of the last RUN\'s layer,' +
        ' the metadata steps and tagging. The per-step times (output line arrival) are the better split.',
    );
  }

  const now = new Date();
  const docker20 = sh(DOCKER, ['--version']);
  const out = {
    bench: 'build',
    date: now.toISOString(),
    reps: REPS,
    runs: RUNS,
    rounds: ROUNDS,
    warmup: WARMUP,
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memGB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
      fs: process.env.BERTH_TMP ?? '/var/tmp',
    },
    versions: {
      ...versions(kept.docker ? kept.docker.build.env.DOCKER_HOST : undefined),
      dockerCli: docker20.status === 0 ? docker20.stdout.trim() : 'unavailable',
      buildah: (sh('buildah', ['--version']).stdout || 'unavailable').trim(),
    },
    method:
      'wall time of the build CLI from spawn to exit. cold: a fresh store holding only the base (berth root; dockerd data root, daemon started before timing; buildah root), one untimed `run BASE true` in it, sync, then one build; tools in rotating order; median of reps. cached: rebuild of the last cold store with nothing changed (checked: every step "Using cache", same image ID), hyperfine -N in rotating rounds. docker: Debian 20.10 CLI with DOCKER_BUILDKIT=0 (legacy builder). buildah: bud --layers --pull-never, --storage-driver overlay, private --root/--runroot, TMPDIR in the store dir.',
    buildah: {
      isolation: BUILDAH_ISOLATION,
      storageDriver: 'overlay',
      flags: [
        'bud',
        '--layers',
        '--pull-never',
        '--isolation',
        BUILDAH_ISOLATION,
        ...(BUILDAH_ISOLATION === 'oci' ? ['--runtime', 'runc'] : []),
      ],
    },
    dockerfile: DOCKERFILE,
    context,
    cold,
    cached,
    ratios: r,
    targets,
    berthTrace: traced,
    berthBuilderTraceMarks: builderMarks,
  };
  const dir = `${REPO}/bench/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/build-${now.toISOString().slice(0, 10)}.json`;
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  return cold.berth.error || cached.berth.error || 'error' in traced.cold || 'error' in traced.cached ? 1 : 0;
}

runIfMain(import.meta.url, () => runBench(TAG, 'dockerd, buildah and berth stores', bench));
