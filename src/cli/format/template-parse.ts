/**
 * Parser for the Go text/template subset: builds the node tree Go's
 * text/template/parse would (lists, text, actions, if/with/range with
 * else-chains, pipelines, commands and operands), with Go's parse errors.
 */
import { lex, parseError, tokenString, type Token, type TokType } from './template-lex.js';

export interface TextNode {
  kind: 'text';
  pos: number;
  text: string;
}
export interface ActionNode {
  kind: 'action';
  pos: number;
  pipe: PipeNode;
}
export interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pos: number;
  pipe: PipeNode;
  list: Node[];
  elseList?: Node[];
}
export interface LoopCtlNode {
  kind: 'break' | 'continue';
  pos: number;
}
export type Node = TextNode | ActionNode | ControlNode | LoopCtlNode;

export interface PipeNode {
  kind: 'pipe';
  pos: number;
  decl: string[];
  isAssign: boolean;
  cmds: CommandNode[];
}
export interface CommandNode {
  kind: 'command';
  pos: number;
  args: Operand[];
}
export type Operand =
  | { kind: 'field'; pos: number; ident: string[] }
  | { kind: 'variable'; pos: number; ident: string[] } // ident[0] is "$name"
  | { kind: 'chain'; pos: number; node: Operand; fields: string[] }
  | { kind: 'identifier'; pos: number; name: string }
  | { kind: 'dot'; pos: number }
  | { kind: 'nil'; pos: number }
  | { kind: 'bool'; pos: number; value: boolean }
  | { kind: 'number'; pos: number; text: string; value: number }
  | { kind: 'string'; pos: number; quoted: string; value: string }
  | PipeNode;

type Marker = { kind: 'end' | 'else'; pos: number; line: number };

/** Parse template source into a node list; `hasFunc` reports defined function names. */
export function parse(src: string, name: string, hasFunc: (n: string) => boolean): Node[] {
  return new Parser(lex(src, name), name, hasFunc).parseRoot();
}

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  constructor(
    private toks: Token[],
    private name: string,
    private hasFunc: (n: string) => boolean,
  ) {}

  private peek(): Token {
    return this.toks[this.i] ?? this.toks[this.toks.length - 1]!;
  }
  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }
  private skipSpace(): void {
    while (this.peek().type === 'space') this.i++;
  }
  private peekNonSpace(): Token {
    this.skipSpace();
    return this.peek();
  }
  private nextNonSpace(): Token {
    this.skipSpace();
    return this.next();
  }
  private err(msg: string, tok: Token = this.toks[Math.max(0, this.i - 1)] ?? this.peek()): never {
    throw parseError(this.name, tok.line, msg);
  }
  private expect(type: TokType, context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.err(`unexpected ${tokenString(t)} in ${context}`, t);
    return t;
  }

  parseRoot(): Node[] {
    const list: Node[] = [];
    while (this.peek().type !== 'eof') {
      const n = this.textOrAction();
      if ('line' in n) this.err(`unexpected {{${n.kind}}}`);
      list.push(n);
    }
    return list;
  }

  private itemList(): { list: Node[]; next: Marker } {
    const list: Node[] = [];
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if ('line' in n) return { list, next: n };
      list.push(n);
    }
    return this.err('unexpected EOF', this.peek());
  }

  private textOrAction(): Node | Marker {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { kind: 'text', pos: t.pos, text: t.val };
    if (t.type === 'left') return this.action();
    return this.err(`unexpected ${tokenString(t)} in input`, t);
  }

  private action(): Node | Marker {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'if':
        case 'with':
        case 'range':
          return this.control(t.val);
        case 'end':
          this.expect('right', 'end');
          return { kind: 'end', pos: t.pos, line: t.line };
        case 'else': {
          const p = this.peekNonSpace();
          if (p.type === 'keyword' && (p.val === 'if' || p.val === 'with'))
            return { kind: 'else', pos: p.pos, line: p.line };
          this.expect('right', 'else');
          return { kind: 'else', pos: t.pos, line: t.line };
        }
        case 'break':
        case 'continue': {
          this.expect('right', `{{${t.val}}}`);
          if (this.rangeDepth === 0) this.err(`{{${t.val}}} outside {{range}}`, t);
          return { kind: t.val, pos: t.pos };
        }
        default:
          this.err(`{{${t.val}}} is not supported`, t);
      }
    }
    this.i--; // back up
    const start = this.peekNonSpace();
    return { kind: 'action', pos: start.pos, pipe: this.pipeline('command', 'right') };
  }

  private control(context: 'if' | 'with' | 'range'): ControlNode {
    const saved = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'right');
      if (context === 'range') this.rangeDepth++;
      const { list, next } = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: Node[] | undefined;
      if (next.kind === 'else') {
        const p = this.peek();
        if (context !== 'range' && p.type === 'keyword' && p.val === context) {
          this.next();
          elseList = [this.control(context)];
        } else {
          const r = this.itemList();
          if (r.next.kind !== 'end') this.err(`expected end; found {{${r.next.kind}}}`);
          elseList = r.list;
        }
      }
      return { kind: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = saved;
    }
  }

  private pipeline(context: string, end: TokType): PipeNode {
    const start = this.peekNonSpace();
    const pipe: PipeNode = { kind: 'pipe', pos: start.pos, decl: [], isAssign: false, cmds: [] };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const save = this.i;
      this.next();
      const nx = this.peekNonSpace();
      if (nx.type === 'assign' || nx.type === 'declare') {
        this.next();
        pipe.isAssign = nx.type === 'assign';
        pipe.decl.push(v.val);
        if (pipe.isAssign) this.useVar(v);
        else this.vars.push(v.val);
        break;
      }
      if (nx.type === 'comma') {
        this.next();
        pipe.decl.push(v.val);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = this.peekNonSpace().type;
          if (p === 'variable' || p === 'right' || p === 'rparen') continue;
          this.err('range can only initialize variables');
        }
        this.err(`too many declarations in ${context}`);
      }
      this.i = save;
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) this.err(`missing value for ${context}`, t);
        pipe.cmds.slice(1).forEach((c, k) => {
          const first = c.args[0]!;
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(first.kind))
            this.err(`non executable command in pipeline stage ${k + 2}`, t);
        });
        return pipe;
      }
      if (
        [
          'bool',
          'char',
          'dot',
          'field',
          'ident',
          'number',
          'nil',
          'rawString',
          'string',
          'variable',
          'lparen',
        ].includes(t.type)
      ) {
        this.i--;
        pipe.cmds.push(this.command());
      } else {
        this.err(`unexpected ${tokenString(t)} in ${context}`, t);
      }
    }
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.skipSpace();
      const op = this.operand();
      if (op) cmd.args.push(op);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'right' || t.type === 'rparen') this.i--;
      else if (t.type !== 'pipe') this.err(`unexpected ${tokenString(t)} in operand`, t);
      break;
    }
    if (cmd.args.length === 0) this.err('empty command');
    return cmd;
  }

  private operand(): Operand | undefined {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const chainPos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.kind) {
      case 'field':
        return { kind: 'field', pos: chainPos, ident: [...node.ident, ...fields] };
      case 'variable':
        return { kind: 'variable', pos: chainPos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        return this.err(`unexpected . after term ${JSON.stringify(operandString(node))}`);
      default:
        return { kind: 'chain', pos: chainPos, node, fields };
    }
  }

  private term(): Operand | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'ident':
        if (!this.hasFunc(t.val)) this.err(`function ${JSON.stringify(t.val)} not defined`, t);
        return { kind: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'nil':
        return { kind: 'nil', pos: t.pos };
      case 'variable':
        this.useVar(t);
        return { kind: 'variable', pos: t.pos, ident: [t.val] };
      case 'field':
        return { kind: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'number':
      case 'char':
        return { kind: 'number', pos: t.pos, text: t.val, value: this.number(t) };
      case 'lparen':
        return this.pipeline('parenthesized pipeline', 'rparen');
      case 'string':
        return { kind: 'string', pos: t.pos, quoted: t.val, value: this.unquote(t) };
      case 'rawString':
        return { kind: 'string', pos: t.pos, quoted: t.val, value: t.val.slice(1, -1).replace(/\r/g, '') };
    }
    this.i--;
    return undefined;
  }

  private useVar(t: Token): void {
    if (!this.vars.includes(t.val)) this.err(`undefined variable ${JSON.stringify(t.val)}`, t);
  }

  private number(t: Token): number {
    const text = t.val;
    if (t.type === 'char') {
      const s = this.unquote({ ...t, val: `"${text.slice(1, -1).replace(/"/g, '\\"')}"` });
      const cps = [...s];
      if (cps.length !== 1) this.err(`malformed character constant: ${text}`, t);
      return cps[0]!.codePointAt(0)!;
    }
    const clean = text.replace(/_/g, '');
    if (clean.endsWith('i')) this.err(`complex constants are not supported: ${JSON.stringify(text)}`, t);
    const neg = clean.startsWith('-');
    const body = clean.replace(/^[+-]/, '');
    let v: number;
    if (/^0[xX]/.test(body) && !/[.pP]/.test(body)) v = parseInt(body.slice(2), 16);
    else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
    else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
    else if (/^0[0-7]+$/.test(body)) v = parseInt(body.slice(1), 8);
    else v = Number(body);
    if (!Number.isFinite(v)) this.err(`illegal number syntax: ${JSON.stringify(text)}`, t);
    return neg ? -v : v;
  }

  /** Go's strconv.Unquote for a double-quoted literal. */
  private unquote(t: Token): string {
    const s = t.val.slice(1, -1);
    let out = '';
    for (let k = 0; k < s.length; k++) {
      const c = s[k]!;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = s[++k];
      const simple: Record<string, string> = {
        a: '\x07',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
        v: '\v',
        '\\': '\\',
        '"': '"',
        "'": "'",
      };
      if (e !== undefined && e in simple) {
        out += simple[e];
        continue;
      }
      const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (hexLen > 0 && /^[0-9a-fA-F]+$/.test(s.slice(k + 1, k + 1 + hexLen)) && s.length >= k + 1 + hexLen) {
        const cp = parseInt(s.slice(k + 1, k + 1 + hexLen), 16);
        if (e === 'x') out += String.fromCharCode(cp);
        else if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) this.err('invalid syntax', t);
        else out += String.fromCodePoint(cp);
        k += hexLen;
        continue;
      }
      if (e !== undefined && /^[0-7]{3}$/.test(s.slice(k, k + 3))) {
        out += String.fromCharCode(parseInt(s.slice(k, k + 3), 8));
        k += 2;
        continue;
      }
      this.err('invalid syntax', t);
    }
    return out;
  }
}

/** Go's Node.String() for an operand or pipe (used in error contexts). */
export function operandString(n: Operand | CommandNode): string {
  switch (n.kind) {
    case 'field':
      return n.ident.map((f) => `.${f}`).join('');
    case 'variable':
      return (
        n.ident[0] +
        n.ident
          .slice(1)
          .map((f) => `.${f}`)
          .join('')
      );
    case 'chain':
      return (
        (n.node.kind === 'pipe' ? `(${operandString(n.node)})` : operandString(n.node)) +
        n.fields.map((f) => `.${f}`).join('')
      );
    case 'identifier':
      return n.name;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'command':
      return n.args.map((a) => (a.kind === 'pipe' ? `(${operandString(a)})` : operandString(a))).join(' ');
    case 'pipe': {
      const decl = n.decl.length ? `${n.decl.join(', ')} ${n.isAssign ? '=' : ':='} ` : '';
      return decl + n.cmds.map(operandString).join(' | ');
    }
  }
}
