import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountsUnder } from './berth.js';

/**
 * A tmux server of this test file's own (`tmux -L`): sessions of test files that run at the same
 * time never share a server, and the server ends with the file.
 */
export function tmuxServer(name: string) {
  const socket = `${name}-${process.pid}`;
  const tmux = (...a: string[]) => spawnSync('tmux', ['-L', socket, ...a], { encoding: 'utf8' });
  const screen = (session: string) => tmux('capture-pane', '-t', session, '-p').stdout.trimEnd();
  return {
    tmux,
    screen,
    /** Wait (up to 15 s) until the session's screen matches. */
    async waitScreen(session: string, re: RegExp): Promise<void> {
      for (let i = 0; i < 150; i++) {
        if (re.test(screen(session))) return;
        await sleep(100);
      }
      assert.fail(`screen never matched ${re}:\n${screen(session)}`);
    },
    kill: () => {
      tmux('kill-server');
    },
  };
}

/**
 * Processes whose command line names `path` (pgrep -af), but tmux's: a tmux server keeps the command
 * line of the `new-session` that started it (with the berth command and its --root) while it runs.
 */
export function processesNaming(path: string): string {
  const out = spawnSync('pgrep', ['-af', path], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((l) => l && !/^\d+ tmux /.test(l))
    .join('\n');
}

/**
 * After a terminal closed: wait (up to 20 s: berth ends the container, unmounts and removes it) until
 * no process names the store and nothing is mounted under it (and `alsoDone`). Returns the processes left.
 */
export async function settledAfterHangup(root: string, alsoDone: () => boolean = () => true): Promise<string> {
  let left = '';
  for (const end = Date.now() + 20000; Date.now() < end; await sleep(100)) {
    left = processesNaming(root);
    if (!left && mountsUnder(root).length === 0 && alsoDone()) break;
  }
  return left;
}
