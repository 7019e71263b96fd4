import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../../src/core/errors.js';
import { markAsContext, parseTemplate, renderTemplate } from '../../../src/cli/format/template.js';

interface Case {
  name: string;
  tpl: string;
  data?: unknown;
  want: string;
}

const ok: Case[] = [
  { name: 'text only', tpl: 'hello', want: 'hello' },
  { name: 'field', tpl: '{{.Name}}', data: { Name: 'x' }, want: 'x' },
  { name: 'nested field', tpl: '{{.A.B}}', data: { A: { B: 'c' } }, want: 'c' },
  { name: 'dot string', tpl: '{{.}}', data: 'str', want: 'str' },
  { name: 'dot int', tpl: '{{.}}', data: 42, want: '42' },
  { name: 'dot float', tpl: '{{.}}', data: 1.5, want: '1.5' },
  { name: 'float %v uses %g', tpl: '{{.}}', data: 1234567.5, want: '1.2345675e+06' },
  { name: 'missing key', tpl: '{{.Missing}}', data: {}, want: '<no value>' },
  { name: 'null is zero value', tpl: '[{{.Null}}]', data: { Null: null }, want: '[]' },
  { name: 'field through null', tpl: '{{.A.B}}', data: { A: null }, want: '<no value>' },
  { name: 'slice', tpl: '{{.L}}', data: { L: ['a', 'b', 'c'] }, want: '[a b c]' },
  { name: 'map sorted', tpl: '{{.M}}', data: { M: { b: 2, a: 'x' } }, want: 'map[a:x b:2]' },
  { name: 'nested nil', tpl: '{{.}}', data: { b: [1, null], a: { x: null } }, want: 'map[a:map[x:<nil>] b:[1 <nil>]]' },
  { name: 'bool', tpl: '{{.}}', data: true, want: 'true' },
  {
    name: 'date',
    tpl: '{{.T}}',
    data: { T: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) },
    want: '2024-01-02 03:04:05 +0000 UTC',
  },
  {
    name: 'json object',
    tpl: '{{json .}}',
    data: { B: 'x<y', A: [1, 2], C: null },
    want: '{"B":"x<y","A":[1,2],"C":null}',
  },
  { name: 'json field', tpl: '{{json .Name}}', data: { Name: 'x' }, want: '"x"' },
  { name: 'json missing', tpl: '{{json .Missing}}', data: {}, want: 'null' },
  {
    name: 'json Map sorts keys',
    tpl: '{{json .}}',
    data: new Map([
      ['b', 1],
      ['a', 2],
    ]),
    want: '{"a":2,"b":1}',
  },
  {
    name: 'json context',
    tpl: '{{json .}}',
    data: markAsContext({ Tag: '<none>', ID: 'abc' }),
    want: '{"ID":"abc","Tag":"\\u003cnone\\u003e"}',
  },
  { name: 'pipeline', tpl: '{{.Name | printf "%s!"}}', data: { Name: 'x' }, want: 'x!' },
  { name: 'pipeline chain', tpl: '{{.Name | upper | printf "%q"}}', data: { Name: 'x' }, want: '"X"' },
  { name: 'printf widths', tpl: '{{printf "%-6s|%6s|%.2s" "ab" "cd" "xyz"}}', want: 'ab    |    cd|xy' },
  {
    name: 'printf ints',
    tpl: `{{printf "%d %5d %-5d| %05d %x %X %o %b %c %q %U %#x %+d" 42 42 42 -42 255 255 8 5 65 65 65 255 3}}`,
    want: "42    42 42   | -0042 ff FF 10 101 A 'A' U+0041 0xff +3",
  },
  {
    name: 'printf %v',
    tpl: '{{printf "%v %v %v %v" 1.5 "s" true .L}}',
    data: { L: [1, 'a', null] },
    want: '1.5 s true [1 a <nil>]',
  },
  {
    name: 'printf floats',
    tpl: '{{printf "%.2f %e %g %.3g %8.3f|%-8.1f|" 3.14159 1234.5678 0.000012345 2.0 3.14159 2.25}}',
    want: '3.14 1.234568e+03 1.2345e-05 2    3.142|2.2     |',
  },
  { name: 'printf missing', tpl: '{{printf "%s %d"}}', want: '%!s(MISSING) %!d(MISSING)' },
  { name: 'printf bad verb type', tpl: '{{printf "%d|%s|%t" "x" 5 1}}', want: '%!d(string=x)|%!s(int=5)|%!t(int=1)' },
  { name: 'printf extra', tpl: '{{printf "a" 1 "b"}}', want: 'a%!(EXTRA int=1, string=b)' },
  { name: 'printf unknown verb', tpl: '{{printf "%z" 1}}', want: '%!z(int=1)' },
  { name: 'printf percent', tpl: '{{printf "100%%"}}', want: '100%' },
  { name: 'printf %q escapes', tpl: '{{printf "%q" "a\\"b\\n"}}', want: '"a\\"b\\n"' },
  { name: 'printf nil', tpl: '{{printf "%s|%v" .X .X}}', data: {}, want: '%!s(<nil>)|<nil>' },
  { name: 'println', tpl: '{{println "a" 1}}', want: 'a 1\n' },
  { name: 'print spacing', tpl: '{{print "a" 1 2 "b"}}', want: 'a1 2b' },
  { name: 'join', tpl: '{{join .L ","}}', data: { L: ['a', 'b'] }, want: 'a,b' },
  { name: 'split+join', tpl: '{{join (split "a:b:c" ":") "-"}} {{split "a:b" ":"}}', want: 'a-b-c [a b]' },
  {
    name: 'case funcs',
    tpl: '{{lower "ABC"}} {{upper "abc"}} {{title "hello wide_world foo-bar"}}',
    want: 'abc ABC Hello Wide_world Foo-Bar',
  },
  { name: 'simple case mapping', tpl: '{{upper "straße"}} {{title "émile"}}', want: 'STRAßE Émile' },
  {
    name: 'html/js/urlquery',
    tpl: String.raw`{{html "<a href='x'>&"}}|{{js "a'b\n<"}}|{{urlquery "a b&c/d"}}`,
    want: String.raw`&lt;a href=&#39;x&#39;&gt;&amp;|a\'b\u000A\u003C|a+b%26c%2Fd`,
  },
  { name: 'truncate', tpl: '{{truncate "abcdef" 3}}|{{truncate "ab" 3}}|{{truncate "abc" 3}}', want: 'abc|ab|abc' },
  { name: 'pad', tpl: '[{{pad "x" 2 1}}][{{pad "" 2 1}}]', want: '[  x ][]' },
  {
    name: 'index',
    tpl: '{{index .L 1}} {{index .M "k"}} {{index .N "a" 0}} [{{index .M "zz"}}] {{index "abc" 0}}',
    data: { L: ['a', 'b'], M: { k: 'v' }, N: { a: [7] } },
    want: 'b v 7 [] 97',
  },
  {
    name: 'len',
    tpl: '{{len .L}} {{len .M}} {{len "héllo"}} {{len .Null}}',
    data: { L: [1, 2], M: { a: 1 }, Null: null },
    want: '2 1 6 0',
  },
  { name: 'slice', tpl: '{{slice "abcdef" 1 3}} {{slice .L 1}}', data: { L: [1, 2, 3] }, want: 'bc [2 3]' },
  {
    name: 'and/or/not',
    tpl: '{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} [{{or 0 ""}}] {{not 0}} {{not "a"}}',
    want: '0 2 x [] true false',
  },
  { name: 'or short-circuits', tpl: '{{or .A (index .L 5)}}', data: { A: 'x', L: [] }, want: 'x' },
  {
    name: 'comparisons',
    tpl: '{{eq 1 1}} {{eq "a" "b" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}',
    want: 'true true true true true true false',
  },
  { name: 'eq nil', tpl: '{{if eq .N nil}}nil{{end}}', data: { N: null }, want: 'nil' },
  { name: 'if true', tpl: '{{if .A}}a{{else if .B}}b{{else}}c{{end}}', data: { A: 1, B: 1 }, want: 'a' },
  { name: 'else if', tpl: '{{if .A}}a{{else if .B}}b{{else}}c{{end}}', data: { A: 0, B: [1] }, want: 'b' },
  { name: 'else', tpl: '{{if .A}}a{{else if .B}}b{{else}}c{{end}}', data: { A: '', B: [] }, want: 'c' },
  { name: 'empty map is false', tpl: '{{if .M}}y{{else}}n{{end}}', data: { M: {} }, want: 'n' },
  { name: 'with', tpl: '{{with .A}}{{.B}}{{else}}none{{end}}', data: { A: { B: 'b' } }, want: 'b' },
  { name: 'with else', tpl: '{{with .A}}{{.B}}{{else}}none{{end}}', data: { A: null }, want: 'none' },
  { name: 'range', tpl: '{{range .L}}[{{.}}]{{end}}', data: { L: ['a', 'b'] }, want: '[a][b]' },
  {
    name: 'range index/elem',
    tpl: '{{range $i, $e := .L}}{{$i}}={{$e}},{{end}}',
    data: { L: ['a', 'b'] },
    want: '0=a,1=b,',
  },
  { name: 'range one var', tpl: '{{range $e := .L}}{{$e}}{{end}}', data: { L: ['a', 'b'] }, want: 'ab' },
  {
    name: 'range map',
    tpl: '{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}',
    data: { M: { b: 2, a: 1 } },
    want: 'a=1;b=2;',
  },
  {
    name: 'range Map',
    tpl: '{{range $k, $v := .}}{{$k}}={{$v}};{{end}}',
    data: new Map([
      ['y', 1],
      ['x', 2],
    ]),
    want: 'x=2;y=1;',
  },
  { name: 'range else', tpl: '{{range .L}}x{{else}}empty{{end}}', data: { L: [] }, want: 'empty' },
  { name: 'range null', tpl: '{{range .L}}x{{else}}empty{{end}}', data: { L: null }, want: 'empty' },
  { name: 'range int', tpl: '{{range 3}}{{.}}{{end}}', want: '012' },
  {
    name: 'break/continue',
    tpl: '{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}',
    data: { L: [1, 2, 3, 4, 5] },
    want: '13',
  },
  { name: 'variables', tpl: '{{$x := .A}}{{$x}}{{$x = "z"}}{{$x}}', data: { A: 'a' }, want: 'az' },
  { name: 'variable scope', tpl: '{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}', want: '21' },
  { name: 'root var', tpl: '{{range .L}}{{$.P}}{{.}}{{end}}', data: { P: '-', L: ['a', 'b'] }, want: '-a-b' },
  { name: 'var field', tpl: '{{$c := .C}}{{$c.N}}', data: { C: { N: 'n' } }, want: 'n' },
  { name: 'trim markers', tpl: 'a  {{- "b" -}}  \n c', want: 'abc' },
  { name: 'comment', tpl: 'x {{/* c */}} y|x {{- /* c */ -}} y', want: 'x  y|xy' },
  {
    name: 'literals',
    tpl: '{{"s"}} {{`raw`}} {{1}} {{-2}} {{0x10}} {{1_000}} {{true}} {{\'a\'}} {{1.5}} {{"a\\tb"}}',
    want: 's raw 1 -2 16 1000 true 97 1.5 a\tb',
  },
  { name: 'paren args', tpl: '{{printf "%s-%s" (upper .A) (lower "X")}}', data: { A: 'a' }, want: 'A-x' },
  { name: 'paren chain', tpl: '{{(index .L 0).Name}}', data: { L: [{ Name: 'n' }] }, want: 'n' },
  { name: 'method with args', tpl: '{{.Label "k"}}', data: { Label: (k: string) => `L:${k}` }, want: 'L:k' },
  { name: 'method via pipe', tpl: '{{"k" | .Label}}', data: { Label: (k: string) => `L:${k}` }, want: 'L:k' },
  {
    name: 'class getter',
    tpl: '{{.Size}}',
    data: new (class {
      get Size() {
        return '1kB';
      }
    })(),
    want: '1kB',
  },
  { name: 'Map field', tpl: '{{.M.k}}', data: { M: new Map([['k', 'v']]) }, want: 'v' },
  {
    name: 'class getters in json/range/len (docker-style contexts)',
    tpl: '{{json .}} {{range $k, $v := .}}{{$k}}={{$v}};{{end}} {{len .}} {{if .}}t{{end}}',
    data: new (class {
      ID = 'i';
      get Size() {
        return '1kB';
      }
      label() {
        return 'x';
      }
    })(),
    want: '{"ID":"i","Size":"1kB"} ID=i;Size=1kB; 2 t',
  },
];

test('template execution', async (t) => {
  for (const c of ok) {
    await t.test(c.name, () => assert.equal(renderTemplate(c.tpl, c.data ?? {}), c.want));
  }
});

test('parse once, execute many', () => {
  const tmpl = parseTemplate('{{.A}}-');
  assert.equal(tmpl.execute({ A: 1 }) + tmpl.execute({ A: 2 }), '1-2-');
});

const parseErrors: [string, string][] = [
  ['{{foo}}', 'template: :1: function "foo" not defined'],
  ['line1\n{{foo}}', 'template: :2: function "foo" not defined'],
  ['{{.A', 'template: :1: unclosed action'],
  ['{{if .A}}x', 'template: :1: unexpected EOF'],
  ['{{end}}', 'template: :1: unexpected {{end}}'],
  ['{{else}}', 'template: :1: unexpected {{else}}'],
  ['{{$x}}', 'template: :1: undefined variable "$x"'],
  ['{{"abc}}', 'template: :1: unterminated quoted string'],
  ['{{.A | "x"}}', 'template: :1: non executable command in pipeline stage 2'],
  ['{{if}}{{end}}', 'template: :1: missing value for if'],
  ['{{}}', 'template: :1: missing value for command'],
  ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
  ['{{.A #}}', "template: :1: unrecognized character in action: U+0023 '#'"],
  ['{{(.A}}', 'template: :1: unclosed left paren'],
  ['{{.A)}}', 'template: :1: unexpected right paren'],
  ['{{range $a, $b, $c := .L}}{{end}}', 'template: :1: too many declarations in range'],
  ['{{3.X}}', 'template: :1: bad number syntax: "3.X"'],
  ['{{"a".X}}', 'template: :1: unexpected . after term "\\"a\\""'],
  ['{{/* x }}', 'template: :1: unclosed comment'],
];

test('parse errors', async (t) => {
  for (const [tpl, msg] of parseErrors) {
    await t.test(tpl, () => {
      assert.throws(
        () => parseTemplate(tpl),
        (e: unknown) => {
          assert.ok(e instanceof BerthError);
          assert.equal(e.kind, 'InvalidArgument');
          assert.equal(e.code, 'template_parse');
          assert.equal(e.message, msg);
          return true;
        },
      );
    });
  }
});

const execErrors: [string, unknown, string][] = [
  ['{{.A.B}}', { A: 's' }, 'template: :1:4: executing "" at <.A.B>: can\'t evaluate field B in type string'],
  [
    '{{index .L 5}}',
    { L: [1] },
    'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5',
  ],
  ['{{upper 3}}', {}, 'template: :1:8: executing "" at <3>: expected string; found 3'],
  ['{{upper .N}}', { N: 3 }, 'template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int'],
  ['{{upper .X}}', {}, 'template: :1:8: executing "" at <.X>: invalid value; expected string'],
  [
    '{{upper "a" "b"}}',
    {},
    'template: :1:2: executing "" at <upper "a" "b">: wrong number of args for upper: want 1 got 2',
  ],
  ['{{.A 1}}', { A: 'x' }, 'template: :1:2: executing "" at <.A>: A is not a method but has arguments'],
  ['{{$x := 1}}{{$x 2}}', {}, 'template: :1:13: executing "" at <$x>: can\'t give argument to non-function $x'],
  ['{{range .S}}{{end}}', { S: 'str' }, 'template: :1:8: executing "" at <.S>: range can\'t iterate over str'],
  [
    '{{lt true false}}',
    {},
    'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison',
  ],
  [
    '{{eq 1 "a"}}',
    {},
    'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison',
  ],
  ['{{len 3}}', {}, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'],
  [
    '{{index .LongListName 100000}}',
    { LongListName: [] },
    'template: :1:2: executing "" at <index .LongListName ...>: error calling index: index out of range: 100000',
  ],
  ['x\n  {{.A.B}}', { A: 1 }, 'template: :2:6: executing "" at <.A.B>: can\'t evaluate field B in type int'],
];

test('execution errors', async (t) => {
  for (const [tpl, data, msg] of execErrors) {
    await t.test(tpl, () => {
      assert.throws(
        () => renderTemplate(tpl, data),
        (e: unknown) => {
          assert.ok(e instanceof BerthError);
          assert.equal(e.kind, 'InvalidArgument');
          assert.equal(e.code, 'template_exec');
          assert.equal(e.message, msg);
          return true;
        },
      );
    });
  }
});

test('missingkey=error', () => {
  assert.throws(() => renderTemplate('{{.X}}', {}, { missingKey: 'error' }), {
    message: 'template: :1:2: executing "" at <.X>: map has no entry for key "X"',
  });
});

test('template name appears in errors', () => {
  assert.throws(() => parseTemplate('{{foo}}', { name: 'inspect' }), {
    message: 'template: inspect:1: function "foo" not defined',
  });
});

test('custom functions and execute-time overrides', () => {
  const tmpl = parseTemplate('{{shout .A}}', { funcs: { shout: (s: unknown) => `${String(s)}!` } });
  assert.equal(tmpl.execute({ A: 'hi' }), 'hi!');
  assert.equal(tmpl.execute({ A: 'hi' }, { funcs: { shout: () => 'overridden' } }), 'overridden');
});

test('executePartial keeps output written before the error', () => {
  const r = parseTemplate('a{{.A.B}}b').executePartial({ A: 1 });
  assert.equal(r.output, 'a');
  assert.ok(r.error instanceof BerthError);
});
