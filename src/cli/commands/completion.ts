import { complete as completeWords, type NameKind } from '../complete.js';
import type { Command, Context } from '../context.js';

/*
 * `berth completion bash|zsh` prints a script that completes berth's command lines; the script asks
 * `berth __complete WORD...` (the words so far, the one being typed last) and offers what it prints, one per line,
 * or files when it prints nothing. Global --root and --config-file are passed on, so names come from that store.
 */

const BASH = String.raw`# bash completion for berth: source <(berth completion bash)
_berth() {
  local cur="${'${COMP_WORDS[COMP_CWORD]}'}" IFS=$'\n'
  local -a words=("${'${COMP_WORDS[@]:1:COMP_CWORD}'}") globals=()
  while [[ ${'${#words[@]}'} -gt 1 && ( ${'${words[0]}'} == --root || ${'${words[0]}'} == --config-file ) ]]; do
    globals+=("${'${words[0]}'}" "${'${words[1]}'}")
    words=("${'${words[@]:2}'}")
  done
  COMPREPLY=($(berth "${'${globals[@]}'}" __complete -- "${'${words[@]}'}" 2>/dev/null))
  if [[ ${'${#COMPREPLY[@]}'} -eq 0 && $cur != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _berth berth
`;

const ZSH = String.raw`#compdef berth
# zsh completion for berth: source <(berth completion zsh), or save it as _berth in a directory of $fpath
_berth() {
  local -a args globals out
  args=("${'${(@)words[2,CURRENT]}'}")
  while (( ${'${#args}'} > 1 )) && [[ $args[1] == --root || $args[1] == --config-file ]]; do
    globals+=("$args[1]" "$args[2]")
    args=("${'${(@)args[3,-1]}'}")
  done
  out=("${'${(@f)$(berth $globals __complete -- "${(@)args}" 2>/dev/null)}'}")
  out=(${'${out:#}'})
  if (( ${'${#out}'} )); then compadd -a out; else _files; fi
}
if [ "$funcstack[1]" = "_berth" ]; then _berth "$@"; else compdef _berth berth; fi
`;

const script = (shell: string, text: string): Command => ({
  names: [['completion', shell]],
  usage: `completion ${shell}`,
  summary: `Generate the autocompletion script for ${shell}`,
  options: {},
  async run(ctx) {
    ctx.print(text);
  },
});

export const completionBash = script('bash', BASH);
export const completionZsh = script('zsh', ZSH);

export const complete: Command = {
  names: [['__complete']],
  usage: '__complete [WORD...] CURRENT',
  summary: 'Print the completions of a command line (for the completion scripts)',
  options: {},
  // (every word is the command line's, flags included)
  stopAtPositional: true,
  async run(ctx, args) {
    // (the scripts pass `--` first: the words are never this command's flags)
    const words = args[0] === '--' ? args.slice(1) : args;
    for (const c of await completeWords(words, (kind) => storeNames(ctx, kind))) ctx.out(c);
  },
};

/** The names of a kind in the store (none when the store cannot be opened: completion stays quiet). */
async function storeNames(ctx: Context, kind: NameKind): Promise<string[]> {
  try {
    const engine = await ctx.engine();
    switch (kind) {
      case 'container':
        return (await engine.containers.list({ all: true })).flatMap((c) => c.Names.map((n) => n.replace(/^\//, '')));
      case 'image':
        return engine.images.list().flatMap((i) => i.RepoTags.filter((t) => t !== '<none>:<none>'));
      case 'network':
        return engine.networks.list().map((n) => n.Name);
      case 'volume':
        return (engine.volumes.list().Volumes ?? []).map((v) => v.Name);
    }
  } catch {
    return [];
  }
}
