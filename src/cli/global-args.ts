import { commands, type CommandEntry } from './commands/index.js';
import { writeErr, writeOut } from './stdio.js';

/**
 * What berth answers before any command module is loaded: the global --root and --config-file, --version, help
 * and unknown commands. Shared by the process entry (start.ts, which loads nothing more for these) and main.ts.
 */
export const VERSION = '0.1.0';
const DEFAULT_ROOT = '/var/lib/berth';

export function usage(): string {
  const lines = [
    'Usage:  berth [--root DIR] [--config-file PATH] COMMAND',
    '',
    "A daemonless container engine with Docker's storage layout.",
    '',
    'Commands:',
  ];
  for (const c of commands) lines.push(`  ${c.names[0]!.join(' ').padEnd(22)} ${c.summary}`);
  lines.push(
    '',
    'Global options:',
    '  --root DIR           data root (default /var/lib/berth, or $BERTH_ROOT)',
    "  --config-file PATH   daemon configuration file, as dockerd's daemon.json (default /etc/berth/daemon.json)",
    '',
  );
  return lines.join('\n');
}

/** Find the command named by the leading words of argv (longest match). */
export function findCommand(argv: string[]): { cmd: CommandEntry; rest: string[] } | undefined {
  let best: { cmd: CommandEntry; rest: string[]; len: number } | undefined;
  for (const cmd of commands) {
    for (const words of cmd.names) {
      if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.len))
        best = { cmd, rest: argv.slice(words.length), len: words.length };
    }
  }
  return best;
}

/**
 * The data root, the configuration file (when named) and the command's words, or the exit status when nothing
 * more is to be done: --version, help, a missing --root or --config-file value or an unknown command (answered
 * here, on stdout or stderr).
 */
export function globalArgs(
  argv: string[],
): { root: string; configFile?: string; found: { cmd: CommandEntry; rest: string[] } } | { exit: number } {
  argv = [...argv];
  let root = process.env.BERTH_ROOT || DEFAULT_ROOT;
  let configFile: string | undefined;
  for (;;) {
    const flag = ['--root', '--config-file'].find((f) => argv[0] === f || argv[0]?.startsWith(`${f}=`));
    if (!flag) break;
    const a = argv.shift()!;
    const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv.shift();
    if (!v) {
      writeErr(`berth: ${flag} needs ${flag === '--root' ? 'a directory' : 'a file'}\n`);
      return { exit: 125 };
    }
    if (flag === '--root') root = v;
    else configFile = v;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    writeOut(usage());
    return { exit: argv.length === 0 ? 1 : 0 };
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    writeOut(`berth version ${VERSION}\n`);
    return { exit: 0 };
  }
  const found = findCommand(argv);
  if (!found) {
    writeErr(`berth: '${argv.join(' ')}' is not a berth command.\nSee 'berth --help'\n`);
    return { exit: 1 };
  }
  return { root, ...(configFile !== undefined ? { configFile } : {}), found };
}
