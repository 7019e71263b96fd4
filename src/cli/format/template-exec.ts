/**
 * Executor for parsed templates, following Go's text/template/exec.go:
 * pipelines with a final (piped) argument, field chains on maps/objects
 * (function-valued properties are called like Go methods), variables,
 * if/with/range with else, break/continue, lazy and/or, and Go's errors
 * `template: NAME:LINE:COL: executing "NAME" at <NODE>: MSG`.
 */
import { invalid } from '../../core/errors.js';
import { MISSING, formatV, goTypeName, lookupField, sortedEntries } from './template-fmt.js';
import { isTrue, type FuncSpec, type ParamKind } from './template-funcs.js';
import {
  operandString,
  type CommandNode,
  type ControlNode,
  type Node,
  type Operand,
  type PipeNode,
} from './template-parse.js';

/** Go's "missingVal": no final (piped) argument. */
const NO_FINAL: unique symbol = Symbol('no final');
type Final = unknown;

const BREAK = Symbol('break');
const CONTINUE = Symbol('continue');

/** What executing a template needs besides the tree. */
export interface ExecEnv {
  name: string;
  src: string;
  funcs: Record<string, FuncSpec>;
  /** Go's Option("missingkey=..."): "default" prints `<no value>`, "error" fails. */
  missingKey: 'default' | 'error';
}

/** Execute a parsed tree against data, appending output to `out`. */
export function execute(tree: Node[], data: unknown, env: ExecEnv, out: string[]): void {
  new State(env, out, data).walkList(data, tree);
}

class State {
  private vars: { name: string; value: unknown }[];
  constructor(
    private env: ExecEnv,
    private out: string[],
    data: unknown,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  private errorf(node: { pos: number } | undefined, msg: string, context?: string): never {
    const { name, src } = this.env;
    if (!node) throw invalid('template_exec', `template: ${name}: ${msg}`);
    const prefix = src.slice(0, node.pos);
    const line = 1 + (prefix.match(/\n/g)?.length ?? 0);
    const col = Buffer.byteLength(prefix.slice(prefix.lastIndexOf('\n') + 1), 'utf8');
    let ctx = context ?? '';
    if (ctx.length > 20) ctx = `${ctx.slice(0, 20)}...`;
    throw invalid(
      'template_exec',
      `template: ${name}:${line}:${col}: executing ${JSON.stringify(name)} at <${ctx}>: ${msg}`,
    );
  }

  walkList(dot: unknown, list: Node[]): void {
    for (const n of list) this.walk(dot, n);
  }

  private walk(dot: unknown, node: Node): void {
    switch (node.kind) {
      case 'text':
        this.out.push(node.text);
        return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.out.push(this.printable(node.pipe, v));
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        try {
          const v = this.evalPipeline(dot, node.pipe);
          if (isTrue(v)) this.walkList(node.kind === 'with' ? v : dot, node.list);
          else if (node.elseList) this.walkList(dot, node.elseList);
        } finally {
          this.vars.length = mark;
        }
        return;
      }
      case 'range':
        return this.walkRange(dot, node);
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
    }
  }

  private walkRange(dot: unknown, node: ControlNode): void {
    const outer = this.vars.length;
    try {
      const val = this.evalPipeline(dot, node.pipe);
      const mark = this.vars.length;
      const { decl, isAssign } = node.pipe;
      const one = (index: unknown, elem: unknown): boolean => {
        if (decl.length > 0) {
          if (isAssign) this.setVar(node.pipe, decl[0]!, decl.length > 1 ? index : elem);
          else this.vars[this.vars.length - 1]!.value = elem;
        }
        if (decl.length > 1) {
          if (isAssign) this.setVar(node.pipe, decl[1]!, elem);
          else this.vars[this.vars.length - 2]!.value = index;
        }
        try {
          this.walkList(elem, node.list);
        } catch (e) {
          if (e === BREAK) return false;
          if (e !== CONTINUE) throw e;
        } finally {
          this.vars.length = mark;
        }
        return true;
      };
      let n = 0;
      const iterate = (pairs: Iterable<[unknown, unknown]>) => {
        for (const [k, v] of pairs) {
          n++;
          if (!one(k, v)) break;
        }
      };
      if (val === MISSING || val === null || val === undefined) {
        /* nil map/slice: no iterations */
      } else if (Array.isArray(val)) iterate(val.entries());
      else if (typeof val === 'number' && Number.isInteger(val)) {
        if (decl.length > 1)
          this.errorf(node, `can't use ${val} to iterate over more than one variable`, operandString(node.pipe));
        iterate(
          (function* () {
            for (let i = 0; i < val; i++) yield [i, i] as [number, number];
          })(),
        );
      } else if (typeof val === 'object' && !(val instanceof Date)) iterate(sortedEntries(val));
      else {
        const at = node.pipe.cmds[node.pipe.cmds.length - 1]!.args[0]!; // Go reports the last node evaluated
        this.errorf(at, `range can't iterate over ${formatV(val)}`, operandString(at));
      }
      if (n === 0 && node.elseList) this.walkList(dot, node.elseList);
    } finally {
      this.vars.length = outer;
    }
  }

  private setVar(at: { pos: number }, name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(at, `undefined variable: ${name}`, name);
  }

  private varValue(at: { pos: number }, name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    return this.errorf(at, `undefined variable: ${name}`, name);
  }

  private printable(node: PipeNode, v: unknown): string {
    if (v === MISSING) return '<no value>';
    if (v === null || v === undefined) return '';
    if (typeof v === 'function')
      this.errorf(node, `can't print ${operandString(node)} of type ${goTypeName(v)}`, operandString(node));
    return formatV(v);
  }

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    let value: unknown = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(pipe, name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  private notAFunction(args: Operand[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL)
      this.errorf(args[0], `can't give argument to non-function ${operandString(args[0]!)}`, operandString(args[0]!));
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case 'field':
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case 'chain': {
        if (first.node.kind === 'nil')
          this.errorf(first, `indirection through explicit nil in ${operandString(first)}`, operandString(first));
        const recv = this.evalArg(dot, 'any', first.node);
        return this.evalFieldChain(dot, recv, first, first.fields, cmd.args, final);
      }
      case 'identifier': {
        const spec = this.env.funcs[first.name];
        if (!spec) return this.errorf(first, `${JSON.stringify(first.name)} is not a defined function`, first.name);
        return this.evalCall(dot, spec, cmd, first.name, cmd.args.slice(1), final);
      }
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable': {
        const value = this.varValue(first, first.ident[0]!);
        if (first.ident.length === 1) {
          this.notAFunction(cmd.args, final);
          return value;
        }
        return this.evalFieldChain(dot, value, first, first.ident.slice(1), cmd.args, final);
      }
    }
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf(first, 'nil is not a command', 'nil');
      case 'number':
        return first.value;
      case 'string':
        return first.value;
    }
  }

  private evalFieldChain(
    dot: unknown,
    recv: unknown,
    node: Operand,
    ident: string[],
    args: Operand[],
    final: Final,
  ): unknown {
    for (let i = 0; i < ident.length - 1; i++) recv = this.evalField(dot, ident[i]!, node, [], NO_FINAL, recv);
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, recv);
  }

  private evalField(dot: unknown, name: string, node: Operand, args: Operand[], final: Final, recv: unknown): unknown {
    const ctx = operandString(node);
    if (recv === MISSING || recv === null || recv === undefined) {
      if (this.env.missingKey === 'error') this.errorf(node, `nil data; no entry for key ${JSON.stringify(name)}`, ctx);
      return MISSING;
    }
    const hasArgs = args.length > 1 || final !== NO_FINAL;
    if (typeof recv !== 'object' || Array.isArray(recv) || recv instanceof Date) {
      return this.errorf(node, `can't evaluate field ${name} in type ${goTypeName(recv)}`, ctx);
    }
    const { found, value } = lookupField(recv, name);
    if (typeof value === 'function') {
      const fn = value as (...a: unknown[]) => unknown;
      return this.evalCall(
        dot,
        { params: ['any'], variadic: true, fn: fn.bind(recv) },
        node,
        name,
        args.slice(1),
        final,
      );
    }
    if (hasArgs) this.errorf(node, `${name} is not a method but has arguments`, ctx);
    if (!found) {
      if (this.env.missingKey === 'error') this.errorf(node, `map has no entry for key ${JSON.stringify(name)}`, ctx);
      return MISSING;
    }
    return value;
  }

  private evalCall(
    dot: unknown,
    spec: FuncSpec,
    node: { pos: number; kind: string },
    name: string,
    argNodes: Operand[],
    final: Final,
  ): unknown {
    const ctx = node.kind === 'command' ? operandString(node as CommandNode) : operandString(node as Operand);
    const numIn = argNodes.length + (final !== NO_FINAL ? 1 : 0);
    const { params, variadic } = spec;
    if (variadic) {
      if (numIn < params.length - 1)
        this.errorf(
          node,
          `wrong number of args for ${name}: want at least ${params.length - 1} got ${argNodes.length}`,
          ctx,
        );
    } else if (numIn !== params.length) {
      this.errorf(node, `wrong number of args for ${name}: want ${params.length} got ${numIn}`, ctx);
    }
    const kindAt = (i: number): ParamKind => params[Math.min(i, params.length - 1)]!;
    if (this.env.funcs[name] === spec && (name === 'and' || name === 'or')) {
      let v: unknown = MISSING;
      for (const a of argNodes) {
        v = this.evalArg(dot, 'any', a);
        if (isTrue(v) === (name === 'or')) return v;
      }
      return final !== NO_FINAL ? final : v;
    }
    const argv = argNodes.map((a, i) => this.evalArg(dot, kindAt(i), a));
    if (final !== NO_FINAL) argv.push(this.validate(node, ctx, final, kindAt(argNodes.length)));
    try {
      return spec.fn(...argv);
    } catch (e) {
      return this.errorf(node, `error calling ${name}: ${(e as Error)?.message ?? String(e)}`, ctx);
    }
  }

  private evalArg(dot: unknown, kind: ParamKind, n: Operand): unknown {
    const ctx = operandString(n);
    switch (n.kind) {
      case 'dot':
        return this.validate(n, ctx, dot, kind);
      case 'nil':
        if (kind === 'string' || kind === 'int') this.errorf(n, `cannot assign nil to ${kind}`, ctx);
        return kind === 'strings' ? [] : MISSING;
      case 'field':
        return this.validate(n, ctx, this.evalFieldChain(dot, dot, n, n.ident, [n], NO_FINAL), kind);
      case 'variable': {
        const v = this.varValue(n, n.ident[0]!);
        return this.validate(
          n,
          ctx,
          n.ident.length === 1 ? v : this.evalFieldChain(dot, v, n, n.ident.slice(1), [n], NO_FINAL),
          kind,
        );
      }
      case 'pipe':
        return this.validate(n, ctx, this.evalPipeline(dot, n), kind);
      case 'identifier': {
        const spec = this.env.funcs[n.name];
        if (!spec) return this.errorf(n, `${JSON.stringify(n.name)} is not a defined function`, ctx);
        return this.validate(n, ctx, this.evalCall(dot, spec, n, n.name, [], NO_FINAL), kind);
      }
      case 'chain':
        return this.validate(n, ctx, this.evalCommand(dot, { kind: 'command', pos: n.pos, args: [n] }, NO_FINAL), kind);
    }
    // literals: typed like Go's evalString/evalInteger/evalEmptyInterface
    if (kind === 'string' && n.kind !== 'string') this.errorf(n, `expected string; found ${ctx}`, ctx);
    if (kind === 'int' && !(n.kind === 'number' && Number.isInteger(n.value)))
      this.errorf(n, `expected integer; found ${ctx}`, ctx);
    if (kind === 'strings') this.errorf(n, `can't handle ${ctx} for arg of type []string`, ctx);
    return n.value;
  }

  /** Go's validateType for a computed value passed to a typed parameter. */
  private validate(node: { pos: number }, ctx: string, v: unknown, kind: ParamKind): unknown {
    switch (kind) {
      case 'any':
        return v;
      case 'string':
        if (typeof v === 'string') return v;
        if (v === null || v === undefined) return '';
        break;
      case 'int':
        if (typeof v === 'number' && Number.isInteger(v)) return v;
        if (typeof v === 'bigint') return Number(v);
        if (v === null || v === undefined) return 0;
        break;
      case 'strings':
        if (v === MISSING || v === null || v === undefined) return [];
        if (Array.isArray(v))
          return v.map((e) => (typeof e === 'string' ? e : e === null || e === undefined ? '' : formatV(e)));
        break;
    }
    const typ = kind === 'strings' ? '[]string' : kind;
    if (v === MISSING) return this.errorf(node, `invalid value; expected ${typ}`, ctx);
    return this.errorf(node, `wrong type for value; expected ${typ}; got ${goTypeName(v)}`, ctx);
  }
}
