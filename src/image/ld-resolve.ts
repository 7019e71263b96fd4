/**
 * Resolve the shared objects a program loads, the way glibc's ld.so does at
 * startup (elf/dl-load.c `_dl_map_object`, breadth-first like
 * `_dl_map_object_deps`). For each DT_NEEDED name without a slash, in order:
 *   1. DT_RPATH of the loading object, then of its loader, and so on up to the
 *      program, then the program's own DT_RPATH; all of this only when the
 *      loading object has no DT_RUNPATH (an object with DT_RUNPATH never
 *      contributes its DT_RPATH anywhere);
 *   2. LD_LIBRARY_PATH: deliberately ignored; the host's environment is not the
 *      image's, and the image's runtime environment is unknown here;
 *   3. DT_RUNPATH of the loading object only;
 *   4. /etc/ld.so.cache (unless the loader has DF_1_NODEFLIB);
 *   5. default dirs: /lib/<triplet>, /usr/lib/<triplet>, /lib64, /usr/lib64,
 *      /lib, /usr/lib (64-bit; the union of Debian's multiarch and upstream dirs).
 * $ORIGIN, $LIB and $PLATFORM are expanded in rpath/runpath; elements that end
 * up relative or empty (meaning the process's working directory) are skipped.
 * Candidates that are missing, not ELF, or of another class/byte order/machine
 * than the requesting object are skipped, as ld.so does. Names already loaded
 * (by requested name, path or DT_SONAME) and files already loaded (by real path)
 * are not loaded twice. hwcaps subdirectories are not searched: the baseline
 * library is chosen so the image runs on any CPU of the architecture.
 *
 * All paths are "logical" absolute paths inside `root` (default "/"); symlinks
 * are resolved inside root, as if chrooted there.
 */
import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { endianness } from 'node:os';
import { corrupt, invalid, isErrno, notFound, wrap } from '../core/errors.js';
import { elfCompatible, readElf, type ElfInfo } from './elf.js';

export interface LoadedObject {
  /** Path as the loader finds it, inside root (e.g. "/lib/x86_64-linux-gnu/libc.so.6"). */
  path: string;
  /** `path` with every symlink resolved (inside root). */
  realPath: string;
  elf: ElfInfo;
  /** How it was found. */
  via: 'program' | 'interpreter' | 'path' | 'rpath' | 'runpath' | 'cache' | 'default';
  /** The DT_NEEDED name (or interpreter path) and the object that asked for it; absent for the program. */
  name?: string;
  neededBy?: string;
}

export interface ResolveOptions {
  /** Directory standing for "/" (default "/"). */
  root?: string;
  /** Host path of the ld.so.cache (default `<root>/etc/ld.so.cache`); a missing file means no cache. */
  ldCache?: string;
}

export interface LdCacheEntry {
  name: string;
  path: string;
  flags: number;
  hwcap: bigint;
}

/** Join a logical path onto root to get a host path. */
export function hostPath(root: string, logical: string): string {
  return root === '/' ? logical : posix.join(root, logical);
}

/** One step of a path walk: a directory, symlink or final node met on the way. */
export interface WalkNode {
  path: string;
  kind: 'dir' | 'symlink' | 'file' | 'other';
  mode: number;
  target?: string;
}

/**
 * Resolve `logical` inside root component by component (chroot semantics: ".."
 * stops at root, absolute symlink targets restart at root), reporting every node
 * met to `visit`. Returns the real logical path, or undefined when a component is
 * missing or a non-final component is not a directory. More than 40 symlinks is
 * InvalidArgument, like ELOOP.
 */
export async function walkInRoot(
  root: string,
  logical: string,
  visit?: (n: WalkNode) => void,
): Promise<string | undefined> {
  let todo = logical.split('/');
  let done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const rel = [...done, c].join('/');
    let st;
    try {
      st = await lstat(hostPath(root, '/' + rel));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
      throw wrap(`resolve "${logical}"`, err);
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) throw invalid('symlink_loop', `resolve "${logical}": too many levels of symbolic links`);
      const target = await readlink(hostPath(root, '/' + rel));
      visit?.({ path: rel, kind: 'symlink', mode: st.mode & 0o7777, target });
      if (target.startsWith('/')) done = [];
      todo = [...target.split('/'), ...todo];
      continue;
    }
    const more = todo.some((t) => t !== '' && t !== '.');
    if (more && !st.isDirectory()) return undefined;
    visit?.({ path: rel, kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other', mode: st.mode & 0o7777 });
    done.push(c);
  }
  return '/' + done.join('/');
}

/**
 * Parse /etc/ld.so.cache: the "glibc-ld.so.cache1.1" format, bare or inside an old "ld.so-1.7.0" file, or the old
 * format alone.
 */
export function parseLdCache(buf: Buffer, file = '/etc/ld.so.cache'): LdCacheEntry[] {
  const fail = (m: string) =>
    corrupt('ld_cache_corrupt', `read ld.so.cache "${file}": ${m} (regenerate it with ldconfig)`);
  const NEW = 'glibc-ld.so.cache1.1',
    OLD = 'ld.so-1.7.0';
  const cstr = (b: Buffer, off: number) => {
    const nul = off < b.length ? b.indexOf(0, off) : -1;
    if (nul < 0) throw fail(`string offset ${off} is outside the cache`);
    return b.toString('utf8', off, nul);
  };
  const parseNew = (b: Buffer): LdCacheEntry[] => {
    if (b.length < 48) throw fail('truncated header');
    const endian = b[28]! & 3;
    if (endian === 1) throw fail('invalid byte order flag');
    const le = endian === 2 || (endian === 0 && endianness() === 'LE');
    const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const n = u32(20);
    if (48 + n * 24 > b.length) throw fail(`${n} entries do not fit in ${b.length} bytes`);
    const out: LdCacheEntry[] = [];
    for (let i = 0, o = 48; i < n; i++, o += 24) {
      const flags = le ? b.readInt32LE(o) : b.readInt32BE(o);
      const hwcap = le ? b.readBigUInt64LE(o + 16) : b.readBigUInt64BE(o + 16);
      out.push({ name: cstr(b, u32(o + 4)), path: cstr(b, u32(o + 8)), flags, hwcap });
    }
    return out;
  };
  if (buf.toString('latin1', 0, NEW.length) === NEW) return parseNew(buf);
  if (buf.toString('latin1', 0, OLD.length) !== OLD) throw fail('unknown format');
  if (buf.length < 16) throw fail('truncated header');
  const le = endianness() === 'LE'; // the old format is in the writer's native byte order
  const n = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const end = 16 + n * 12;
  if (end > buf.length) throw fail(`${n} entries do not fit in ${buf.length} bytes`);
  const newOff = (end + 7) & ~7;
  if (buf.toString('latin1', newOff, newOff + NEW.length) === NEW) return parseNew(buf.subarray(newOff));
  const strings = buf.subarray(end); // old-only: offsets are relative to the end of the entries
  const out: LdCacheEntry[] = [];
  for (let i = 0, o = 16; i < n; i++, o += 12) {
    const r = (x: number) => (le ? buf.readUInt32LE(x) : buf.readUInt32BE(x));
    out.push({ name: cstr(strings, r(o + 4)), path: cstr(strings, r(o + 8)), flags: r(o) | 0, hwcap: 0n });
  }
  return out;
}

/** Read and parse an ld.so.cache file; a missing file is an empty cache (ld.so works without one). */
export async function readLdCache(file: string): Promise<LdCacheEntry[]> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw wrap(`read ld.so.cache "${file}"`, err);
  }
  return parseLdCache(buf, file);
}

/** Debian multiarch triplet for an object's architecture, if known. */
export function multiarchTriplet(e: ElfInfo): string | undefined {
  switch (e.machine) {
    case 62:
      return e.bits === 64 ? 'x86_64-linux-gnu' : 'x86_64-linux-gnux32';
    case 3:
      return 'i386-linux-gnu';
    case 183:
      return e.littleEndian ? 'aarch64-linux-gnu' : 'aarch64_be-linux-gnu';
    case 40:
      return e.flags & 0x400 ? 'arm-linux-gnueabihf' : 'arm-linux-gnueabi';
    case 21:
      return e.bits === 32 ? 'powerpc-linux-gnu' : e.littleEndian ? 'powerpc64le-linux-gnu' : 'powerpc64-linux-gnu';
    case 20:
      return 'powerpc-linux-gnu';
    case 22:
      return e.bits === 64 ? 's390x-linux-gnu' : undefined;
    case 243:
      return e.bits === 64 ? 'riscv64-linux-gnu' : undefined;
    case 258:
      return 'loongarch64-linux-gnu';
    default:
      return undefined;
  }
}

/** The loader's default search dirs for an object's architecture. */
export function defaultLibDirs(e: ElfInfo): string[] {
  const t = multiarchTriplet(e);
  const suffix = e.bits === 64 ? '64' : e.machine === 62 ? 'x32' : undefined;
  return [
    ...(t ? [`/lib/${t}`, `/usr/lib/${t}`] : []),
    ...(suffix ? [`/lib${suffix}`, `/usr/lib${suffix}`] : []),
    '/lib',
    '/usr/lib',
  ];
}

/** Values for the dynamic string tokens; undefined drops any element using it. */
export interface DstContext {
  origin?: string;
  lib?: string;
  platform?: string;
}

/** The DST values ld.so uses for an object; `multiarch` is Debian's $LIB = "lib/<triplet>". */
export function dstContext(e: ElfInfo, origin: string, multiarch: boolean): DstContext {
  const t = multiarchTriplet(e);
  const lib = multiarch && t ? `lib/${t}` : e.bits === 64 ? 'lib64' : e.machine === 62 ? 'libx32' : 'lib';
  const platform = (
    { 62: e.bits === 64 ? 'x86_64' : undefined, 3: 'i686', 183: 'aarch64' } as Record<number, string | undefined>
  )[e.machine];
  return { origin, lib, platform };
}

/**
 * Expand $ORIGIN, $LIB, $PLATFORM (also as ${NAME}) in one path element, like
 * `_dl_dst_substitute`; returns undefined when a used token has no value. Other
 * `$` sequences are kept literally.
 */
export function expandDst(element: string, ctx: DstContext): string | undefined {
  let dropped = false;
  const out = element.replace(
    /\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g,
    (_m, a?: string, b?: string) => {
      const v = ({ ORIGIN: ctx.origin, LIB: ctx.lib, PLATFORM: ctx.platform } as Record<string, string | undefined>)[
        (a ?? b)!
      ];
      if (v === undefined) dropped = true;
      return v ?? '';
    },
  );
  return dropped ? undefined : out;
}

/**
 * Split a colon-separated rpath/runpath into absolute dirs (DSTs expanded,
 * trailing slashes dropped). Like ld.so, ".." is not folded lexically: the
 * kernel resolves it, after symlinks, when the file is opened.
 */
export function searchPathDirs(value: string, ctx: DstContext): string[] {
  const dirs: string[] = [];
  for (const el of value.split(':')) {
    const d = expandDst(el, ctx);
    if (d === undefined || !d.startsWith('/')) continue;
    const n = d.replace(/(.)\/+$/, '$1');
    if (!dirs.includes(n)) dirs.push(n);
  }
  return dirs;
}

interface Node extends LoadedObject {
  loader?: Node;
}

/** `dir/name` without folding "..": ld.so hands the string to open() as is. */
const inDir = (dir: string, name: string) => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

/**
 * The program, its PT_INTERP interpreter and the transitive closure of its
 * DT_NEEDED libraries, program first, then in load order. `program` is a
 * logical absolute path. NotFound names the missing library and who needs it.
 */
export async function resolveLibraries(program: string, opts: ResolveOptions = {}): Promise<LoadedObject[]> {
  const root = opts.root ?? '/';
  const elfs = new Map<string, Promise<ElfInfo>>();
  const elfOf = (real: string) => {
    let p = elfs.get(real);
    if (!p) elfs.set(real, (p = readElf(hostPath(root, real))));
    return p;
  };
  let cache: Promise<LdCacheEntry[]> | undefined;
  const cacheEntries = () => (cache ??= readLdCache(opts.ldCache ?? hostPath(root, '/etc/ld.so.cache')));

  const progReal = await walkInRoot(root, program);
  if (!progReal) throw notFound('program_not_found', `program "${program}" not found`);
  const main: Node = { path: program, realPath: progReal, elf: await elfOf(progReal), via: 'program' };
  const t = multiarchTriplet(main.elf);
  const multiarch = t !== undefined && (await walkInRoot(root, `/lib/${t}`)) !== undefined;
  const nodes: Node[] = [main];
  const byReal = new Map<string, Node>([[progReal, main]]);
  const byName = new Map<string, Node>();
  const remember = (n: Node, name?: string) => {
    for (const k of [name, n.path, n.elf.soname]) if (k && !byName.has(k)) byName.set(k, n);
  };
  remember(main);

  if (main.elf.interpreter) {
    const ip = main.elf.interpreter;
    const real = await walkInRoot(root, ip);
    if (!real) throw notFound('interpreter_not_found', `interpreter "${ip}" needed by "${program}" not found`);
    const n: Node = {
      path: ip,
      realPath: real,
      elf: await elfOf(real),
      via: 'interpreter',
      name: ip,
      neededBy: program,
      loader: main,
    };
    if (!byReal.has(real)) {
      nodes.push(n);
      byReal.set(real, n);
      remember(n);
    }
  }

  /** A compatible ELF at `path`, or undefined to keep searching. */
  const candidate = async (path: string, requester: Node): Promise<{ real: string; elf: ElfInfo } | undefined> => {
    const real = await walkInRoot(root, path);
    if (!real) return undefined;
    let elf: ElfInfo;
    try {
      elf = await elfOf(real);
    } catch (err) {
      if ((err as { code?: string }).code === 'not_elf' || (err as { code?: string }).code === 'not_executable')
        return undefined;
      throw err;
    }
    return elfCompatible(elf, requester.elf) ? { real, elf } : undefined;
  };
  const origin = (n: Node) => posix.dirname(n === main ? n.realPath : n.path);
  const rpathDirs = (n: Node, v: string) => searchPathDirs(v, dstContext(n.elf, origin(n), multiarch));

  type Hit = { path: string; via: Node['via']; real: string; elf: ElfInfo };
  const at = async (path: string, via: Node['via'], loader: Node): Promise<Hit | undefined> => {
    const c = await candidate(path, loader);
    return c && { path, via, ...c };
  };
  const find = async (name: string, loader: Node): Promise<Hit | undefined> => {
    if (name.includes('/')) {
      const p = expandDst(name, dstContext(loader.elf, origin(loader), multiarch));
      // A relative path is relative to the working directory; in a container that defaults to "/".
      return p === undefined ? undefined : at(p.startsWith('/') ? p : `/${p}`, 'path', loader);
    }
    const first = async (paths: string[], via: Node['via']) => {
      for (const p of paths) {
        const hit = await at(p, via, loader);
        if (hit) return hit;
      }
      return undefined;
    };
    const inEach = (dirs: string[]) => dirs.map((d) => inDir(d, name));
    let hit: Hit | undefined;
    if (!loader.elf.runpath) {
      let sawMain = false;
      for (let l: Node | undefined = loader; l && !hit; l = l.loader) {
        if (l.elf.rpath && !l.elf.runpath) hit = await first(inEach(rpathDirs(l, l.elf.rpath)), 'rpath');
        sawMain ||= l === main;
      }
      if (!hit && !sawMain && main.elf.rpath && !main.elf.runpath)
        hit = await first(inEach(rpathDirs(main, main.elf.rpath)), 'rpath');
    }
    if (!hit && loader.elf.runpath) hit = await first(inEach(rpathDirs(loader, loader.elf.runpath)), 'runpath');
    if (hit || loader.elf.nodeflib) return hit;
    const cached = (await cacheEntries()).filter((e) => e.name === name && e.path.startsWith('/'));
    const ordered = [...cached.filter((h) => h.hwcap === 0n), ...cached.filter((h) => h.hwcap !== 0n)];
    return (
      (await first(
        ordered.map((h) => h.path),
        'cache',
      )) ?? (await first(inEach(defaultLibDirs(loader.elf)), 'default'))
    );
  };

  for (let i = 0; i < nodes.length; i++) {
    const loader = nodes[i]!;
    for (const name of loader.elf.needed) {
      if (byName.has(name)) continue;
      const hit = await find(name, loader);
      if (!hit) throw notFound('library_not_found', `library "${name}" needed by "${loader.path}" not found`);
      const existing = byReal.get(hit.real);
      if (existing) {
        remember(existing, name);
        continue;
      }
      const n: Node = {
        path: hit.path,
        realPath: hit.real,
        elf: hit.elf,
        via: hit.via,
        name,
        neededBy: loader.path,
        loader,
      };
      nodes.push(n);
      byReal.set(hit.real, n);
      remember(n, name);
    }
  }
  return nodes.map(({ loader: _l, ...o }) => o);
}
