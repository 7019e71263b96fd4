import { commands, type CommandEntry } from './commands/index.js';
import { groupUsage, isGroup, subcommands, topUsage } from './help/groups.js';
import { didYouMean } from './help/suggest.js';
import { writeErr, writeOut } from './stdio.js';

/**
 * What berth answers before any command module is loaded: the global --root and --config-file, --version, help
 * and unknown commands. Shared by the process entry (start.ts, which loads nothing more for these) and main.ts.
 */
export const VERSION = '0.1.0';
const DEFAULT_ROOT = '/var/lib/berth';

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

/** The command named, the words after its name, and whether its help was asked for (`berth help COMMAND`). */
export interface Found {
  cmd: CommandEntry;
  rest: string[];
  help?: boolean;
}

/**
 * The data root, the configuration file (when named) and the command's words, or the exit status when nothing
 * more is to be done: --version, help, a missing --root or --config-file value or an unknown command (answered
 * here, on stdout or stderr).
 */
export function globalArgs(argv: string[]): { root: string; configFile?: string; found: Found } | { exit: number } {
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
  // (as Docker's: no command prints the help on stderr and exits 0; --help prints it on stdout)
  if (argv.length === 0) {
    writeErr(topUsage());
    return { exit: 0 };
  }
  if (argv[0] === '--help' || argv[0] === '-h' || (argv[0] === 'help' && argv.length === 1)) {
    writeOut(topUsage());
    return { exit: 0 };
  }
  if (argv[0] === 'help') {
    const topic = argv.slice(1);
    if (topic.length === 1 && isGroup(topic[0])) {
      writeOut(groupUsage(topic[0]!));
      return { exit: 0 };
    }
    const named = findCommand(topic);
    if (named && named.rest.length === 0)
      return { root, ...(configFile !== undefined ? { configFile } : {}), found: { ...named, help: true } };
    return unknownCommand(topic);
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    writeOut(`berth version ${VERSION}\n`);
    return { exit: 0 };
  }
  const found = findCommand(argv);
  if (!found) return unknownCommand(argv);
  return { root, ...(configFile !== undefined ? { configFile } : {}), found };
}

/** A management command alone lists its subcommands; a word berth does not know is named, with the nearest ones. */
function unknownCommand(argv: string[]): { exit: number } {
  const group = argv[0]!;
  if (isGroup(group)) {
    if (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h') {
      (argv.length === 1 ? writeErr : writeOut)(groupUsage(group));
      return { exit: 0 };
    }
    const near = didYouMean(
      argv[1]!,
      subcommands(group).map(([w]) => w),
    );
    writeErr(
      `berth: unknown command: berth ${group} ${argv[1]}\n${near}\nUsage:  berth ${group}\n\nRun 'berth ${group} --help' for more information\n`,
    );
    return { exit: 1 };
  }
  const words = new Set<string>();
  for (const c of commands) if (!c.hidden) for (const n of c.names) words.add(n[0]!);
  writeErr(
    `berth: unknown command: berth ${group}\n${didYouMean(group, words)}\nRun 'berth --help' for more information\n`,
  );
  return { exit: 1 };
}
