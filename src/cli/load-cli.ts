import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as vm from 'node:vm';

/** What the CLI bundle exports (src/cli/entry.ts). */
export interface Cli {
  runCli(argv: string[]): void;
}

/**
 * Load the CLI bundle (dist/cli/berth-cli.cjs, one CommonJS file: scripts/bundle.mjs) with V8's code cache, as
 * Node's own loader would load it but for the cache. Compiling the bundle is most of what a command costs before it
 * starts its work; with the cache V8 deserializes the code it compiled the last time instead, including every
 * function that command ran (the cache is taken as the process exits). One cache per command (`name`), in
 * dist/cli/cache/: each holds what its command runs. A missing cache, or one V8 refuses (another build, another
 * Node), is written at exit, atomically (another berth may read it meanwhile); a cache that cannot be written (a
 * read-only install) is only slower.
 */
export function loadCli(bundle: string, name: string): Cli {
  // (ASCII: scripts/bundle.mjs escapes the rest; latin1 skips the UTF-8 decoding)
  const source = fs.readFileSync(bundle, 'latin1');
  const cacheFile = join(dirname(bundle), 'cache', `${name.replace(/[^a-z0-9-]/g, '_')}.v8`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* not written yet */
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData,
  });
  if (!cachedData || script.cachedDataRejected) process.once('exit', () => writeCache(script, cacheFile));
  const mod = { exports: {} as Cli };
  const wrapper = script.runInThisContext() as (
    exports: Cli,
    require: NodeJS.Require,
    module: { exports: Cli },
    filename: string,
    dirname: string,
  ) => void;
  wrapper(mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  return mod.exports;
}

function writeCache(script: vm.Script, file: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(dirname(file), { recursive: true });
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* never made (no cache dir) */
    }
  }
}
