// The process entry that bin/berth runs: dist/berth.cjs, a small CommonJS bundle of this file (Node starts one
// faster than an ES module). It answers what needs no command module (--version, help, an unknown command or a
// missing --root value) itself, and hands every command to the CLI bundle, dist/berth.mjs, which is split so
// that a command loads only its own modules (scripts/bundle.mjs).
import { globalArgs, setUpProcess } from './global-args.js';

const argv = process.argv.slice(2);
const answered = globalArgs(argv);
if ('exit' in answered) {
  setUpProcess();
  process.exitCode = answered.exit;
} else {
  // (the bundle build points this at dist/berth.mjs)
  import('./entry.js').then(
    (cli) => cli.runCli(argv),
    (err: unknown) => {
      process.stderr.write(`berth: cannot load the CLI: ${(err as Error)?.stack ?? err}\n`);
      process.exitCode = 125;
    },
  );
}
