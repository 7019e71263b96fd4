/**
 * `cp CONTAINER:SRC HOSTPATH` where HOSTPATH is a symlink the kernel resolves to a pipe or a device:
 * `/dev/stdout` (-> /proc/self/fd/1 -> "pipe:[N]") was followed by hand and failed with
 * `copy to /proc/self/fd/pipe:[N]: no such file or directory`; it is refused as Docker refuses a
 * fifo ("must be a directory or a regular file: got a named pipe (FIFO)"), and nothing is written.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BERTH, berth, berthOk, tempRoot } from '../helpers/berth.js';

const t = tempRoot('berth-cp-special');
const root = `${t.root}/root`;
const work = `${t.root}/work`;
before(() => {
  fs.mkdirSync(work);
  berthOk(root, ['image', 'from-host', 'base', 'sh']);
  berthOk(root, ['create', '--name', 'c1', 'base', 'sh']);
  fs.writeFileSync(`${work}/f.txt`, 'from the container\n');
  berthOk(root, ['cp', `${work}/f.txt`, 'c1:/f.txt']);
});
after(() => {
  berth(root, ['rm', '-f', 'c1']);
  t.remove();
});

test('cp to /dev/stdout when stdout is a pipe, or to a symlink to /proc/self/fd/1: refused, nothing written', () => {
  fs.symlinkSync('/proc/self/fd/1', `${work}/fd1`);
  for (const dest of ['/dev/stdout', `${work}/fd1`]) {
    // stdout a real pipe (Node's own stdio pipes are socket pairs): berth | cat
    const r = spawnSync(
      'bash',
      ['-c', 'set -o pipefail; "$@" | cat', '-', BERTH, '--root', root, 'cp', 'c1:/f.txt', dest],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 1, dest);
    assert.equal(r.stdout, '', `${dest}: nothing written to the pipe`);
    assert.match(
      r.stderr,
      new RegExp(`invalid output path: "${dest}" must be a directory or a regular file: got a named pipe \\(FIFO\\)`),
    );
  }
  assert.deepEqual(fs.readdirSync(work).sort(), ['f.txt', 'fd1']);
});

test('cp to a symlink to /proc/self/fd/1 when stdout is a regular file: written there, as Docker follows the link', () => {
  const out = `${work}/stdout.txt`;
  const fd = fs.openSync(out, 'w');
  try {
    const r = spawnSync(BERTH, ['--root', root, 'cp', 'c1:/f.txt', '/dev/stdout'], {
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    fs.closeSync(fd);
  }
  assert.equal(fs.readFileSync(out, 'utf8'), 'from the container\n');
});
