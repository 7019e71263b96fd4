import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BERTH = `${REPO}/bin/berth`;

/** Where tests and benchmarks make their roots: /var/tmp (the filesystem kind of /var/lib), or $BERTH_TMP. */
export const TMP = process.env.BERTH_TMP || '/var/tmp';

/** A fresh data root under TMP; remove() deletes it. */
export function tempRoot(prefix = 'berth-test'): { root: string; remove(): void } {
  fs.mkdirSync(TMP, { recursive: true });
  const root = fs.mkdtempSync(`${TMP}/${prefix}-`);
  return { root, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment berth runs with in tests: nothing may leave the machine, so registry traffic
 * that is not for loopback (or 10/8, which tests use only inside network namespaces they make) goes
 * to a proxy on a closed loopback port and fails at once (a test's own env may name other proxies).
 */
export const TEST_ENV: Record<string, string> = {
  HTTPS_PROXY: 'http://127.0.0.1:9',
  HTTP_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: '127.0.0.0/8,localhost,::1,10.0.0.0/8',
};
/** process.env without any proxy variable: for tests of proxies, and for berth in a namespace with no route out. */
export function envWithoutProxies(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(https?|no|all)_proxy$/i.test(k)));
}
// for every berth (and peer) a test starts, directly or through these helpers
for (const k of Object.keys(process.env)) if (/^(https?|no|all)_proxy$/i.test(k)) delete process.env[k];
Object.assign(process.env, TEST_ENV);

/** Run the berth CLI synchronously against a data root. */
export function berth(
  root: string,
  args: string[],
  opts: { input?: Buffer | string; env?: Record<string, string> } = {},
): RunResult {
  const r: SpawnSyncReturns<Buffer> = spawnSync(BERTH, ['--root', root, ...args], {
    input: opts.input,
    env: { ...process.env, ...opts.env },
    maxBuffer: 1 << 30,
  });
  const res = { code: r.status ?? 128 + 9, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  offMachinePull(args, res.stderr);
  return res;
}

/** A test that sends berth to a registry off this machine (Docker Hub) is a defect: fail it. */
function offMachinePull(args: string[], stderr: string): void {
  const m = /Unable to find image '([^']*)' locally/.exec(stderr);
  if (m && !/^(127\.|localhost[:/]|\[::1\])/.test(m[1]!))
    throw new Error(`berth ${args.join(' ')}: tried to pull ${m[1]} from a registry off this machine`);
}

/** Run berth and fail with its output when it does not exit 0. */
export function berthOk(root: string, args: string[], opts: { input?: Buffer | string } = {}): string {
  const r = berth(root, args, opts);
  if (r.code !== 0)
    throw new Error(`berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Start berth asynchronously (for kill tests). */
export function berthSpawn(root: string, args: string[]) {
  return spawn(BERTH, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Path of the cached debootstrap rootfs tar (built once by scripts/fixtures.sh). */
export function debootstrapTar(): string {
  const r = spawnSync(`${REPO}/scripts/fixtures.sh`, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/fixtures.sh failed: ${r.stderr}`);
  return resolve(REPO, r.stdout.trim().split('\n').pop()!);
}

/** Overlay and berth mounts under a path (to assert nothing leaked). */
export function mountsUnder(path: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(path));
}

/** Poll f every 50 ms until it returns a value; throw after ms. */
/** Whether a process runs: a zombie (exited, not yet reaped by its parent or init) counts as gone. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export async function waitFor<T>(f: () => T | undefined, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
