// Entry of the start-up snapshot bundle (scripts/bundle.mjs): no exports, as the snapshot builder wants.
import * as v8 from 'node:v8';
import { runCli } from './entry.js';
import { commands } from './commands/index.js';

// Built with `node --build-snapshot`, the CLI's modules are loaded and initialized once at install time; each
// command run deserializes them instead of parsing and evaluating them. Commands are loaded on demand (a dynamic
// import each); while the snapshot is built they are all loaded, so their modules, and the node built-ins they use,
// are in it, and so is the engine. Not `load`: it imports worker_threads, whose state in a snapshot breaks the workers it starts (their
// process.cwd() reads a counter the snapshot no longer shares).
if (v8.startupSnapshot?.isBuildingSnapshot()) {
  for (const c of commands) if (!c.names.some((n) => n.includes('load'))) void c.load();
  // the engine, which main.ts loads alongside a command (the commands import only its types)
  void import('./context.js');
  v8.startupSnapshot.setDeserializeMainFunction(() => runCli(process.argv.slice(1)));
}
