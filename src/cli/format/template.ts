/**
 * A Go text/template subset, as docker's `--format` uses it: parse once,
 * execute against plain JS values.
 *
 * Supported: text and actions, `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `$`, `$x := ...`,
 * `$x = ...`, pipelines, parenthesized calls, string/raw-string/char/number/
 * bool/nil literals, `{{- ` / ` -}}` trim markers, comments, if/else if/else,
 * with/else with, range (arrays, objects/Maps in sorted key order, integers)
 * with `$i, $e :=`, break/continue; Go's builtins (and or not len index slice
 * print printf println html js urlquery eq ne lt le gt ge call) and docker's
 * (json split join title lower upper pad truncate). Not supported:
 * define/template/block.
 *
 * Value semantics (docker formats structs; berth passes plain objects):
 * - a key absent from an object/Map prints `<no value>`, as Go prints a
 *   missing map key; so does a field reached through null/missing;
 * - a property whose value is null/undefined is a struct zero value: it
 *   prints "" (not Go's `<nil>`), is false, has len 0, and passes as "" to
 *   string parameters;
 * - function-valued properties are called like Go methods (`{{.Label "k"}}`);
 * - arrays print like Go slices `[a b c]`, objects like maps `map[k:v]`
 *   (sorted keys), integer-valued numbers like ints, others like float64;
 * - `len` counts a string's UTF-8 bytes (as Go); `truncate` cuts at code
 *   points (docker cuts bytes; identical for ASCII).
 *
 * Errors are BerthError(InvalidArgument) with Go's messages, e.g.
 * `template: :1: function "foo" not defined` (code template_parse) and
 * `template: :1:2: executing "" at <.Foo>: ...` (code template_exec).
 */
import { execute as execTree, type ExecEnv } from './template-exec.js';
import { builtinFuncs, dockerFuncs, headerFuncs, toSpec, type FuncMap, type FuncSpec } from './template-funcs.js';
import { parse, type Node } from './template-parse.js';

export { MISSING, formatFloat, goQuote, sprintf } from './template-fmt.js';
export { goJSON, markAsContext, type FuncMap, type FuncSpec, type ParamKind } from './template-funcs.js';

/** Options for {@link parseTemplate}. */
export interface ParseOptions {
  /** Template name used in error messages (docker's is ""). */
  name?: string;
  /** Extra functions, available in addition to Go's builtins and docker's. */
  funcs?: FuncMap;
  /** Go's missingkey option: "default" prints `<no value>`, "error" fails. */
  missingKey?: 'default' | 'error';
}

/** Options for {@link Template.execute}. */
export interface ExecuteOptions {
  /** Replace function implementations for this execution (Go's Funcs after Parse). */
  funcs?: FuncMap;
}

/** A parsed template; execute it any number of times. */
export class Template {
  /** @internal */
  constructor(
    readonly source: string,
    private readonly tree: Node[],
    private readonly env: ExecEnv,
  ) {}

  /** Render the template against `data`; throws BerthError on execution errors. */
  execute(data: unknown, opts: ExecuteOptions = {}): string {
    const out: string[] = [];
    execTree(this.tree, data, this.envWith(opts), out);
    return out.join('');
  }

  /**
   * Render, returning the output written before an error instead of throwing
   * (what Go leaves in the writer; docker ignores header execution errors).
   */
  executePartial(data: unknown, opts: ExecuteOptions = {}): { output: string; error?: Error } {
    const out: string[] = [];
    try {
      execTree(this.tree, data, this.envWith(opts), out);
      return { output: out.join('') };
    } catch (error) {
      return { output: out.join(''), error: error as Error };
    }
  }

  private envWith(opts: ExecuteOptions): ExecEnv {
    if (!opts.funcs) return this.env;
    return { ...this.env, funcs: { ...this.env.funcs, ...specs(opts.funcs) } };
  }
}

function specs(funcs: FuncMap): Record<string, FuncSpec> {
  return Object.fromEntries(Object.entries(funcs).map(([k, f]) => [k, toSpec(f)]));
}

/** Parse a Go template; throws BerthError (template_parse) with Go's message. */
export function parseTemplate(source: string, opts: ParseOptions = {}): Template {
  const funcs = { ...builtinFuncs, ...dockerFuncs, ...specs(opts.funcs ?? {}) };
  const name = opts.name ?? '';
  const tree = parse(source, name, (n) => Object.hasOwn(funcs, n));
  return new Template(source, tree, { name, src: source, funcs, missingKey: opts.missingKey ?? 'default' });
}

/** Parse and execute in one go. */
export function renderTemplate(source: string, data: unknown, opts: ParseOptions = {}): string {
  return parseTemplate(source, opts).execute(data);
}

/** docker's HeaderFunctions as a FuncMap, for {@link Template.execute} on table headers. */
export const HEADER_FUNCS: FuncMap = headerFuncs;
