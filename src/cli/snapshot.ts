// Entry of the start-up snapshot bundle (see scripts/bundle.sh): no exports, as the snapshot builder wants.
import * as v8 from 'node:v8';
import './entry.js';
import { commands } from './commands/index.js';

// Commands are loaded on demand (a dynamic import each). While the snapshot is built they are all
// loaded, so their modules are initialized in it and no run pays for that (esbuild's module glue and
// node's compiling of the built-in modules they use are a tenth of a cached `berth build`).
// Not `load`: it imports worker_threads, whose state in a snapshot breaks the workers it starts
// (their process.cwd() reads a counter the snapshot no longer shares).
if (v8.startupSnapshot?.isBuildingSnapshot())
  for (const c of commands) if (!c.names.some((n) => n.includes('load'))) void c.load();
