// Bundles the CLI after tsc (npm run build), with esbuild:
//   dist/berth.cjs              the process entry bin/berth runs (src/cli/start.ts): answers --version and help
//                               itself, and loads the CLI bundle for a command (src/cli/load-cli.ts)
//   dist/cli/berth-cli.cjs      the CLI (src/cli/entry.ts) in one CommonJS file: a command's modules are evaluated
//                               when it imports them, and their code comes from V8's code cache, dist/cli/cache/
//                               (one per command, written by the first run of that command; see load-cli.ts)
//   dist/cli/apply-worker.js    the layer-apply worker, beside the CLI bundle that starts it (import.meta.url)
// One file with a code cache starts a command faster than Node's ES module loader on a split bundle (each chunk
// resolved, read, compiled and linked: ~100 ms for `ps` here) and than a V8 start-up snapshot (~40 ms to
// deserialize at every start, whatever the command).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(repo, 'dist');
process.chdir(repo);
// what earlier builds left: the ES module bundle and its chunks, the start-up snapshot, stale code caches
for (const f of ['cli', 'berth.mjs', 'berth.blob', 'berth-snapshot.cjs', 'apply-worker.js', 'berth.blob.tmp'])
  fs.rmSync(join(dist, f), { recursive: true, force: true });

const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };
const cli = await esbuild.build({
  ...common,
  entryPoints: ['src/cli/entry.ts'],
  format: 'cjs',
  outfile: 'dist/cli/berth-cli.cjs',
  write: false,
  // import.meta.url: the bundle's own file (the worker and native/ are found from it), made into a URL when first
  // read (most commands never read it)
  define: { 'import.meta.url': '__berth_meta.url' },
  banner: {
    js: 'var __berth_meta = { get url() { return (this.u ??= require("node:url").pathToFileURL(__filename).href); } };',
  },
});
fs.mkdirSync(join(dist, 'cli'), { recursive: true });
fs.writeFileSync(join(dist, 'cli/berth-cli.cjs'), asciiOnly(lazyBuiltins(shareNamespaces(cli.outputFiles[0].text))));
await esbuild.build({
  ...common,
  entryPoints: ['src/archive/apply-worker.ts'],
  format: 'esm',
  outfile: 'dist/cli/apply-worker.js',
});
// The entry holds only the global arguments, the command table and the loader: the commands' modules (imported
// dynamically by the table) stay outside it, in the CLI bundle.
await esbuild.build({
  ...common,
  entryPoints: ['src/cli/start.ts'],
  format: 'cjs',
  outfile: 'dist/berth.cjs',
  plugins: [
    {
      name: 'cli-outside',
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) =>
          args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
        );
      },
    },
  ],
});

/**
 * esbuild's CommonJS output turns each `import * as fs from 'node:fs'` into its own copy of the module's namespace
 * (__toESM: a getter per property), once per importing module: ~60 copies of node:fs's hundred properties at every
 * start. The copies only forward to the module, so one per module (and mode) serves every importer.
 */
function shareNamespaces(code) {
  const helper = 'var __toESM = (mod, isNodeMode, target';
  if (!code.includes(helper)) return code;
  return code.replace(
    helper,
    `var __toESMShared = [new WeakMap(), new WeakMap()];
var __toESM = (mod, isNodeMode) => {
  if (mod == null || (typeof mod !== "object" && typeof mod !== "function")) return __toESMCopy(mod, isNodeMode);
  const seen = __toESMShared[isNodeMode ? 1 : 0];
  let ns = seen.get(mod);
  if (!ns) seen.set(mod, (ns = __toESMCopy(mod, isNodeMode)));
  return ns;
};
var __toESMCopy = (mod, isNodeMode, target`,
  );
}

/**
 * Node built-ins that cost milliseconds each to load (child_process and net ~10-20 ms with what they load, zlib,
 * worker_threads, crypto's many internal modules...) and that most commands never call: `ps` has no use for them,
 * yet the modules it loads import them for their write paths. In the bundle, each `require` of one of these
 * returns a stand-in that loads the built-in when a property of it is first read (esbuild's CommonJS output reads
 * an import's properties when it is used: `(0, import_node_zlib.gunzip)(...)`), so a built-in loads when it is
 * first used. A namespace import (`import * as x`, through __toESM) gets the stand-in itself.
 */
function lazyBuiltins(code) {
  const LAZY = [
    'child_process',
    'crypto',
    'dgram',
    'fs/promises',
    'net',
    'os',
    'readline',
    'stream',
    'stream/promises',
    'timers/promises',
    'tty',
    'worker_threads',
    'zlib',
  ];
  const helper = 'var __toESM = (mod, isNodeMode) => {';
  if (!code.includes(helper)) throw new Error("bundle.mjs: esbuild's __toESM helper not found (lazyBuiltins)");
  const lazy = `var __lazyBuiltin = new WeakSet();
var __lazyRequire = (id) => {
  let real;
  const load = () => (real ??= require(id));
  const own = (k) => {
    const d = Reflect.getOwnPropertyDescriptor(load(), k);
    return d && { ...d, configurable: true };
  };
  const mod = new Proxy({}, {
    get: (_, k) => (k === "default" ? load() : k === "__esModule" ? undefined : load()[k]),
    has: (_, k) => k === "default" || k in load(),
    ownKeys: () => ["default", ...Reflect.ownKeys(load())],
    getOwnPropertyDescriptor: (_, k) => (k === "default" ? { value: load(), enumerable: true, configurable: true } : own(k)),
  });
  __lazyBuiltin.add(mod);
  return mod;
};
${helper}
  if (__lazyBuiltin.has(mod)) return mod;`;
  code = code.replace(helper, lazy);
  for (const id of LAZY) code = code.replaceAll(`require("node:${id}")`, `__lazyRequire("node:${id}")`);
  return code;
}

/**
 * The bundle in ASCII: esbuild leaves a few characters as they are in regular expressions (µs), which makes the whole
 * file a UTF-8 decode and a two-byte string for V8. Escaped (\uXXXX means the same in strings, templates, regular
 * expressions and comments), the loader reads it as latin1 (src/cli/load-cli.ts): a third of the time.
 */
function asciiOnly(code) {
  return code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
