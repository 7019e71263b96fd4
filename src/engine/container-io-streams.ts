import * as fs from 'node:fs';
import * as net from 'node:net';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { conflict, invalid } from '../core/errors.js';
import { rfc3339NanoFixed } from '../core/time.js';
import { Demux, DetachScanner, parseDetachKeys } from '../container/attach.js';
import { readLogs, type LogRecord } from '../container/logs.js';
import type { Engine } from './engine.js';
import { findContainer } from './container-io-find.js';

/** GET /containers/{id}/logs options; since/until are Unix times in seconds (fractions allowed), as the API's. */
export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: number;
  until?: number;
  timestamps?: boolean;
  /** The last N lines, or 'all'. */
  tail?: number | 'all';
  /** Stops a follow (and the iteration) when aborted. */
  signal?: AbortSignal;
}

/** One log line: `line` keeps its newline, and starts with its time when `timestamps` was asked for. */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, as recorded. */
  time: string;
  line: string;
}

/** `docker logs`: the container's json-file log, then (follow) what it writes until it stops. */
export async function* logs(engine: Engine, id: string, o: LogsOptions = {}): AsyncGenerator<LogEntry> {
  const tail = o.tail === undefined || o.tail === 'all' ? undefined : o.tail;
  if (tail !== undefined && !Number.isInteger(tail))
    throw invalid('invalid_tail', `read logs: invalid tail ${JSON.stringify(o.tail)}: a whole number or "all"`);
  for (const [k, v] of [
    ['since', o.since],
    ['until', o.until],
  ] as const)
    if (v !== undefined && !Number.isFinite(v))
      throw invalid('invalid_time', `read logs: invalid ${k} ${JSON.stringify(v)}: a Unix time in seconds`);
  const cs = engine.containerStore;
  const c = await findContainer(engine, id);
  const wanted = { stdout: o.stdout ?? true, stderr: o.stderr ?? true };
  const queue: LogRecord[] = [];
  let wake: (() => void) | undefined;
  let stopped = false;
  // wakes the follow at once when the caller stops reading or aborts
  const stop = new AbortController();
  const abort = () => stop.abort();
  o.signal?.addEventListener('abort', abort, { once: true });
  const reading = readLogs(c.LogPath ?? cs.logPath(c.ID), {
    tail,
    since: o.since === undefined ? undefined : o.since * 1000,
    until: o.until === undefined ? undefined : o.until * 1000,
    follow: !!o.follow,
    live: () => !stopped && !o.signal?.aborted && cs.isLive(c.ID),
    signal: stop.signal,
    write: (r) => {
      if (!wanted[r.stream]) return;
      queue.push(r);
      wake?.();
    },
  }).finally(() => {
    stopped = true;
    wake?.();
  });
  reading.catch(() => undefined);
  try {
    for (;;) {
      while (queue.length) {
        const r = queue.shift()!;
        yield { stream: r.stream, time: r.time, line: o.timestamps ? `${rfc3339NanoFixed(r.time)} ${r.log}` : r.log };
      }
      if (stopped) break;
      await new Promise<void>((res) => (wake = res));
      wake = undefined;
    }
    await reading;
  } finally {
    stopped = true;
    stop.abort();
    o.signal?.removeEventListener('abort', abort);
  }
}

/** POST /containers/{id}/attach options. */
export interface AttachOptions {
  /** Stream output from now on (the only form berth has: no replay of logs). */
  stream?: boolean;
  /** Take input for the container's stdin (if it was created with OpenStdin). */
  stdin?: boolean;
  /** Docker's detach keys, "ctrl-p,ctrl-q" by default. */
  detachKeys?: string;
}

/** An attached container: its output, a way in, and how it ended. */
export interface Attached {
  /** The container's full ID. */
  Id: string;
  /** Whether the container has a terminal (its output is then all on stdout, raw). */
  tty: boolean;
  stdout: Readable;
  stderr: Readable;
  /** Bytes for the container's stdin; the detach keys typed here end the attachment. Absent without `stdin`. */
  stdin?: Writable;
  /** 'ended' when the container's run ended, 'detached' after the detach keys or close(). */
  done: Promise<'ended' | 'detached'>;
  close(): void;
}

/** `docker attach`: connect to the monitor of a running detached container. */
export async function attach(engine: Engine, id: string, o: AttachOptions = {}): Promise<Attached> {
  const keys = parseDetachKeys(o.detachKeys ?? 'ctrl-p,ctrl-q');
  const c = await findContainer(engine, id);
  const cs = engine.containerStore;
  if (!c.State.Running || !cs.isLive(c.ID))
    throw conflict('not_running', 'You cannot attach to a stopped container, start it first');
  if (!c.LogPath)
    throw conflict('not_attachable', `container ${c.ID.slice(0, 12)} runs in the foreground of another berth process`);
  // socket paths are short (108 bytes): reach it through a descriptor of its directory, not by changing the cwd
  const dirFd = fs.openSync(cs.dir(c.ID), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  let sock: net.Socket;
  try {
    sock = net.connect(`/proc/self/fd/${dirFd}/attach.sock`);
    await new Promise<void>((res, rej) => {
      sock.once('connect', res);
      sock.once('error', (e) => rej(conflict('not_attachable', `attach to ${c.ID.slice(0, 12)}: ${e.message}`)));
    });
  } finally {
    fs.closeSync(dirFd);
  }
  const tty = !!c.Config.Tty;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const demux = new Demux((stream, data) => (stream === 2 ? stderr : stdout).write(data));
  sock.on('data', (d: Buffer) => (tty ? stdout.write(d) : demux.push(d)));
  let finish!: (how: 'ended' | 'detached') => void;
  const done = new Promise<'ended' | 'detached'>((resolve) => {
    let over = false;
    finish = (how) => {
      if (over) return;
      over = true;
      sock.destroy();
      stdout.end();
      stderr.end();
      resolve(how);
    };
  });
  sock.on('close', () => finish('ended'));
  sock.on('error', () => finish('ended'));
  const scanner = new DetachScanner(keys);
  const stdin =
    o.stdin && c.Config.OpenStdin
      ? new Writable({
          write(chunk: Buffer, _enc, cb) {
            const { forward, detach } = scanner.push(chunk);
            if (forward.length && !sock.destroyed) sock.write(forward);
            if (detach) finish('detached');
            cb();
          },
        })
      : undefined;
  return { Id: c.ID, tty, stdout, stderr, ...(stdin ? { stdin } : {}), done, close: () => finish('detached') };
}
