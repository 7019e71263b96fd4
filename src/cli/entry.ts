import * as v8 from 'node:v8';
import { main } from './main.js';

/**
 * The CLI process entry, shared by the ESM bundle and the start-up snapshot:
 * set the umask, end quietly on a closed pipe (berth images | head), run main.
 */
export function runCli(argv: string[]): void {
  process.umask(0o022);
  for (const s of [process.stdout, process.stderr])
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`berth: ${(err as Error)?.stack ?? err}\n`);
      process.exitCode = 125;
    },
  );
}

// Built with `node --build-snapshot`, the CLI's modules are loaded and initialized once at install
// time; each run deserializes them instead of parsing and evaluating them (start-up is what users wait for).
if (v8.startupSnapshot?.isBuildingSnapshot()) {
  v8.startupSnapshot.setDeserializeMainFunction(() => runCli(process.argv.slice(1)));
}
