import { parseArgs } from 'node:util';
import { exitCodeOf, toBerthError } from '../core/errors.js';
import { mark } from '../core/trace.js';
import type { Command } from './context.js';
import type { CommandEntry } from './commands/index.js';
import { globalArgs } from './global-args.js';
import { errorText, preflight } from './usage-errors.js';
import { writeErr, writeOut } from './stdio.js';

export async function main(argv: string[]): Promise<number> {
  const g = globalArgs(argv);
  if ('exit' in g) return g.exit;
  const { root, configFile, found } = g;
  const name = `berth ${found.cmd.names[0]!.join(' ')}`;
  let cmd: Command | undefined;
  // the context brings the engine (which --version and help do not load): loaded alongside the command's module
  const context = import('./context.js');
  context.catch(() => {});
  try {
    cmd = await found.cmd.load();
    if (found.help) {
      const { commandHelp } = await import('./help/command-help.js');
      writeOut(commandHelp(found.cmd, cmd));
      return 0;
    }
    return await runCommand(root, configFile, found.cmd, cmd, found.rest, context);
  } catch (thrown) {
    const err = toBerthError(name, thrown);
    // Docker's client takes a 304 as success: nothing to say
    if (err.kind !== 'NotModified') writeErr(errorText(found.cmd, err));
    if (process.env.BERTH_DEBUG) writeErr(`${debugTrace(err)}\n`);
    else if (err.kind === 'Internal') writeErr('(set BERTH_DEBUG=1 to see where it happened)\n');
    const own = (thrown as { exitCode?: unknown }).exitCode;
    if (typeof own === 'number') return own;
    return err.kind === 'NotModified' ? exitCodeOf(err) : (cmd?.errorExit ?? exitCodeOf(err));
  }
}

/** Parse a command's flags and run it; what it throws is main's to print. */
async function runCommand(
  root: string,
  configFile: string | undefined,
  entry: CommandEntry,
  cmd: Command,
  rest: string[],
  context: Promise<typeof import('./context.js')>,
): Promise<number> {
  // (after the first positional of `exec`, `run`..., --help is the container command's)
  const cut = cmd.stopAtPositional ? firstPositional(rest, cmd) : rest.length;
  // (-h is help unless it is the command's own flag, as run's --hostname)
  const ownH = Object.values(cmd.options).some((o) => o.short === 'h');
  if (rest.slice(0, cut).some((a) => a === '--help' || (a === '-h' && !ownH))) {
    const { commandHelp } = await import('./help/command-help.js');
    writeOut(commandHelp(entry, cmd));
    return 0;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    const { args, falses } = boolValues(rest.slice(0, cut), cmd);
    parsed = parseArgs({ args, options: cmd.options, allowPositionals: true, strict: true });
    for (const f of falses) (parsed.values as Record<string, unknown>)[f] = false;
    parsed.positionals.push(...rest.slice(cut));
  } catch (err) {
    const { unknownFlagMessage } = await import('./help/command-help.js');
    writeErr(unknownFlagMessage(entry, cmd, (err as Error).message));
    return 125;
  }
  const refused = await preflight(entry, parsed.values, parsed.positionals, cmd.usage);
  if (refused) {
    writeErr(refused.message);
    return refused.exit ?? cmd.errorExit ?? 1;
  }
  const { Context } = await context;
  const ctx = new Context(
    root,
    () => process.stdout,
    () => process.stderr,
    () => process.stdin,
    configFile,
  );
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
