/**
 * Detached containers side by side, on the same busybox image in every tool:
 *
 * 1. memory per detached container: BENCH_CONTAINERS (50) `sleep 3600` containers started with
 *    `berth run -d`, `docker run -d --network none` (private dockerd) and `podman run -d
 *    --network none` (private root, --runtime runc, ulimit flags), one tool at a time with
 *    everything removed (and dockerd stopped) between tools. Per container: (a) the PSS and RSS
 *    (/proc/PID/smaps_rollup) of the processes that supervise it — berth's berth-helper monitor,
 *    docker's containerd-shim-runc-v2, podman's conmon — not the container's own sleep, which is
 *    the same in every tool; (b) the change of the host's used memory (MemTotal - MemAvailable)
 *    from before the first start to after the last, each a settled reading (read, wait a second,
 *    read again, until two readings are within 4 MiB; the last counts). Also the time the N starts take, and for docker
 * the growth
 *    of dockerd + containerd (PSS), which is per-container cost the shims do not show.
 * 2. exec latency: one running detached container per tool; `berth exec C true` vs `docker exec
 *    C true` vs `podman exec C true`, timed by hyperfine -N in rotating rounds (BENCH_RUNS runs,
 *    BENCH_ROUNDS rounds, BENCH_WARMUP warm-ups), as in run-container.ts.
 *
 * Prints tables with berth's ratios to docker and podman; writes bench/results/lifecycle-<date>.json.
 *
 *   node dist/bench/lifecycle.js   (BENCH_CONTAINERS=50 BENCH_RUNS=20 BENCH_ROUNDS=2 BENCH_WARMUP=3)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BERTH, REPO } from '../test/helpers/berth.js';
import { PODMAN_RUN_FLAGS, Scope, type Dockerd, type Podman } from '../test/helpers/peers.js';
import {
  IMAGE,
  berthWithImage,
  busyboxTar,
  check,
  dockerdWithImage,
  fmt,
  hyperfineRounds,
  median,
  ok,
  podmanWithImage,
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

const N = Math.max(1, Number(process.env.BENCH_CONTAINERS ?? 50));
const RUNS = Math.max(2, Number(process.env.BENCH_RUNS ?? 20));
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 3));
const ROUNDS = Math.min(RUNS, Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2)));
const TAG = 'bench/lifecycle';
const TOOLS = ['berth', 'docker', 'podman'] as const;
type Tool = (typeof TOOLS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => console.error(`${TAG}: ${m}`);

// ---- /proc -----------------------------------------------------------------------------------------

function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of fs.readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^([\w()]+):\s+(\d+)/.exec(l);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
/** MemTotal - MemAvailable, kB. */
const usedKb = (m: Record<string, number>) => m.MemTotal! - m.MemAvailable!;
const hostUsedKb = () => usedKb(meminfo());

/**
 * A settled reading: read, wait a second, read again; the second reading counts once it is within
 * SETTLE_KB of the one before (at most SETTLE_TRIES seconds: dockerd gives memory back to the
 * system over some seconds after a burst), so memory still being freed right after a step does not
 * land in the difference. All readings are kept, and /proc/meminfo at the counted one.
 */
const SETTLE_KB = 4096,
  SETTLE_TRIES = 30;
/** Pause after the last start before the settled reading (the start commands' own memory is being freed). */
const AFTER_PAUSE_MS = 3000;
interface Reading {
  settled: number;
  readings: number[];
  meminfo: Record<string, number>;
}
async function settledUsedKb(): Promise<Reading> {
  let mi = meminfo();
  const readings = [usedKb(mi)];
  for (let i = 0; i < SETTLE_TRIES; i++) {
    await sleep(1000);
    mi = meminfo();
    readings.push(usedKb(mi));
    if (Math.abs(readings[readings.length - 1]! - readings[readings.length - 2]!) <= SETTLE_KB) break;
  }
  return { settled: readings[readings.length - 1]!, readings, meminfo: mi };
}

/** Where a change of used memory went (kB per container), from two /proc/meminfo readings. */
const BREAKDOWN = [
  'AnonPages',
  'Shmem',
  'Slab',
  'SUnreclaim',
  'KernelStack',
  'PageTables',
  'Percpu',
  'VmallocUsed',
] as const;
/**
 * The kernel's own memory that grows with containers (namespaces, mounts, cgroups, tasks): the
 * change of these fields is part of "attributed". AnonPages is not: it is host-wide, and other
 * processes on this machine move it by hundreds of MB; the tools' processes are counted by PSS.
 */
const KERNEL = ['Slab', 'KernelStack', 'PageTables', 'Percpu', 'VmallocUsed'] as const;
function breakdown(before: Record<string, number>, after: Record<string, number>, n: number): Record<string, number> {
  const d = (k: string) => ((after[k] ?? 0) - (before[k] ?? 0)) / n;
  const out: Record<string, number> = { used: (usedKb(after) - usedKb(before)) / n, MemFree: d('MemFree') };
  for (const k of BREAKDOWN) out[k] = d(k);
  out.kernel = KERNEL.reduce((a, k) => a + d(k), 0);
  return out;
}

interface Mem {
  pssKb: number;
  rssKb: number;
  pssAnonKb: number;
}
function smapsRollup(pid: number): Mem {
  const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
  return { pssKb: kb('Pss'), rssKb: kb('Rss'), pssAnonKb: kb('Pss_Anon') };
}
function sumMem(pids: number[]): Mem {
  const t = { pssKb: 0, rssKb: 0, pssAnonKb: 0 };
  for (const p of pids) {
    const m = smapsRollup(p);
    t.pssKb += m.pssKb;
    t.rssKb += m.rssKb;
    t.pssAnonKb += m.pssAnonKb;
  }
  return t;
}
function ppid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
const comm = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (ppid(Number(d)) === pid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

// ---- the tools -----------------------------------------------------------------------------------------

interface Pids {
  supervisors: number[];
  containers: number[];
}
interface Driver {
  tool: Tool;
  /** What supervises each container (the processes whose memory is summed). */
  supervisor: string;
  /** `run -d` argv of one sleep container. */
  runArgv: string[];
  /** Supervisor and container pids of these containers; throws when one is missing or not what it should be. */
  pids(ids: string[]): Pids;
  /** Remove these containers (force). */
  removeAll(ids: string[]): void;
  /** Daemons whose growth is per-container cost too (docker: dockerd + containerd). */
  daemons(): number[];
}

function berthDriver(root: string): Driver {
  return {
    tool: 'berth',
    supervisor: 'berth-helper (monitor)',
    runArgv: [BERTH, '--root', root, 'run', '-d', IMAGE, 'sleep', '3600'],
    pids(ids) {
      const out: Pids = { supervisors: [], containers: [] };
      for (const id of ids) {
        const st = JSON.parse(fs.readFileSync(join(root, 'containers', id, 'state.json'), 'utf8'));
        const mon = Number(st.MonitorPid),
          pid = Number(st.Pid);
        if (st.Status !== 'running' || !alive(mon) || !alive(pid))
          throw new Error(`berth container ${id} not running: state.json ${JSON.stringify(st)}`);
        const exe = basename(fs.readlinkSync(`/proc/${mon}/exe`));
        if (exe !== 'berth-helper')
          throw new Error(`berth container ${id}: MonitorPid ${mon} is ${exe}, not berth-helper`);
        if (ppid(pid) !== mon)
          throw new Error(`berth container ${id}: Pid ${pid}'s parent is ${ppid(pid)}, not MonitorPid ${mon}`);
        out.supervisors.push(mon);
        out.containers.push(pid);
      }
      return out;
    },
    removeAll(ids) {
      if (ids.length) {
        const r = sh(BERTH, ['--root', root, 'rm', '-f', ...ids]);
        if (r.status !== 0) throw new Error(`berth rm -f exited ${r.status}: ${r.stderr.trim().slice(-1500)}`);
      }
    },
    daemons: () => [],
  };
}

function dockerDriver(d: Dockerd): Driver {
  const env = { ...process.env, DOCKER_HOST: d.host };
  return {
    tool: 'docker',
    supervisor: 'containerd-shim-runc-v2',
    runArgv: ['docker', '-H', d.host, 'run', '-d', '--network', 'none', IMAGE, 'sleep', '3600'],
    pids(ids) {
      const out: Pids = { supervisors: [], containers: [] };
      const lines = ok('docker', ['inspect', '-f', '{{.Id}} {{.State.Running}} {{.State.Pid}}', ...ids], env)
        .trim()
        .split('\n');
      for (const l of lines) {
        const [id, running, p] = l.split(' ');
        const pid = Number(p),
          shim = pid > 0 ? ppid(pid) : 0;
        if (running !== 'true' || !alive(pid)) throw new Error(`docker container ${id} not running (${l})`);
        if (!comm(shim).startsWith('containerd-shim'))
          throw new Error(`docker container ${id}: pid ${pid}'s parent ${shim} is ${comm(shim)}, not containerd-shim`);
        out.supervisors.push(shim);
        out.containers.push(pid);
      }
      if (lines.length !== ids.length) throw new Error(`docker inspect: ${lines.length} of ${ids.length} containers`);
      return out;
    },
    removeAll(ids) {
      if (ids.length) {
        const r = sh('docker', ['rm', '-f', ...ids], env);
        if (r.status !== 0) throw new Error(`docker rm -f exited ${r.status}: ${r.stderr.trim().slice(-1500)}`);
      }
    },
    daemons() {
      const dockerd = Number(fs.readFileSync(`/run/${d.name}.pid`, 'utf8').trim());
      return [dockerd, ...childrenOf(dockerd).filter((c) => comm(c) === 'containerd')];
    },
  };
}

function podmanDriver(p: Podman): Driver {
  return {
    tool: 'podman',
    supervisor: 'conmon',
    runArgv: ['podman', ...p.flags, 'run', '-d', '--network', 'none', ...PODMAN_RUN_FLAGS, IMAGE, 'sleep', '3600'],
    pids(ids) {
      const out: Pids = { supervisors: [], containers: [] };
      const lines = p
        .ok(['inspect', '--format', '{{.Id}} {{.State.Running}} {{.State.Pid}} {{.State.ConmonPid}}', ...ids])
        .trim()
        .split('\n');
      for (const l of lines) {
        const [id, running, ps, cs] = l.split(' ');
        const pid = Number(ps),
          conmon = Number(cs);
        if (running !== 'true' || !alive(pid)) throw new Error(`podman container ${id} not running (${l})`);
        if (comm(conmon) !== 'conmon')
          throw new Error(`podman container ${id}: ConmonPid ${conmon} is ${comm(conmon)}, not conmon`);
        out.supervisors.push(conmon);
        out.containers.push(pid);
      }
      if (lines.length !== ids.length) throw new Error(`podman inspect: ${lines.length} of ${ids.length} containers`);
      return out;
    },
    removeAll(ids) {
      if (ids.length) {
        const r = p.run(['rm', '-f', '-t', '0', ...ids]);
        if (r.code !== 0) throw new Error(`podman rm -f exited ${r.code}: ${r.stderr.trim().slice(-1500)}`);
      }
    },
    daemons: () => [],
  };
}

// ---- 1. memory per detached container --------------------------------------------------------------

interface MemResult {
  tool: Tool;
  supervisor: string;
  requested: number;
  started: number;
  command: string;
  startTotalMs: number | null;
  startMedianMs: number | null;
  startRunsMs: number[];
  supervisorPids: number[];
  /** Sums over the supervisors and the same divided by the containers started. */
  supervisorTotal: Mem | null;
  supervisorPerContainer: Mem | null;
  /** The containers' own processes (sleep), excluded from the above; context. */
  containerPerContainer: Mem | null;
  /** docker: dockerd + containerd PSS before and after the starts. */
  daemonsPssKb: { before: number; after: number; deltaPerContainerKb: number } | null;
  hostUsedKb: {
    before: Reading;
    after: Reading | null;
    afterCleanup: number | null;
    deltaPerContainerKb: number | null;
    /** Changes of /proc/meminfo fields per container (kB), between the two settled readings. */
    breakdownPerContainerKb: Record<string, number> | null;
  };
  /**
   * Everything attributable to the containers, kB per container: PSS of the supervisors, of the
   * containers' processes and the daemons' growth, plus the kernel's growth (KERNEL fields).
   */
  attributedPerContainerKb: {
    total: number;
    supervisors: number;
    containers: number;
    daemons: number;
    kernel: number;
  } | null;
  leftovers: string[];
  error?: string;
}

async function memoryOne(tool: Tool, work: string, rootfsTar: string): Promise<MemResult> {
  const scope = new Scope();
  const res: MemResult = {
    tool,
    supervisor: '',
    requested: N,
    started: 0,
    command: '',
    startTotalMs: null,
    startMedianMs: null,
    startRunsMs: [],
    supervisorPids: [],
    supervisorTotal: null,
    supervisorPerContainer: null,
    containerPerContainer: null,
    daemonsPssKb: null,
    hostUsedKb: {
      before: { settled: NaN, readings: [], meminfo: {} },
      after: null,
      afterCleanup: null,
      deltaPerContainerKb: null,
      breakdownPerContainerKb: null,
    },
    attributedPerContainerKb: null,
    leftovers: [],
  };
  const ids: string[] = [];
  let known: Pids = { supervisors: [], containers: [] };
  let drv: Driver | undefined;
  try {
    log(`memory: ${tool}: setting up (image import${tool === 'docker' ? ', private dockerd' : ''})`);
    if (tool === 'berth') drv = berthDriver(berthWithImage(scope, 'life-berth', rootfsTar));
    else if (tool === 'docker') {
      const d = dockerdWithImage(scope, 'life', rootfsTar);
      if (typeof d === 'string') throw new Error(d);
      drv = dockerDriver(d);
    } else {
      const p = podmanWithImage(scope, 'life', rootfsTar);
      if (typeof p === 'string') throw new Error(p);
      drv = podmanDriver(p);
    }
    const dr = drv;
    res.supervisor = dr.supervisor;
    res.command = dr.runArgv.join(' ');
    // on any failure or interrupt: remove what was started (before the store or dockerd goes away),
    // then end any supervisor or container process of ours that is still there, by pid
    scope.defer(`${tool}: remove the containers`, () => {
      try {
        dr.removeAll(ids);
      } catch (e) {
        log(`cleanup: ${(e as Error).message}`);
      }
      for (const p of [...known.containers, ...known.supervisors])
        if (alive(p)) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
    });
    await sleep(1000);
    res.hostUsedKb.before = await settledUsedKb();
    const daemons = dr.daemons();
    const daemonsBefore = daemons.length ? sumMem(daemons).pssKb : 0;

    log(`memory: ${tool}: starting ${N} detached containers: ${dr.runArgv.join(' ')}`);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      const r = sh(dr.runArgv[0]!, dr.runArgv.slice(1));
      res.startRunsMs.push(performance.now() - s);
      const id = r.stdout.trim().split('\n').pop() ?? '';
      if (r.status !== 0 || !/^[0-9a-f]{12,64}$/.test(id)) {
        throw new Error(
          `container ${i + 1} of ${N}: ${dr.runArgv.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-1500)}`,
        );
      }
      ids.push(id);
    }
    res.startTotalMs = performance.now() - t0;
    res.startMedianMs = median(res.startRunsMs);
    res.started = ids.length;
    known = dr.pids(ids);
    await sleep(AFTER_PAUSE_MS);
    res.hostUsedKb.after = await settledUsedKb();
    known = dr.pids(ids); // still all running
    res.supervisorPids = [...new Set(known.supervisors)];
    res.supervisorTotal = sumMem(res.supervisorPids);
    const per = (m: Mem): Mem => ({ pssKb: m.pssKb / N, rssKb: m.rssKb / N, pssAnonKb: m.pssAnonKb / N });
    res.supervisorPerContainer = per(res.supervisorTotal);
    res.containerPerContainer = per(sumMem(known.containers));
    if (daemons.length) {
      const after = sumMem(daemons).pssKb;
      res.daemonsPssKb = { before: daemonsBefore, after, deltaPerContainerKb: (after - daemonsBefore) / N };
    }
    res.hostUsedKb.deltaPerContainerKb = (res.hostUsedKb.after.settled - res.hostUsedKb.before.settled) / N;
    res.hostUsedKb.breakdownPerContainerKb = breakdown(res.hostUsedKb.before.meminfo, res.hostUsedKb.after.meminfo, N);
    const a = {
      supervisors: res.supervisorPerContainer.pssKb,
      containers: res.containerPerContainer.pssKb,
      daemons: res.daemonsPssKb?.deltaPerContainerKb ?? 0,
      kernel: res.hostUsedKb.breakdownPerContainerKb.kernel!,
    };
    res.attributedPerContainerKb = { total: a.supervisors + a.containers + a.daemons + a.kernel, ...a };
    log(
      `memory: ${tool}: ${res.supervisorPids.length} ${dr.supervisor} processes, PSS ${fmt(res.supervisorPerContainer.pssKb)} kB per container; removing`,
    );

    dr.removeAll(ids);
    // every supervisor and container process must end
    const end = Date.now() + 20_000;
    while (Date.now() < end && [...known.supervisors, ...known.containers].some(alive)) await sleep(100);
    const still = [...known.supervisors, ...known.containers].filter(alive);
    if (still.length)
      res.leftovers.push(
        `${tool}: still running 20 s after rm -f: ${still.map((p) => `${p} (${comm(p)})`).join(', ')}`,
      );
    ids.length = 0;
  } catch (e) {
    res.error = (e as Error).message;
    log(`memory: ${tool}: ${res.error}`);
  } finally {
    scope.dispose();
  }
  await sleep(1000);
  res.hostUsedKb.afterCleanup = hostUsedKb();
  return res;
}

// ---- 2. exec latency --------------------------------------------------------------------------------

type ExecKey = 'berthVersion' | Tool;

async function execBench(
  work: string,
  rootfsTar: string,
): Promise<{ timings: Record<ExecKey, Timing>; leftovers: string[] }> {
  const scope = new Scope();
  const errors: Partial<Record<ExecKey, string>> = {};
  const leftovers: string[] = [];
  try {
    log('exec: setting up one sleep container per tool');
    const berthRoot = berthWithImage(scope, 'life-exec-berth', rootfsTar);
    const drivers: Partial<Record<Tool, Driver>> = { berth: berthDriver(berthRoot) };
    const d = dockerdWithImage(scope, 'life-exec', rootfsTar);
    if (typeof d === 'string') errors.docker = d;
    else drivers.docker = dockerDriver(d);
    const p = podmanWithImage(scope, 'life-exec', rootfsTar);
    if (typeof p === 'string') errors.podman = p;
    else drivers.podman = podmanDriver(p);
    const ids: Partial<Record<Tool, string>> = {};
    const pids: Pids = { supervisors: [], containers: [] };
    scope.defer('exec: remove the containers', () => {
      for (const t of TOOLS) {
        const id = ids[t];
        if (id) {
          try {
            drivers[t]!.removeAll([id]);
          } catch (e) {
            log(`cleanup: ${(e as Error).message}`);
          }
        }
      }
      for (const q of [...pids.containers, ...pids.supervisors])
        if (alive(q)) {
          try {
            process.kill(q, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
    });
    for (const t of TOOLS) {
      const dr = drivers[t];
      if (!dr) continue;
      const r = sh(dr.runArgv[0]!, dr.runArgv.slice(1));
      const id = r.stdout.trim().split('\n').pop() ?? '';
      if (r.status !== 0 || !id) {
        errors[t] =
          `${dr.runArgv.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-1500)}`;
        continue;
      }
      ids[t] = id;
      try {
        const x = dr.pids([id]);
        pids.supervisors.push(...x.supervisors);
        pids.containers.push(...x.containers);
      } catch (e) {
        errors[t] = (e as Error).message;
      }
    }
    const host = d && typeof d !== 'string' ? d.host : '';
    const cmds: Cmd<ExecKey>[] = [
      { key: 'berthVersion', label: 'berth --version', argv: [BERTH, '--version'] },
      { key: 'berth', label: 'berth exec C true', argv: [BERTH, '--root', berthRoot, 'exec', ids.berth ?? '', 'true'] },
      {
        key: 'podman',
        label: 'podman exec C true',
        argv: ['podman', ...(typeof p === 'string' ? [] : p.flags), 'exec', ids.podman ?? '', 'true'],
      },
      { key: 'docker', label: 'docker exec C true', argv: ['docker', '-H', host, 'exec', ids.docker ?? '', 'true'] },
    ];
    for (const c of cmds) if (!errors[c.key]) errors[c.key] = check(c, TAG);
    const times = hyperfineRounds(cmds, errors, {
      work,
      runs: RUNS,
      rounds: ROUNDS,
      warmup: WARMUP,
      tag: `${TAG}: exec`,
    });
    const timings = Object.fromEntries(
      cmds.map((c) => [c.key, stats(c.label, c.argv.join(' '), times[c.key], errors[c.key])]),
    ) as Record<ExecKey, Timing>;
    // the containers must still be running (exec must not have disturbed them), then go away
    for (const t of TOOLS) {
      const id = ids[t];
      if (id && !errors[t]) {
        try {
          drivers[t]!.pids([id]);
        } catch (e) {
          leftovers.push(`after the exec runs: ${(e as Error).message}`);
        }
      }
    }
    for (const t of TOOLS) {
      const id = ids[t];
      if (id) {
        try {
          drivers[t]!.removeAll([id]);
          delete ids[t];
        } catch (e) {
          leftovers.push((e as Error).message);
        }
      }
    }
    const end = Date.now() + 20_000;
    while (Date.now() < end && [...pids.supervisors, ...pids.containers].some(alive)) await sleep(100);
    const still = [...pids.supervisors, ...pids.containers].filter(alive);
    if (still.length)
      leftovers.push(`exec: still running 20 s after rm -f: ${still.map((q) => `${q} (${comm(q)})`).join(', ')}`);
    return { timings, leftovers };
  } finally {
    scope.dispose();
  }
}

// ---- main ----------------------------------------------------------------------------------------

export function main(): Promise<number> {
  return runBench(TAG, 'dockerd, podman and berth', bench);
}

async function bench(scope: Scope): Promise<number> {
  const loadStart = os.loadavg();
  const work = scope.tempDir('life');
  const rootfsTar = busyboxTar(work);

  // 1. memory, one tool at a time
  const mem = {} as Record<Tool, MemResult>;
  for (const t of TOOLS) mem[t] = await memoryOne(t, work, rootfsTar);
  const loadMid = os.loadavg();
  // 2. exec
  const ex = await execBench(work, rootfsTar);
  const vers = versions();
  const loadEnd = os.loadavg();

  // ---- report ----
  const B = mem.berth;
  const pss = (t: Tool) => mem[t].supervisorPerContainer?.pssKb ?? null;
  // a change of host used memory at or below zero is noise from elsewhere on the machine: no ratio from it
  const host = (t: Tool) => {
    const v = mem[t].hostUsedKb.deltaPerContainerKb;
    return v !== null && v > 0 ? v : null;
  };
  const acc = (t: Tool) => mem[t].attributedPerContainerKb?.total ?? null;
  const mrows = [
    [
      'tool (supervisor)',
      'started',
      'start total s',
      'run -d median ms',
      'PSS kB/ctr',
      'RSS kB/ctr',
      'host used kB/ctr',
      'attributed kB/ctr',
      'daemons PSS kB/ctr',
      'berth/it PSS',
      'berth/it host',
      'berth/it attr.',
    ],
  ];
  for (const t of TOOLS) {
    const m = mem[t];
    mrows.push([
      `${t} (${m.supervisor || '?'})`,
      `${m.started}/${m.requested}`,
      fmt(m.startTotalMs === null ? null : m.startTotalMs / 1000, 2),
      fmt(m.startMedianMs, 1),
      fmt(pss(t), 0),
      fmt(m.supervisorPerContainer?.rssKb, 0),
      fmt(mem[t].hostUsedKb.deltaPerContainerKb, 0),
      fmt(acc(t), 0),
      m.daemonsPssKb ? fmt(m.daemonsPssKb.deltaPerContainerKb, 0) : '',
      t === 'berth' ? '' : fmt(ratio(pss('berth'), pss(t)), 3),
      t === 'berth' ? '' : fmt(ratio(host('berth'), host(t)), 2),
      t === 'berth' ? '' : fmt(ratio(acc('berth'), acc(t)), 2),
    ]);
  }
  console.log(
    `\nmemory per detached container: ${N} x run -d ${IMAGE} sleep 3600 per tool, one tool at a time; ` +
      `load average ${loadStart[0]!.toFixed(1)} at start, ${loadMid[0]!.toFixed(1)} after (${os.cpus().length} CPUs)\n`,
  );
  console.log(table(mrows));
  console.log(
    '  PSS/RSS: smaps_rollup of the supervisors only (the sleep processes excluded); host used: (MemTotal - MemAvailable) after - before, settled readings, / N;',
  );
  console.log(
    `  attributed: PSS of supervisors + containers' processes + daemons' growth, plus the kernel's growth (${KERNEL.join(' + ')} in /proc/meminfo), / N;`,
  );
  console.log('  daemons: dockerd + containerd PSS growth / N (docker only; also inside "host used" and "attributed")');
  for (const t of TOOLS) {
    const m = mem[t];
    const b = m.hostUsedKb.breakdownPerContainerKb;
    const at = m.attributedPerContainerKb;
    if (at)
      console.log(
        `  ${t}: attributed ${fmt(at.total)} kB per container = supervisors ${fmt(at.supervisors)} + containers ${fmt(at.containers)} + daemons ${fmt(at.daemons)} + kernel ${fmt(at.kernel)}`,
      );
    if (b)
      console.log(
        `  ${t}: host used per container ${fmt(b.used)} kB; meminfo deltas ${BREAKDOWN.map((k) => `${k} ${fmt(b[k])}`).join(', ')}; ` +
          `settled after ${m.hostUsedKb.after!.readings.length - 1} s${Math.abs(m.hostUsedKb.after!.readings.at(-1)! - m.hostUsedKb.after!.readings.at(-2)!) > SETTLE_KB ? ' (NOT settled: still moving after 30 s)' : ''}`,
      );
    if (m.error) console.log(`  ${t}: FAILED: ${m.error.split('\n').slice(0, 6).join('\n    ')}`);
  }
  const memRatios = {
    pssToDocker: ratio(pss('berth'), pss('docker')),
    pssToPodman: ratio(pss('berth'), pss('podman')),
    hostToDocker: ratio(host('berth'), host('docker')),
    hostToPodman: ratio(host('berth'), host('podman')),
    attributedToDocker: ratio(acc('berth'), acc('docker')),
    attributedToPodman: ratio(acc('berth'), acc('podman')),
  };
  const met = (v: number | null, at: number) => (v === null ? 'n/a' : v <= at ? 'met' : 'NOT met');
  console.log(
    `target (issue): berth <= 0.5x docker per container: ${met(memRatios.pssToDocker, 0.5)} on supervisor PSS (${fmt(memRatios.pssToDocker, 3)}), ` +
      `${memRatios.hostToDocker === null ? 'n/a (a change <= 0: noise)' : met(memRatios.hostToDocker, 0.5)} on host used memory (${fmt(memRatios.hostToDocker, 2)}), ${met(memRatios.attributedToDocker, 0.5)} on attributed memory (${fmt(memRatios.attributedToDocker, 2)})`,
  );

  const T = ex.timings;
  const erows = [['command', 'mean ms', 'median ms', 'stddev', 'min ms', 'berth/it (median)']];
  for (const k of ['berthVersion', 'berth', 'podman', 'docker'] as ExecKey[]) {
    const t = T[k];
    erows.push([
      t.label,
      fmt(t.meanMs, 1),
      fmt(t.medianMs, 1),
      fmt(t.stddevMs, 1),
      fmt(t.minMs, 1),
      k === 'docker' || k === 'podman' ? fmt(ratio(T.berth.medianMs, t.medianMs), 2) : '',
    ]);
  }
  console.log(
    `\nexec latency: exec C true in a running detached sleep container; hyperfine -N, ${RUNS} runs in ${ROUNDS} rounds (${WARMUP} warm-ups each); ` +
      `load average ${loadEnd[0]!.toFixed(1)} at end\n`,
  );
  console.log(table(erows));
  for (const k of Object.keys(T) as ExecKey[])
    if (T[k].error) console.log(`  ${T[k].label}: n/a (${T[k].error!.split('\n')[0]})`);
  const execRatios = {
    toDocker: { median: ratio(T.berth.medianMs, T.docker.medianMs), mean: ratio(T.berth.meanMs, T.docker.meanMs) },
    toPodman: { median: ratio(T.berth.medianMs, T.podman.medianMs), mean: ratio(T.berth.meanMs, T.podman.meanMs) },
  };
  console.log(
    `target (issue): berth exec <= 0.5x docker exec: ${met(execRatios.toDocker.median, 0.5)} (median ${fmt(execRatios.toDocker.median, 2)}), ` +
      `${met(execRatios.toDocker.mean, 0.5)} (mean ${fmt(execRatios.toDocker.mean, 2)}); berth/podman ${fmt(execRatios.toPodman.median, 2)} (median)`,
  );

  const leftovers = [...TOOLS.flatMap((t) => mem[t].leftovers), ...ex.leftovers];
  for (const l of leftovers) console.log(`LEFTOVER: ${l}`);

  const now = new Date();
  const out = {
    bench: 'lifecycle',
    date: now.toISOString(),
    containers: N,
    runs: RUNS,
    rounds: ROUNDS,
    warmup: WARMUP,
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memGB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      loadavgStart: loadStart,
      loadavgAfterMemory: loadMid,
      loadavgEnd: loadEnd,
    },
    versions: vers,
    image: {
      ref: IMAGE,
      describe:
        'static busybox in /bin with a symlink per applet, /etc/passwd, /etc/group; one tar imported by berth import, docker import, podman import',
    },
    memory: {
      method: `per tool, one at a time: fresh store (docker: private dockerd started for it, stopped after), 1 s pause, settled host reading (read, then every 1 s until two readings are within 4 MiB, at most 30 s; the last counts); ${N} x run -d sleep 3600 one after another (each timed, wall clock); ${AFTER_PAUSE_MS / 1000} s, settled host reading; attributed = PSS of supervisors + container processes + dockerd/containerd growth + change of ${KERNEL.join(' + ')} from /proc/meminfo at the two settled readings; PSS/RSS from /proc/PID/smaps_rollup of the supervisor of each container (berth: MonitorPid from state.json, a berth-helper and the container Pid's parent; docker: the containerd-shim parent of State.Pid; podman: State.ConmonPid), summed and divided by ${N}; host used = MemTotal - MemAvailable (no cache drop); then rm -f of all and a check that every supervisor and container process ended`,
      results: mem,
      ratios: memRatios,
      targets: {
        berthToDockerAtMost: 0.5,
        metOnPss: memRatios.pssToDocker === null ? null : memRatios.pssToDocker <= 0.5,
        metOnHostUsed: memRatios.hostToDocker === null ? null : memRatios.hostToDocker <= 0.5,
        metOnAttributed: memRatios.attributedToDocker === null ? null : memRatios.attributedToDocker <= 0.5,
      },
    },
    exec: {
      method: `one detached sleep 3600 container per tool, all running at once (private dockerd; podman private root, --runtime runc, ${PODMAN_RUN_FLAGS.join(' ')}); hyperfine -N, ${RUNS} runs per command in ${ROUNDS} rounds (rotating order, ${WARMUP} warm-ups per block); each command checked once before timing`,
      timings: T,
      ratios: execRatios,
      targets: {
        berthToDockerAtMost: 0.5,
        metMedian: execRatios.toDocker.median === null ? null : execRatios.toDocker.median <= 0.5,
        metMean: execRatios.toDocker.mean === null ? null : execRatios.toDocker.mean <= 0.5,
      },
    },
    leftovers,
  };
  const dir = `${REPO}/bench/results`;
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/lifecycle-${now.toISOString().slice(0, 10)}.json`;
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\nresults: ${file}`);
  // berth failing (or leaving something behind) fails the benchmark; a missing or failing peer is n/a
  return B.error || T.berth.error || leftovers.length ? 1 : 0;
}

runIfMain(import.meta.url, main);
