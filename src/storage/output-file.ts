import * as fs from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { BerthError, conflict, invalid, isErrno, notFound, wrap } from '../core/errors.js';
import * as native from '../native/index.js';
import { randomHex } from './fsutil.js';

/**
 * Files written at a path the user named (`save -o`, `export -o`,
 * `build --iidfile`). The write stages a file in the target's directory and
 * puts it in place whole, so the target is never replaced by a partial file;
 * and only a regular file or nothing may be replaced: a device, a fifo, a
 * socket, a directory or a symbolic link at the path is refused, before any
 * work and again just before the file is put in place (renaming over
 * `/dev/null` would replace the host's /dev/null).
 *
 * A symlink is refused, as docker 28 does ("cannot write to a symbolic link
 * directly"), rather than followed: the final rename would replace the link
 * itself, not the file it names, and `/dev/stdout` (a symlink) is refused with
 * it. The check cannot be made atomic with the rename (no RENAME_NOREPLACE-
 * unless-regular exists); a new path is taken with link(2), which never
 * replaces anything.
 */

/** What an inode is, in the words Docker's atomicwriter uses ("a character device file"). */
export function kindOf(st: fs.Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device file';
  if (st.isBlockDevice()) return 'a block device file';
  return 'a file of unknown type';
}

/** Whether an existing inode is one a copy or a write must never replace nor write into. */
export function isSpecial(st: fs.Stats): boolean {
  return st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO() || st.isSocket();
}

/**
 * The directory `path` goes into must exist (Docker's message), and be a
 * directory. `action` starts the message ("failed to save image").
 */
export function checkOutputDir(path: string, action: string): void {
  const dir = dirname(path);
  let st: fs.Stats;
  try {
    st = fs.statSync(resolve(dir));
  } catch (err) {
    if (isErrno(err, 'ENOENT'))
      throw notFound('invalid_output_path', `${action}: invalid output path: directory ${q(dir)} does not exist`, err);
    throw wrap(`${action}: invalid output path: stat ${q(dir)}`, err);
  }
  if (!st.isDirectory())
    throw invalid('invalid_output_path', `${action}: invalid output path: ${q(dir)} is not a directory`);
}

/** What is at `path` now, without following a symlink; undefined if nothing. */
function lstatOptional(path: string, action: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw wrap(`${action}: invalid output path: stat ${q(path)}`, err);
  }
}

function refuse(path: string, action: string, st: fs.Stats): BerthError {
  const what = st.isSymbolicLink() ? 'a symbolic link directly' : kindOf(st);
  return invalid('invalid_output_path', `${action}: invalid output path ${q(path)}: cannot write to ${what}`);
}

/**
 * Refuse an output path before any work: its directory must exist, and what is
 * at the path, if anything, must be a regular file. Returns whether it exists.
 */
export function checkOutputPath(path: string, action: string): boolean {
  if (path === '') throw invalid('invalid_output_path', `${action}: invalid output path: file name is empty`);
  // "x/" names a directory, whatever is there (else the file would be made as "x")
  if (/\/\.?$/.test(path))
    throw invalid('invalid_output_path', `${action}: invalid output path ${q(path)}: cannot write to a directory`);
  checkOutputDir(path, action);
  const st = lstatOptional(path, action);
  if (st && !st.isFile()) throw refuse(path, action, st);
  return !!st;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Run `cleanup` if berth is ended by SIGINT, SIGTERM or SIGHUP before the
 * returned disarm is called; then the signal is raised again, so berth still
 * ends by it (unless another listener of the signal decides otherwise). While
 * armed, a signal waits for the event loop: a synchronous step (link, rename)
 * is never cut in half.
 */
export function cleanupOnSignal(cleanup: () => void): () => void {
  const handler = (sig: NodeJS.Signals) => {
    disarm();
    try {
      cleanup();
    } catch {
      /* ending anyway */
    }
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  const disarm = () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return disarm;
}

/** A staged output file: write to `fd`, then commit() or discard() (told whether fd was closed already). */
interface Staged {
  fd: number;
  commit(): void;
  discard(fdClosed?: boolean): void;
}

/** How an output file is written. */
export interface OutputOptions {
  /** The file's mode, umask not applied (as Docker's atomicwriter); 0600 unless said. */
  mode?: number;
  /** Stage it unnamed (O_TMPFILE) where the filesystem can (the default); false: under a hidden name at once. */
  unnamed?: boolean;
}

/**
 * Stage a file for `path` in its directory: unnamed (O_TMPFILE) where the
 * filesystem can, so that even SIGKILL leaves nothing; else (FUSE, NFS, ...)
 * under a hidden name that a failure or a signal removes.
 */
function stage(path: string, action: string, { mode = 0o600, unnamed = true }: OutputOptions): Staged {
  checkOutputPath(path, action);
  const abs = resolve(path);
  const dir = dirname(abs);
  const tempName = () => `${dir}/.tmp-${basename(abs)}-${randomHex(4)}`;
  // the staged file's name while it has one: removed on failure and on a signal (armed before it exists)
  let temp: string | undefined;
  const removeTemp = () => {
    if (temp) fs.rmSync(temp, { force: true });
    temp = undefined;
  };
  const disarm = cleanupOnSignal(removeTemp);
  let fd = -1;
  try {
    if (unnamed) fd = native.openTmpfile(dir, mode);
  } catch (err) {
    if (!['EOPNOTSUPP', 'EISDIR', 'EINVAL'].some((c) => isErrno(err, c))) {
      disarm();
      throw wrap(`${action}: create a temporary file in ${q(dir)}`, err);
    }
  }
  if (fd < 0) {
    temp = tempName();
    try {
      fd = fs.openSync(
        temp,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
        mode,
      );
    } catch (err) {
      temp = undefined;
      disarm();
      throw wrap(`${action}: create a temporary file in ${q(dir)}`, err);
    }
  }
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      fs.closeSync(fd);
    }
  };
  const discard = (fdClosed = false) => {
    if (fdClosed) open = false;
    close();
    removeTemp();
    disarm();
  };
  const commit = () => {
    try {
      fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
      // a new path is taken with link(2), which fails rather than replace what appeared meanwhile
      for (let attempt = 0; ; attempt++) {
        const st = lstatOptional(abs, action);
        if (st && !st.isFile()) throw refuse(path, action, st);
        if (!st) {
          try {
            if (temp) fs.linkSync(temp, abs);
            else native.linkFd(fd, abs);
            break;
          } catch (err) {
            if (isErrno(err, 'EEXIST') && attempt < 3) continue;
            throw err;
          }
        }
        if (!temp) {
          const name = tempName();
          native.linkFd(fd, name);
          temp = name;
        }
        fs.renameSync(temp, abs);
        temp = undefined;
        break;
      }
      close();
      removeTemp();
      disarm();
      fsyncDir(dir);
    } catch (err) {
      discard();
      throw err instanceof BerthError ? err : wrap(`${action}: write ${q(path)}`, err);
    }
  };
  return { fd, commit, discard };
}

function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    /* the file is in place; durability of its name is best effort */
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * Write what `produce` writes to `out` as the file `path` (see above).
 * `action` starts every message ("failed to save image").
 */
export async function writeOutputFile(
  path: string,
  action: string,
  produce: (out: Writable) => Promise<void>,
  opts: OutputOptions = {},
): Promise<void> {
  const s = stage(path, action, opts);
  const out = fs.createWriteStream('', { fd: s.fd, autoClose: false });
  try {
    await produce(out);
    out.end();
    await once(out, 'finish');
  } catch (err) {
    // the stream closes the descriptor once no write is in flight (closing it under one could let
    // the write land in whatever file reuses the number)
    out.destroy();
    if (!out.closed) await once(out, 'close');
    s.discard(true);
    throw err;
  }
  s.commit();
}

/** writeOutputFile for a small content at hand (`--iidfile`). */
export function writeOutputFileSync(
  path: string,
  action: string,
  data: string | Uint8Array,
  opts: OutputOptions = {},
): void {
  const s = stage(path, action, opts);
  try {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < b.length;) off += fs.writeSync(s.fd, b, off, b.length - off);
  } catch (err) {
    s.discard();
    throw wrap(`${action}: write ${q(path)}`, err);
  }
  s.commit();
}

/**
 * A file that must not exist yet (`--cidfile`): created at once (O_EXCL, no
 * symlink followed), so a missing directory or a taken name is reported before
 * any work; removed again unless write() was called, on failure or signal.
 */
export function createExclusive(
  path: string,
  action: string,
  taken: string,
  mode = 0o644,
): { write(data: string): void; close(): void } {
  let fd: number;
  if (lstatOptional(path, action)) throw conflict('file_exists', taken);
  checkOutputDir(path, action);
  try {
    fd = fs.openSync(
      path,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      mode,
    );
  } catch (err) {
    if (isErrno(err, 'EEXIST')) throw conflict('file_exists', taken, err);
    throw wrap(action, err);
  }
  let written = false;
  let open = true;
  const remove = () => {
    if (!written) fs.rmSync(path, { force: true });
  };
  const disarm = cleanupOnSignal(remove);
  return {
    write(data: string) {
      try {
        fs.writeSync(fd, data);
      } catch (err) {
        throw wrap(`${action}: write ${q(path)}`, err);
      }
      written = true;
      disarm();
    },
    close() {
      if (open) {
        open = false;
        fs.closeSync(fd);
      }
      disarm();
      remove();
    },
  };
}

const q = (s: string) => JSON.stringify(s);
