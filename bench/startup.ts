/**
 * Start-up and the commands scripts poll (issue 13), in one run, NODE_EXTRA_CA_CERTS unset for every command,
 * stores on the machine's own filesystem (TMP: /var/tmp, or $BERTH_TMP):
 *   node -e 0                                        Node alone: what every berth command starts from
 *   berth --version                                  target: within 10 ms of node -e 0 (median)
 *   berth ps -a / images / inspect ID                BENCH_CONTAINERS (40) containers and BENCH_IMAGES (30) images
 *                                                    in the store; target: each within 25 ms of node -e 0
 *   berth run --rm --network none IMG true           target: <= 0.5x podman and <= 0.35x docker (median)
 *   podman run --rm --network none IMG true          private root, --runtime runc, cgroupfs, ulimit flags
 *   docker run --rm --pull never --network none IMG true   private dockerd (--bridge=none --iptables=false)
 * Every command is timed by hyperfine -N in rotating rounds (fixtures.ts); berth's code caches (dist/cli/cache/) are
 * written by the check run before them. Prints a table; writes bench/results/startup-<date>.json (startup-<date>-2.json
 * and so on for another run that day).
 *
 *   node dist/bench/startup.js   (BENCH_RUNS=30 BENCH_ROUNDS=3 BENCH_WARMUP=3 BENCH_CONTAINERS=40 BENCH_IMAGES=30)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { BERTH, REPO, TMP } from '../test/helpers/berth.js';
import { PODMAN_RUN_FLAGS, peerRunArgv, type Scope } from '../test/helpers/peers.js';
import {
  IMAGE,
  berthWithImage,
  busyboxTar,
  check,
  dockerdWithImage,
  fmt,
  hyperfineRounds,
  ok,
  podmanWithImage,
  quote,
  ratio,
  runBench,
  stats,
  table,
  versions,
  type Cmd,
  type Timing,
  runIfMain,
} from './fixtures.js';

const RUNS = Math.max(2, Number(process.env.BENCH_RUNS ?? 30));
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 3));
const ROUNDS = Math.min(RUNS, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3)));
const CONTAINERS = Math.max(1, Number(process.env.BENCH_CONTAINERS ?? 40));
const IMAGES = Math.max(1, Number(process.env.BENCH_IMAGES ?? 30));

/** The targets: ms over `node -e 0` (median), and ratios of run --rm to the peers (median). */
const TARGETS = { versionMs: 10, pollMs: 25, toPodman: 0.5, toDocker: 0.35 };

type Key = 'node' | 'version' | 'ps' | 'images' | 'inspect' | 'run' | 'podman' | 'docker';

/** BENCH_IMAGES images (IMAGE and variants of its rootfs, one file different each) and BENCH_CONTAINERS containers. */
function fillStore(root: string, work: string): string {
  const rootfs = join(work, 'rootfs');
  for (let i = 1; i < IMAGES; i++) {
    fs.writeFileSync(join(rootfs, 'etc/variant'), `${i}\n`);
    const tar = join(work, `variant-${i}.tar`);
    ok('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
    ok(BERTH, ['--root', root, 'import', tar, `bench/variant${i}:v${i}`]);
    fs.rmSync(tar);
  }
  let id = '';
  for (let i = 1; i <= CONTAINERS; i++)
    id = ok(BERTH, ['--root', root, 'create', '--name', `bench-c${i}`, IMAGE, 'true']).trim();
  return id;
}

export function main(): Promise<number> {
  return runBench('bench/startup', 'dockerd, podman and berth', bench);
}

async function bench(scope: Scope): Promise<number> {
  // Node parses all of NODE_EXTRA_CA_CERTS at every start (bin/berth defers it): measured without it, for all
  delete process.env.NODE_EXTRA_CA_CERTS;
  const loadStart = os.loadavg();
  const work = scope.tempDir('bench-startup');
  const rootfsTar = busyboxTar(work);
  const setupErrors: Partial<Record<Key, string>> = {};
  console.error(`bench/startup: stores under ${TMP}; importing the busybox rootfs into berth, dockerd, podman...`);
  const berthRoot = berthWithImage(scope, 'bench-startup-berth', rootfsTar);
  console.error(`bench/startup: ${IMAGES} images and ${CONTAINERS} containers in the berth store...`);
  const containerId = fillStore(berthRoot, work);
  const d = dockerdWithImage(scope, 'bench-startup', rootfsTar);
  const dockerd = typeof d === 'string' ? undefined : d;
  if (typeof d === 'string') setupErrors.docker = d;
  const p = podmanWithImage(scope, 'bench-startup', rootfsTar);
  const podman = typeof p === 'string' ? undefined : p;
  if (typeof p === 'string') setupErrors.podman = p;

  const B = (...args: string[]) => [BERTH, '--root', berthRoot, ...args];
  const cmds: Cmd<Key>[] = [
    { key: 'node', label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { key: 'version', label: 'berth --version', argv: [BERTH, '--version'] },
    { key: 'ps', label: 'berth ps -a', argv: B('ps', '-a') },
    { key: 'images', label: 'berth images', argv: B('images') },
    { key: 'inspect', label: 'berth inspect ID', argv: B('inspect', containerId) },
    { key: 'run', label: 'berth run --rm', argv: B('run', '--rm', '--network', 'none', IMAGE, 'true') },
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
  for (const c of cmds) if (!errors[c.key]) errors[c.key] = check(c, 'bench/startup');
  const times = hyperfineRounds(cmds, errors, {
    work,
    runs: RUNS,
    rounds: ROUNDS,
    warmup: WARMUP,
    tag: 'bench/startup',
  });
  const t = Object.fromEntries(
    cmds.map((c) => [c.key, stats(c.label, c.argv.map(quote).join(' '), times[c.key], errors[c.key])]),
  ) as Record<Key, Timing>;
  const vers = versions(dockerd?.host);
  const loadEnd = os.loadavg();

  // ---- report ----
  const over = (k: Key) => ({
    median: t[k].medianMs === null || t.node.medianMs === null ? null : t[k].medianMs! - t.node.medianMs,
    mean: t[k].meanMs === null || t.node.meanMs === null ? null : t[k].meanMs! - t.node.meanMs,
    min: t[k].minMs === null || t.node.minMs === null ? null : t[k].minMs! - t.node.minMs,
  });
  const target = (k: Key): number | undefined =>
    k === 'version' ? TARGETS.versionMs : ['ps', 'images', 'inspect'].includes(k) ? TARGETS.pollMs : undefined;
  const met = (v: boolean | null) => (v === null ? 'n/a' : v ? 'met' : 'NOT met');
  const rows = [['command', 'mean ms', 'median ms', 'stddev', 'min ms', '- node (median)', 'target']];
  for (const c of cmds) {
    const s = t[c.key];
    const o = over(c.key);
    const tg = target(c.key);
    rows.push([
      s.label,
      fmt(s.meanMs, 1),
      fmt(s.medianMs, 1),
      fmt(s.stddevMs, 1),
      fmt(s.minMs, 1),
      c.key === 'node' ? '' : fmt(o.median, 1),
      tg === undefined ? '' : `<= ${tg}: ${met(o.median === null ? null : o.median <= tg)}`,
    ]);
  }
  const toPodman = { median: ratio(t.run.medianMs, t.podman.medianMs), mean: ratio(t.run.meanMs, t.podman.meanMs) };
  const toDocker = { median: ratio(t.run.medianMs, t.docker.medianMs), mean: ratio(t.run.meanMs, t.docker.meanMs) };
  const targets = {
    ...TARGETS,
    versionMet: over('version').median === null ? null : over('version').median! <= TARGETS.versionMs,
    psMet: over('ps').median === null ? null : over('ps').median! <= TARGETS.pollMs,
    imagesMet: over('images').median === null ? null : over('images').median! <= TARGETS.pollMs,
    inspectMet: over('inspect').median === null ? null : over('inspect').median! <= TARGETS.pollMs,
    podmanMet: toPodman.median === null ? null : toPodman.median <= TARGETS.toPodman,
    dockerMet: toDocker.median === null ? null : toDocker.median <= TARGETS.toDocker,
  };
  console.log(
    `\nstart-up and polled commands (${IMAGES} images, ${CONTAINERS} containers in berth's store under ${TMP}); ` +
      `hyperfine -N, ${RUNS} runs in ${ROUNDS} rounds (${WARMUP} warm-ups each), NODE_EXTRA_CA_CERTS unset; ` +
      `load average ${loadStart[0]!.toFixed(1)} at start, ${loadEnd[0]!.toFixed(1)} at end (${os.cpus().length} CPUs)\n`,
  );
  console.log(table(rows));
  for (const c of cmds) if (t[c.key].error) console.log(`  ${t[c.key].label}: n/a (${t[c.key].error!.split('\n')[0]})`);
  console.log(
    `\nrun --rm (all --network none): berth/podman ${fmt(toPodman.median, 2)} (median) / ${fmt(toPodman.mean, 2)} (mean), ` +
      `target <= ${TARGETS.toPodman}: ${met(targets.podmanMet)}; berth/docker ${fmt(toDocker.median, 2)} / ${fmt(toDocker.mean, 2)}, ` +
      `target <= ${TARGETS.toDocker}: ${met(targets.dockerMet)}`,
  );

  const now = new Date();
  const out = {
    bench: 'startup',
    date: now.toISOString(),
    runs: RUNS,
    rounds: ROUNDS,
    warmup: WARMUP,
    store: { dir: TMP, images: IMAGES, containers: CONTAINERS, inspected: containerId },
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      kernel: os.release(),
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
    },
    versions: vers,
    method: `hyperfine -N, ${RUNS} runs per command in ${ROUNDS} rounds (each command once per round as a block, rotating order, ${WARMUP} warm-ups per block), wall time from spawn to exit; NODE_EXTRA_CA_CERTS unset for every command; dockerd private (scripts/dockerd.sh: --bridge=none --iptables=false) and already running; podman private root, ${PODMAN_RUN_FLAGS.join(' ')}; every run --rm with --network none`,
    timings: t,
    overNodeMs: Object.fromEntries(cmds.filter((c) => c.key !== 'node').map((c) => [c.key, over(c.key)])),
    ratios: { runToPodman: toPodman, runToDocker: toDocker },
    targets,
  };
  const dir = `${REPO}/bench/results`;
  fs.mkdirSync(dir, { recursive: true });
  const day = now.toISOString().slice(0, 10);
  let file = `${dir}/startup-${day}.json`;
  for (let n = 2; fs.existsSync(file); n++) file = `${dir}/startup-${day}-${n}.json`;
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  const berthKeys: Key[] = ['version', 'ps', 'images', 'inspect', 'run'];
  return berthKeys.some((k) => t[k].error) ? 1 : 0;
}

runIfMain(import.meta.url, main);
