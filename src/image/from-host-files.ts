/**
 * The file set of a FROM-scratch image holding host programs and everything
 * they load (`berth image from-host NAME PROGRAM...`): each program at its host
 * path, `#!` interpreters, the PT_INTERP loader and the shared libraries ld.so
 * would load (see ld-resolve.ts), with the host's symlink structure preserved,
 * plus a Linux skeleton and a minimal /etc. Pure: nothing is copied here; the
 * caller turns the entries into a layer.
 */
import { lstat, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { conflict, invalid, isErrno, notFound, wrap } from '../core/errors.js';
import { readExecutable } from './elf.js';
import { defaultLibDirs, hostPath, resolveLibraries, walkInRoot, type WalkNode } from './ld-resolve.js';

/**
 * One entry of the image; `path` is relative to the image root, without a
 * leading slash ("usr/bin/ls"). Symlink targets are the host's, verbatim.
 */
export type HostEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; hostPath: string; mode: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'content'; path: string; mode: number; data: Buffer };

/** Entries sorted by path (bytewise), parents before children, one entry per path. */
export interface HostFileSet {
  entries: HostEntry[];
}

export interface HostFileOptions {
  /** Host path of the ld.so.cache to resolve with (default `<root>/etc/ld.so.cache`). */
  ldCache?: string;
  /** Host directory standing for "/" (default "/"); paths and symlinks resolve inside it. */
  root?: string;
}

const SKELETON: Array<[string, number]> = [
  ['bin', 0o755],
  ['dev', 0o755],
  ['etc', 0o755],
  ['home', 0o755],
  ['lib', 0o755],
  ['lib64', 0o755],
  ['mnt', 0o755],
  ['opt', 0o755],
  ['proc', 0o755],
  ['root', 0o700],
  ['run', 0o755],
  ['sbin', 0o755],
  ['sys', 0o755],
  ['tmp', 0o1777],
  ['usr', 0o755],
  ['var', 0o755],
];
/** Top-level dirs that merged-/usr hosts make symlinks ("/bin -> usr/bin"); mirrored when they are. */
const MERGED_USR = ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32'];
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Linux follows at most this many nested `#!` interpreters. */
const MAX_SCRIPT_DEPTH = 4;

/**
 * The entries for an image running `programs`: names are looked up in PATH
 * (process.env.PATH, inside root) like `which`; absolute paths are used as is.
 * Scripts pull in their `#!` interpreter (and, for `#!/usr/bin/env NAME`, NAME
 * from PATH). When ld.so would only find a library through ld.so.cache (it lies
 * outside the default dirs), the cache itself is included as etc/ld.so.cache.
 * Errors: NotFound naming a missing program, or a missing library and the
 * object that needs it; InvalidArgument for relative paths or unreadable files.
 */
export async function hostFileSet(programs: string[], opts: HostFileOptions = {}): Promise<HostFileSet> {
  const root = opts.root ?? '/';
  const entries = new Map<string, HostEntry>();
  const add = (e: HostEntry) => {
    const prev = entries.get(e.path);
    if (!prev) {
      entries.set(e.path, e);
      return;
    }
    const same = prev.kind === e.kind && (prev.kind !== 'symlink' || prev.target === (e as { target: string }).target);
    if (!same)
      throw conflict('from_host_conflict', `from-host: "${e.path}" would be both a ${prev.kind} and a ${e.kind}`);
  };
  const addNodes = (nodes: WalkNode[], what: string) => {
    for (const n of nodes) {
      if (n.kind === 'symlink') add({ kind: 'symlink', path: n.path, target: n.target! });
      else if (n.kind === 'dir') add({ kind: 'dir', path: n.path, mode: n.mode });
      else if (n.kind === 'file')
        add({ kind: 'file', path: n.path, hostPath: hostPath(root, '/' + n.path), mode: n.mode });
      else throw invalid('not_regular_file', `from-host: ${what}: "/${n.path}" is not a regular file`);
    }
  };
  /** Add a host path with every symlink and directory on the way to it. */
  const include = async (logical: string, what: string) => {
    const nodes: WalkNode[] = [];
    if (!(await walkInRoot(root, logical, (n) => nodes.push(n))))
      throw notFound('file_not_found', `from-host: ${what} "${logical}" not found`);
    addNodes(nodes, what);
  };

  let needCache = false;
  const seen = new Set<string>();
  const addProgram = async (logical: string, depth: number, scriptOf?: string): Promise<void> => {
    if (seen.has(logical)) return;
    seen.add(logical);
    const real = await walkInRoot(root, logical);
    const what = scriptOf ? `interpreter of "${scriptOf}"` : 'program';
    if (!real) throw notFound('program_not_found', `from-host: ${what} "${logical}" not found`);
    const info = await readExecutable(hostPath(root, real));
    if (info.kind === 'script') {
      await include(logical, what);
      if (depth >= MAX_SCRIPT_DEPTH)
        throw invalid('script_depth', `from-host: "${logical}": more than ${MAX_SCRIPT_DEPTH} nested #! interpreters`);
      if (!info.interpreter.startsWith('/')) {
        throw invalid(
          'bad_shebang',
          `from-host: "${logical}": #! interpreter "${info.interpreter}" is not an absolute path`,
        );
      }
      await addProgram(info.interpreter, depth + 1, logical);
      // `#!/usr/bin/env NAME` runs NAME from PATH: include it too.
      const a = info.arg;
      if (posix.basename(info.interpreter) === 'env' && a && !/^-|[\s=]/.test(a)) {
        await addProgram(a.startsWith('/') ? a : await findProgram(a, root), depth + 1, logical);
      }
      return;
    }
    for (const o of await resolveLibraries(logical, { root, ldCache: opts.ldCache })) {
      await include(
        o.path,
        o.via === 'program'
          ? what
          : o.via === 'interpreter'
            ? `interpreter of "${logical}"`
            : `library "${o.name}" of "${o.neededBy}"`,
      );
      if (o.via === 'cache' && !defaultLibDirs(o.elf).includes(posix.dirname(o.path))) needCache = true;
    }
  };

  for (const p of programs) {
    if (p === '') throw invalid('bad_program', 'from-host: empty program name');
    if (p.includes('/') && !p.startsWith('/'))
      throw invalid('bad_program', `from-host: program "${p}" must be a name in PATH or an absolute path`);
    await addProgram(p.startsWith('/') ? posix.normalize(p) : await findProgram(p, root), 0);
  }

  if (needCache) {
    const file = opts.ldCache ?? hostPath(root, '/etc/ld.so.cache');
    add({ kind: 'file', path: 'etc/ld.so.cache', hostPath: file, mode: 0o644 });
  }
  for (const name of MERGED_USR) {
    let isLink = false;
    try {
      isLink = (await lstat(hostPath(root, '/' + name))).isSymbolicLink();
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw wrap(`from-host: inspect "/${name}"`, err);
    }
    if (!isLink) continue;
    const nodes: WalkNode[] = [];
    await walkInRoot(root, '/' + name, (n) => nodes.push(n)); // a dangling link is mirrored as is
    addNodes(
      nodes.filter((n) => n.kind !== 'other'),
      `/${name}`,
    );
  }
  for (const [name, mode] of SKELETON) if (!entries.has(name)) add({ kind: 'dir', path: name, mode });
  add({ kind: 'content', path: 'etc/passwd', mode: 0o644, data: Buffer.from(PASSWD) });
  add({ kind: 'content', path: 'etc/group', mode: 0o644, data: Buffer.from(GROUP) });

  const sorted = [...entries.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return { entries: sorted };
}

/**
 * Look a program name up like `which`: the first PATH dir (absolute entries of
 * `pathVar`, default process.env.PATH) holding an executable regular file of
 * that name, inside root. Returns the logical path through that dir
 * ("/usr/bin/ls"), or NotFound.
 */
export async function findProgram(
  name: string,
  root = '/',
  pathVar = process.env.PATH ?? DEFAULT_PATH,
): Promise<string> {
  for (const dir of pathVar.split(':')) {
    if (!dir.startsWith('/')) continue;
    const candidate = posix.join(dir, name);
    const real = await walkInRoot(root, candidate);
    if (!real) continue;
    const st = await stat(hostPath(root, real)).catch(() => undefined);
    if (st?.isFile() && (st.mode & 0o111) !== 0) return candidate;
  }
  throw notFound('program_not_found', `from-host: program "${name}" not found in PATH`);
}
