/**
 * Runs berth's benchmarks (`npm run bench` builds first, then runs this):
 *   node dist/bench/run.js            every benchmark
 *   node dist/bench/run.js load       only those named
 * Each benchmark is its own process (dist/bench/<file>.js, <name>.js unless `file` says
 * otherwise), run one after another
 * so they do not compete for the machine. Exit status is non-zero if any failed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Benchmarks in the order they run; add new ones here. */
const BENCHES: Array<{ name: string; summary: string; file?: string; hostFs?: boolean }> = [
  { name: 'load', summary: 'berth load vs docker load vs podman load (fresh stores, median of BENCH_REPS)' },
  // not run.js: that is this runner
  {
    name: 'run',
    file: 'run-container',
    summary: 'berth run --rm vs docker run vs podman run vs runc run (busybox, hyperfine) + berth phase trace',
  },
  {
    name: 'network',
    summary:
      'the default bridge: run --rm on it, berth (CNI) vs a dockerd with docker0 and iptables vs podman (netavark), + berth phase trace; published-port throughput and connection rate on 127.0.0.1',
  },
  {
    name: 'lifecycle',
    summary:
      'detached containers: memory per container (BENCH_CONTAINERS x run -d) and exec latency, berth vs docker vs podman',
  },
  {
    name: 'build',
    summary:
      'berth build vs docker build (legacy) vs buildah bud: 11-step Dockerfile on debootstrap, cold (fresh stores) and fully cached + berth phase trace',
  },
  {
    name: 'registry',
    summary:
      'push and pull to a docker-registry on 127.0.0.1: berth vs docker vs podman vs skopeo copy (debootstrap, 5-layer; fresh stores and registries)',
    hostFs: true,
  },
  {
    name: 'startup',
    summary:
      'berth --version, ps -a, images, inspect vs node -e 0; run --rm vs podman and docker (issue 13 targets), stores on the host filesystem',
    hostFs: true,
  },
];

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
if (unknown.length) {
  console.error(
    `bench: unknown benchmark(s) ${unknown.join(', ')}; available: ${BENCHES.map((b) => b.name).join(', ')}`,
  );
  process.exit(2);
}
/**
 * A fresh ext4 filesystem (loop device) for every tool's stores, unless BENCH_FS=host: file
 * creation on a long-used filesystem gets slower with its history (ext4's inode allocator skips
 * recently deleted inodes), which made side-by-side figures drift by 3x between runs here.
 */
function freshFilesystem(): (() => void) | undefined {
  if (process.env.BENCH_FS === 'host') return undefined;
  const img = '/var/tmp/bfs.img';
  const mnt = '/var/tmp/bfs'; // short: podman refuses a runroot path over 50 characters
  spawnSync('umount', ['-l', mnt]);
  fs.rmSync(img, { force: true });
  fs.mkdirSync(mnt, { recursive: true });
  const sh = (cmd: string) => {
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };
  sh(`truncate -s 16G ${img} && mkfs.ext4 -q -F ${img} && mount -o loop ${img} ${mnt}`);
  process.env.BERTH_TMP = mnt;
  console.log(`bench: stores on a fresh ext4 filesystem at ${mnt} (BENCH_FS=host to use /var/tmp)`);
  return () => {
    spawnSync('umount', ['-l', mnt]);
    fs.rmSync(img, { force: true });
    fs.rmSync(mnt, { recursive: true, force: true });
  };
}

// (only when a selected benchmark uses it)
const selected = BENCHES.filter((b) => !wanted.length || wanted.includes(b.name));
const cleanup = selected.every((b) => b.hostFs) ? undefined : freshFilesystem();
let failed = 0;
for (const b of selected) {
  console.log(`\n=== bench ${b.name}: ${b.summary}`);
  // (a benchmark of what users' long-used disks do keeps its stores on the host's filesystem)
  const env = { ...process.env };
  if (b.hostFs) delete env.BERTH_TMP;
  const r = spawnSync(process.execPath, [`${here}/${b.file ?? b.name}.js`], { stdio: 'inherit', env });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${b.name}: exit ${r.status ?? r.signal}`);
  }
}
cleanup?.();
process.exitCode = failed ? 1 : 0;
