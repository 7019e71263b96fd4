import * as fs from 'node:fs';
import * as net from 'node:net';
import { conflict, invalid } from '../core/errors.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

/** `--detach-keys` ("ctrl-p,ctrl-q", "a", "ctrl-@") as the bytes a terminal sends. */
export function parseDetachKeys(spec: string): number[] {
  return spec.split(',').map((k) => {
    const t = k.trim();
    if (t.length === 1) return t.charCodeAt(0);
    const m = /^ctrl-([a-z@[\\\]^_])$/i.exec(t);
    if (!m)
      throw invalid(
        'invalid_detach_keys',
        `invalid detach keys ${JSON.stringify(spec)}: ${JSON.stringify(t)} is not a key (a letter, or ctrl-<key>)`,
      );
    const ch = m[1]!.toLowerCase();
    return ch >= 'a' && ch <= 'z'
      ? ch.charCodeAt(0) - 96
      : ({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 } as Record<string, number>)[ch]!;
  });
}

/** Splits Docker's stdcopy frames ([stream, 0, 0, 0, size BE32] + data) as they arrive. */
export class Demux {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly out: (stream: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const n = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + n) break;
      this.out(this.buf[0]!, this.buf.subarray(8, 8 + n));
      this.buf = this.buf.subarray(8 + n);
    }
  }
}

/** Scans input for the detach sequence; bytes of a partial match are held back until it fails. */
export class DetachScanner {
  private held: number[] = [];
  constructor(private readonly keys: number[]) {}
  /** The bytes to forward, and whether the sequence was completed. */
  push(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.keys.length && b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (this.keys.length && b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

export interface AttachIO {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  detachKeys: number[];
}

/**
 * `docker attach`: connect to the monitor of a running detached container;
 * its output from now on, our input to its stdin (if it was started with -i),
 * until the container's run ends ('ended') or the user types the detach keys.
 */
export async function attachContainer(
  containers: ContainerStore,
  c: ContainerRecord,
  io: AttachIO,
): Promise<'ended' | 'detached'> {
  const now = containers.tryGet(c.ID) ?? c;
  if (!now.State.Running || !containers.isLive(c.ID))
    throw conflict('not_running', 'You cannot attach to a stopped container, start it first');
  if (!now.LogPath)
    throw conflict('not_attachable', `container ${c.ID.slice(0, 12)} runs in the foreground of another berth process`);
  // socket paths are short (108 bytes): connect through a descriptor of the container's directory, which keeps the
  // path short without changing the process's cwd
  const dirFd = fs.openSync(containers.dir(c.ID), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const sock = net.connect(`/proc/self/fd/${dirFd}/attach.sock`);
  let open = true;
  const closeDir = () => {
    if (open) fs.closeSync(dirFd);
    open = false;
  };
  sock.once('connect', closeDir).once('error', closeDir);
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', (e) => rej(conflict('not_attachable', `attach to ${c.ID.slice(0, 12)}: ${e.message}`)));
  });
  const tty = !!now.Config.Tty;
  const raw = tty && !!io.stdin?.isTTY && !!io.stdin.setRawMode;
  if (raw) io.stdin!.setRawMode!(true);
  const demux = new Demux((stream, data) => (stream === 2 ? io.stderr : io.stdout).write(data));
  sock.on('data', (d: Buffer) => (tty ? io.stdout.write(d) : demux.push(d)));
  const scanner = new DetachScanner(io.detachKeys);
  return new Promise((resolve) => {
    let done = false;
    const finish = (how: 'ended' | 'detached') => {
      if (done) return;
      done = true;
      io.stdin?.off('data', onInput);
      io.stdin?.pause();
      // a piped stdin left open would keep this process alive after the detach
      (io.stdin as { destroy?: () => void } | undefined)?.destroy?.();
      if (raw) io.stdin!.setRawMode!(false);
      sock.destroy();
      resolve(how);
    };
    const onInput = (d: Buffer) => {
      const { forward, detach } = scanner.push(d);
      if (forward.length) sock.write(forward);
      if (detach) finish('detached');
    };
    if (io.stdin && now.Config.OpenStdin) io.stdin.on('data', onInput);
    sock.on('close', () => finish('ended'));
    sock.on('error', () => finish('ended'));
  });
}
