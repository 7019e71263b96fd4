import { aborted, conflict, invalid, notFound } from '../core/errors.js';
import { execInContainer } from '../container/exec.js';
import type { HelperHandle, Stdio } from '../runtime/helper.js';
import { randomHex } from '../storage/fsutil.js';
import type { Engine } from './engine.js';
import { liveContainer } from './container-io-find.js';

/** Docker's ExecConfig (POST /containers/{id}/exec). */
export interface ExecConfig {
  Cmd: string[];
  /** KEY=VALUE; a bare KEY unsets it (as dockerd). */
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Detach?: boolean;
  DetachKeys?: string;
}

/** Docker's ExecInspectResponse (GET /exec/{id}/json). */
export interface ExecInspect {
  ID: string;
  ContainerID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  CanRemove: boolean;
  DetachKeys: string;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user: string };
}

/** How the caller connects an exec: Node's spawn stdio, and a hook that gets the running helper (signals, pipes). */
export interface ExecIO {
  stdio?: [Stdio, Stdio, Stdio];
  onStart?: (run: HelperHandle) => void;
}

interface ExecRecord {
  inspect: ExecInspect;
  config: ExecConfig;
  started: boolean;
  /** When it ended (ms), for forgetting it. */
  endedAt?: number;
}

/** How long an ended exec stays inspectable: a long-lived engine does not keep every exec it ever ran. */
const KEEP_ENDED_MS = 5 * 60 * 1000;

/**
 * Exec instances live in the engine's memory, as dockerd keeps them: they are
 * named by the API only until the engine (the process) goes away.
 */
const records = new WeakMap<Engine, Map<string, ExecRecord>>();

function execsOf(engine: Engine): Map<string, ExecRecord> {
  let m = records.get(engine);
  if (!m) records.set(engine, (m = new Map()));
  const now = Date.now();
  for (const [id, r] of m) if (r.endedAt !== undefined && now - r.endedAt > KEEP_ENDED_MS) m.delete(id);
  return m;
}

/** inspect's ExecIDs: the execs of this engine created or running in the container (ended ones are dropped, as dockerd). */
export function execIdsOf(engine: Engine, containerId: string): string[] {
  return [...execsOf(engine).values()]
    .filter((r) => r.inspect.ContainerID === containerId && r.endedAt === undefined)
    .map((r) => r.inspect.ID);
}

function execRecord(engine: Engine, execId: string): ExecRecord {
  const r = execsOf(engine).get(execId);
  if (!r) throw notFound('exec_not_found', `No such exec instance: ${execId}`);
  return r;
}

/** `POST /containers/{id}/exec`: record an exec for a running container; nothing runs yet. */
export async function execCreate(engine: Engine, id: string, config: ExecConfig): Promise<{ Id: string }> {
  if (!config.Cmd?.length) throw invalid('no_exec_command', 'create exec: no command specified (Cmd is empty)');
  const c = await liveContainer(engine, id, 'exec');
  const execId = randomHex();
  const [entrypoint, ...args] = config.Cmd;
  execsOf(engine).set(execId, {
    config: { ...config, Env: [...(config.Env ?? [])], Cmd: [...config.Cmd] },
    started: false,
    inspect: {
      ID: execId,
      ContainerID: c.ID,
      Running: false,
      ExitCode: null,
      Pid: 0,
      OpenStdin: !!config.AttachStdin,
      OpenStdout: !!config.AttachStdout,
      OpenStderr: !!config.AttachStderr,
      CanRemove: false,
      DetachKeys: config.DetachKeys ?? '',
      ProcessConfig: {
        tty: !!config.Tty,
        entrypoint: entrypoint!,
        arguments: args,
        privileged: !!config.Privileged,
        user: config.User ?? '',
      },
    },
  });
  engine.events.container(`exec_create: ${config.Cmd.join(' ')}`, c, { execID: execId });
  return { Id: execId };
}

/** `POST /exec/{id}/start` options. */
export interface ExecStartOptions {
  Detach?: boolean;
  Tty?: boolean;
  /**
   * Stops waiting for an attached exec: the promise rejects (BerthError Unavailable, code 'aborted') and the engine
   * lets go of the process (its pipes here are ended or drained, its handle no longer keeps the event loop alive).
   * The process goes on, as dockerd's does when its client goes away; execInspect reports its end.
   */
  signal?: AbortSignal;
}

/**
 * `POST /exec/{id}/start`: run the exec (once) in its container's namespaces
 * and cgroup. In the foreground it resolves with the process's exit code once
 * it ends; with Detach, with 0 once it runs (execInspect reports its end).
 */
export async function execStart(
  engine: Engine,
  execId: string,
  opts: ExecStartOptions = {},
  io: ExecIO = {},
): Promise<number> {
  const r = execRecord(engine, execId);
  const signal = opts.signal;
  if (signal?.aborted) throw aborted(`start exec ${execId.slice(0, 12)}`, signal); // nothing started
  if (r.started)
    throw conflict(
      r.inspect.Running ? 'exec_running' : 'exec_ran',
      `start exec ${execId.slice(0, 12)}: it ${r.inspect.Running ? 'is already running' : 'has already run'}`,
    );
  const cs = engine.containerStore;
  const c = cs.tryGet(r.inspect.ContainerID);
  if (!c) throw notFound('container_not_found', `No such container: ${r.inspect.ContainerID}`);
  const tty = opts.Tty ?? !!r.config.Tty;
  const detach = opts.Detach ?? !!r.config.Detach;
  r.started = true;
  const end = (code: number) => {
    ended(r, code);
    engine.events.container('exec_die', c, { execID: execId, exitCode: String(code) });
  };
  let exited: Promise<number> | undefined;
  let helper: HelperHandle | undefined;
  try {
    const running = execInContainer(
      cs,
      c,
      {
        cmd: r.config.Cmd,
        tty,
        env: r.config.Env ?? [],
        workdir: r.config.WorkingDir || undefined,
        user: r.config.User || undefined,
        privileged: !!r.config.Privileged,
        detach,
      },
      io.stdio ?? ['ignore', 'ignore', 'ignore'],
      (_kill, run) => {
        r.inspect.Running = true;
        helper = run;
        exited = run.exited;
        void run.pid.then((pid) => {
          r.inspect.Pid = pid;
        });
        engine.events.container(`exec_start: ${r.config.Cmd.join(' ')}`, c, { execID: execId });
        io.onStart?.(run);
      },
    );
    const code = detach || !signal ? await running : await untilAborted(running, signal, () => letGo(helper));
    if (!detach) {
      end(code);
      return code;
    }
    void exited?.then((n) => end(n));
    return 0;
  } catch (err) {
    if (err instanceof Abort) {
      // the exec goes on without this caller: its end is still recorded
      void exited?.then((n) => end(n));
      throw aborted(`exec ${execId.slice(0, 12)}: the wait`, signal);
    }
    end((err as { exitCode?: number }).exitCode ?? 126);
    throw err;
  }
}

class Abort extends Error {}

/** `p`, unless `signal` aborts first: then `onAbort` runs and the promise rejects with an Abort. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(new Abort());
    };
    signal.addEventListener('abort', abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      },
    );
  });
}

/**
 * What the engine holds of a running exec it stops waiting for: the helper's handle (unref'd: it no longer keeps
 * the event loop alive), the input pipe (ended: the process reads EOF, as when a client's stdin goes) and output
 * pipes (drained and unref'd: the process writes on, into nothing, as to a dockerd whose client went away).
 */
function letGo(run: HelperHandle | undefined): void {
  if (!run) return;
  run.child.unref();
  const [stdin, stdout, stderr] = run.child.stdio;
  (stdin as { end?: () => void } | null)?.end?.();
  for (const s of [stdout, stderr] as Array<{ resume?: () => void; unref?: () => void } | null>) {
    s?.resume?.();
    s?.unref?.();
  }
}

function ended(r: ExecRecord, code: number): void {
  r.endedAt = Date.now();
  r.inspect.Running = false;
  r.inspect.ExitCode = code;
  r.inspect.CanRemove = true;
}

/** `GET /exec/{id}/json`. */
export function execInspect(engine: Engine, execId: string): ExecInspect {
  return structuredClone(execRecord(engine, execId).inspect);
}
