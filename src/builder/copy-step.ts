/**
 * COPY and ADD, with the classic builder's semantics (moby builder/dockerfile
 * copy.go): sources resolved in the context (or in an earlier stage or image
 * with --from), a directory's content copied into the destination, a file into
 * a directory destination under its own name, owners set to --chown or root
 * (kept with --from and no --chown), new parent directories of a file owned as
 * the file; ADD extracts local archives (tar, gzip, bzip2, xz, zstd) keeping the
 * archive's owners, and fetches URLs. The step's cache key names the sources by
 * content hash (`COPY file:<hash> in /dest `), so changed content misses.
 * Everything is written through the step container's union, with every path
 * resolved inside it (cp-tree.ts): nothing reaches outside the rootfs.
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { invalid, wrap } from '../core/errors.js';
import { TarParser } from '../archive/tar-parser.js';
import type { ImageID } from '../core/digest.js';
import type { ContainerStore } from '../container/store.js';
import type { ImageConfig } from '../image/config.js';
import { at, Extractor, openBeneath, walkTree, type ExtractTarget, type TreeEntry } from '../container/cp-tree.js';
import { inRoot } from '../container/cp.js';
import { parseGroup, parsePasswd } from '../runtime/user.js';
import { readInRoot } from '../runtime/rootfs-path.js';
import { expand } from '../dockerfile/expand.js';
import type { CopyInstruction } from '../dockerfile/instructions.js';
import { probeCache, useCached } from './image-step.js';
import {
  commitStepContainer,
  createStepContainer,
  endIfInterrupted,
  interrupted,
  removeStepContainer,
  withMountedStep,
  type StepOptions,
} from './step-container.js';
import { checkInterrupted, extractTreeInterruptible } from './copy-extract.js';
import { expansionEnv, withCmdCommentString, type StageState } from './state.js';
import { archiveStream, download } from './add-sources.js';
import { createHash } from 'node:crypto';

/**
 * A COPY source as resolved in its root: its path (relative, no symlinks on the way), kind and content hash
 * (`file:<hex>`, `dir:<hex>`).
 */
export interface SourceMatch {
  rel: string;
  name: string;
  isDir: boolean;
  hash: string;
}

/** Where sources are resolved: a directory and Docker's rules for a source argument (globs, .dockerignore). */
export interface SourceRoot {
  dir: string;
  resolve(src: string): Promise<SourceMatch[]>;
  /** Whether a path below a copied directory is part of the root (.dockerignore leaves files out of the context). */
  includes(rel: string): boolean;
}

/**
 * The hash naming an instruction's sources: the only one's, or `multi:` + sha256 of them joined by commas (moby's
 * getSourceHashFromInfos).
 */
export function hashSources(matches: readonly SourceMatch[]): string {
  if (matches.length === 1) return matches[0]!.hash;
  return `multi:${createHash('sha256')
    .update(matches.map((m) => m.hash).join(','))
    .digest('hex')}`;
}

export interface CopyEnv extends StepOptions {
  containers: ContainerStore;
  noCache: boolean;
  usingCache(): void;
  context: SourceRoot | undefined;
  /** A source root over another directory (an image's files for --from, heredocs, downloads): no .dockerignore. */
  sourceRoot(dir: string): SourceRoot;
  /** COPY --from=NAME: an earlier stage's result or an image. */
  stage(ref: string): { imageId: ImageID | undefined; image: ImageConfig };
}

interface Identity {
  uid: number;
  gid: number;
}

export async function dispatchCopy(
  env: CopyEnv,
  s: StageState,
  ins: CopyInstruction,
  escape: '\\' | '`',
): Promise<void> {
  const name = ins.kind;
  const vars = expansionEnv(s);
  const x = (w: string) => expand(w, vars, { escape });
  const chmodText = ins.chmod !== undefined ? x(ins.chmod) : undefined;
  if (chmodText !== undefined && !/^[0-7]{1,4}$/.test(chmodText))
    throw invalid(
      'copy_chmod',
      `invalid chmod parameter: ${JSON.stringify(chmodText)}: an octal mode such as 0644 is expected`,
    );
  const chmod = chmodText !== undefined ? parseInt(chmodText, 8) : undefined;
  if (ins.link)
    env.say(
      ` ---> [Warning] ${name} --link: the layer is built the classic way (same content, not independent of the layers below)`,
    );
  const sources = ins.sources;
  const dest = x(ins.dest);
  const chown = ins.chown !== undefined ? x(ins.chown) : undefined;
  const fromRef = ins.from !== undefined ? x(ins.from) : undefined;
  if (fromRef !== undefined && name === 'ADD') throw invalid('add_from', 'ADD does not support --from');

  // an image or stage to copy from is mounted (read through a step container) while the sources are hashed and copied
  const from = fromRef !== undefined ? env.stage(fromRef) : undefined;
  const fromCtr = from?.imageId
    ? await createStepContainer(env.containers, { ...s, imageId: from.imageId, image: from.image }, {}, [], {
        ...env,
        say: () => undefined,
      })
    : undefined;
  const tmpDirs: string[] = [];
  try {
    const run = async (root: SourceRoot) =>
      copyFrom(env, s, ins, root, dest, { chown, chmod, chmodText, preserve: fromRef !== undefined }, x, tmpDirs);
    if (from) {
      if (!fromCtr) {
        const empty = fs.mkdtempSync('/var/tmp/berth-build-empty-');
        tmpDirs.push(empty);
        return await run(env.sourceRoot(empty));
      }
      return await withMountedStep(env.containers, fromCtr, (merged) => run(env.sourceRoot(merged)));
    }
    const ctx = env.context;
    if (!ctx && sources.some((src) => src.kind === 'path' && !isURL(x(src.path))))
      throw invalid('no_context', `${name} failed: there is no build context (the Dockerfile came from stdin)`);
    return await run(ctx ?? env.sourceRoot('/var/empty'));
  } finally {
    if (fromCtr) await env.containers.remove(env.containers.tryGet(fromCtr.ID) ?? fromCtr);
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

const isURL = (s: string) => /^https?:\/\//i.test(s);

interface Perms {
  chown?: string;
  chmod?: number;
  chmodText?: string;
  preserve: boolean;
}

async function copyFrom(
  env: CopyEnv,
  s: StageState,
  ins: CopyInstruction,
  root: SourceRoot,
  dest: string,
  perms: Perms,
  x: (w: string) => string,
  tmpDirs: string[],
): Promise<void> {
  const { chown, chmodText, preserve } = perms;
  const name = ins.kind;
  const matches: Array<SourceMatch & { root: SourceRoot; decompress: boolean }> = [];
  for (const src of ins.sources) {
    if (src.kind === 'heredoc') {
      const dir = fs.mkdtempSync('/var/tmp/berth-build-heredoc-');
      tmpDirs.push(dir);
      const file = posix.basename(src.heredoc.name) || 'heredoc';
      fs.writeFileSync(`${dir}/${file}`, src.heredoc.expand ? x(src.heredoc.content) : src.heredoc.content, {
        mode: 0o644,
      });
      fs.chmodSync(`${dir}/${file}`, 0o644);
      const r = env.sourceRoot(dir);
      for (const m of await r.resolve(file)) matches.push({ ...m, root: r, decompress: false });
      continue;
    }
    const path = x(src.path);
    if (isURL(path)) {
      if (name === 'COPY') throw invalid('copy_url', `${name} failed: source can't be a URL for COPY`);
      const dir = fs.mkdtempSync('/var/tmp/berth-build-url-');
      tmpDirs.push(dir);
      const file = await download(path, dir);
      const r = env.sourceRoot(dir);
      for (const m of await r.resolve(file)) matches.push({ ...m, root: r, decompress: false });
      continue;
    }
    let found: SourceMatch[];
    try {
      found = await root.resolve(path);
    } catch (err) {
      throw wrap(`${name} failed`, err);
    }
    for (const m of found) matches.push({ ...m, root, decompress: name === 'ADD' });
  }
  if (matches.length === 0) throw invalid('copy_no_source', `${name} failed: no source files were specified`);
  if (matches.length > 1 && !dest.endsWith('/'))
    throw invalid(
      'copy_dest',
      `When using ${name} with more than one source file, the destination must be a directory and end with a /`,
    );
  const srcHash = hashSources(matches);
  const rc = s.runConfig;
  // dockerd glues --chown to the hash (`COPY --chown=app:appfile:...`); --chmod (berth, as BuildKit) comes before,
  // spaced
  const cc = withCmdCommentString(
    rc,
    `${name} ${chmodText !== undefined ? `--chmod=${chmodText} ` : ''}${chown !== undefined && chown !== '' ? `--chown=${chown}` : ''}${srcHash} in ${dest} `,
  );
  const hit = env.noCache ? undefined : probeCache(env.containers.images, s.imageId, cc);
  if (hit) {
    env.usingCache();
    useCached(env.containers.images, s, hit);
    return;
  }
  const destPath = normalizeDest(rc.WorkingDir, dest);
  checkInterrupted(env.signal);
  const c = await createStepContainer(env.containers, s, cc, [], { ...env, say: () => undefined });
  try {
    await withMountedStep(env.containers, c, async (merged) => {
      const rootFd = fs.openSync(merged, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try {
        const identity = chown ? parseChown(merged, chown) : preserve ? undefined : { uid: 0, gid: 0 };
        for (const m of matches) await copyOne(rootFd, m, destPath, identity, m.decompress, perms.chmod, env.signal);
      } finally {
        fs.closeSync(rootFd);
      }
    });
  } catch (err) {
    // an interrupted step is no failure to inspect: its container goes whatever --rm says, as dockerd's
    const stopped = env.signal?.aborted;
    if (stopped || env.forceRm || env.rm)
      await removeStepContainer(env.containers, c, { ...env, say: () => undefined });
    throw stopped ? interrupted(env.signal!) : err;
  }
  await endIfInterrupted(env.containers, c, { ...env, say: () => undefined });
  await commitStepContainer(env.containers, s, c, cc, { ...env, say: () => undefined });
}

/** Docker's normalizeDest: relative destinations are below WORKDIR; a trailing slash is kept. */
export function normalizeDest(workdir: string | undefined, requested: string): string {
  if (requested.startsWith('/')) return requested;
  const d = posix.join('/', workdir ?? '', requested);
  return requested.endsWith('/') && !d.endsWith('/') ? `${d}/` : d;
}

/**
 * `--chown=user[:group]`: numeric ids as is, names from the destination's /etc/passwd and /etc/group; no group = the
 * user string again.
 */
export function parseChown(rootfs: string, spec: string): Identity {
  const parts = spec.split(':');
  if (parts.length > 2) throw invalid('chown', `invalid chown string format: ${spec}`);
  const [u, g = u] = parts as [string, string?];
  const num = (v: string) => (/^\d+$/.test(v) ? Number(v) : undefined);
  let uid = num(u);
  if (uid === undefined) {
    const p = parsePasswd(readInRoot(rootfs, '/etc/passwd')).find((e) => e.name === u);
    if (!p)
      throw invalid(
        'chown',
        `unable to convert uid/gid chown string to host mapping: can't find uid for user ${u}: no such user: ${u}`,
      );
    uid = p.uid;
  }
  let gid = num(g!);
  if (gid === undefined) {
    const e = parseGroup(readInRoot(rootfs, '/etc/group')).find((x) => x.name === g);
    if (!e)
      throw invalid(
        'chown',
        `unable to convert uid/gid chown string to host mapping: can't find gid for group ${g}: no such group: ${g}`,
      );
    gid = e.gid;
  }
  return { uid, gid };
}

/**
 * Make `abs` (resolved inside the root) a directory, creating what is missing with mode 0755 and `owner`. Returns its
 * path relative to the root.
 */
function mkdirInRoot(rootFd: number, abs: string, owner: Identity): { rel: string; existed: boolean } {
  const rel = inRoot(rootFd, abs);
  let existed = true;
  fs.closeSync(
    openBeneath(rootFd, rel, (fd) => {
      fs.fchmodSync(fd, 0o755);
      fs.fchownSync(fd, owner.uid, owner.gid);
      existed = false;
    }),
  );
  return { rel, existed };
}

function target(rootFd: number, dirRel: string, identity: Identity | undefined): ExtractTarget {
  return {
    show: (rel) => posix.join('/', dirRel, rel),
    openDir: (rel, create) => openBeneath(rootFd, inRoot(rootFd, posix.join('/', dirRel, rel)), create),
    owner: (h) => identity ?? { uid: h.uid, gid: h.gid },
  };
}

async function copyOne(
  rootFd: number,
  m: SourceMatch & { root: SourceRoot },
  destPath: string,
  identity: Identity | undefined,
  decompress: boolean,
  chmod: number | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  // dockerd chowns what it copied (fixPermissions), and chown clears a file's setuid bit (and setgid with group exec)
  const mode = (it: Iterable<TreeEntry>) => {
    const chowned = identity ? clearSetid(it) : it;
    return chmod === undefined ? chowned : withMode(chowned, chmod);
  };
  const hostPath = posix.join(m.root.dir, m.rel);
  const rootSrcFd = fs.openSync(m.root.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const srcDirFd = openBeneath(rootSrcFd, posix.dirname(m.rel) === '.' ? '' : posix.dirname(m.rel));
    const base = posix.basename(m.rel);
    const as = m.name || base;
    try {
      if (m.isDir) {
        // the directory's content goes into the destination; a new destination is owned as its content
        const d = mkdirInRoot(rootFd, destPath, { uid: 0, gid: 0 });
        if (!d.existed && identity) fs.chownSync(at(rootFd, d.rel), identity.uid, identity.gid);
        const inCtx = (name: string) => m.root.includes(posix.join(m.rel, name.replace(/\/$/, '')).replace(/^\.$/, ''));
        if (!d.existed && chmod !== undefined) fs.chmodSync(at(rootFd, d.rel), chmod);
        await extract(mode(filter(walkTree(srcDirFd, base, '.'), inCtx)), target(rootFd, d.rel, identity), signal);
        return;
      }
      if (decompress) {
        const stream = await archiveStream(hostPath);
        if (stream) {
          const d = mkdirInRoot(rootFd, destPath, { uid: 0, gid: 0 });
          const x = new Extractor(target(rootFd, d.rel, undefined));
          const parser = new TarParser(x);
          try {
            for await (const chunk of stream) {
              checkInterrupted(signal);
              parser.write(chunk);
            }
            parser.end();
            x.finish();
          } catch (err) {
            x.abort();
            throw err;
          }
          return;
        }
      }
      let file = destPath;
      const rel = inRoot(rootFd, destPath);
      let isDir = false;
      try {
        isDir = fs.statSync(at(rootFd, rel)).isDirectory();
      } catch {
        /* a new file */
      }
      if (destPath.endsWith('/') || isDir) file = posix.join(destPath, as);
      const parent = mkdirInRoot(rootFd, posix.dirname(file), identity ?? { uid: 0, gid: 0 });
      await extract(mode(walkTree(srcDirFd, base, posix.basename(file))), target(rootFd, parent.rel, identity), signal);
    } finally {
      fs.closeSync(srcDirFd);
    }
  } finally {
    fs.closeSync(rootSrcFd);
  }
}

/** --chmod: every copied file and directory takes the mode (symlinks have none). */
function* withMode(entries: Iterable<TreeEntry>, mode: number): Generator<TreeEntry> {
  for (const e of entries) yield e.h.type === 'symlink' ? e : { ...e, h: { ...e.h, mode } };
}

function* clearSetid(entries: Iterable<TreeEntry>): Generator<TreeEntry> {
  for (const e of entries) {
    if (e.h.type !== 'file' || !(e.h.mode & 0o6000)) {
      yield e;
      continue;
    }
    const mode = e.h.mode & ~0o4000 & ~(e.h.mode & 0o010 ? 0o2000 : 0);
    yield { ...e, h: { ...e.h, mode } };
  }
}

function* filter(entries: Iterable<TreeEntry>, keep: (name: string) => boolean): Generator<TreeEntry> {
  for (const e of entries) if (keep(e.h.name)) yield e;
}

function extract(entries: Iterable<TreeEntry>, t: ExtractTarget, signal: AbortSignal | undefined): Promise<void> {
  return extractTreeInterruptible(entries, new Extractor(t), signal);
}
