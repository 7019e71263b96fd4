/**
 * The CLI's text output without Node's stream objects (src/cli/stdio.ts): written in full to a file, to a pipe,
 * in order with what goes through process.stdout, and a closed pipe ends berth quietly with status 0 (as
 * `berth images | head`), both from the process entry (help) and from the CLI bundle (a command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { BERTH, tempRoot } from '../helpers/berth.js';

test('help and a command print in full to a file and to a pipe', () => {
  const tmp = tempRoot('berth-stdio');
  try {
    const viaPipe = spawnSync(BERTH, ['--help'], { timeout: 30_000 });
    assert.equal(viaPipe.status, 0);
    const out = fs.openSync(`${tmp.root}/out`, 'w');
    const viaFile = spawnSync(BERTH, ['--help'], { stdio: ['ignore', out, 'pipe'], timeout: 30_000 });
    fs.closeSync(out);
    assert.equal(viaFile.status, 0);
    const text = fs.readFileSync(`${tmp.root}/out`, 'utf8');
    assert.equal(text, viaPipe.stdout.toString());
    assert.match(text, /^Usage: {2}berth /);
    assert.match(text, /Global Options:[\s\S]*--config-file string/);
    const ps = spawnSync(BERTH, ['--root', `${tmp.root}/r`, 'ps', '-a'], { timeout: 30_000 });
    assert.equal(ps.status, 0, ps.stderr.toString());
    assert.equal(ps.stdout.toString(), 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
    // a command's error goes to stderr, its usage message to stdout
    const bad = spawnSync(BERTH, ['--root', `${tmp.root}/r`, 'ps', '--no-such-flag'], { timeout: 30_000 });
    assert.equal(bad.status, 125);
    assert.equal(bad.stdout.toString(), '');
    assert.match(
      bad.stderr.toString(),
      /^unknown flag: --no-such-flag\n\nUsage: {2}berth ps \[OPTIONS\]\n\nRun 'berth ps --help' for more information\n$/,
    );
  } finally {
    tmp.remove();
  }
});

/** Run berth with its stdout a pipe whose reading end is closed before berth writes; its status and stderr. */
function closedPipe(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BERTH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // (before Node has started in the child: its first write finds no reader)
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test('a closed stdout pipe ends berth with status 0 and nothing on stderr', async () => {
  const tmp = tempRoot('berth-stdio-pipe');
  try {
    for (const args of [['--help'], ['--version'], ['--root', `${tmp.root}/r`, 'ps', '-a']]) {
      const r = await closedPipe(args);
      assert.deepEqual(r, { code: 0, signal: null, stderr: '' }, args.join(' '));
    }
  } finally {
    tmp.remove();
  }
});
