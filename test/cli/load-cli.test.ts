/**
 * The CLI bundle's loader (src/cli/load-cli.ts), in child processes (the cache is written as a process exits): it
 * runs the bundle as a CommonJS module, writes V8's code cache for the command at exit, leaves a cache V8 takes as
 * it is, replaces one V8 refuses, and runs all the same when it cannot write one.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tempRoot } from '../helpers/berth.js';

const LOADER = new URL('../../src/cli/load-cli.js', import.meta.url).href;
const tmp = tempRoot('berth-load-cli');
after(() => tmp.remove());

/** A bundle like dist/cli/berth-cli.cjs: CommonJS, exports runCli. */
function bundleIn(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = `${dir}/berth-cli.cjs`;
  fs.writeFileSync(
    file,
    `const path = require('node:path');
function words(argv) { return argv.map((a) => a.toUpperCase()); }
exports.runCli = (argv) =>
  process.stdout.write(JSON.stringify({ argv: words(argv), file: path.basename(__filename), dir: __dirname }) + '\\n');
`,
  );
  return file;
}

function load(bundle: string, name: string): { argv: string[]; file: string; dir: string } {
  const script = `import { loadCli } from ${JSON.stringify(LOADER)};
loadCli(${JSON.stringify(bundle)}, ${JSON.stringify(name)}).runCli(['ps', '-a']);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { argv: string[]; file: string; dir: string };
}

test('runs the bundle as a CommonJS module and writes the command’s code cache at exit', () => {
  const dir = `${tmp.root}/a/cli`;
  const bundle = bundleIn(dir);
  assert.deepEqual(load(bundle, 'ps'), { argv: ['PS', '-A'], file: 'berth-cli.cjs', dir });
  const cache = `${dir}/cache/ps.v8`;
  assert.ok(fs.statSync(cache).size > 0, 'the cache is written');
  assert.deepEqual(fs.readdirSync(`${dir}/cache`), ['ps.v8'], 'no staged file left');
  // a cache V8 takes is left as it is (not rewritten at every run)
  const before = fs.statSync(cache);
  const bytes = fs.readFileSync(cache);
  assert.deepEqual(load(bundle, 'ps').argv, ['PS', '-A']);
  const now = fs.statSync(cache);
  assert.equal(now.ino, before.ino, 'the same file');
  assert.deepEqual(fs.readFileSync(cache), bytes);
  // one cache per command, names made file names
  load(bundle, 'image/ls');
  assert.deepEqual(fs.readdirSync(`${dir}/cache`).sort(), ['image_ls.v8', 'ps.v8']);
});

test('a cache V8 refuses (another build, another Node, torn) is replaced', () => {
  const dir = `${tmp.root}/b/cli`;
  const bundle = bundleIn(dir);
  fs.mkdirSync(`${dir}/cache`);
  const junk = Buffer.from('not a code cache');
  fs.writeFileSync(`${dir}/cache/ps.v8`, junk);
  assert.deepEqual(load(bundle, 'ps').argv, ['PS', '-A']);
  const cache = fs.readFileSync(`${dir}/cache/ps.v8`);
  assert.ok(cache.length > 0 && !cache.equals(junk), 'rewritten');
  // the bundle changed: its old cache is refused and replaced too
  fs.appendFileSync(bundle, '// another build\n');
  assert.deepEqual(load(bundle, 'ps').argv, ['PS', '-A']);
  assert.ok(!fs.readFileSync(`${dir}/cache/ps.v8`).equals(cache), 'rewritten for the new bundle');
});

test('a cache that cannot be written only costs speed', () => {
  const dir = `${tmp.root}/c/cli`;
  const bundle = bundleIn(dir);
  fs.writeFileSync(`${dir}/cache`, 'a file where the cache dir would be');
  assert.deepEqual(load(bundle, 'ps').argv, ['PS', '-A']);
  assert.equal(fs.readFileSync(`${dir}/cache`, 'utf8'), 'a file where the cache dir would be');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['berth-cli.cjs', 'cache']);
});
