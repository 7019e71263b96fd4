import * as tty from 'node:tty';
import type { BerthError } from '../core/errors.js';
import type { CommandEntry } from './commands/index.js';

/*
 * What berth says when a command cannot go on, pointing at the way forward: errors the docker CLI reports itself
 * (a bad reference, -it without a terminal) in its words, a missing image with the commands that make one, and a
 * user who is not root told so before the store answers EACCES.
 */

/** Commands that need an image to exist: a missing one names pull, load and build. */
const NEEDS_IMAGE = new Set(['run', 'create', 'tag', 'save', 'history', 'push', 'image layers', 'image inspect']);
/** Commands that run without a store (and so without root). */
const NO_STORE = new Set(['completion bash', 'completion zsh', '__complete']);

export function errorText(entry: CommandEntry, err: BerthError): string {
  const name = entry.names[0]!.join(' ');
  // (the docker CLI parses references itself: its message, not the daemon's)
  if (err.code === 'invalid_reference')
    return `berth: ${err.message}\n\nRun 'berth ${name} --help' for more information\n`;
  let text = `Error response from berth: ${err.message}\n`;
  const missing = /No such image: (\S+)$/.exec(err.message);
  if (err.kind === 'NotFound' && missing && NEEDS_IMAGE.has(name)) {
    const ref = missing[1]!;
    text +=
      `To get the image: 'berth pull ${ref}' downloads it from its registry, 'berth load -i FILE' reads one ` +
      `saved by 'docker save' or 'berth save', 'berth build -t ${ref} DIR' builds it from a Dockerfile\n`;
  }
  return text;
}

/** A reason not to run the command at all, in Docker's words where Docker has them, and its exit status. */
export async function preflight(
  entry: CommandEntry,
  values: Record<string, unknown>,
  positionals: string[],
  usage: string,
): Promise<{ message: string; exit?: number } | undefined> {
  const name = entry.names[0]!.join(' ');
  if (NO_STORE.has(name)) return undefined;
  const count = arityError(entry, usage, positionals.length);
  if (count) return { message: count, exit: 1 };
  if (process.getuid?.() !== 0)
    return {
      message:
        `berth: berth needs root: it mounts overlay filesystems, makes namespaces and cgroups and writes its store ` +
        `as root (rootless mode does not exist yet); run it as root, e.g. 'sudo berth ${name}'\n`,
    };
  // Docker's run and exec: -t with -i needs stdin to be a terminal (exit 1)
  // (node:tty loads net: the bundle requires it when first used, here)
  if ((name === 'run' || name === 'exec') && values.tty && values.interactive && !tty.isatty(0))
    return { message: 'the input device is not a TTY\n', exit: 1 };
  // Docker's run and create parse the image reference before anything else (so whatever --pull says)
  const image = positionals[0];
  if ((name === 'run' || name === 'create') && image && !/^(sha256:)?[0-9a-f]{1,64}$/.test(image)) {
    const { parseReference } = await import('../engine/syntax.js');
    try {
      parseReference(image);
    } catch (err) {
      return { message: errorText(entry, err as BerthError) };
    }
  }
  return undefined;
}

/**
 * How many arguments a command takes, read from its usage line as cobra's Args would say it: `IMAGE [COMMAND]
 * [ARG...]` is at least 1; `[OPTIONS]` and `[--flag]` are no arguments. Undefined where the line does not say.
 */
export function arity(entry: CommandEntry, usage: string): { min: number; max: number } | undefined {
  // a usage of several forms (`cp`'s two directions, `start --all`): the loosest of them
  let out: { min: number; max: number } | undefined;
  for (const form of usage.split('\n')) {
    const a = formArity(entry, form.trim().replace(/^berth\s+/, ''));
    if (!a) continue;
    out = out ? { min: Math.min(out.min, a.min), max: Math.max(out.max, a.max) } : a;
  }
  return out;
}

function formArity(entry: CommandEntry, form: string): { min: number; max: number } | undefined {
  const line = form.replace(/\s*\|\s*/g, '|');
  const tokens = line.match(/\[(?:[^[\]]|\[[^\]]*\])*\](?:\.\.\.)?|\S+/g) ?? [];
  const words = entry.names.find((n) => n.every((w, i) => tokens[i] === w));
  if (!words) return undefined;
  let min = 0;
  let max = 0;
  for (const t of tokens.slice(words.length)) {
    if (t === '[OPTIONS]' || t.startsWith('[-') || t.startsWith('-')) continue;
    if (t.includes('...') || t.includes('OPTIONS')) max = Infinity;
    else max++;
    if (!t.startsWith('[')) min++;
  }
  return { min, max };
}

/** Docker's words for a wrong number of arguments (exit 1), or undefined when the count is right. */
export function arityError(entry: CommandEntry, usage: string, count: number): string | undefined {
  const a = arity(entry, usage);
  if (!a || (count >= a.min && count <= a.max)) return undefined;
  const n = (k: number) => `${k} argument${k === 1 ? '' : 's'}`;
  const why =
    a.max === 0
      ? 'accepts no arguments'
      : a.min === a.max
        ? `requires ${n(a.min)}`
        : a.max === Infinity
          ? `requires at least ${n(a.min)}`
          : a.min === 0
            ? `requires at most ${n(a.max)}`
            : `requires at least ${a.min} and at most ${n(a.max)}`;
  const name = entry.names[0]!.join(' ');
  return `berth: 'berth ${name}' ${why}\n\nUsage:  berth ${usage}\n\nSee 'berth ${name} --help' for more information\n`;
}
