/**
 * Build arguments with the classic builder's scoping (moby builder/dockerfile/buildargs.go):
 * `--build-arg` values, ARGs declared before the first FROM (meta args, usable in FROM and
 * re-declarable in a stage without a value), and ARGs declared in the current stage. An arg is
 * visible to a step only once its stage declares it; the proxy args are always allowed.
 */
export const BUILTIN_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
]);

export class BuildArgs {
  /** Declared in the current stage: name -> default (undefined = no default). */
  private allowed = new Map<string, string | undefined>();
  private meta = new Map<string, string | undefined>();
  /** Every arg some stage declared: the rest of --build-arg is reported unused. */
  readonly referenced: Set<string>;

  constructor(
    readonly fromOptions: ReadonlyMap<string, string | undefined>,
    referenced = new Set<string>(),
  ) {
    this.referenced = referenced;
  }

  /** A copy for a new stage: meta args kept, stage args reset, references shared. */
  forStage(): BuildArgs {
    const b = new BuildArgs(this.fromOptions, this.referenced);
    b.meta = new Map(this.meta);
    return b;
  }

  addArg(name: string, value: string | undefined): void {
    this.allowed.set(name, value);
    this.referenced.add(name);
  }

  addMetaArg(name: string, value: string | undefined): void {
    this.meta.set(name, value);
  }

  /** True unless the name is a proxy arg no stage declared: those stay out of history. */
  isReferencedOrNotBuiltin(name: string): boolean {
    return this.allowed.has(name) || !BUILTIN_ARGS.has(name);
  }

  /** Values of the args the current stage may use. */
  allAllowed(): Map<string, string> {
    return this.valuesOf(this.allowed);
  }

  /** Values of the meta args (FROM expands with these). */
  allMeta(): Map<string, string> {
    return this.valuesOf(this.meta);
  }

  /** `K=V` for allowed args that the config's Env does not already set. */
  filterAllowed(env: readonly string[]): string[] {
    const set = new Set(env.map((e) => e.split('=', 1)[0]!));
    const out: string[] = [];
    for (const [k, v] of this.allAllowed()) if (!set.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  unused(): string[] {
    return [...this.fromOptions.keys()].filter((k) => !this.referenced.has(k) && !BUILTIN_ARGS.has(k)).sort();
  }

  private valuesOf(source: ReadonlyMap<string, string | undefined>): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of new Set([...source.keys(), ...BUILTIN_ARGS])) {
      const v = this.value(key, source);
      if (v !== undefined) out.set(key, v);
    }
    return out;
  }

  private value(key: string, source: ReadonlyMap<string, string | undefined>): string | undefined {
    const opt = this.fromOptions.get(key);
    if (opt !== undefined) return opt;
    const def = source.get(key);
    return def === undefined ? this.meta.get(key) : def;
  }
}
