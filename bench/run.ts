/**
 * Runs berth's benchmarks (`npm run bench` builds first, then runs this):
 *   node dist/bench/run.js            every benchmark
 *   node dist/bench/run.js load       only those named
 * Each benchmark is its own process (dist/bench/<file>.js, <name>.js unless `file` says
 * otherwise), run one after another
 * so they do not compete for the machine. Exit status is non-zero if any failed.
 */
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Benchmarks in the order they run; add new ones here. */
const BENCHES: Array<{ name: string; summary: string; file?: string }> = [
  { name: 'load', summary: 'berth load vs docker load vs podman load (fresh stores, median of BENCH_REPS)' },
  // not run.js: that is this runner
  { name: 'run', file: 'run-container', summary: 'berth run --rm vs docker run vs podman run vs runc run (busybox, hyperfine) + berth phase trace' },
];

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
if (unknown.length) {
  console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; available: ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const b of BENCHES) {
  if (wanted.length && !wanted.includes(b.name)) continue;
  console.log(`\n=== bench ${b.name}: ${b.summary}`);
  const r = spawnSync(process.execPath, [`${here}/${b.file ?? b.name}.js`], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.error(`bench ${b.name}: exit ${r.status ?? r.signal}`); }
}
process.exitCode = failed ? 1 : 0;
