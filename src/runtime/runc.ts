import { spawn, spawnSync, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { delimiter } from 'node:path';
import { isatty } from 'node:tty';
import { BerthError } from '../core/errors.js';
import type { OciSpec } from './spec.js';
import type { HelperRun, Stdio } from './helper.js';

/**
 * The other runtime: the same OCI spec berth builds for its native helper,
 * written as a bundle and run by runc (`--runtime runc`).
 *
 *   /run/berth/runc/<id>/config.json   the bundle (root.path is the merged overlay)
 *   /run/berth/runc/<id>/pid           --pid-file: the container's PID 1, once it runs
 *   /run/berth/runc/<id>/log.json      runc's own log; its errors say why a start failed
 *   /run/berth/runc-state/<id>/        runc's state (runc --root)
 *
 * `runc run` in the foreground is the monitor: it forwards signals to the
 * container, exits with its status (128+n when killed by signal n) and
 * destroys its cgroup and state when PID 1 exits. Unlike the native helper,
 * which hands the container berth's own fds 0-2, runc (without a terminal)
 * gives the container pipes and copies them to and from its own stdio.
 */
export const RUNC_BUNDLES = '/run/berth/runc';
export const RUNC_STATE = '/run/berth/runc-state';

import { DEFAULT_CAPABILITIES } from './security.js';
import { DEFAULT_DEVICE_RULES } from './cgroups/cgroups.js';
export { DEFAULT_CAPABILITIES };

export interface DeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access: string;
}

/** Docker's device rules (the same list berth's own cgroups get) in OCI's form. */
export const DEVICE_RULES: DeviceRule[] = DEFAULT_DEVICE_RULES.map((r) => ({
  allow: r.allow,
  ...(r.type !== 'a' ? { type: r.type } : {}),
  ...(r.major >= 0 ? { major: r.major } : {}),
  ...(r.minor >= 0 ? { minor: r.minor } : {}),
  access: r.access,
}));

/** config.json for runc: berth's spec plus what the native helper does implicitly. */
export interface RuncConfig extends Omit<OciSpec, 'process' | 'linux'> {
  process: OciSpec['process'] & {
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
  };
  linux: OciSpec['linux'] & {
    cgroupsPath: string;
    resources: NonNullable<OciSpec['linux']['resources']>;
    rootfsPropagation: string;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/**
 * Pure: the bundle's config.json for a container. runc itself creates the
 * standard devices in /dev (null, zero, full, random, urandom, tty), the
 * /dev/fd, stdin/stdout/stderr and ptmx links (/dev/core only when the host
 * has /proc/kcore, /dev/console only for a terminal), appends its default
 * device rules, and brings lo up in a new network namespace, as the helper's
 * plan does.
 */
export function runcConfig(spec: OciSpec, id: string): RuncConfig {
  const root = spec.process.user.uid === 0;
  return {
    ...spec,
    process: {
      ...spec.process,
      capabilities: spec.process.capabilities ?? {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: root ? [...DEFAULT_CAPABILITIES] : [],
        permitted: root ? [...DEFAULT_CAPABILITIES] : [],
      },
    },
    linux: {
      ...spec.linux,
      // the spec's (berth/<id>, as the helper's containers), else relative: under berth's own cgroup
      cgroupsPath: spec.linux.cgroupsPath ?? `berth-${id}`,
      resources: {
        ...spec.linux.resources,
        devices: spec.linux.resources?.devices ?? DEVICE_RULES.map((r) => ({ ...r })),
      },
      // as the helper: the container's mounts are private (runc's default would be rslave)
      rootfsPropagation: 'rprivate',
      maskedPaths: spec.linux.maskedPaths ?? [],
      readonlyPaths: spec.linux.readonlyPaths ?? [],
    },
  };
}

/** The runc executable: $BERTH_RUNC, else the first runc on $PATH or in the usual sbin/bin dirs. */
export function runcPath(): string {
  if (process.env.BERTH_RUNC) return process.env.BERTH_RUNC;
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  for (const d of dirs) {
    try {
      fs.accessSync(`${d}/runc`, fs.constants.X_OK);
      return `${d}/runc`;
    } catch {
      /* next */
    }
  }
  throw new BerthError('Unavailable', 'runc_missing', 'runtime "runc": runc is not installed (not found on $PATH)');
}

/** A start that runc refused, with Docker's exit code for it. */
export class RuncError extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(exitCode === 127 ? 'NotFound' : 'InvalidArgument', 'runc_start', message);
  }
}

/**
 * Docker's exit code for a failed start (as moby's translateContainerdStartErr
 * and the CLI do, limited to the exec of the command as the helper is): 127
 * when the command is not found, 126 when it cannot be executed, else 125.
 */
export function exitCodeOfStartError(message: string): number {
  const m = message.toLowerCase();
  if (!/\bexec[: ]/.test(m)) return 125;
  if (/executable file not found|no such file or directory/.test(m)) return 127;
  if (/permission denied|is a directory|exec format error|not a directory/.test(m)) return 126;
  return 125;
}

/** The error lines of runc's JSON log (`{"level":"error","msg":...}`), oldest first. */
export function logErrors(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string };
      if ((e.level === 'error' || e.level === 'fatal') && e.msg) out.push(e.msg);
    } catch {
      /* not JSON: ignore */
    }
  }
  return out;
}

/** The message berth reports for runc's error (without runc's "runc run failed: " prefix). */
export function describeRuncError(msg: string): string {
  return `runc: ${msg.replace(/^runc (run|create) failed: /, '')}`;
}

const RUNC_FAILED = /^runc (run|create|start) failed: /;

const bundleDir = (id: string) => `${RUNC_BUNDLES}/${id}`;

/** Write the bundle for a container (replacing a stale one). Returns its directory. */
export function writeBundle(id: string, spec: OciSpec): string {
  const dir = bundleDir(id);
  fs.mkdirSync(RUNC_BUNDLES, { recursive: true, mode: 0o700 });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(`${dir}/config.json`, JSON.stringify(runcConfig(spec, id)), { mode: 0o600 });
  return dir;
}

const runcDelete = (runc: string, id: string) =>
  new Promise<void>((res) => {
    execFile(runc, ['--root', RUNC_STATE, 'delete', '--force', id], { env: {} }, () => res());
  });

/**
 * Remove what a runc container leaves: its runc state (`runc delete --force`,
 * which also kills what still runs in it and removes its cgroup) when there is
 * any, then the bundle. Safe to call when neither exists.
 */
export async function cleanupRunc(id: string, runc?: string): Promise<void> {
  if (fs.existsSync(`${RUNC_STATE}/${id}`)) await runcDelete(runc ?? runcPath(), id);
  fs.rmSync(bundleDir(id), { recursive: true, force: true });
}

/**
 * Run a container with runc in the foreground. stdio is runc's (and through
 * runc's pipes the container's). The returned run behaves as the helper's:
 * `pid` is the container's PID 1 once it runs, `started` rejects with a
 * RuncError (125/126/127) when runc could not start the command, and `exited`
 * resolves with the exit code after runc's state and the bundle are removed.
 */
export function runRunc(
  id: string,
  spec: OciSpec,
  stdio: [Stdio, Stdio, Stdio],
): HelperRun & { child: ReturnType<typeof spawn> } {
  const runc = runcPath();
  if (fs.existsSync(`${RUNC_STATE}/${id}`)) {
    // a previous run of this container was cut short: its runc state must go before the id is reused
    const r = spawnSyncDelete(runc, id);
    if (r) throw r;
  }
  const dir = writeBundle(id, spec);
  const pidFile = `${dir}/pid`;
  const logFile = `${dir}/log.json`;
  const watchdog = startWatchdog(runc, id, dir);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(
      runc,
      [
        '--root',
        RUNC_STATE,
        '--log',
        logFile,
        '--log-format',
        'json',
        'run',
        '--bundle',
        dir,
        '--pid-file',
        pidFile,
        id,
      ],
      {
        stdio,
        env: {},
        detached: false,
      },
    );
  } catch (err) {
    watchdog.done();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let pidResolve!: (n: number) => void;
  const pid = new Promise<number>((r) => {
    pidResolve = r;
  });
  let startedResolve!: () => void;
  let startedReject!: (e: Error) => void;
  const started = new Promise<void>((res, rej) => {
    startedResolve = res;
    startedReject = rej;
  });
  started.catch(() => undefined);
  let seen = 0;
  const readPid = (): number => {
    if (seen) return seen;
    try {
      const n = Number(fs.readFileSync(pidFile, 'utf8').trim());
      if (n > 0) {
        seen = n;
        pidResolve(n);
        startedResolve();
      }
    } catch {
      /* not yet written */
    }
    return seen;
  };
  // runc writes the pid file (by rename) once the command has been exec'd
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(dir, (_ev, name) => {
      if (name === 'pid') readPid();
    });
    watcher.on('error', () => undefined);
  } catch {
    /* no inotify: the pid is read when runc exits */
  }
  readPid();

  const exited = new Promise<number>((res) => {
    let done = false;
    const finish = (code: number | null, sig: NodeJS.Signals | null, spawnError?: Error) => {
      if (done) return;
      done = true;
      watcher?.close();
      readPid();
      let log = '';
      try {
        log = fs.readFileSync(logFile, 'utf8');
      } catch {
        /* none */
      }
      const errors = logErrors(log);
      let exit = code ?? (sig ? 128 + (os.constants.signals[sig] ?? 1) : 125);
      if (spawnError) {
        exit = 125;
        startedReject(new BerthError('Internal', 'runc_spawn', `runc: ${spawnError.message}`));
      } else if (!seen || (code === 1 && errors.some((e) => RUNC_FAILED.test(e)))) {
        // runc's own failure (it exits 1 and logs why); after the pid file, 1 is the container's status
        const msg =
          [...errors].reverse().find((e) => RUNC_FAILED.test(e)) ??
          errors.at(-1) ??
          `runc exited with status ${exit} before the container started`;
        const e = new RuncError(describeRuncError(msg), errors.length ? exitCodeOfStartError(msg) : 125);
        exit = e.exitCode;
        startedReject(e);
      }
      pidResolve(0);
      cleanupRunc(id, runc)
        .catch(() => undefined)
        .finally(() => {
          watchdog.done();
          res(exit);
        });
    };
    // 'exit' may not follow a spawn 'error' (a failed kill also emits 'error': that is no exit)
    child.on('error', (e) => {
      if (child.pid === undefined) finish(null, null, e);
    });
    child.on('exit', (code, sig) => finish(code, sig));
  });
  return {
    child,
    pid,
    started,
    exited,
    kill: (s) => {
      // the user's terminal went away (a hung-up tty is no tty any more): the foreground container ends with it, as
      // the helper's does; runc only forwards the SIGHUP, which PID 1 ignores without a handler
      if (s === 'SIGHUP' && spec.process.terminal && seen && !isatty(0)) {
        try {
          process.kill(seen, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      try {
        child.kill(s);
      } catch {
        /* gone */
      }
    },
  };
}

/**
 * Foreground containers die with berth, as the helper's do (it has a death
 * signal): runc has none, so a small watchdog in its own session waits on a
 * pipe from berth. EOF without "done" means berth died: it deletes the runc
 * container (killing what runs in it) and the bundle. The mount is left to the
 * next berth command, which reaps it as for the helper.
 */
function startWatchdog(runc: string, id: string, dir: string): { done(): void } {
  const script =
    'read -r x; [ "$x" = done ] && exit 0; "$0" --root "$1" delete --force "$2" >/dev/null 2>&1; rm -rf "$3"';
  const w = spawn('/bin/sh', ['-c', script, runc, RUNC_STATE, id, dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    env: {},
  });
  w.on('error', () => undefined);
  w.stdin!.on('error', () => undefined);
  w.unref();
  let ended = false;
  return {
    done: () => {
      if (!ended) {
        ended = true;
        w.stdin!.end('done\n');
      }
    },
  };
}

function spawnSyncDelete(runc: string, id: string): Error | undefined {
  const r = spawnSync(runc, ['--root', RUNC_STATE, 'delete', '--force', id], { env: {}, encoding: 'utf8' });
  if (r.status !== 0 && fs.existsSync(`${RUNC_STATE}/${id}`))
    return new BerthError(
      'Conflict',
      'runc_stale',
      `runc: stale state of container ${id.slice(0, 12)} could not be deleted: ${(r.stderr ?? '').trim()}`,
    );
  return undefined;
}
