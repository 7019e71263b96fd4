/**
 * The default bridge side by side, on the same busybox image in every tool:
 *   run --rm IMG true on the bridge (and with --network none, for what the network costs): berth (CNI plugins), a
 *     private dockerd with its default bridge network, iptables and userland proxy (as installed), podman (netavark);
 *   a port published on 127.0.0.1 (busybox httpd in the container): throughput of one large file fetched by curl
 *     from the host, and the connection rate of a node client opening a connection per request to a small file.
 * Timing of `run` as bench/run-container.ts (hyperfine -N in rotating rounds). Then berth's phases with BERTH_TRACE=1
 * (CNI ADD per plugin, DEL, the rest): where its time goes. dockerd's default bridge network is on a bridge the bench
 * makes (`-b bnet<pid>`, a free 10.199.N.0/24), not docker0: other work on this machine that removes a docker0 it did
 * not find at its start would take dockerd's from under it. The host's networking is put back at the end: that bridge
 * and podman0 removed, the DOCKER and NETAVARK chains and the rules into them or naming the two bridges
 * removed (only rules the bench's start did not see), FORWARD's policy and
 * ip_forward restored (dockerd sets the policy to DROP). Prints tables; writes bench/results/network-<date>.json.
 *
 *   node dist/bench/network.js   (BENCH_RUNS=20 BENCH_ROUNDS=2 BENCH_WARMUP=3 BENCH_TRACE_RUNS=10 BENCH_NET_REPS=5
 *                                 BENCH_NET_MB=256 BENCH_CONN_MS=3000)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { join } from 'node:path';
import { BERTH, REPO } from '../test/helpers/berth.js';
import { PODMAN_RUN_FLAGS, Scope } from '../test/helpers/peers.js';
import {
  IMAGE,
  berthWithImage,
  busyboxTar,
  check,
  fmt,
  have,
  hyperfineRounds,
  median,
  ok,
  parseTrace,
  podmanWithImage,
  ratio,
  runBench,
  runIfMain,
  sh,
  stats,
  table,
  versions,
  type Cmd,
  type Timing,
} from './fixtures.js';

const RUNS = Math.max(2, Number(process.env.BENCH_RUNS ?? 20));
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 3));
const ROUNDS = Math.min(RUNS, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2)));
const TRACE_RUNS = Math.max(1, Number(process.env.BENCH_TRACE_RUNS ?? 10));
const REPS = Math.max(1, Number(process.env.BENCH_NET_REPS ?? 5));
const MB = Math.max(1, Number(process.env.BENCH_NET_MB ?? 256));
const CONN_MS = Math.max(200, Number(process.env.BENCH_CONN_MS ?? 3000));

type Tool = 'berth' | 'docker' | 'podman';
type Key = `${Tool} ${'none' | 'bridge'}`;

// ---- the host's networking, before and after -------------------------------------------------------

interface HostNet {
  links: Set<string>;
  rules: Set<string>;
  chains: Set<string>;
  forwardPolicy: string;
  ipForward: string;
  nftTables: Set<string>;
}
const PEER_CHAIN = /^(DOCKER|NETAVARK)/;
/** The bridge of the bench's dockerd (its default network). */
const DOCKER_BRIDGE = `bnet${process.pid}`;
function hostNet(): HostNet {
  const rules = new Set<string>();
  const chains = new Set<string>();
  let forwardPolicy = 'ACCEPT';
  for (const table of ['filter', 'nat'])
    for (const l of (sh('iptables-save', ['-t', table]).stdout ?? '').split('\n')) {
      if (l.startsWith(':')) chains.add(`${table} ${l.slice(1).split(' ')[0]}`);
      if (l.startsWith('-A ')) rules.add(`${table} ${l}`);
      if (table === 'filter' && l.startsWith(':FORWARD ')) forwardPolicy = l.split(' ')[1]!;
    }
  const links = new Set(
    (sh('ip', ['-o', 'link']).stdout ?? '').split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? ''),
  );
  const nft = have('nft') ? (sh('nft', ['list', 'tables']).stdout ?? '') : '';
  return {
    links,
    rules,
    chains,
    forwardPolicy,
    ipForward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
    nftTables: new Set(nft.split('\n').filter(Boolean)),
  };
}
/** Take away what dockerd and netavark added (their bridges, chains and the rules into them), restore the rest. */
function restoreHostNet(was: HostNet): void {
  const now = hostNet();
  for (const r of now.rules) {
    if (was.rules.has(r)) continue;
    const [table, ...rest] = r.split(' ');
    const chain = rest[1] ?? '';
    if (!PEER_CHAIN.test(chain) && !/ -j (DOCKER|NETAVARK)| (bnet\d+|podman0)( |$)/.test(r)) continue;
    spawnSync('sh', ['-c', `iptables -t ${table} ${rest.join(' ').replace(/^-A /, '-D ')}`], { stdio: 'ignore' });
  }
  for (const c of now.chains) {
    const [table, chain] = c.split(' ') as [string, string];
    if (was.chains.has(c) || !PEER_CHAIN.test(chain)) continue;
    spawnSync('iptables', ['-t', table, '-F', chain], { stdio: 'ignore' });
    spawnSync('iptables', ['-t', table, '-X', chain], { stdio: 'ignore' });
  }
  spawnSync('iptables', ['-P', 'FORWARD', was.forwardPolicy], { stdio: 'ignore' });
  for (const l of [DOCKER_BRIDGE, 'podman0'])
    if (now.links.has(l) && !was.links.has(l)) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
  for (const t of now.nftTables)
    if (!was.nftTables.has(t) && /netavark/.test(t))
      spawnSync('sh', ['-c', `nft delete ${t.replace(/^table /, 'table ')}`]);
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', was.ipForward);
}

// ---- peers ---------------------------------------------------------------------------------------

/** A free 10.199.N.0/24 (no route of the host within 10.199.N). */
function freeSubnet(): number {
  const routes = sh('ip', ['-4', '-o', 'route', 'show', 'table', 'all']).stdout ?? '';
  for (let n = 0; n < 255; n++) if (!routes.includes(`10.199.${n}.`)) return n;
  throw new Error('no free 10.199.N.0/24');
}

/** A private dockerd with its defaults for networking (iptables, userland proxy) on DOCKER_BRIDGE; stopped by the scope. */
function bridgedDockerd(scope: Scope, rootfsTar: string): string {
  const name = `berth-bench-net-${process.pid}`;
  const n = freeSubnet();
  ok('ip', ['link', 'add', DOCKER_BRIDGE, 'type', 'bridge']);
  ok('ip', ['addr', 'add', `10.199.${n}.1/24`, 'dev', DOCKER_BRIDGE]);
  ok('ip', ['link', 'set', DOCKER_BRIDGE, 'up']);
  const dataRoot = scope.tempDir('bench-net-docker');
  fs.mkdirSync(`/run/${name}`, { recursive: true });
  const log = fs.openSync(`/run/${name}.log`, 'w');
  const d = spawn(
    'dockerd',
    [
      ...['--ip6tables=false', '-H', `unix:///run/${name}.sock`, '--data-root', dataRoot],
      ...['--exec-root', `/run/${name}`, '-p', `/run/${name}.pid`, '--containerd-namespace', name],
      ...['--storage-driver', 'overlay2', '--bridge', DOCKER_BRIDGE],
    ],
    { stdio: ['ignore', log, log], detached: true },
  );
  fs.closeSync(log);
  scope.defer(`remove /run/${name}*`, () => {
    fs.rmSync(`/run/${name}`, { recursive: true, force: true });
    fs.rmSync(`/run/${name}.log`, { force: true });
  });
  scope.defer(`stop dockerd ${name}`, () => {
    spawnSync(`${REPO}/scripts/dockerd.sh`, ['stop', name], { stdio: 'ignore', timeout: 60_000 });
    if (d.exitCode === null) d.kill('SIGKILL');
  });
  const host = `unix:///run/${name}.sock`;
  for (let i = 0; i < 300; i++) {
    if (sh('docker', ['-H', host, 'version']).status === 0) {
      ok('docker', ['-H', host, 'import', rootfsTar, IMAGE]);
      return host;
    }
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`dockerd did not start: ${fs.readFileSync(`/run/${name}.log`, 'utf8').slice(-1500)}`);
}

// ---- the published port ----------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej).listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

/** Sequential requests, one connection each, for CONN_MS: requests per second. */
async function connectionRate(port: number): Promise<number> {
  const end = Date.now() + CONN_MS;
  const t0 = Date.now();
  let n = 0;
  while (Date.now() < end) {
    await new Promise<void>((res, rej) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/small', agent: false }, (r) => {
        r.resume();
        r.on('end', () => (r.statusCode === 200 ? res() : rej(new Error(`HTTP ${r.statusCode}`))));
      });
      req.on('error', rej);
    });
    n++;
  }
  return (n * 1000) / (Date.now() - t0);
}

/** One fetch of the large file with curl: MB/s. */
function throughput(port: number): number {
  const w = '%{http_code} %{size_download} %{time_total}';
  const r = ok('curl', ['-s', '-o', '/dev/null', '-w', w, `http://127.0.0.1:${port}/big`]);
  const [code, size, secs] = r.trim().split(' ').map(Number) as [number, number, number];
  if (code !== 200 || size !== MB * 1024 * 1024)
    throw new Error(`curl of /big on 127.0.0.1:${port}: HTTP ${code}, ${size} bytes (not ${MB} MiB)`);
  return size / 1024 / 1024 / secs;
}

const SERVER = [
  'sh',
  '-c',
  `dd if=/dev/zero of=/tmp/big bs=1M count=${MB} 2>/dev/null; echo hi >/tmp/small; exec httpd -f -p 80 -h /tmp`,
];

// ---- main ----------------------------------------------------------------------------------------

async function bench(scope: Scope): Promise<number> {
  const loadStart = os.loadavg();
  const work = scope.tempDir('bench-net');
  const rootfsTar = busyboxTar(work);
  const berthRoot = berthWithImage(scope, 'bench-net-berth', rootfsTar);
  scope.defer(`berth rm -f (${berthRoot})`, () => {
    const ids = sh(BERTH, ['--root', berthRoot, 'ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length) sh(BERTH, ['--root', berthRoot, 'rm', '-f', ...ids]);
  });
  const before = hostNet();
  scope.defer('restore the host networking', () => restoreHostNet(before));
  const errors: Partial<Record<Key | Tool, string>> = {};
  let dockerHost: string | undefined;
  if (!have('dockerd')) errors.docker = 'not installed';
  else
    try {
      dockerHost = bridgedDockerd(scope, rootfsTar);
    } catch (e) {
      errors.docker = (e as Error).message;
    }
  const podman = podmanWithImage(scope, 'bench-net', rootfsTar);
  if (typeof podman === 'string') errors.podman = podman;
  else scope.defer('podman rm -af', () => podman.run(['rm', '-af', '-t', '0']));

  const argv = (tool: Tool, network: string, ...args: string[]): string[] =>
    tool === 'berth'
      ? [BERTH, '--root', berthRoot, 'run', '--rm', '--network', network, ...args]
      : tool === 'docker'
        ? ['docker', '-H', dockerHost ?? '', 'run', '--rm', '--pull', 'never', '--network', network, ...args]
        : [
            'podman',
            ...(typeof podman === 'string' ? [] : podman.flags),
            'run',
            '--rm',
            '--network',
            network,
            ...PODMAN_RUN_FLAGS,
            ...args,
          ];
  const cmds: Cmd<Key>[] = [];
  for (const tool of ['berth', 'docker', 'podman'] as Tool[])
    for (const network of ['none', 'bridge'] as const) {
      const key: Key = `${tool} ${network}`;
      if (errors[tool]) errors[key] = errors[tool];
      cmds.push({ key, label: `${tool} run --rm --network ${network}`, argv: argv(tool, network, IMAGE, 'true') });
    }
  for (const c of cmds) if (!errors[c.key]) errors[c.key] = check(c, 'bench/network');
  const times = hyperfineRounds(cmds, errors, {
    work,
    runs: RUNS,
    rounds: ROUNDS,
    warmup: WARMUP,
    tag: 'bench/network',
  });
  // a block that failed: one more run of its command, for the reason (hyperfine shows none)
  for (const c of cmds)
    if (errors[c.key]?.startsWith('hyperfine'))
      errors[c.key] = `${errors[c.key]}; ${check(c, 'bench/network') ?? 'ok when run again'}`;
  const timings = Object.fromEntries(
    cmds.map((c) => [c.key, stats(c.label, c.argv.join(' '), times[c.key], errors[c.key])]),
  ) as Record<Key, Timing>;

  // where berth's time goes on the bridge (a published port too: portmap runs)
  const phases = new Map<string, number[]>();
  for (let i = 0; i < TRACE_RUNS; i++) {
    const r = sh(
      BERTH,
      ['--root', berthRoot, 'run', '--rm', '--network', 'bridge', '-p', '127.0.0.1::80', IMAGE, 'true'],
      {
        ...process.env,
        BERTH_TRACE: '1',
      },
    );
    for (const [p, ms] of parseTrace(r.stderr).phases) phases.set(p, [...(phases.get(p) ?? []), ms]);
  }

  // the published port: a server per tool, then fetches interleaved
  const servers: Partial<Record<Tool, number>> = {};
  for (const tool of ['berth', 'docker', 'podman'] as Tool[]) {
    if (errors[tool]) continue; // (not for a failed run block: the server is another run)
    const port = await freePort();
    const args = argv(tool, 'bridge', '-d', '-p', `127.0.0.1:${port}:80`, IMAGE, ...SERVER).filter((a) => a !== '--rm');
    const r = sh(args[0]!, args.slice(1));
    if (r.status !== 0) {
      errors[tool] = `server: ${r.stderr.trim().slice(-300)}`;
      continue;
    }
    // /small is written after /big: the server is ready when it answers
    const ready = () => sh('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${port}/small`]).status === 0;
    for (let i = 0; i < 600 && !ready(); i++) spawnSync('sleep', ['0.1']);
    if (!ready()) {
      errors[tool] = `server on 127.0.0.1:${port} not ready after 60 s`;
      continue;
    }
    servers[tool] = port;
  }
  const mbps: Record<Tool, number[]> = { berth: [], docker: [], podman: [] };
  const cps: Record<Tool, number[]> = { berth: [], docker: [], podman: [] };
  for (let rep = 0; rep < REPS; rep++)
    for (const tool of (['berth', 'docker', 'podman'] as Tool[]).map((_, i, a) => a[(i + rep) % a.length]!)) {
      const port = servers[tool];
      if (port === undefined) continue;
      try {
        mbps[tool].push(throughput(port));
        cps[tool].push(await connectionRate(port));
      } catch (e) {
        errors[tool] = (e as Error).message;
        delete servers[tool];
      }
    }
  const loadEnd = os.loadavg();

  // ---- report ----
  const med = (k: Key) => timings[k].medianMs;
  console.log(
    `\nrun --rm ${IMAGE} true; hyperfine -N, ${RUNS} runs in ${ROUNDS} rounds (${WARMUP} warm-ups each); ` +
      `load average ${loadStart[0]!.toFixed(1)} at start, ${loadEnd[0]!.toFixed(1)} at end (${os.cpus().length} CPUs)\n`,
  );
  const rows = [['command', 'median ms', 'mean ms', 'min ms', 'bridge - none ms']];
  for (const c of cmds) {
    const t = timings[c.key];
    const none = c.key.endsWith('bridge') ? med(c.key.replace('bridge', 'none') as Key) : null;
    const extra = none !== null && t.medianMs !== null ? t.medianMs - none : null;
    rows.push([t.label, fmt(t.medianMs, 1), fmt(t.meanMs, 1), fmt(t.minMs, 1), fmt(extra, 1)]);
  }
  console.log(table(rows));
  const runRatio = ratio(med('berth bridge'), med('docker bridge'));
  const phaseRows = [['berth phase (median of ' + TRACE_RUNS + ', -p 127.0.0.1::80)', 'ms']];
  for (const [p, v] of phases) phaseRows.push([p, fmt(median(v), 1)]);
  console.log(`\n${table(phaseRows)}`);
  const prow = [['published port 127.0.0.1', `MB/s (${MB} MiB, median of ${REPS})`, `conn/s (${CONN_MS} ms runs)`]];
  for (const tool of ['berth', 'docker', 'podman'] as Tool[])
    prow.push([tool, fmt(median(mbps[tool]), 0), fmt(median(cps[tool]), 0)]);
  console.log(`\n${table(prow)}`);
  const tpRatio = ratio(median(mbps.berth), median(mbps.docker));
  const cpsRatio = ratio(median(cps.berth), median(cps.docker));
  const met = (v: boolean | null) => (v === null ? 'n/a' : v ? 'met' : 'NOT met');
  console.log(
    `\nberth/docker: run --rm on the bridge ${fmt(runRatio, 2)} (target <= 0.5: ${met(runRatio === null ? null : runRatio <= 0.5)}), ` +
      `published-port throughput ${fmt(tpRatio, 2)} (target >= 1: ${met(tpRatio === null ? null : tpRatio >= 1)}), connection rate ${fmt(cpsRatio, 2)}`,
  );
  for (const [k, e] of Object.entries(errors)) if (e) console.log(`  ${k}: n/a (${e.split('\n')[0]})`);

  const date = new Date().toISOString().slice(0, 10);
  const out = join(REPO, 'bench', 'results', `network-${date}.json`);
  fs.mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        host: { cpus: os.cpus().length, kernel: os.release(), loadavgStart: loadStart, loadavgEnd: loadEnd },
        versions: versions(dockerHost),
        settings: { RUNS, ROUNDS, WARMUP, TRACE_RUNS, REPS, MB, CONN_MS },
        run: timings,
        berthPhasesMs: Object.fromEntries([...phases].map(([p, v]) => [p, median(v)])),
        publishedPort: { mbps, connectionsPerSecond: cps },
        ratios: { runBridgeToDocker: runRatio, throughputToDocker: tpRatio, connectionRateToDocker: cpsRatio },
        errors,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nresults: ${out}`);
  return Object.keys(errors).some((k) => k.startsWith('berth') && errors[k as Key]) ? 1 : 0;
}

export const main = () => runBench('bench/network', 'dockerd with its bridge and iptables, the CNI plugins', bench);
runIfMain(import.meta.url, main);
