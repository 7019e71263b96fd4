import * as fs from 'node:fs';

/**
 * The CLI's stdout and stderr without Node's stream objects until something needs one. process.stdout is made on
 * its first read, and making it loads Node's stream modules (and net for a pipe: ~5 ms of a `ps`); a command that
 * only prints text writes it to the descriptor with blocking writes instead (writeOut/writeErr). Once a stream
 * exists (a command pipes into it, or reads isTTY), text goes through it, in order with what it holds.
 */
const made = { stdout: false, stderr: false };

/**
 * Once per process: the umask, and a closed pipe (berth images | head) ends the process quietly, for the streams
 * (an EPIPE handler added as each is made) and for the blocking writes.
 */
export function setUpProcess(): void {
  process.umask(0o022);
  for (const name of ['stdout', 'stderr'] as const) {
    const own = Object.getOwnPropertyDescriptor(process, name);
    if (!own?.get || !own.configurable) {
      made[name] = true;
      process[name].on('error', onStreamError);
      continue;
    }
    const getter = own.get;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: own.enumerable ?? true,
      get() {
        const s = getter.call(process) as NodeJS.WriteStream;
        Object.defineProperty(process, name, { configurable: true, enumerable: own.enumerable ?? true, get: getter });
        made[name] = true;
        s.on('error', onStreamError);
        return s;
      },
    });
  }
}

function onStreamError(e: NodeJS.ErrnoException): void {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
}

/** Text to stdout (through process.stdout once it exists). */
export function writeOut(s: string): void {
  write(1, 'stdout', s);
}

/** Text to stderr (through process.stderr once it exists). */
export function writeErr(s: string): void {
  write(2, 'stderr', s);
}

function write(fd: 1 | 2, name: 'stdout' | 'stderr', s: string): void {
  if (made[name]) {
    process[name].write(s);
    return;
  }
  const buf = Buffer.from(s);
  let off = 0;
  try {
    while (off < buf.length) off += fs.writeSync(fd, buf, off);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') process.exit(0);
    // a non-blocking descriptor that is full (another process's pipe): the stream waits for it
    if (code === 'EAGAIN') process[name].write(buf.subarray(off));
    else throw e;
  }
}
