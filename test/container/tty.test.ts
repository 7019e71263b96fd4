import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { BERTH, berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';
import { settledAfterHangup, tmuxServer } from '../helpers/tmux.js';

// -t: a pty from the container's own devpts, relayed by the monitor, in raw mode, with window size and resizes.
const t = tempRoot('berth-tty');
const root = t.root;
const session = `berth-tty-${process.pid}`;
before(() => {
  berthOk(root, ['image', 'from-host', 'base', 'sh', 'tty', 'stty', 'sleep', 'ls', 'echo']);
});
after(() => {
  server.kill();
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('-it: the shell gets /dev/pts/0 of its own devpts as stdio, and the exit code comes back', () => {
  const r = spawnSync('script', ['-qfec', `${BERTH} --root ${root} run --rm -it base sh`, '/dev/null'], {
    input: 'tty; ls -l /proc/$$/fd; exit 5\n',
    encoding: 'utf8',
  });
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stdout, /^(# )?\/dev\/pts\/0\r?$/m);
  assert.match(r.stdout, /0 -> \/dev\/pts\/0/);
  assert.match(r.stdout, /2 -> \/dev\/pts\/0/);
});

const server = tmuxServer('berth-tty');
const { tmux } = server;
const screenOf = server.screen;
const screenMatches = server.waitScreen;
/** Ends a tmux session and waits until no process of this test's store is left, whatever the test did. */
async function endSession(name: string): Promise<string> {
  tmux('kill-session', '-t', name);
  return settledAfterHangup(root);
}

test('-it in a real terminal: window size, resize (SIGWINCH), ctrl-c reaches the container', async () => {
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '100',
    '-y',
    '30',
    `${BERTH} --root ${root} run --rm -it base sh; echo EXIT=$?; sleep 60`,
  );
  try {
    await screenMatches(session, /^#/m);
    tmux('send-keys', '-t', session, 'stty size', 'Enter');
    await screenMatches(session, /^30 100$/m);
    tmux('resize-window', '-t', session, '-x', '120', '-y', '40');
    // the resize reaches the container's terminal through SIGWINCH and the monitor: ask until it shows
    for (let i = 0; i < 30 && !/^40 120$/m.test(screenOf(session)); i++) {
      tmux('send-keys', '-t', session, 'stty size', 'Enter');
      await sleep(500);
    }
    await screenMatches(session, /^40 120$/m);
    // A duration no other test uses, so that the container's sleep can be seen from the host before ctrl-c.
    tmux('send-keys', '-t', session, 'sleep 37.5', 'Enter');
    for (let i = 0; i < 100 && spawnSync('pgrep', ['-fx', 'sleep 37.5']).status !== 0; i++) await sleep(100);
    tmux('send-keys', '-t', session, 'C-c');
    // The shell prints its prompt again only once the interrupted sleep is gone (well before its 37 s).
    await screenMatches(session, /\^C\n#$/);
    tmux('send-keys', '-t', session, 'echo after-interrupt', 'Enter');
    await screenMatches(session, /^(# )?after-interrupt$/m);
    tmux('send-keys', '-t', session, 'exit 3', 'Enter');
    await screenMatches(session, /^EXIT=3$/m);
  } finally {
    await endSession(session);
  }
});

test('closing the terminal ends the foreground container: no process or mount is left', async () => {
  const name = `${session}-hup`;
  tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '20', `${BERTH} --root ${root} run --rm -it base sh`);
  let left: string;
  try {
    await screenMatches(name, /^#/m);
  } finally {
    left = await endSession(name);
  }
  assert.equal(left, '', 'berth, its helper and the container are gone');
  assert.deepEqual(mountsUnder(root), []);
  assert.equal(berthOk(root, ['ps', '-aq']), '', 'the --rm container was removed');
});
