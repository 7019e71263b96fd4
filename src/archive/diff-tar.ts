import * as fs from 'node:fs';
import * as native from '../native/index.js';
import { OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './layer-apply.js';
import { BLOCK, encodeHeader, padding, type TarHeader } from './tar-header.js';

/** xattrs carried into layer tars (as Docker's archive package keeps them). */
const KEPT_XATTRS = (name: string) => name === 'security.capability' || name.startsWith('user.');

/**
 * A layer tar from an overlay upper dir (a container's rw layer, or any diff
 * dir): whiteouts (char 0/0) become empty `.wh.<name>` files (0600), an opaque
 * directory (trusted.overlay.opaque=y) is followed by `<dir>/.wh..wh..opq`.
 * Deterministic for the same content: names sorted bytewise, PAX headers,
 * mtimes truncated to seconds, atime/ctime not recorded, hardlinks by inode.
 */
export async function* diffDirTar(root: string): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  const out: Buffer[] = [];
  let pending = 0;
  function* flush(force: boolean): Generator<Buffer> {
    if (pending >= 1 << 18 || (force && pending > 0)) {
      yield Buffer.concat(out);
      out.length = 0;
      pending = 0;
    }
  }
  const emit = (b: Buffer) => {
    out.push(b);
    pending += b.length;
  };
  const walk = function* (rel: string): Generator<Buffer> {
    const dir = rel ? `${root}/${rel}` : root;
    const names = fs.readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const full = `${root}/${r}`;
      const st = fs.lstatSync(full);
      const h: TarHeader = {
        name: r,
        linkname: '',
        type: 'file',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        uname: '',
        gname: '',
        devmajor: 0,
        devminor: 0,
        xattrs: new Map(),
      };
      for (const x of safeList(full))
        if (KEPT_XATTRS(x)) {
          const v = native.lgetxattr(full, x);
          if (v) h.xattrs.set(x, v);
        }
      if (st.isCharacterDevice() && st.rdev === 0) {
        emit(
          encodeHeader({
            ...h,
            name: rel ? `${rel}/${WHITEOUT_PREFIX}${name}` : `${WHITEOUT_PREFIX}${name}`,
            mode: 0o600,
            xattrs: new Map(),
          }),
        );
        continue;
      }
      if (st.isDirectory()) {
        emit(encodeHeader({ ...h, name: `${r}/`, type: 'dir' }));
        if (native.lgetxattr(full, OPAQUE_XATTR)?.toString() === 'y') {
          emit(
            encodeHeader({
              ...h,
              name: `${r}/${WHITEOUT_OPAQUE}`,
              type: 'file',
              mode: st.mode & 0o777,
              xattrs: new Map(),
            }),
          );
        }
        yield* flush(false);
        yield* walk(r);
        continue;
      }
      if (st.isSymbolicLink()) {
        emit(encodeHeader({ ...h, type: 'symlink', linkname: fs.readlinkSync(full) }));
        continue;
      }
      if (st.isFIFO()) {
        emit(encodeHeader({ ...h, type: 'fifo' }));
        continue;
      }
      if (st.isCharacterDevice() || st.isBlockDevice()) {
        emit(
          encodeHeader({
            ...h,
            type: st.isCharacterDevice() ? 'char' : 'block',
            devmajor: major(st.rdev),
            devminor: minor(st.rdev),
          }),
        );
        continue;
      }
      if (st.isSocket()) continue; // sockets are not archived (as Docker)
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1) {
        const first = links.get(key);
        if (first) {
          emit(encodeHeader({ ...h, type: 'link', linkname: first }));
          continue;
        }
        links.set(key, r);
      }
      emit(encodeHeader({ ...h, size: st.size }));
      yield* flush(true);
      const fd = fs.openSync(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        let left = st.size;
        while (left > 0) {
          const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
          const n = fs.readSync(fd, buf, 0, buf.length, null);
          if (n === 0) throw new Error(`read ${JSON.stringify(full)}: file shrank while archiving`);
          left -= n;
          yield buf.subarray(0, n);
        }
      } finally {
        fs.closeSync(fd);
      }
      const pad = padding(st.size);
      if (pad) emit(Buffer.alloc(pad));
    }
  };
  yield* walk('');
  emit(Buffer.alloc(BLOCK * 2));
  yield* flush(true);
}

function safeList(p: string): string[] {
  try {
    return native.llistxattr(p);
  } catch {
    return [];
  }
}

function major(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}
