// Entry of the start-up snapshot bundle (see scripts/bundle.sh): no exports, as the snapshot builder wants.
import * as v8 from 'node:v8';
import './entry.js';
import { commands } from './commands/index.js';

// Commands are loaded on demand (a dynamic import each). While the snapshot is built they are all
// loaded, so their modules are initialized in it and no run pays for that (esbuild's module glue and
// node's compiling of the built-in modules they use are a tenth of a cached `berth build`).
if (v8.startupSnapshot?.isBuildingSnapshot()) for (const c of commands) void c.load();
