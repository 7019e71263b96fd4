/**
 * The layering of docs/architecture.md, enforced: which top-level folders of
 * src/ may import which, and no import cycle between files (type-only imports
 * excepted: they vanish at run time). Pure, reads the sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { REPO } from './helpers/berth.js';

/** Each folder and what it may import (besides itself); keep in step with docs/architecture.md. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  native: ['core'],
  archive: ['core', 'native'],
  storage: ['archive', 'core', 'native'],
  image: ['storage', 'archive', 'core', 'native'],
  registry: ['image', 'storage', 'archive', 'core', 'native'],
  dockerfile: ['core'],
  runtime: ['core', 'native'],
  volume: ['storage', 'core', 'native'],
  network: ['storage', 'core', 'native'],
  events: ['core', 'native'],
  container: ['events', 'network', 'volume', 'runtime', 'image', 'storage', 'archive', 'core', 'native'],
  builder: ['dockerfile', 'container', 'network', 'volume', 'runtime', 'image', 'storage', 'archive', 'core', 'native'],
  engine: [
    'events',
    'registry',
    'builder',
    'dockerfile',
    'container',
    'network',
    'volume',
    'runtime',
    'image',
    'storage',
    'archive',
    'core',
    'native',
  ],
  // the CLI goes through the engine: argv -> engine call -> printed result (see CLI_EXCEPTIONS)
  cli: ['engine', 'core'],
};

/**
 * Files below the engine that the CLI may still import: the writer of output paths a user names (-o, --cidfile),
 * which is the CLI's concern (the engine streams; where to, the caller says).
 */
const CLI_EXCEPTIONS = new Set(['storage/output-file.ts']);

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
  /** an `import()` expression: loaded when called, after every module has loaded */
  dynamic: boolean;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function edges(): Edge[] {
  const out: Edge[] = [];
  const src = join(REPO, 'src');
  for (const file of sources(src)) {
    const text = fs.readFileSync(file, 'utf8');
    const re =
      /^(import|export)(\s+type)?[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;
    for (const m of text.matchAll(re)) {
      const spec = m[3] ?? m[4]!;
      const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
      out.push({ from: relative(src, file), to: relative(src, target), typeOnly: !!m[2], dynamic: !!m[4] });
    }
  }
  return out;
}

const folderOf = (p: string) => p.split('/')[0]!;

test('every folder of src/ is in the layering table', () => {
  const folders = fs
    .readdirSync(join(REPO, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => !(f in ALLOWED)),
    [],
  );
});

test('imports point down the layers of docs/architecture.md', () => {
  const all = edges();
  assert.ok(all.length > 200, `found only ${all.length} imports: the scan is broken`);
  const wrong = all
    .filter((e) => folderOf(e.from) !== folderOf(e.to) && !ALLOWED[folderOf(e.from)]?.includes(folderOf(e.to)))
    .filter((e) => !(folderOf(e.from) === 'cli' && CLI_EXCEPTIONS.has(e.to)))
    .map((e) => `${e.from} -> ${e.to}`);
  assert.deepEqual(wrong, []);
});

test('the CLI reaches the stores only through engine operations', () => {
  // Engine.store and Engine.containerStore are for the engine's own files; a command using them decides what the
  // engine should
  const src = join(REPO, 'src', 'cli');
  const uses = sources(src).flatMap((file) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((line, i) => ({ line, at: `${relative(src, file)}:${i + 1}` }))
      .filter(({ line }) => /\.(containerStore|store)\b(?!\s*:)/.test(line) && !/^\s*(\*|\/\/)/.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`),
  );
  assert.deepEqual(uses, []);
});

test('no import cycle between files', () => {
  const graph = new Map<string, string[]>();
  // the command table's loaders (`async () => (await import('./x.js')).x`) run only once every module has loaded, so a
  // command may reach the table again (completion, help) without a load-order cycle
  const lazyLoader = (e: Edge) => e.dynamic && e.from === 'cli/commands/index.ts';
  for (const e of edges()) if (!e.typeOnly && !lazyLoader(e)) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  assert.deepEqual(cycles, []);
});
