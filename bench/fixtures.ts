import { pathToFileURL } from 'node:url';
/**
 * Shared by the container benchmarks (run-container.ts, lifecycle.ts): running programs, the
 * busybox image made once and brought into berth, a private dockerd and a private podman,
 * hyperfine blocks in rotating rounds, statistics, tables and the tools' versions.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { BERTH } from '../test/helpers/berth.js';
import { Scope, privatePodman, startDockerd, type Dockerd, type Podman } from '../test/helpers/peers.js';

/** The image name in every tool. */
export const IMAGE = 'bench/bbx:latest';

// ---- running programs ------------------------------------------------------------------------------

export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 28, timeout: 300_000, killSignal: 'SIGKILL' });
}
/** Run; stdout, or throw with the command, its exit status and output. */
export function ok(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = sh(cmd, args, env);
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout || r.error?.message || '').trim().slice(-2000)}`,
    );
  return r.stdout;
}
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
/** hyperfine -N splits the command line itself: quote what has spaces or quotes. */
export const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

// ---- fixtures ------------------------------------------------------------------------------------

/** A minimal rootfs: static busybox, a symlink per applet in /bin, passwd/group, empty mount points. */
export function busyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'root', 'proc', 'sys', 'dev', 'tmp', 'var'])
    fs.mkdirSync(join(dir, d), { recursive: true });
  fs.chmodSync(join(dir, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  fs.chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of ok('/bin/busybox', ['--list']).split('\n'))
    if (a && a !== 'busybox') fs.symlinkSync('busybox', join(dir, 'bin', a));
  fs.writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
}

/** The busybox rootfs under work/rootfs and its tar, work/rootfs.tar (numeric owners). */
export function busyboxTar(work: string): string {
  const rootfs = join(work, 'rootfs');
  busyboxRootfs(rootfs);
  const tar = join(work, 'rootfs.tar');
  ok('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.']);
  return tar;
}

/** A fresh berth root (removed by the scope) with the tar imported as IMAGE. */
export function berthWithImage(scope: Scope, tag: string, rootfsTar: string): string {
  const root = scope.tempDir(tag);
  ok(BERTH, ['--root', root, 'import', rootfsTar, IMAGE]);
  return root;
}

/** A private dockerd (stopped by the scope) with the tar imported as IMAGE; or why not. */
export function dockerdWithImage(scope: Scope, tag: string, rootfsTar: string): Dockerd | string {
  if (!have('docker') || !have('dockerd')) return 'not installed';
  try {
    const d = startDockerd(scope, tag, scope.tempDir(`${tag}-docker`));
    ok('docker', ['import', rootfsTar, IMAGE], { ...process.env, DOCKER_HOST: d.host });
    return d;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A private podman (its store removed by the scope) with the tar imported as IMAGE; or why not. */
export function podmanWithImage(scope: Scope, tag: string, rootfsTar: string): Podman | string {
  if (!have('podman')) return 'not installed';
  try {
    const p = privatePodman(scope, tag);
    p.ok(['import', rootfsTar, IMAGE]);
    return p;
  } catch (e) {
    return (e as Error).message;
  }
}

// ---- statistics and hyperfine ------------------------------------------------------------------------

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const sd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};

/** A command to time; `env` (the whole environment) when it differs from this process's. */
export interface Cmd<K extends string = string> {
  key: K;
  label: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
}
export interface Timing {
  label: string;
  command: string;
  meanMs: number | null;
  medianMs: number | null;
  stddevMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  runsMs: number[];
  error?: string;
}

export function stats(label: string, command: string, runsMs: number[], error?: string): Timing {
  if (error || runsMs.length === 0)
    return { label, command, meanMs: null, medianMs: null, stddevMs: null, minMs: null, maxMs: null, runsMs, error };
  return {
    label,
    command,
    meanMs: runsMs.reduce((a, b) => a + b, 0) / runsMs.length,
    medianMs: median(runsMs),
    stddevMs: sd(runsMs),
    minMs: Math.min(...runsMs),
    maxMs: Math.max(...runsMs),
    runsMs,
  };
}

/** Run a command once as a check: undefined, or the precise reason it is skipped. */
export function check(c: Cmd, tag = 'bench'): string | undefined {
  const pre = sh(c.argv[0]!, c.argv.slice(1), c.env);
  if (pre.status === 0) return undefined;
  const error = `exit ${pre.status ?? pre.signal}: ${(pre.stderr || pre.stdout || pre.error?.message || '').trim().slice(-1500)}`;
  console.error(`${tag}: ${c.label}: ${error}`);
  return error;
}

/** One hyperfine block (warm-ups, then `runs` runs); the run times in ms, or throws. */
export function hyperfine(c: Cmd, work: string, runs: number, warmup: number, round: number): number[] {
  const json = join(work, `hyperfine-${c.key}-${round}.json`);
  const r = spawnSync(
    'hyperfine',
    [
      '-N',
      '--style',
      'basic',
      '--warmup',
      String(warmup),
      '--runs',
      String(runs),
      '--export-json',
      json,
      '-n',
      c.label,
      c.argv.map(quote).join(' '),
    ],
    { stdio: ['ignore', 2, 2], env: c.env ?? process.env },
  );
  if (r.status !== 0)
    throw new Error(
      `hyperfine exited ${r.status ?? r.signal} in round ${round + 1} (a run failed; its output is above)`,
    );
  return (JSON.parse(fs.readFileSync(json, 'utf8')).results[0].times as number[]).map((t) => t * 1000);
}

/**
 * Time every command (not already in `errors`) with hyperfine: `runs` runs split into `rounds`
 * rounds, each running every command once as a block, in a rotating order. A command whose block
 * fails gets its error in `errors` and no more rounds.
 */
export function hyperfineRounds<K extends string>(
  cmds: Cmd<K>[],
  errors: Partial<Record<K, string>>,
  o: { work: string; runs: number; rounds: number; warmup: number; tag: string },
): Record<K, number[]> {
  const times = Object.fromEntries(cmds.map((c) => [c.key, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < o.rounds; round++) {
    const runs = Math.floor(o.runs / o.rounds) + (round < o.runs % o.rounds ? 1 : 0);
    for (let i = 0; i < cmds.length; i++) {
      const c = cmds[(i + round * 3) % cmds.length]!;
      if (errors[c.key]) continue;
      console.error(`${o.tag}: round ${round + 1}/${o.rounds}: ${c.label}`);
      try {
        times[c.key].push(...hyperfine(c, o.work, runs, o.warmup, round));
      } catch (e) {
        errors[c.key] = (e as Error).message;
      }
    }
  }
  return times;
}

/** `berth trace (...; process uptime N ms):` then `  phase  N ms` lines, at exit (BERTH_TRACE=1). */
export function parseTrace(stderr: string): { uptimeMs: number; phases: Array<[string, number]> } {
  const up = /process uptime ([\d.]+) ms/.exec(stderr);
  if (!up) throw new Error(`no berth trace in stderr: ${stderr.trim().slice(-500)}`);
  const at = stderr.indexOf('berth trace');
  const phases: Array<[string, number]> = [];
  for (const line of stderr.slice(at).split('\n').slice(1)) {
    const m = /^\s+(\S.*?)\s+(-?[\d.]+) ms$/.exec(line);
    if (m) phases.push([m[1]!, Number(m[2])]);
  }
  return { uptimeMs: Number(up[1]), phases };
}

// ---- reporting -------------------------------------------------------------------------------------

/** Left-aligned first column, the rest right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

export const fmt = (v: number | null | undefined, d = 0) =>
  v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d);
export const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

export function versions(dockerHost?: string): Record<string, string> {
  const first = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => {
    const r = sh(cmd, args, env);
    return r.status === 0 ? r.stdout.trim().split('\n')[0]! : 'unavailable';
  };
  return {
    berth: first(BERTH, ['--version']),
    node: process.version,
    docker: first('docker', ['--version']),
    dockerd: dockerHost
      ? first('docker', ['version', '-f', '{{.Server.Version}}'], { ...process.env, DOCKER_HOST: dockerHost })
      : first('dockerd', ['--version']),
    podman: first('podman', ['--version']),
    runc: first('runc', ['--version']),
    hyperfine: first('hyperfine', ['--version']),
    conmon: first('conmon', ['--version']),
    containerdShim: first('containerd-shim-runc-v2', ['-v']),
    busybox: first('/bin/busybox', ['--help']),
  };
}

/**
 * A benchmark's entry point: root and hyperfine checked, everything it starts cleaned up by its Scope, also on failure.
 */
export async function runBench(tag: string, needs: string, bench: (scope: Scope) => Promise<number>): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error(`${tag}: needs root (${needs})`);
    return 1;
  }
  if (!have('hyperfine')) {
    console.error(`${tag}: hyperfine is not installed (apt-get install hyperfine)`);
    return 1;
  }
  const scope = new Scope();
  try {
    return await bench(scope);
  } finally {
    scope.dispose();
  }
}

/**
 * Run a benchmark's `main` when its module is the program (`node dist/bench/load.js`), not
 * when bench/run.ts imports it: its result is the exit status; `cleanup` runs either way.
 */
export function runIfMain(moduleUrl: string, main: () => Promise<number>, cleanup: () => void = () => {}): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(fs.realpathSync(process.argv[1])).href) return;
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
