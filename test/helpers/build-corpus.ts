/**
 * The Dockerfile corpus of test/builder/corpus/ and what builds it: loading the cases (each a
 * directory with a Dockerfile, its context files and an optional case.json), preparing a context
 * (files git cannot hold: special modes, symlinks, empty dirs, archives), the base image both
 * builders start from, the build command lines, and reading a saved image back into the facts
 * build-diff.ts compares. Used by test/interop/build-diff.test.ts and build-reference.ts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { TarParser } from '../../src/archive/tar-parser.js';
import { detectCompression } from '../../src/archive/compression.js';
import { REPO } from './berth.js';
import { busyboxRootfs, runOk, tarDir } from './peers.js';
import { cleanPath, historyEntry, type ImageFacts, type LayerEntry } from './build-diff.js';

export const CORPUS = join(REPO, 'test/builder/corpus');

/** The image every case builds FROM (imported into both dockerd and berth from one tarball). */
export const BASE = 'corpus-base:latest';

/** test/builder/corpus/<case>/case.json; every field optional. */
export interface CaseSpec {
  /** Extra `build` flags, the same for both builders: --build-arg, --target, --label, --network, --no-cache. */
  args?: string[];
  /** -f: a path relative to the case dir (it may lie outside the context), or "-" for stdin. */
  dockerfile?: string;
  /** The context dir relative to the case dir (default: the case dir itself). */
  context?: string;
  /** sh script run in the copied case dir before building (chmod, ln -s, mkdir, tar ...). */
  prepare?: string;
  /** Cases whose images this one uses (built first, on both sides). */
  needs?: string[];
  /** Both builders must fail; berth's output must contain this (every one of these). */
  fail?: string | string[];
  /** Docker's output must contain this (checked whenever docker fails). */
  dockerFail?: string;
  /**
   * Docker 20.10's legacy builder refuses this case (dockerFail says how) but berth must build it
   * (the issue asks for it); berth's image is then checked against `expect` instead of docker's.
   */
  berthOnly?: boolean;
  expect?: {
    /** path inside the image -> content of the file in the topmost layer that has it. */
    files?: Record<string, string>;
    /** path -> mode (octal string) of the entry in the topmost layer that has it. */
    modes?: Record<string, string>;
    /** Subset of the config. */
    config?: Record<string, unknown>;
  };
  /** What the case is about (for humans). */
  note?: string;
}

export interface Case {
  name: string;
  dir: string;
  spec: CaseSpec;
}

/** Every case, ordered so that a case comes after the cases it needs; `only` filters by name (their needs are kept). */
export function loadCorpus(only?: string[]): Case[] {
  const all = new Map<string, Case>();
  for (const name of fs.readdirSync(CORPUS).sort()) {
    const dir = join(CORPUS, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    const f = join(dir, 'case.json');
    const spec: CaseSpec = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
    all.set(name, { name, dir, spec });
  }
  const out: Case[] = [];
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    if (seen.has(name)) return;
    const c = all.get(name);
    if (!c) throw new Error(`case "${from}" needs "${name}", which is not in ${CORPUS}`);
    seen.add(name);
    for (const n of c.spec.needs ?? []) visit(n, name);
    out.push(c);
  };
  for (const name of only?.length ? only : [...all.keys()]) visit(name, name);
  return out;
}

/** The tag a case's image gets on both sides. */
export const caseTag = (c: Case) => `corpus-${c.name}:latest`;

export interface Prepared {
  dir: string;
  context: string;
  dockerfile?: string;
  stdin?: Buffer;
}

/** Copy the case into work/<case>, run its prepare script there; paths for the build. */
export function prepareCase(c: Case, work: string): Prepared {
  const dir = join(work, c.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(c.dir, dir, { recursive: true, verbatimSymlinks: true });
  fs.rmSync(join(dir, 'case.json'), { force: true });
  if (c.spec.prepare) runOk('sh', ['-euc', c.spec.prepare], { cwd: dir });
  const context = resolve(dir, c.spec.context ?? '.');
  const df = c.spec.dockerfile;
  if (df === '-') return { dir, context, stdin: fs.readFileSync(join(dir, 'Dockerfile')) };
  return { dir, context, dockerfile: df ? resolve(dir, df) : undefined };
}

/** `build` arguments (after the verb) for either builder. */
export function buildArgs(c: Case, p: Prepared, iidfile: string): string[] {
  const args = ['-t', caseTag(c), '--iidfile', iidfile, ...(c.spec.args ?? [])];
  if (p.stdin) args.push('-f', '-');
  else if (p.dockerfile) args.push('-f', p.dockerfile);
  return [...args, p.context];
}

/**
 * The corpus base rootfs: the interop busybox rootfs (static busybox, /etc/passwd and /etc/group
 * with root and user 1000, a setuid file, a fifo, a hardlink, /etc/todelete.txt, /opq) plus an
 * `app` user (1234) whose primary group `app` (2345) differs from its uid, and a `staff` group.
 */
export function corpusBaseTar(work: string): string {
  const rootfs = join(work, 'base-rootfs');
  fs.rmSync(rootfs, { recursive: true, force: true });
  fs.mkdirSync(rootfs);
  busyboxRootfs(rootfs);
  fs.appendFileSync(join(rootfs, 'etc/passwd'), 'app:x:1234:2345::/home/app:/bin/sh\n');
  fs.appendFileSync(join(rootfs, 'etc/group'), 'app:x:2345:\nstaff:x:50:app\n');
  fs.mkdirSync(join(rootfs, 'home/app'));
  fs.chownSync(join(rootfs, 'home/app'), 1234, 2345);
  return tarDir(rootfs, join(work, 'base.tar'));
}

// ---- reading a saved image ----------------------------------------------------------------------

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function decompress(buf: Buffer, what: string): Buffer {
  switch (detectCompression(buf)) {
    case 'none':
      return buf;
    case 'gzip':
      return gunzipSync(buf);
    default:
      throw new Error(`${what}: unexpected compression`);
  }
}

/** The entries of one layer tar. */
export function layerEntries(tar: Buffer): LayerEntry[] {
  const out: LayerEntry[] = [];
  let cur: LayerEntry | undefined;
  let hash: ReturnType<typeof createHash> | undefined;
  const p = new TarParser({
    raw() {},
    entry(h) {
      cur = {
        path: cleanPath(h.name),
        type: h.type,
        mode: h.mode & 0o7777,
        uid: h.uid,
        gid: h.gid,
        size: h.type === 'file' ? h.size : 0,
      };
      if (h.type === 'symlink' || h.type === 'link') cur.link = h.type === 'link' ? cleanPath(h.linkname) : h.linkname;
      if (h.type === 'char' || h.type === 'block') cur.dev = `${h.devmajor},${h.devminor}`;
      if (h.xattrs.size) cur.xattrs = Object.fromEntries([...h.xattrs].map(([k, v]) => [k, sha256(v)]));
      hash = h.type === 'file' ? createHash('sha256') : undefined;
    },
    body(chunk) {
      hash?.update(chunk);
    },
    entryEnd() {
      if (hash) cur!.sha256 = hash.digest('hex');
      out.push(cur!);
      cur = undefined;
      hash = undefined;
    },
  });
  p.write(tar);
  p.end();
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface SavedImage {
  facts: ImageFacts;
  rawConfig: Record<string, unknown>;
}

/** Read the image `ref` out of a `docker save`/`berth save` tar (extracted into dir). */
export function readSaved(saveTar: string, dir: string, ref: string): SavedImage {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  runOk('tar', ['-xf', saveTar, '-C', dir]);
  const manifest = JSON.parse(fs.readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    Config: string;
    RepoTags: string[] | null;
    Layers: string[];
  }[];
  const m = manifest.find((e) => e.RepoTags?.includes(ref)) ?? (manifest.length === 1 ? manifest[0] : undefined);
  if (!m) throw new Error(`${saveTar}: no manifest entry for ${ref}: ${JSON.stringify(manifest)}`);
  const rawConfig = JSON.parse(fs.readFileSync(join(dir, m.Config), 'utf8')) as Record<string, unknown>;
  const layers = m.Layers.map((l) => layerEntries(decompress(fs.readFileSync(join(dir, l)), l)));
  const rootfs = (rawConfig.rootfs ?? {}) as { diff_ids?: string[] };
  const facts: ImageFacts = {
    config: (rawConfig.config ?? {}) as Record<string, unknown>,
    author: rawConfig.author as string | undefined,
    history: ((rawConfig.history ?? []) as { created_by?: string; empty_layer?: boolean }[]).map(historyEntry),
    diffIDs: rootfs.diff_ids ?? [],
    layers,
  };
  return { facts, rawConfig };
}

/** One line per entry of a layer, for reference dumps and failure messages. */
export function layerListing(entries: LayerEntry[]): string {
  return entries
    .map((e) =>
      [
        e.path,
        e.type,
        e.mode.toString(8).padStart(4, '0'),
        `${e.uid}:${e.gid}`,
        e.size,
        e.sha256 ? e.sha256.slice(0, 16) : '-',
        e.link !== undefined ? `-> ${e.link}` : '',
        e.dev ?? '',
        e.xattrs ? Object.keys(e.xattrs).join(',') : '',
      ]
        .join(' ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Check a berth-only case's image against its `expect`: files and modes are looked up in the
 * topmost layer holding the path. Returns messages (empty = as expected).
 */
export function checkExpect(c: Case, facts: ImageFacts): string[] {
  const out: string[] = [];
  const e = c.spec.expect ?? {};
  const find = (path: string) => {
    for (let i = facts.layers.length - 1; i >= 0; i--) {
      const hit = facts.layers[i]!.find((x) => x.path === cleanPath(path));
      if (hit) return hit;
    }
    return undefined;
  };
  for (const [path, content] of Object.entries(e.files ?? {})) {
    const hit = find(path);
    const want = sha256(Buffer.from(content));
    if (!hit) out.push(`case "${c.name}": expected file "${path}" in some layer, found none`);
    else if (hit.sha256 !== want)
      out.push(
        `case "${c.name}": "${path}" content sha256 ${hit.sha256}, expected ${want} (${JSON.stringify(content)})`,
      );
  }
  for (const [path, mode] of Object.entries(e.modes ?? {})) {
    const hit = find(path);
    if (!hit) out.push(`case "${c.name}": expected "${path}" in some layer, found none`);
    else if (hit.mode !== parseInt(mode, 8))
      out.push(`case "${c.name}": "${path}" mode ${hit.mode.toString(8)}, expected ${mode}`);
  }
  for (const [k, v] of Object.entries(e.config ?? {})) {
    if (JSON.stringify(facts.config[k]) !== JSON.stringify(v))
      out.push(`case "${c.name}": config.${k} ${JSON.stringify(facts.config[k])}, expected ${JSON.stringify(v)}`);
  }
  return out;
}

/** The texts a failing case's berth output must contain. */
export const failTexts = (c: Case): string[] => (c.spec.fail === undefined ? [] : ([] as string[]).concat(c.spec.fail));

/** How many ` ---> Using cache` lines a build printed. */
export const cacheHits = (output: string) => output.split('\n').filter((l) => l.trim() === '---> Using cache').length;

/** How many `Step N/M :` lines a build printed. */
export const steps = (output: string) => output.split('\n').filter((l) => /^Step \d+\/\d+ : /.test(l)).length;

/** GNU tar present? (prepare scripts use tar, gzip, bzip2, xz) */
export function checkTools(): void {
  for (const t of ['tar', 'gzip', 'bzip2', 'xz']) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0)
      throw new Error(`${t} is needed to prepare the build corpus`);
  }
}
