/**
 * examples/*.mjs are programs a user runs against berth's library (`import { Engine } from 'berth'`):
 * each runs here on a data root of its own, as the README shows, and leaves no container or mount.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { REPO, berthOk, mountsUnder, tempRoot } from './helpers/berth.js';

function runExample(name: string, root: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [`${REPO}/examples/${name}`], {
    env: { ...process.env, BERTH_ROOT: root },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('examples/run-container.mjs makes an image, runs a container, prints its output and removes it', () => {
  const t = tempRoot('berth-example');
  try {
    const r = runExample('run-container.mjs', t.root);
    assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stdout, /^stdout: hello from [0-9a-f]{12}, PID 1$/m);
    assert.match(r.stdout, /^exit code 0$/m);
    assert.equal(berthOk(t.root, ['ps', '-aq']).trim(), '');
    assert.deepEqual(mountsUnder(t.root), []);
    const listed = runExample('list.mjs', t.root);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^image [0-9a-f]{12} berth-example:base \d+ bytes$/m);
    assert.doesNotMatch(listed.stdout, /^container /m);
  } finally {
    t.remove();
  }
});
