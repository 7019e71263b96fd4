import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { REPO } from './berth.js';
import type { Tracked } from './tracked.js';

/**
 * Run the berth CLI in a child process that kills itself (SIGKILL) just before
 * its k-th filesystem change (mkdir, write, rename, symlink, chmod or removal
 * through node:fs). With `match`, only the changes whose "<function> <path>"
 * matches the regular expression are counted: a kill at a chosen point.
 */
const CHILD = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const killAt = Number(process.env.BERTH_TEST_KILL_AT);
const match = process.env.BERTH_TEST_KILL_MATCH ? new RegExp(process.env.BERTH_TEST_KILL_MATCH) : undefined;
let n = 0;
for (const f of ['mkdirSync', 'writeFileSync', 'renameSync', 'symlinkSync', 'chmodSync', 'rmSync', 'rmdirSync', 'unlinkSync']) {
  const orig = fs[f];
  fs[f] = (...a) => {
    const what = f + ' ' + a[a.length > 1 && f === 'renameSync' ? 1 : 0];
    if ((!match || match.test(what)) && ++n === killAt) { fs.writeSync(1, 'killed at ' + what + '\\n'); process.kill(process.pid, 'SIGKILL'); }
    return orig(...a);
  };
}
syncBuiltinESMExports();
const { main } = await import(process.env.BERTH_TEST_MAIN);
process.exitCode = await main(JSON.parse(process.env.BERTH_TEST_ARGV));
`;

/** 'killed at ...' (killed: true), or its output if it got through (it must then exit 0). */
export async function berthKilledAt(
  tracked: Tracked,
  k: number,
  argv: string[],
  match?: RegExp,
): Promise<{ killed: boolean; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BERTH_TEST_KILL_AT: String(k),
      BERTH_TEST_MAIN: `${REPO}/dist/src/cli/main.js`,
      BERTH_TEST_ARGV: JSON.stringify(argv),
      ...(match ? { BERTH_TEST_KILL_MATCH: match.source } : {}),
    },
  });
  tracked.children.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d;
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  tracked.children.delete(child);
  if (signal !== 'SIGKILL') assert.equal(code, 0, `berth ${argv.join(' ')} (kill point ${k}) exited ${code}: ${out}`);
  return { killed: signal === 'SIGKILL', out: out.trim() };
}
