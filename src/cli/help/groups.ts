import { commands, type CommandEntry } from '../commands/index.js';

/**
 * The top-level help and the management commands (`berth image`, `berth container`...) as Docker lists them: only
 * the command table's names and summaries, so the process entry (start.ts) answers these without the CLI bundle.
 */
export const GROUPS: Record<string, string> = {
  builder: 'Manage builds',
  completion: 'Generate the autocompletion script for the specified shell',
  container: 'Manage containers',
  image: 'Manage images',
  network: 'Manage networks',
  system: 'Manage berth',
  volume: 'Manage volumes',
};

/** Docker's "Common Commands", in its order. */
const COMMON = ['run', 'exec', 'ps', 'build', 'pull', 'push', 'images', 'login', 'logout', 'version', 'info'];

const visible = (): CommandEntry[] => commands.filter((c) => !c.hidden);

/** Two columns as cobra pads them: names to at least 11 characters and one more than the longest, then a space. */
function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(11, ...rows.map(([n]) => n.length + 1));
  return rows.map(([n, s]) => `  ${n.padEnd(width)} ${s}`);
}

export function topUsage(): string {
  const single = new Map<string, string>();
  for (const c of visible()) for (const w of c.names) if (w.length === 1) single.set(w[0]!, c.summary);
  const common = COMMON.filter((n) => single.has(n));
  const groups = Object.keys(GROUPS).filter((g) => g !== 'completion' && subcommands(g).length);
  const rest = [...single.keys()].filter((n) => !common.includes(n) && !GROUPS[n]).sort();
  return [
    'Usage:  berth [OPTIONS] COMMAND',
    '',
    "A daemonless container engine with Docker's storage layout",
    '',
    'Common Commands:',
    ...table(common.map((n) => [n, single.get(n)!])),
    '',
    'Management Commands:',
    ...table(groups.map((g) => [g, GROUPS[g]!])),
    '',
    'Commands:',
    ...table(rest.map((n) => [n, single.get(n)!])),
    '',
    'Global Options:',
    '      --config-file string   Daemon configuration file, as dockerd\'s daemon.json (default "/etc/berth/daemon.json")',
    '      --root string          Data root (default "/var/lib/berth", or $BERTH_ROOT)',
    '      --version              Print version information and quit',
    '',
    "Run 'berth COMMAND --help' for more information on a command.",
    '',
  ].join('\n');
}

/** A group's subcommands: [word, summary], each command once (under its first name in the group), sorted. */
export function subcommands(group: string): Array<[string, string]> {
  const rows = new Map<string, string>();
  for (const c of visible()) {
    const w = c.names.find((n) => n.length === 2 && n[0] === group);
    if (w && !rows.has(w[1]!)) rows.set(w[1]!, c.summary);
  }
  return [...rows].sort(([a], [b]) => (a < b ? -1 : 1));
}

export function isGroup(word: string | undefined): boolean {
  return word !== undefined && word in GROUPS && subcommands(word).length > 0;
}

export function groupUsage(group: string): string {
  return [
    `Usage:  berth ${group} COMMAND`,
    '',
    GROUPS[group]!,
    '',
    'Commands:',
    ...table(subcommands(group)),
    '',
    `Run 'berth ${group} COMMAND --help' for more information on a command.`,
    '',
  ].join('\n');
}
