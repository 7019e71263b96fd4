import { spawnSync } from 'node:child_process';

/**
 * A tmux server of this test file's own (`tmux -L`): sessions of test files that run at the same
 * time never share a server, and the server ends with the file.
 */
export function tmuxServer(name: string) {
  const socket = `${name}-${process.pid}`;
  const tmux = (...a: string[]) => spawnSync('tmux', ['-L', socket, ...a], { encoding: 'utf8' });
  return {
    tmux,
    screen: (session: string) => tmux('capture-pane', '-t', session, '-p').stdout.trimEnd(),
    kill: () => { tmux('kill-server'); },
  };
}

/**
 * Processes whose command line names `path` (pgrep -af), but tmux's: a tmux server keeps the command
 * line of the `new-session` that started it (with the berth command and its --root) while it runs.
 */
export function processesNaming(path: string): string {
  const out = spawnSync('pgrep', ['-af', path], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l && !/^\d+ tmux /.test(l)).join('\n');
}
