import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname } from 'node:path';

/**
 * Random bytes from the kernel's generator (/dev/urandom), which a one-shot command reads for less than it takes to
 * load node:crypto (~9 ms of CPU: `run` names its container and layers, every atomic write its temporary file);
 * node:crypto's where there is no /dev/urandom.
 */
export function urandom(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  let fd: number | undefined;
  try {
    fd = fs.openSync('/dev/urandom', 'r');
    if (fs.readSync(fd, b, 0, bytes, null) === bytes) return b;
  } catch {
    /* no /dev/urandom (a chroot): node:crypto */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return randomBytes(bytes);
}

/** 64 random lowercase hex characters (cache-ids, mount-ids, staging names). */
export function randomHex(bytes = 32): string {
  return urandom(bytes).toString('hex');
}

/**
 * Write a file so that readers see the old content or the new, never a mix:
 * write a temp file beside it, fsync (unless `durable` is false: for what does
 * not need to survive a power loss), rename over. `mode` applies to the result.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, durable = true): void {
  const tmp = `${dirname(path)}/.tmp-${randomHex(8)}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fchmodSync(fd, mode);
    if (durable) fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, path);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Read a small text file, or undefined if it does not exist. */
export function readOptional(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function mkdirp(path: string, mode = 0o755): void {
  // not Node's recursive mkdir: where mkdir answers ENOENT although the parent exists (in /proc, /sys) it retries
  // forever; here the second ENOENT is the answer
  try {
    fs.mkdirSync(path, { mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (fs.statSync(path).isDirectory()) return;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), {
        code: 'ENOTDIR',
        syscall: 'mkdir',
        path,
      });
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    mkdirp(parent, mode);
    try {
      fs.mkdirSync(path, { mode });
    } catch (again) {
      // made meanwhile by another process
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(path).isDirectory()) throw again;
    }
  }
}

/** Remove a tree; missing is fine. */
export function removeAll(path: string): void {
  fs.rmSync(path, { recursive: true, force: true, maxRetries: 2 });
}

export function exists(path: string): boolean {
  return fs.existsSync(path);
}
