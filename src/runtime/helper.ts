import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError, kindOfErrno, type ErrorKind } from '../core/errors.js';
import { encodePlan, type Step } from './plan.js';

/** A file of this installation: the first `rel` found in the engine's directory or one of its parents. */
function installed(rel: string, missing: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = resolve(dir, rel);
    if (fs.existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new BerthError('Internal', 'not_installed', missing);
}

/** Path of the native helper executable built by `npm install`. */
export function helperPath(): string {
  return installed('native/build/Release/berth-helper', 'berth-helper is not built: run npm install');
}

/** The CLI's code (its bundle): what the exec fast path checks has not changed since it planned. */
export function bundlePath(): string {
  return installed('dist/cli/berth-cli.cjs', 'dist/cli/berth-cli.cjs is not built: run npm install');
}

/** The berth command (bin/berth of this installation), for what the monitor runs when a container ends. */
export function berthCommand(): string {
  return installed('bin/berth', 'bin/berth not found next to the engine');
}

export interface HelperRun {
  /** Container process pid (in the host's PID namespace), once known. */
  pid: Promise<number>;
  /** Resolves when exec succeeded; rejects with the failing step otherwise. */
  started: Promise<void>;
  /** The helper's exit code (the container's, or 125/126/127 for berth's own failures). */
  exited: Promise<number>;
  kill(signal: NodeJS.Signals): void;
}

export class StepError extends BerthError {
  constructor(
    readonly step: string,
    readonly errno: string,
    detail: string,
    readonly exitCode: number,
  ) {
    super(stepErrorKind(errno), `helper_${step}`, detail);
  }
}

/**
 * The kind of a failing step by its errno, as for any syscall (core/errors.ts): EPERM and EACCES are Forbidden
 * (a capability, a read-only or noexec mount, a file mode), ENOENT NotFound (a missing executable or mount source),
 * ENOMEM/EAGAIN Unavailable, ... An errno that says nothing more (ENOEXEC: not an executable, EUNKNOWN) is the
 * container's configuration asking for what cannot be done: InvalidArgument.
 */
export function stepErrorKind(errno: string): ErrorKind {
  const kind = kindOfErrno(errno);
  return kind === 'Internal' ? 'InvalidArgument' : kind;
}

/** Describe a helper failure line ("error <n> <op> <ERRNO> <detail>") for users. */
export function describeFailure(line: string, steps: Step[]): { step: string; errno: string; message: string } {
  const m = /^error (\d+) (\S+) (\S+) (.*)$/.exec(line.trim());
  if (!m) return { step: '?', errno: 'EUNKNOWN', message: line.trim() };
  const [, n, op, errno, rest] = m;
  const step = steps[Number(n) - 1];
  let message: string;
  switch (op) {
    case 'exec':
      message =
        errno === 'ENOENT'
          ? `exec: ${rest!.replace(/: .*$/, '')}: executable file not found in $PATH`
          : `exec: ${rest}`;
      break;
    case 'mount':
    case 'attach-tree':
    case 'mkdir':
    case 'touch': {
      // the path is the target of mount/attach-tree, the first argument of mkdir/touch
      const path = op === 'mount' || op === 'attach-tree' ? step?.[2] : step?.[1];
      message =
        errno === 'ELOOP'
          ? `container rootfs: mount target ${path} is a symlink; refusing to mount over it`
          : `${op} ${rest}`;
      break;
    }
    case 'chdir':
      message = `chdir to working directory ${step?.[1]}: ${rest}`;
      break;
    default:
      message = `${op}: ${rest}`;
  }
  return { step: op!, errno: errno!, message };
}

/**
 * Run the helper with a plan on fd 3 and a status pipe on fd 4. stdio is the
 * container's stdio. The helper stays as the container's monitor.
 */
export type Stdio = 'inherit' | 'ignore' | 'pipe' | number;

/** A running helper that may still be waiting for the rest of its plan. */
export type HelperHandle = HelperRun & {
  child: ReturnType<typeof spawn>;
  /** Send more steps; `last` ends the plan (the helper runs what it has, and waits for more until then). */
  send(steps: Step[], last: boolean): void;
};

export function runHelper(
  steps: Step[],
  stdio: [Stdio, Stdio, Stdio],
  opts: { detached?: boolean; extraFds?: number[] } = {},
): HelperHandle {
  const h = startHelper(stdio, opts);
  h.send(steps, true);
  return h;
}

/**
 * Spawn the helper before its plan is complete: it executes steps as they
 * arrive (a prelude can run while berth still prepares the container).
 */
export function startHelper(
  stdio: [Stdio, Stdio, Stdio],
  opts: { detached?: boolean; extraFds?: number[] } = {},
): HelperHandle {
  // detached: a session of its own, so the monitor outlives this process and its terminal;
  // extra fds (the container's run lock) follow the plan and status pipes as fd 5, 6, ...
  const child = spawn(helperPath(), [], {
    stdio: [stdio[0], stdio[1], stdio[2], 'pipe', 'pipe', ...(opts.extraFds ?? [])],
    env: {},
    detached: !!opts.detached,
  });
  const plan = child.stdio[3] as NodeJS.WritableStream;
  plan.on('error', () => undefined); // a helper that failed early closes its end; its status says why
  const all: Step[] = []; // every step sent, to name the one that failed
  const status = child.stdio[4] as NodeJS.ReadableStream;
  let text = '';
  let pidResolve!: (n: number) => void;
  const pid = new Promise<number>((r) => {
    pidResolve = r;
  });
  const started = new Promise<void>((res, rej) => {
    status.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /^pid (\d+)$/m.exec(text);
      if (m) pidResolve(Number(m[1]));
    });
    status.on('end', () => {
      const err = text.split('\n').find((l) => l.startsWith('error '));
      if (err) {
        const f = describeFailure(err, all);
        rej(new StepError(f.step, f.errno, f.message, f.step === 'exec' ? (f.errno === 'ENOENT' ? 127 : 126) : 125));
      } else res();
    });
  });
  started.catch(() => undefined);
  const exited = new Promise<number>((res) =>
    child.on('exit', (code, sig) =>
      res(code ?? (sig ? 128 + (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[sig] ?? 1) : 125)),
    ),
  );
  const send = (steps: Step[], last: boolean) => {
    all.push(...steps);
    if (last) plan.end(encodePlan(steps));
    else plan.write(encodePlan(steps));
  };
  return {
    child,
    pid,
    started,
    exited,
    send,
    kill: (s) => {
      try {
        child.kill(s);
      } catch {
        /* gone */
      }
    },
  };
}
