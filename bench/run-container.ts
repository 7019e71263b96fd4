/**
 * `run --rm IMG true` side by side, on the same busybox image in every tool:
 *   berth run --rm IMG true                       (and with --runtime runc, when it works)
 *   docker run --rm --network none IMG true       (private dockerd, Debian's docker.io)
 *   podman run --rm --network none IMG true       (private root, --runtime runc, ulimit flags)
 *   runc run --bundle B id                        the floor: a ready bundle, no image store
 * plus `node -e 0` and `berth --version` as context (what Node alone costs). Each is timed
 * by hyperfine (--shell=none, BENCH_WARMUP warm-ups, BENCH_RUNS runs), wall clock from spawn
 * to exit; dockerd's start-up and image imports are not timed. The runs are split into
 * BENCH_ROUNDS rounds, each running every command in a rotating order, so a load spike on a
 * shared machine does not land on one tool only; statistics are over all runs. Then berth runs with
 * BERTH_TRACE=1 BENCH_TRACE_RUNS times and the median of each phase shows where berth's own
 * time goes (node start-up = process uptime minus the marks). Prints tables; writes
 * bench/results/run-<date>.json.
 *
 *   node dist/bench/run-container.js   (BENCH_RUNS=20 BENCH_ROUNDS=2 BENCH_WARMUP=3 BENCH_TRACE_RUNS=10)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BERTH, REPO } from '../test/helpers/berth.js';
import { PODMAN_RUN_FLAGS, peerRunArgv, Scope } from '../test/helpers/peers.js';
import {
  IMAGE,
  berthWithImage,
  busyboxTar,
  check,
  parseTrace,
  dockerdWithImage,
  fmt,
  have,
  hyperfineRounds,
  median,
  ok,
  podmanWithImage,
  quote,
  ratio,
  sh,
  stats,
  table,
  versions,
  type Cmd,
  type Timing,
  runBench,
  runIfMain,
} from './fixtures.js';

const RUNS = Math.max(2, Number(process.env.BENCH_RUNS ?? 20));
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 3));
const ROUNDS = Math.min(RUNS, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2)));
const TRACE_RUNS = Math.max(1, Number(process.env.BENCH_TRACE_RUNS ?? 10));

type Key = 'node' | 'berthVersion' | 'berth' | 'berthRunc' | 'docker' | 'podman' | 'runc';

// ---- fixtures ------------------------------------------------------------------------------------

/** A runc bundle on a copy of the rootfs: `runc spec`, terminal off, args ["true"]. */
function runcBundle(bundle: string, rootfsTar: string): void {
  fs.mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  ok('tar', ['--numeric-owner', '-C', join(bundle, 'rootfs'), '-xf', rootfsTar]);
  ok('runc', ['spec', '--bundle', bundle]);
  const f = join(bundle, 'config.json');
  const spec = JSON.parse(fs.readFileSync(f, 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['true'];
  fs.writeFileSync(f, JSON.stringify(spec, null, 2));
}

// ---- timing --------------------------------------------------------------------------------------

interface TraceRun {
  wallMs: number;
  uptimeMs: number;
  phases: Record<string, number>;
  nodeStartupMs: number;
}

function traceBerth(root: string, extra: string[] = []): { runs: TraceRun[]; order: string[] } {
  const runs: TraceRun[] = [];
  const order: string[] = [];
  for (let i = 0; i < TRACE_RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(BERTH, ['--root', root, 'run', '--rm', ...extra, IMAGE, 'true'], {
      encoding: 'utf8',
      env: { ...process.env, BERTH_TRACE: '1' },
    });
    const wallMs = performance.now() - t0;
    if (r.status !== 0)
      throw new Error(
        `BERTH_TRACE=1 berth run --rm ${extra.join(' ')} ${IMAGE} true exited ${r.status ?? r.signal}: ${r.stderr.trim().slice(-1500)}`,
      );
    const { uptimeMs, phases } = parseTrace(r.stderr);
    for (const [p] of phases) if (!order.includes(p)) order.push(p);
    const sum = phases.reduce((a, [, ms]) => a + ms, 0);
    runs.push({ wallMs, uptimeMs, phases: Object.fromEntries(phases), nodeStartupMs: uptimeMs - sum });
  }
  return { runs, order };
}

// ---- main ----------------------------------------------------------------------------------------

export function main(): Promise<number> {
  return runBench('bench/run', 'dockerd, podman, runc and berth', bench);
}

async function bench(scope: Scope): Promise<number> {
  const loadStart = os.loadavg();
  const work = scope.tempDir('bench-run');
  const rootfsTar = busyboxTar(work);
  const setupErrors: Partial<Record<Key, string>> = {};

  console.error('bench/run: importing the busybox rootfs into berth, dockerd, podman; preparing the runc bundle...');
  const berthRoot = berthWithImage(scope, 'bench-run-berth', rootfsTar);
  const d = dockerdWithImage(scope, 'bench-run', rootfsTar);
  const dockerd = typeof d === 'string' ? undefined : d;
  if (typeof d === 'string') setupErrors.docker = d;
  const p = podmanWithImage(scope, 'bench-run', rootfsTar);
  const podman = typeof p === 'string' ? undefined : p;
  if (typeof p === 'string') setupErrors.podman = p;

  const runcState = join(work, 'runc-state');
  const bundle = join(work, 'bundle');
  const runcId = `berth-bench-${process.pid}`;
  if (have('runc')) {
    try {
      runcBundle(bundle, rootfsTar);
      scope.defer(`runc delete ${runcId}`, () => {
        sh('runc', ['--root', runcState, 'delete', '-f', runcId]);
      });
    } catch (e) {
      setupErrors.runc = (e as Error).message;
    }
  } else setupErrors.runc = 'not installed';

  const cmds: Cmd<Key>[] = [
    { key: 'node', label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { key: 'berthVersion', label: 'berth --version', argv: [BERTH, '--version'] },
    // runc run without --detach deletes the container when it exits (no --keep): the same id every time
    {
      key: 'runc',
      label: 'runc run (ready bundle)',
      argv: ['runc', '--root', runcState, 'run', '--bundle', bundle, runcId],
    },
    { key: 'berth', label: 'berth run --rm', argv: [BERTH, '--root', berthRoot, 'run', '--rm', IMAGE, 'true'] },
    {
      key: 'berthRunc',
      label: 'berth run --rm --runtime runc',
      argv: [BERTH, '--root', berthRoot, 'run', '--rm', '--runtime', 'runc', IMAGE, 'true'],
    },
    {
      key: 'podman',
      label: 'podman run --rm',
      argv: peerRunArgv('podman', { podmanFlags: podman?.flags }, IMAGE, 'true'),
    },
    {
      key: 'docker',
      label: 'docker run --rm',
      argv: peerRunArgv('docker', { dockerHost: dockerd?.host }, IMAGE, 'true'),
    },
  ];
  const errors: Partial<Record<Key, string>> = { ...setupErrors };
  for (const c of cmds) if (!errors[c.key]) errors[c.key] = check(c, 'bench/run');
  const times = hyperfineRounds(cmds, errors, { work, runs: RUNS, rounds: ROUNDS, warmup: WARMUP, tag: 'bench/run' });
  const timings = Object.fromEntries(
    cmds.map((c) => [c.key, stats(c.label, c.argv.map(quote).join(' '), times[c.key], errors[c.key])]),
  ) as Record<Key, Timing>;

  console.error(`bench/run: BERTH_TRACE=1 berth run --rm x${TRACE_RUNS}`);
  let trace: { runs: TraceRun[]; order: string[] } | undefined;
  let traceError: string | undefined;
  try {
    trace = traceBerth(berthRoot);
  } catch (e) {
    traceError = (e as Error).message;
  }
  // which phases the --runtime runc path marks (to see whether runc is really what ran)
  let runcTracePhases: string[] | string | undefined;
  if (!timings.berthRunc.error) {
    const r = spawnSync(BERTH, ['--root', berthRoot, 'run', '--rm', '--runtime', 'runc', IMAGE, 'true'], {
      encoding: 'utf8',
      env: { ...process.env, BERTH_TRACE: '1' },
    });
    try {
      runcTracePhases = parseTrace(r.stderr).phases.map(([p]) => p);
    } catch (e) {
      runcTracePhases = (e as Error).message;
    }
  }
  const dockerHost = dockerd?.host;
  const vers = versions(dockerHost);
  const loadEnd = os.loadavg();

  // ---- report ----
  const B = timings.berth,
    BR = timings.berthRunc;
  const ratios = (t: Timing) => ({
    toDocker: { mean: ratio(t.meanMs, timings.docker.meanMs), median: ratio(t.medianMs, timings.docker.medianMs) },
    toPodman: { mean: ratio(t.meanMs, timings.podman.meanMs), median: ratio(t.medianMs, timings.podman.medianMs) },
    toRunc: { mean: ratio(t.meanMs, timings.runc.meanMs), median: ratio(t.medianMs, timings.runc.medianMs) },
  });
  const rows = [['command', 'mean ms', 'median ms', 'stddev', 'min ms', 'berth/it (median)']];
  for (const k of ['node', 'berthVersion', 'runc', 'berth', 'berthRunc', 'podman', 'docker'] as Key[]) {
    const t = timings[k];
    rows.push([
      t.label,
      fmt(t.meanMs, 1),
      fmt(t.medianMs, 1),
      fmt(t.stddevMs, 1),
      fmt(t.minMs, 1),
      ['runc', 'podman', 'docker'].includes(k) ? fmt(ratio(B.medianMs, t.medianMs), 2) : '',
    ]);
  }
  console.log(
    `\nrun --rm ${IMAGE} true (busybox rootfs, same tar in every tool); hyperfine -N, ${RUNS} runs in ${ROUNDS} rounds (${WARMUP} warm-ups each); ` +
      `load average ${loadStart[0]!.toFixed(1)} at start, ${loadEnd[0]!.toFixed(1)} at end (${os.cpus().length} CPUs)\n`,
  );
  console.log(table(rows));
  for (const k of Object.keys(timings) as Key[])
    if (timings[k].error) console.log(`  ${timings[k].label}: n/a (${timings[k].error.split('\n')[0]})`);

  const r = ratios(B);
  const targets = {
    berthToPodmanAtMost: 0.5,
    berthToDockerAtMost: 0.4,
    podmanMetMedian: r.toPodman.median === null ? null : r.toPodman.median <= 0.5,
    dockerMetMedian: r.toDocker.median === null ? null : r.toDocker.median <= 0.4,
    podmanMetMean: r.toPodman.mean === null ? null : r.toPodman.mean <= 0.5,
    dockerMetMean: r.toDocker.mean === null ? null : r.toDocker.mean <= 0.4,
  };
  const met = (v: boolean | null) => (v === null ? 'n/a' : v ? 'met' : 'NOT met');
  console.log(
    `\nratios (median / mean): berth/docker ${fmt(r.toDocker.median, 2)} / ${fmt(r.toDocker.mean, 2)}, ` +
      `berth/podman ${fmt(r.toPodman.median, 2)} / ${fmt(r.toPodman.mean, 2)}, berth/runc ${fmt(r.toRunc.median, 2)} / ${fmt(r.toRunc.mean, 2)}`,
  );
  if (!BR.error) {
    const rr = ratios(BR);
    console.log(
      `  --runtime runc: berth/docker ${fmt(rr.toDocker.median, 2)}, berth/podman ${fmt(rr.toPodman.median, 2)}, berth/runc ${fmt(rr.toRunc.median, 2)} (median)`,
    );
  }
  console.log(
    `targets (issue): berth <= 0.5x podman: ${met(targets.podmanMetMedian)} (median), ${met(targets.podmanMetMean)} (mean); ` +
      `berth <= 0.4x docker: ${met(targets.dockerMetMedian)} (median), ${met(targets.dockerMetMean)} (mean)`,
  );

  let phases: Array<{ phase: string; medianMs: number | null; runs: number[] }> = [];
  if (trace) {
    const col = (f: (t: TraceRun) => number | undefined) =>
      trace!.runs.map(f).filter((v): v is number => v !== undefined);
    phases = [
      { phase: 'node start-up (uptime - marks)', runs: col((t) => t.nodeStartupMs) },
      ...trace.order.map((p) => ({ phase: p, runs: col((t) => t.phases[p]) })),
    ].map((x) => ({ ...x, medianMs: median(x.runs) }));
    const up = median(col((t) => t.uptimeMs)),
      wall = median(col((t) => t.wallMs));
    const prow = [['phase (BERTH_TRACE=1)', `median ms of ${TRACE_RUNS}`, 'share of uptime']];
    for (const p of phases)
      prow.push([
        p.phase,
        fmt(p.medianMs, 2),
        up && p.medianMs !== null ? `${((100 * p.medianMs) / up).toFixed(0)}%` : '',
      ]);
    prow.push(['process uptime (total)', fmt(up, 1), '']);
    prow.push(['wall, spawn to exit (this bench)', fmt(wall, 1), '']);
    console.log(
      `\nwhere berth's own time goes: berth run --rm ${IMAGE} true, median per phase (medians do not add up exactly)\n`,
    );
    console.log(table(prow));
  } else console.log(`\nberth trace: failed: ${traceError}`);
  // berth's own helper marks "helper: ..." phases; if --runtime runc marks the same ones, runc did not run
  const runcSameAsHelper =
    Array.isArray(runcTracePhases) && trace !== undefined && runcTracePhases.join('|') === trace.order.join('|');
  if (Array.isArray(runcTracePhases)) {
    console.log(`\n--runtime runc trace phases: ${runcTracePhases.join(', ')}`);
    if (runcSameAsHelper)
      console.log("  (the same phases as the default runtime: berth's own helper seems to have run, not runc)");
  }

  const now = new Date();
  const out = {
    bench: 'run',
    date: now.toISOString(),
    runs: RUNS,
    rounds: ROUNDS,
    warmup: WARMUP,
    traceRuns: TRACE_RUNS,
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memGB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
    },
    versions: vers,
    image: {
      ref: IMAGE,
      rootfsTarBytes: fs.statSync(rootfsTar).size,
      describe:
        'static busybox in /bin with a symlink per applet, /etc/passwd, /etc/group; one tar imported by berth import, docker import, podman import and extracted as the runc bundle rootfs',
    },
    method: `hyperfine -N, ${RUNS} runs per command split into ${ROUNDS} rounds (each command once per round, rotating order, ${WARMUP} warm-ups per block); statistics over all runs: wall time from spawn to exit of each command; dockerd (private, --network none) already running and images already imported; podman with a private --root/--runroot, --runtime runc, cgroupfs, ${PODMAN_RUN_FLAGS.join(' ')}; runc run on a bundle from runc spec (terminal false, args [true]); each command checked once before timing`,
    timings,
    ratios: { berth: ratios(B), berthRunc: BR.error ? null : ratios(BR) },
    targets,
    trace: trace
      ? { phasesMedianMs: Object.fromEntries(phases.map((p) => [p.phase, p.medianMs])), runs: trace.runs }
      : { error: traceError },
    runtimeRuncTracePhases: runcTracePhases ?? null,
    runtimeRuncSamePhasesAsHelper: runcSameAsHelper,
  };
  const dir = `${REPO}/bench/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/run-${now.toISOString().slice(0, 10)}.json`;
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  // berth itself failing is a failure of the benchmark; a missing peer or runtime is reported as n/a
  return B.error || traceError ? 1 : 0;
}

runIfMain(import.meta.url, main);
