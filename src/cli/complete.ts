import { commands } from './commands/index.js';
import { findCommand } from './global-args.js';
import { isGroup, subcommands } from './help/groups.js';

/*
 * The completions of a command line, for `berth __complete WORD... CURRENT` (what the bash and zsh scripts of
 * `berth completion` call): commands, subcommands, flags, and the names of containers, images, networks and volumes
 * in the store. Names come from `names` (the engine's lists), asked only when the position takes them.
 */

export type NameKind = 'container' | 'image' | 'network' | 'volume';
export type Names = (kind: NameKind) => Promise<string[]>;

/** Flags whose value is a name in the store. */
const FLAG_VALUES: Record<string, NameKind> = { network: 'network', net: 'network', 'volumes-from': 'container' };

/** What each positional of a command names (the last kind repeats). */
function positionals(key: string): NameKind[] {
  if (['run', 'create', 'history', 'save', 'push', 'rmi', 'tag'].includes(key)) return ['image'];
  if (key.startsWith('image ') && !['image prune', 'image from-host'].includes(key)) return ['image'];
  if (key === 'network connect' || key === 'network disconnect') return ['network', 'container'];
  if (['network inspect', 'network rm'].includes(key)) return ['network'];
  if (['volume inspect', 'volume rm'].includes(key)) return ['volume'];
  if (key === 'inspect') return ['container', 'image'];
  if (
    key.includes('prune') ||
    key.includes('create') ||
    key.startsWith('system') ||
    key.startsWith('volume') ||
    key.startsWith('network') ||
    ['ps', 'images', 'build', 'pull', 'load', 'import', 'login', 'logout'].includes(key)
  )
    return [];
  return ['container'];
}

export async function complete(words: string[], names: Names): Promise<string[]> {
  const cur = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const starts = (list: Iterable<string>) => [...new Set(list)].filter((c) => c.startsWith(cur)).sort();
  if (before.length === 0 && cur.startsWith('-')) return starts(['--config-file', '--help', '--root', '--version']);
  if (before.length === 0) {
    const top = new Set<string>();
    for (const c of commands) if (!c.hidden) for (const n of c.names) top.add(n[0]!);
    return starts(top);
  }
  const found = findCommand(before);
  if (!found) return before.length === 1 && isGroup(before[0]) ? starts(subcommands(before[0]!).map(([w]) => w)) : [];
  const cmd = await found.cmd.load();
  const key = found.cmd.names[0]!.join(' ');
  if (cur.startsWith('-')) {
    const flags = Object.entries(cmd.options).flatMap(([n, o]) => [`--${n}`, ...(o.short ? [`-${o.short}`] : [])]);
    return starts([...flags, '--help']);
  }
  const shortToLong = new Map(Object.entries(cmd.options).map(([n, o]) => [o.short, n]));
  const flagOf = (a: string) => (a.startsWith('--') ? a.slice(2) : a.length === 2 ? shortToLong.get(a[1]) : undefined);
  // the value of a flag: a name where the flag takes one, else nothing (the shell offers files)
  const prev = found.rest.at(-1);
  const prevFlag = prev?.startsWith('-') && !prev.includes('=') ? flagOf(prev) : undefined;
  if (prevFlag && cmd.options[prevFlag]?.type === 'string') {
    const kind = FLAG_VALUES[prevFlag];
    return kind ? starts(await names(kind)) : [];
  }
  // which positional this is: the words after the command that are neither flags nor flags' values
  let n = 0;
  for (let i = 0; i < found.rest.length; i++) {
    const a = found.rest[i]!;
    if (a.startsWith('-')) {
      const f = flagOf(a);
      if (f && !a.includes('=') && cmd.options[f]?.type === 'string') i++;
    } else n++;
  }
  const kinds = positionals(key);
  if (!kinds.length || ((key === 'run' || key === 'create') && n > 0)) return [];
  if (key === 'inspect') return starts([...(await names('container')), ...(await names('image'))]);
  return starts(await names(kinds[Math.min(n, kinds.length - 1)]!));
}
