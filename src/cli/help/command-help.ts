import type { CommandEntry } from '../commands/index.js';
import type { Command } from '../context.js';
import { berthFlagText } from './berth-flags.js';
import { commandFlagText, commonFlagText } from './flag-text.js';
import { suggest } from './suggest.js';

/*
 * `berth COMMAND --help` and `berth help COMMAND`, laid out as the docker CLI's (cobra's): Usage, the description,
 * Aliases, Options (every flag, sorted by name, with its value type, one line and its default). Loaded only for help
 * and usage errors: the flags' texts stay out of the commands' start-up.
 */

type Option = Command['options'][string];

/** [value type, one line] of a flag of the command `key` ("run", "image ls"...). */
export function flagText(key: string, name: string, o: Option): readonly [string, string] {
  const t = berthFlagText[key]?.[name] ?? commandFlagText[key]?.[name] ?? commonFlagText[name];
  if (t) return t;
  return [o.type === 'string' ? 'string' : '', ''];
}

/** The Options lines: `  -a, --all             Show all ...`, long names sorted as cobra sorts them. */
export function optionLines(key: string, cmd: Command): string[] {
  const rows = Object.entries(cmd.options)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, o]) => {
      const [type, text] = flagText(key, name, o);
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${type ? ` ${type}` : ''}`;
      const dflt = o.default !== undefined && o.default !== false && !text.includes('(default ');
      return [flag, dflt ? `${text} (default ${JSON.stringify(o.default)})`.trim() : text] as const;
    });
  const width = Math.max(0, ...rows.map(([f]) => f.length));
  return rows.map(([f, t]) => `  ${f.padEnd(width)}   ${t}`.trimEnd());
}

export function commandHelp(entry: CommandEntry, cmd: Command): string {
  const key = entry.names[0]!.join(' ');
  const lines = [`Usage:  berth ${cmd.usage}`, '', entry.summary];
  if (entry.names.length > 1) {
    // Docker's order: the management forms first, the short one last
    const names = [...entry.names].sort((a, b) => b.length - a.length).map((n) => `berth ${n.join(' ')}`);
    lines.push('', 'Aliases:', `  ${names.join(', ')}`);
  }
  if (Object.keys(cmd.options).length) lines.push('', 'Options:', ...optionLines(key, cmd));
  return lines.join('\n') + '\n';
}

/** Docker's answer to a flag the command does not have (exit 125), with the nearest flags berth knows. */
export function unknownFlagMessage(entry: CommandEntry, cmd: Command, parseError: string): string {
  const name = entry.names[0]!.join(' ');
  const m = /Unknown option '(-{1,2}[^']*)'/.exec(parseError);
  let first: string;
  if (m) {
    const flag = m[1]!;
    first = flag.startsWith('--') ? `unknown flag: ${flag}` : `unknown shorthand flag: '${flag.slice(1)}' in ${flag}`;
    if (flag.startsWith('--')) {
      const near = suggest(flag.slice(2), Object.keys(cmd.options));
      if (near.length)
        first += `\n\nDid you mean this?\n${near
          .map((n) => `\t--${n}\n`)
          .join('')
          .trimEnd()}`;
    }
  } else {
    const missing = /^Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(parseError);
    first = missing ? `flag needs an argument: ${missing[1]}` : parseError.replace(/\. To specify.*$/s, '');
  }
  return `${first}\n\nUsage:  berth ${cmd.usage}\n\nRun 'berth ${name} --help' for more information\n`;
}
