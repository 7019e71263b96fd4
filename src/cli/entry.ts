import { main } from './main.js';
import { setUpProcess } from './stdio.js';

/** The CLI in this process (the ESM bundle's entry, dist/berth.mjs): run main, exit with its status. */
export function runCli(argv: string[]): void {
  setUpProcess();
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
