// The process entry that bin/berth runs: dist/berth.cjs, a small CommonJS bundle of this file (Node starts one
// faster than an ES module). It answers what needs no command module (--version, help, an unknown command or a
// missing --root value) itself, and hands every command to the CLI bundle, dist/cli/berth-cli.cjs, which it loads
// with V8's code cache (load-cli.ts; scripts/bundle.mjs builds both).
import { dirname, join } from 'node:path';
import { globalArgs } from './global-args.js';
import { setUpProcess } from './stdio.js';
import { loadCli, type Cli } from './load-cli.js';

const argv = process.argv.slice(2);
const answered = globalArgs(argv);
if ('exit' in answered) {
  setUpProcess();
  process.exitCode = answered.exit;
} else {
  // (this file runs as dist/berth.cjs: the CLI bundle is dist/cli/berth-cli.cjs beside it)
  const bundle = join(dirname(process.argv[1]!), 'cli', 'berth-cli.cjs');
  let cli: Cli | undefined;
  try {
    cli = loadCli(bundle, answered.found.cmd.names[0]!.join('-'));
  } catch (err) {
    process.stderr.write(`berth: cannot load the CLI: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 125;
  }
  cli?.runCli(argv);
}
