import * as fs from 'node:fs';
import { posix } from 'node:path';
import { invalid } from '../core/errors.js';

/**
 * Resolve `path` inside `root` as if root were "/": symlinks are followed but
 * never out of root (an absolute link target restarts at root, ".." stops at
 * root). Returns the host path. Missing trailing components are kept as named.
 */
export function resolveInRoot(root: string, path: string, maxLinks = 40): string {
  const parts = posix
    .normalize('/' + path)
    .split('/')
    .filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '.') continue;
    if (p === '..') {
      done.pop();
      continue;
    }
    const host = `${root}/${[...done, p].join('/')}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(host);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (++links > maxLinks)
        throw invalid(
          'symlink_loop',
          `resolve ${JSON.stringify(path)} in the container: too many levels of symbolic links`,
        );
      let target: string;
      try {
        target = fs.readlinkSync(host);
      } catch (err) {
        // the container replaced the link while we resolved it (a running container can race us)
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'EINVAL') throw err;
        throw invalid(
          'path_changed',
          `resolve ${JSON.stringify(path)} in the container: /${[...done, p].join('/')} changed while it was being resolved`,
        );
      }
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(p);
  }
  return `${root}/${done.join('/')}`.replace(/\/$/, '') || root;
}

/** Read a file inside a rootfs (resolved as above), at most maxBytes; undefined if missing. */
export function readInRoot(root: string, path: string, maxBytes = 4 << 20): string | undefined {
  const host = resolveInRoot(root, path);
  let fd: number;
  try {
    fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return undefined;
    if (st.size > maxBytes)
      throw invalid('file_too_large', `${path} in the container is larger than ${maxBytes} bytes`);
    const b = Buffer.alloc(st.size);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    return b.toString('utf8', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}
