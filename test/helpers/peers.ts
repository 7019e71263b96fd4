/**
 * Helpers for interop tests against Docker's peers: a private dockerd per test file (its own
 * data root, socket, exec root and containerd namespace via scripts/dockerd.sh), the docker and
 * podman CLIs, fixtures (a busybox rootfs, images built by a real dockerd) and readers for
 * Docker's on-disk store. Everything a test starts or creates is registered in a {@link Scope}
 * whose dispose() stops daemons, unmounts and removes temp dirs; it runs from the file's after()
 * hook and again (idempotently) on process exit, so a failing or interrupted test leaves nothing.
 */
import { TMP } from './berth.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { lgetxattr } from '../../src/native/index.js';
import { REPO, mountsUnder, type RunResult } from './berth.js';

// ---- cleanup -------------------------------------------------------------------------------------

/** Collects undo steps; dispose() runs them newest first, once, and never throws. */
export class Scope {
  private steps: Array<{ what: string; fn: () => void }> = [];
  private disposed = false;
  private readonly onExit = () => this.dispose();
  private readonly onSignal = (sig: NodeJS.Signals) => {
    this.dispose();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };

  constructor() {
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  defer(what: string, fn: () => void): void {
    this.steps.push({ what, fn });
  }

  /** A fresh dir under /var/tmp (same filesystem kind as /var/lib); unmounted and removed on dispose. */
  tempDir(prefix: string): string {
    fs.mkdirSync(TMP, { recursive: true });
    const dir = fs.mkdtempSync(`${TMP}/berth-it-${prefix}-`);
    this.defer(`remove ${dir}`, () => removeTree(dir));
    return dir;
  }

  /** Run every step (newest first); returns the errors (also printed to stderr). */
  dispose(): string[] {
    if (this.disposed) return [];
    this.disposed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    const errors: string[] = [];
    for (const s of this.steps.reverse()) {
      try {
        s.fn();
      } catch (e) {
        errors.push(`${s.what}: ${(e as Error).message}`);
      }
    }
    this.steps = [];
    for (const e of errors) process.stderr.write(`cleanup: ${e}\n`);
    return errors;
  }
}

/** Lazily unmount everything under dir (deepest first), then delete it. */
export function removeTree(dir: string): void {
  for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
  fs.rmSync(dir, { recursive: true, force: true });
}

// ---- running programs ------------------------------------------------------------------------------

export interface RunOpts {
  input?: Buffer | string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** Run a program synchronously; never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOpts = {}): RunResult {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    maxBuffer: 1 << 30,
    timeout: opts.timeoutMs ?? 300_000,
    killSignal: 'SIGKILL',
  });
  if (r.error && !r.stdout) throw r.error;
  return {
    code: r.status ?? 128 + 9,
    stdout: r.stdout?.toString() ?? '',
    stderr: (r.stderr?.toString() ?? '') + (r.error ? `\n${r.error.message}` : ''),
  };
}

/** Like run() but throws (with the output) unless the exit status is 0; returns stdout. */
export function runOk(cmd: string, args: string[], opts: RunOpts = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout.slice(-4000)}\nstderr: ${r.stderr.slice(-4000)}`,
    );
  return r.stdout;
}

/** The docker CLI against a private daemon (DOCKER_HOST=host; legacy builder). */
export function docker(host: string, args: string[], input?: Buffer | string, opts: RunOpts = {}): RunResult {
  return run('docker', args, { ...opts, input, env: { DOCKER_HOST: host, DOCKER_BUILDKIT: '0', ...opts.env } });
}

/** docker() that throws unless it exits 0; returns stdout. */
export function dockerOk(host: string, args: string[], input?: Buffer | string, opts: RunOpts = {}): string {
  const r = docker(host, args, input, opts);
  if (r.code !== 0)
    throw new Error(
      `docker ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout.slice(-4000)}\nstderr: ${r.stderr.slice(-4000)}`,
    );
  return r.stdout;
}

// ---- dockerd ---------------------------------------------------------------------------------------

export interface Dockerd {
  /** Unique name: socket /run/NAME.sock, exec root /run/NAME, containerd namespace NAME. */
  name: string;
  /** DOCKER_HOST value. */
  host: string;
  dataRoot: string;
  /** Milliseconds scripts/dockerd.sh start took. */
  startMs: number;
  /** Stop the daemon (idempotent); leaves the data root in place. */
  stop(): void;
  /** The daemon's log (for failure messages). */
  log(): string;
}

let daemonSeq = 0;

/**
 * Start a private dockerd (20.10, overlay2) on dataRoot. `tag` should name the test file so files
 * running concurrently never share a socket or exec root; the pid and a counter make it unique.
 */
export function startDockerd(scope: Scope, tag: string, dataRoot: string): Dockerd {
  const name = `berth-${tag}-${process.pid}-${++daemonSeq}`;
  const logFile = `/run/${name}.log`;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    spawnSync(`${REPO}/scripts/dockerd.sh`, ['stop', name], { stdio: 'ignore', timeout: 60_000 });
    for (const m of mountsUnder(`/run/${name}`).sort().reverse()) spawnSync('umount', ['-l', m]);
    // dockerd unmounts its data-root bind mount on a clean shutdown; make sure after a kill -9 too
    for (const m of mountsUnder(dataRoot).sort().reverse()) spawnSync('umount', ['-l', m]);
  };
  scope.defer(`remove /run/${name}*`, () => {
    fs.rmSync(`/run/${name}`, { recursive: true, force: true });
    fs.rmSync(logFile, { force: true });
  });
  scope.defer(`stop dockerd ${name}`, stop);
  const t0 = Date.now();
  const r = spawnSync(`${REPO}/scripts/dockerd.sh`, ['start', name, dataRoot], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    stop();
    throw new Error(`dockerd ${name} did not start (${r.status}): ${r.stderr}`);
  }
  const host = r.stdout.trim().split('\n').pop()!;
  return {
    name,
    host,
    dataRoot,
    startMs: Date.now() - t0,
    stop,
    log: () => {
      try {
        return fs.readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
}

// ---- podman ----------------------------------------------------------------------------------------

export interface Podman {
  /** Global flags: private --root/--runroot/--tmpdir, overlay storage, runc. */
  flags: string[];
  run(args: string[], input?: Buffer | string): RunResult;
  ok(args: string[], input?: Buffer | string): string;
}

/** MACHINE.md: runc cannot raise rlimits past the hard limit here (no CAP_SYS_RESOURCE). */
export const PODMAN_RUN_FLAGS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];

/**
 * `run --rm --network none IMAGE ARGS...` as each peer takes it here: podman with its store's flags, runc and the
 * ulimits this machine allows; docker with `--pull never`, so that a missing image never sends dockerd to a registry.
 */
export function peerRunArgv(
  peer: 'podman' | 'docker',
  where: { podmanFlags?: string[]; dockerHost?: string },
  image: string,
  ...args: string[]
): string[] {
  return peer === 'podman'
    ? ['podman', ...(where.podmanFlags ?? []), 'run', '--rm', '--network', 'none', ...PODMAN_RUN_FLAGS, image, ...args]
    : ['docker', '-H', where.dockerHost ?? '', 'run', '--rm', '--pull', 'never', '--network', 'none', image, ...args];
}

/** A podman with a private store under a scope temp dir (unmounted and removed on dispose). */
export function privatePodman(scope: Scope, tag: string): Podman {
  const dir = scope.tempDir(`podman-${tag}`);
  for (const d of ['root', 'run', 'tmp']) fs.mkdirSync(join(dir, d));
  const flags = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--tmpdir',
    join(dir, 'tmp'),
    '--storage-driver',
    'overlay',
    '--runtime',
    'runc',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
  // stop anything still running before the dir (and its mounts) goes away
  scope.defer(`podman rm -af (${dir})`, () => {
    run('podman', [...flags, 'rm', '-af', '-t', '0'], { timeoutMs: 60_000 });
  });
  return {
    flags,
    run: (args, input) => run('podman', [...flags, ...args], { input }),
    ok: (args, input) => runOk('podman', [...flags, ...args], { input }),
  };
}

// ---- fixtures --------------------------------------------------------------------------------------

/** Paths of interesting entries in the busybox rootfs (see busyboxRootfs). */
export const LONG_NAME = `${'long-directory-name-'.repeat(4)}x/${'a-file-with-a-long-name-'.repeat(4)}.txt`;
export const UNICODE_NAME = 'ünïcødé-файл.txt';

/**
 * A small rootfs: static busybox with a symlink per applet in /bin, plus files that exercise tar
 * features (hardlink, non-root owner, setuid, fifo, long GNU name, UTF-8 name, empty dir, sticky
 * /tmp) and files the multi-layer build deletes (/etc/todelete.txt) or hides (/opq: opaque dir).
 */
export function busyboxRootfs(dir: string): void {
  const mk = (p: string, mode = 0o755) => {
    fs.mkdirSync(join(dir, p), { recursive: true });
    fs.chmodSync(join(dir, p), mode);
  };
  const put = (p: string, data: string, mode = 0o644) => {
    fs.writeFileSync(join(dir, p), data);
    fs.chmodSync(join(dir, p), mode);
  };
  for (const d of ['bin', 'etc', 'opq/sub', 'home/user', 'empty', 'root', 'var/log']) mk(d);
  mk('tmp', 0o1777);
  fs.copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  fs.chmodSync(join(dir, 'bin/busybox'), 0o755);
  const applets = runOk('/bin/busybox', ['--list'])
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', join(dir, 'bin', a));
  put('etc/base.txt', 'base\n');
  put('etc/todelete.txt', 'gone\n');
  put('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
  put('etc/group', 'root:x:0:\nuser:x:1000:\n');
  fs.linkSync(join(dir, 'etc/base.txt'), join(dir, 'etc/hard.txt'));
  put('opq/old.txt', 'old\n');
  put('opq/sub/x', 'old2\n');
  put('home/user/owned.txt', 'mine\n', 0o640);
  fs.chownSync(join(dir, 'home/user/owned.txt'), 1000, 1000);
  fs.chownSync(join(dir, 'home/user'), 1000, 1000);
  put('bin/suid-tool', '#!/bin/sh\necho suid\n', 0o4755);
  runOk('mkfifo', ['-m', '0600', join(dir, 'etc/fifo')]);
  fs.mkdirSync(join(dir, LONG_NAME, '..'), { recursive: true });
  put(LONG_NAME, 'long\n');
  put(join('etc', UNICODE_NAME), 'unicode\n');
}

/** tar a dir the way a user would (GNU tar, numeric owners, xattrs). */
export function tarDir(dir: string, out: string): string {
  runOk('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', dir, '-cf', out, '.']);
  return out;
}

export const DOCKERFILE = `FROM bbx:base
RUN echo hello > /hello.txt && mkdir -p /data && echo one > /data/one.txt
RUN rm /etc/todelete.txt && rm -rf /opq && mkdir /opq && echo new > /opq/new.txt
ENV FOO=bar
COPY copied.txt /copied.txt
CMD ["sh"]
`;

/** What `cat` of the built image's files prints, and the files the build removed. */
export const MULTI_FILES: Record<string, string> = {
  '/hello.txt': 'hello\n',
  '/data/one.txt': 'one\n',
  '/opq/new.txt': 'new\n',
  '/copied.txt': 'copied\n',
  '/etc/base.txt': 'base\n',
  '/etc/hard.txt': 'base\n',
  [`/${LONG_NAME}`]: 'long\n',
  [`/etc/${UNICODE_NAME}`]: 'unicode\n',
};
export const MULTI_GONE = ['/etc/todelete.txt', '/opq/old.txt', '/opq/sub'];

/** One shell line printing a file's metadata checks inside a container of those images. */
export const STAT_SCRIPT =
  'stat -c "%n %u:%g %a %F" /home/user/owned.txt /bin/suid-tool /etc/fifo /tmp /empty; ' +
  'test /etc/hard.txt -ef /etc/base.txt && echo hardlinked';
export const STAT_EXPECTED =
  [
    '/home/user/owned.txt 1000:1000 640 regular file',
    '/bin/suid-tool 0:0 4755 regular file',
    '/etc/fifo 0:0 600 fifo',
    '/tmp 0:0 1777 directory',
    '/empty 0:0 755 directory',
    'hardlinked',
  ].join('\n') + '\n';

export interface DockerImages {
  /** The rootfs dir and its tar (imported as bbx:base). */
  rootfs: string;
  rootfsTar: string;
  /** image IDs (sha256:...) and rootfs.diff_ids as dockerd reports them. */
  ids: Record<'bbx:base' | 'bbx:multi', string>;
  diffIDs: Record<'bbx:base' | 'bbx:multi', string[]>;
  /** `docker save bbx:base bbx:multi` and the same gzip'd (by the CLI's stdout piped to gzip). */
  saveTar: string;
  saveTarGz: string;
  buildMs: number;
}

/**
 * In a running dockerd: import the busybox rootfs as bbx:base, legacy-build bbx:multi on it
 * (files added, one deleted = whiteout, /opq removed and recreated = opaque dir, ENV, COPY) and
 * `docker save` both into work/.
 */
export function makeDockerImages(d: Dockerd, work: string): DockerImages {
  const t0 = Date.now();
  const rootfs = join(work, 'rootfs');
  fs.mkdirSync(rootfs);
  busyboxRootfs(rootfs);
  const rootfsTar = tarDir(rootfs, join(work, 'rootfs.tar'));
  dockerOk(d.host, ['import', rootfsTar, 'bbx:base']);
  const ctx = join(work, 'ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(join(ctx, 'copied.txt'), 'copied\n');
  dockerOk(d.host, ['build', '-t', 'bbx:multi', ctx]);
  const ids = {} as DockerImages['ids'],
    diffIDs = {} as DockerImages['diffIDs'];
  for (const ref of ['bbx:base', 'bbx:multi'] as const) {
    const info = JSON.parse(dockerOk(d.host, ['image', 'inspect', ref]))[0];
    ids[ref] = info.Id;
    diffIDs[ref] = info.RootFS.Layers;
  }
  const saveTar = join(work, 'docker-save.tar');
  dockerOk(d.host, ['save', '-o', saveTar, 'bbx:base', 'bbx:multi']);
  const saveTarGz = join(work, 'docker-save.tar.gz');
  runOk('bash', ['-c', `set -o pipefail; docker save bbx:base bbx:multi | gzip -c > '${saveTarGz}'`], {
    env: { DOCKER_HOST: d.host },
  });
  return { rootfs, rootfsTar, ids, diffIDs, saveTar, saveTarGz, buildMs: Date.now() - t0 };
}

// ---- reading Docker's store -------------------------------------------------------------------------

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** chainID(L1) = diffID(L1); chainID(Ln) = sha256("<chainID(Ln-1)> <diffID(Ln)>"). */
export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(out.length ? `sha256:${sha256(`${out[out.length - 1]} ${d}`)}` : d);
  return out;
}

export interface LayerMeta {
  chainID: string;
  /** The raw file contents (so a stray newline shows). */
  diff: string;
  size: string;
  cacheID: string;
  parent?: string;
  /** tar-split.json.gz, decompressed. */
  tarSplit: Buffer;
}

/** Every layer in <root>/image/overlay2/layerdb/sha256, keyed by "sha256:<chainID>". */
export function readLayerdb(root: string): Map<string, LayerMeta> {
  const dir = join(root, 'image/overlay2/layerdb/sha256');
  const out = new Map<string, LayerMeta>();
  for (const hex of fs.readdirSync(dir)) {
    const f = (n: string) => fs.readFileSync(join(dir, hex, n), 'utf8');
    const parent = fs.existsSync(join(dir, hex, 'parent')) ? f('parent') : undefined;
    out.set(`sha256:${hex}`, {
      chainID: `sha256:${hex}`,
      diff: f('diff'),
      size: f('size'),
      cacheID: f('cache-id'),
      parent,
      tarSplit: gunzipSync(fs.readFileSync(join(dir, hex, 'tar-split.json.gz'))),
    });
  }
  return out;
}

/** repositories.json of a data root: ref -> image ID. */
export function readRepositories(root: string): Record<string, string> {
  const j = JSON.parse(fs.readFileSync(join(root, 'image/overlay2/repositories.json'), 'utf8'));
  const out: Record<string, string> = {};
  for (const refs of Object.values(j.Repositories ?? {}) as Record<string, string>[]) Object.assign(out, refs);
  return out;
}

/** Map an overlay2 `lower` file back to cache IDs (uppermost first) via the l/ links. */
export function lowerCacheIDs(root: string, cacheID: string): string[] {
  const f = join(root, 'overlay2', cacheID, 'lower');
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .split(':')
    .map((l) => {
      const target = fs.readlinkSync(join(root, 'overlay2', l)); // ../<cacheID>/diff
      const m = /^\.\.\/([0-9a-f]{64}(?:-init)?)\/diff$/.exec(target);
      if (!m) throw new Error(`${l} -> ${target} is not ../<cacheID>/diff`);
      return m[1]!;
    });
}

/**
 * A canonical description of a directory tree (one line per entry, sorted): type, mode, owner,
 * size, mtime, link target, device numbers, content digest, hardlink group and the overlay
 * opaque xattr. Two layer diff dirs with equal snapshots hold the same files.
 */
export function treeSnapshot(dir: string, opts: { mtimes?: boolean } = {}): string[] {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const p = rel ? join(dir, rel) : dir;
    const st = fs.lstatSync(p);
    const type = st.isDirectory()
      ? 'dir'
      : st.isFile()
        ? 'file'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isCharacterDevice()
            ? 'char'
            : st.isBlockDevice()
              ? 'block'
              : st.isFIFO()
                ? 'fifo'
                : 'socket';
    const parts = [rel || '.', type, (st.mode & 0o7777).toString(8), `${st.uid}:${st.gid}`];
    // directory mtimes change as entries are added; a whiteout's mtime is the time it was applied
    const whiteout = type === 'char' && st.rdev === 0;
    if (opts.mtimes !== false && type !== 'dir' && !whiteout) parts.push(`mtime=${Math.floor(st.mtimeMs / 1000)}`);
    if (type === 'file') {
      parts.push(`size=${st.size}`, `sha256=${sha256(fs.readFileSync(p))}`);
      if (st.nlink > 1) {
        const first = inodes.get(st.ino);
        if (first) parts.push(`hardlink=${first}`);
        else inodes.set(st.ino, rel);
      }
    }
    if (type === 'symlink') parts.push(`-> ${fs.readlinkSync(p)}`);
    if (type === 'char' || type === 'block') parts.push(`rdev=${st.rdev}`);
    if (type === 'dir') {
      const opq = lgetxattr(p, 'trusted.overlay.opaque');
      if (opq) parts.push(`opaque=${opq.toString()}`);
    }
    lines.push(parts.join(' '));
    if (type === 'dir') for (const n of fs.readdirSync(p).sort()) walk(rel ? join(rel, n) : n);
  };
  walk('');
  return lines;
}

/** Files in a tar (via GNU tar): path -> contents, for archive assertions. */
export function tarList(file: string): string[] {
  return runOk('tar', ['-tf', file]).split('\n').filter(Boolean);
}

/** Read one member of a tar archive. */
export function tarRead(file: string, member: string): Buffer {
  const r = spawnSync('tar', ['-xOf', file, member], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`tar -xOf ${file} ${member}: ${r.stderr}`);
  return r.stdout;
}

/** Milliseconds since t0, for the timing notes the tests print. */
export const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
