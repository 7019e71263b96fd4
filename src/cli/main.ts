import { parseArgs } from 'node:util';
import { exitCodeOf, toBerthError } from '../core/errors.js';
import { mark } from '../core/trace.js';
import { Context, type Command } from './context.js';
import { commands, type CommandEntry } from './commands/index.js';

const DEFAULT_ROOT = '/var/lib/berth';

function usage(): string {
  const lines = [
    'Usage:  berth [--root DIR] COMMAND',
    '',
    "A daemonless container engine with Docker's storage layout.",
    '',
    'Commands:',
  ];
  for (const c of commands) lines.push(`  ${c.names[0]!.join(' ').padEnd(22)} ${c.summary}`);
  lines.push('', 'Global options:', '  --root DIR   data root (default /var/lib/berth, or $BERTH_ROOT)', '');
  return lines.join('\n');
}

/** Find the command named by the leading words of argv (longest match). */
function findCommand(argv: string[]): { cmd: CommandEntry; rest: string[] } | undefined {
  let best: { cmd: CommandEntry; rest: string[]; len: number } | undefined;
  for (const cmd of commands) {
    for (const words of cmd.names) {
      if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.len))
        best = { cmd, rest: argv.slice(words.length), len: words.length };
    }
  }
  return best;
}

export async function main(argv: string[]): Promise<number> {
  let root = process.env.BERTH_ROOT || DEFAULT_ROOT;
  while (argv[0]?.startsWith('--root')) {
    const a = argv.shift()!;
    const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv.shift();
    if (!v) {
      process.stderr.write('berth: --root needs a directory\n');
      return 125;
    }
    root = v;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(usage());
    return argv.length === 0 ? 1 : 0;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    process.stdout.write('berth version 0.1.0\n');
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`berth: '${argv.join(' ')}' is not a berth command.\nSee 'berth --help'\n`);
    return 1;
  }
  const name = `berth ${found.cmd.names[0]!.join(' ')}`;
  let cmd: Command | undefined;
  try {
    cmd = await found.cmd.load();
    return await runCommand(root, cmd, found.rest);
  } catch (thrown) {
    const err = toBerthError(name, thrown);
    // Docker's client takes a 304 as success: nothing to say
    if (err.kind !== 'NotModified') process.stderr.write(`Error response from berth: ${err.message}\n`);
    if (process.env.BERTH_DEBUG) process.stderr.write(`${debugTrace(err)}\n`);
    else if (err.kind === 'Internal') process.stderr.write('(set BERTH_DEBUG=1 to see where it happened)\n');
    const own = (thrown as { exitCode?: unknown }).exitCode;
    if (typeof own === 'number') return own;
    return err.kind === 'NotModified' ? exitCodeOf(err) : (cmd?.errorExit ?? exitCodeOf(err));
  }
}

/** Parse a command's flags and run it; what it throws is main's to print. */
async function runCommand(root: string, cmd: Command, rest: string[]): Promise<number> {
  // (after the first positional of `exec`, `run`..., --help is the container command's)
  const cut = cmd.stopAtPositional ? firstPositional(rest, cmd) : rest.length;
  if (rest.slice(0, cut).includes('--help')) {
    process.stdout.write(`\nUsage:  berth ${cmd.usage}\n\n${cmd.summary}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    const { args, falses } = boolValues(rest.slice(0, cut), cmd);
    parsed = parseArgs({ args, options: cmd.options, allowPositionals: true, strict: true });
    for (const f of falses) (parsed.values as Record<string, unknown>)[f] = false;
    parsed.positionals.push(...rest.slice(cut));
  } catch (err) {
    process.stderr.write(
      `berth ${cmd.names[0]!.join(' ')}: ${(err as Error).message.replace(/\. To specify.*$/s, '')}\nSee 'berth ${cmd.names[0]!.join(' ')} --help'.\n`,
    );
    return 125;
  }
  const ctx = new Context(root, process.stdout, process.stderr, process.stdin);
  mark('cli start-up');
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return (await cmd.run(ctx, parsed.positionals, values)) ?? 0;
}

/** The stacks of an error and its causes, innermost last, for BERTH_DEBUG. */
function debugTrace(err: unknown): string {
  const out: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 8; depth++) {
    out.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return out.join('\ncaused by: ');
}

/**
 * Docker's `--flag=true|false` for boolean flags (node's parseArgs knows only `--flag`): returns the args without them
 * and the flags set false.
 */
function boolValues(args: string[], cmd: Command): { args: string[]; falses: string[] } {
  const out: string[] = [];
  const falses: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const m = /^--([^=]+)=(true|false)$/.exec(a);
    if (m && cmd.options[m[1]!]?.type === 'boolean') {
      if (m[2] === 'true') out.push(`--${m[1]}`);
      else falses.push(m[1]!);
      continue;
    }
    out.push(a);
  }
  return { args: out, falses };
}

/** Index of the first argument that is not an option or an option's value. */
function firstPositional(args: string[], cmd: Command): number {
  const takesValue = (name: string) => cmd.options[name]?.type === 'string';
  const shortToLong = new Map(
    Object.entries(cmd.options)
      .filter(([, o]) => o.short)
      .map(([k, o]) => [o.short!, k]),
  );
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i;
    if (a.startsWith('--')) {
      if (!a.includes('=') && takesValue(a.slice(2))) i++;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // -it, -e X, -eX: the last short flag of a group may take the next argument
      const letters = a.slice(1);
      for (let j = 0; j < letters.length; j++) {
        const long = shortToLong.get(letters[j]!);
        if (long && takesValue(long)) {
          if (j === letters.length - 1) i++;
          break;
        }
      }
      continue;
    }
    return i;
  }
  return args.length;
}
