import { after } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import { tempRoot } from './berth.js';

/**
 * Temp roots and child processes of a test file, all removed or killed when the
 * file ends, also on failure or exit. Tests may drop a root early (or keep one).
 */
export class Tracked {
  readonly roots = new Set<{ root: string; remove(): void }>();
  readonly children = new Set<ChildProcess>();

  constructor() {
    const cleanup = () => this.cleanup();
    after(cleanup);
    process.on('exit', cleanup);
  }

  newRoot(prefix: string): { root: string; remove(): void } {
    const r = tempRoot(prefix);
    this.roots.add(r);
    return r;
  }

  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const r of this.roots) r.remove();
    this.roots.clear();
  }
}
