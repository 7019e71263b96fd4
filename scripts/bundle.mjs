// Bundles the CLI after tsc (npm run build), with esbuild:
//   dist/berth.cjs     the process entry bin/berth runs (src/cli/start.ts): answers --version and help itself,
//                      imports dist/berth.mjs for a command. CommonJS: Node starts it faster than an ES module.
//   dist/berth.mjs     the CLI (src/cli/entry.ts), split: each command's modules and the ones they share are chunks
//   dist/cli/*.mjs     in dist/cli/, loaded when a command imports them, so a command loads only what it uses
//   dist/cli/apply-worker.js  the layer-apply worker, beside the chunk that starts it (import.meta.url)
//   dist/berth.blob    a V8 start-up snapshot of the whole CLI (src/cli/snapshot.ts), which bin/berth runs for a
//                      command: a command that loads the engine starts faster from it than from the split bundle
//                      (the snapshot's own cost at every start, ~70 ms here, is less than loading the engine's
//                      modules). It bakes in this checkout's path (to find native/ and the worker).
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repo, 'dist');
process.chdir(repo);
// what earlier builds left: old chunks (hashed names), the start-up snapshot berth no longer uses
for (const f of ['cli', 'berth.blob', 'berth-snapshot.cjs', 'apply-worker.js', 'berth.blob.tmp'])
  fs.rmSync(join(dist, f), { recursive: true, force: true });

const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };
await esbuild.build({
  ...common,
  entryPoints: ['src/cli/entry.ts'],
  format: 'esm',
  splitting: true,
  outdir: 'dist',
  entryNames: 'berth',
  chunkNames: 'cli/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
});
await esbuild.build({
  ...common,
  entryPoints: ['src/archive/apply-worker.ts'],
  format: 'esm',
  outfile: 'dist/cli/apply-worker.js',
});
// The entry holds only the global arguments and the command table: the commands' modules (imported
// dynamically by the table) and the CLI itself stay outside it, in the ESM bundle.
await esbuild.build({
  ...common,
  entryPoints: ['src/cli/start.ts'],
  format: 'cjs',
  outfile: 'dist/berth.cjs',
  plugins: [
    {
      name: 'cli-outside',
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind !== 'dynamic-import') return undefined;
          if (args.path === './entry.js' && args.importer.endsWith('/src/cli/start.ts'))
            return { path: './berth.mjs', external: true };
          return { path: args.path, external: true };
        });
      },
    },
  ],
});

// the snapshot's bundle: CommonJS, its import.meta.url a file in dist/cli/ (beside the worker)
await esbuild.build({
  ...common,
  entryPoints: ['src/cli/snapshot.ts'],
  format: 'cjs',
  outfile: 'dist/cli/berth-snapshot.cjs',
  define: { 'import.meta.url': '__berth_url' },
  banner: { js: `var __berth_url = ${JSON.stringify(`file://${dist}/cli/berth-snapshot.cjs`)};` },
});
const snap = spawnSync(
  process.execPath,
  ['--snapshot-blob', 'berth.blob.tmp', '--build-snapshot', 'cli/berth-snapshot.cjs'],
  { cwd: dist, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
);
if (snap.status === 0) fs.renameSync(join(dist, 'berth.blob.tmp'), join(dist, 'berth.blob'));
else {
  fs.rmSync(join(dist, 'berth.blob.tmp'), { force: true });
  console.error(
    `berth: could not build the start-up snapshot (${snap.stderr.trim().split('\n').pop()}); bin/berth runs dist/berth.cjs for every command`,
  );
}
