/**
 * docker's table/--format output: a faithful port of the elastic-tabstop
 * tabwriter docker uses (text/tabwriter with go-runewidth cell widths) and of
 * docker/cli formatter.Context's handling of format strings.
 */
import { invalid } from '../../core/errors.js';
import { HEADER_FUNCS, markAsContext, parseTemplate, type Template } from './template.js';

interface Cell {
  start: number;
  size: number;
  width: number;
  htab: boolean;
}

/** tabwriter flags (Go's text/tabwriter constants that make sense here). */
export interface TabWriterFlags {
  alignRight?: boolean;
  discardEmptyColumns?: boolean;
  tabIndent?: boolean;
  debug?: boolean;
  /** Cell width function; default {@link displayWidth} (docker's go-runewidth). Go's stock tabwriter counts runes. */
  measure?: (text: string) => number;
}

/**
 * Go's text/tabwriter.Writer: cells are tab-terminated; tab-terminated cells
 * in contiguous lines form a column, padded to max(minwidth, widest cell +
 * padding); the trailing cell of a line is not part of a column. Feed text
 * with write(), then flush() returns the formatted output.
 */
export class TabWriter {
  private buf = '';
  private cell: Cell = { start: 0, size: 0, width: 0, htab: false };
  private lines: Cell[][] = [[]];
  private widths: number[] = [];
  private out: string[] = [];

  constructor(
    private readonly minwidth: number,
    private readonly tabwidth: number,
    private readonly padding: number,
    private readonly padchar = ' ',
    private readonly flags: TabWriterFlags = {},
  ) {
    if (minwidth < 0 || tabwidth < 0 || padding < 0) throw new RangeError('negative minwidth, tabwidth, or padding');
    if (padchar === '\t') this.flags = { ...flags, alignRight: false };
  }

  /** Buffer text; complete column blocks may be formatted eagerly, as Go does. */
  write(text: string): this {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch !== '\t' && ch !== '\v' && ch !== '\n' && ch !== '\f') continue;
      this.append(text.slice(n, i));
      n = i + 1;
      const ncells = this.terminateCell(ch === '\t');
      if (ch === '\n' || ch === '\f') {
        this.lines.push([]);
        if (ch === '\f' || ncells === 1) {
          this.flushInternal();
          if (ch === '\f' && this.flags.debug) this.out.push('---\n');
        }
      }
    }
    this.append(text.slice(n));
    return this;
  }

  /** Format everything buffered and return all output produced so far. */
  flush(): string {
    this.flushInternal();
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  private append(text: string): void {
    if (this.cell.size === 0) this.cell.start = this.buf.length;
    this.buf += text;
    this.cell.size += text.length;
  }

  private terminateCell(htab: boolean): number {
    const c = this.cell;
    c.htab = htab;
    c.width = (this.flags.measure ?? displayWidth)(this.buf.slice(c.start, c.start + c.size));
    const line = this.lines[this.lines.length - 1]!;
    line.push(c);
    this.cell = { start: this.buf.length, size: 0, width: 0, htab: false };
    return line.length;
  }

  private flushInternal(): void {
    if (this.cell.size > 0) this.terminateCell(false);
    this.format(0, 0, this.lines.length);
    this.buf = '';
    this.cell = { start: 0, size: 0, width: 0, htab: false };
    this.lines = [[]];
    this.widths = [];
  }

  private padding_(textw: number, cellw: number, useTabs: boolean): void {
    if (this.padchar === '\t' || useTabs) {
      if (this.tabwidth === 0) return;
      cellw = Math.ceil(cellw / this.tabwidth) * this.tabwidth;
      this.out.push('\t'.repeat(Math.ceil((cellw - textw) / this.tabwidth)));
      return;
    }
    this.out.push(this.padchar.repeat(Math.max(cellw - textw, 0)));
  }

  private writeLines(pos: number, line0: number, line1: number): number {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      let useTabs = !!this.flags.tabIndent;
      line.forEach((c, j) => {
        if (j > 0 && this.flags.debug) this.out.push('|');
        if (c.size === 0) {
          if (j < this.widths.length) this.padding_(c.width, this.widths[j]!, useTabs);
          return;
        }
        useTabs = false;
        const text = this.buf.slice(pos, pos + c.size);
        pos += c.size;
        if (!this.flags.alignRight) {
          this.out.push(text);
          if (j < this.widths.length) this.padding_(c.width, this.widths[j]!, false);
        } else {
          if (j < this.widths.length) this.padding_(c.width, this.widths[j]!, false);
          this.out.push(text);
        }
      });
      if (i + 1 === this.lines.length) {
        this.out.push(this.buf.slice(pos, pos + this.cell.size));
        pos += this.cell.size;
      } else {
        this.out.push('\n');
      }
    }
    return pos;
  }

  private format(pos: number, line0: number, line1: number): number {
    const column = this.widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= this.lines[cur]!.length - 1) continue;
      // a cell exists in this column: print unprinted lines until the block begins
      pos = this.writeLines(pos, line0, cur);
      line0 = cur;
      let width = this.minwidth;
      let discardable = true;
      for (; cur < line1; cur++) {
        const line = this.lines[cur]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        width = Math.max(width, c.width + this.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && this.flags.discardEmptyColumns) width = 0;
      this.widths.push(width);
      pos = this.format(pos, line0, cur);
      this.widths.pop();
      line0 = cur;
    }
    return this.writeLines(pos, line0, line1);
  }
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Terminal cell width of a string (go-runewidth: wide East Asian/emoji 2, combining 0). */
export function displayWidth(s: string): number {
  // printable ASCII, nearly every cell: a column per character (the loop's Unicode test is slow per character)
  if (PRINTABLE_ASCII.test(s)) return s.length;
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (
      cp < 0x20 ||
      (cp >= 0x7f && cp < 0xa0) ||
      /\p{Mn}|\p{Me}/u.test(ch) ||
      cp === 0x200b ||
      cp === 0x200d ||
      (cp >= 0xfe00 && cp <= 0xfe0f)
    )
      continue;
    w += isWide(cp) ? 2 : 1;
  }
  return w;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x1fa70 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Align tab-terminated columns exactly as docker's tables are (minwidth 10, padding 3, spaces). */
export function alignColumns(text: string): string {
  return new TabWriter(10, 1, 3, ' ').write(text).flush();
}

/** docker's format keywords. */
export const TABLE_FORMAT_KEY = 'table';
export const JSON_FORMAT_KEY = 'json';

/**
 * docker's formatter.Context.preFormat: strip a leading "table", map "json"
 * to `{{json .}}`, trim spaces, and turn the two-character sequences `\t` and
 * `\n` into a tab and a newline.
 */
export function preFormat(format: string): { template: string; isTable: boolean } {
  const isTable = format.startsWith(TABLE_FORMAT_KEY);
  let t = isTable ? format.slice(TABLE_FORMAT_KEY.length) : format === JSON_FORMAT_KEY ? '{{json .}}' : format;
  t = t.replace(/^ +| +$/g, '').replace(/\\([tn])/g, (_, c: string) => (c === 't' ? '\t' : '\n'));
  return { template: t, isTable };
}

function wrapTemplateError(e: unknown): Error {
  return invalid('template_format', `template parsing error: ${(e as Error).message}`, e);
}

/**
 * Render rows the way a docker `ls`-style command does for `--format`:
 * - undefined, "" or "table": `defaultTable` (itself a "table ..." format);
 * - "json": each row as compact JSON on its own line (keys sorted, <>&
 *   escaped, like docker's context MarshalJSON);
 * - "table TEMPLATE": a header row (TEMPLATE run against `headers`, which maps
 *   field names to header titles, with docker's header functions), then one
 *   line per row, columns aligned by the tabwriter;
 * - anything else: TEMPLATE run per row, one line each, no header/alignment.
 * Errors carry docker's prefix: `template parsing error: template: ...`.
 */
export function formatOutput(
  format: string | undefined,
  defaultTable: string,
  headers: Record<string, string>,
  rows: object[],
): string {
  const source = !format || format === TABLE_FORMAT_KEY ? defaultTable : format;
  const { template, isTable } = preFormat(source);
  const plain = plainFields(template, headers, rows);
  if (plain) {
    const line = (r: Record<string, string>) => plain.parts.map((p, i) => (i % 2 ? r[p] : p)).join('');
    const body = rows.map((r) => `${line(r as Record<string, string>)}\n`).join('');
    return isTable
      ? new TabWriter(10, 1, 3, ' ')
          .write(`${line(headers)}\n`)
          .write(body)
          .flush()
      : body;
  }
  let tmpl: Template;
  try {
    tmpl = parseTemplate(template);
  } catch (e) {
    throw wrapTemplateError(e);
  }
  let body = '';
  for (const row of rows) {
    try {
      body += `${tmpl.execute(markAsContext(row))}\n`;
    } catch (e) {
      throw wrapTemplateError(e);
    }
  }
  if (!isTable) return body;
  const header = tmpl.executePartial(headers, { funcs: HEADER_FUNCS }).output;
  return new TabWriter(10, 1, 3, ' ').write(`${header}\n`).write(body).flush();
}

/**
 * A template that only prints fields ("{{.ID}}\t{{.Image}}...", as the default tables), when every row and the
 * headers hold a string for each: its literal text and field names alternately (text first), or undefined. Such a
 * template prints the same as through the template engine, which a command then need not run (the parser and
 * executor run cold in a one-shot process: a few ms of a `ps`).
 */
function plainFields(
  template: string,
  headers: Record<string, string>,
  rows: object[],
): { parts: string[] } | undefined {
  const parts = template.split(/\{\{\.([A-Za-z][A-Za-z0-9]*)\}\}/);
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      if (parts[i]!.includes('{{')) return undefined;
      continue;
    }
    const f = parts[i]!;
    if (typeof headers[f] !== 'string') return undefined;
    for (const r of rows) if (typeof (r as Record<string, unknown>)[f] !== 'string') return undefined;
  }
  return { parts };
}
