import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../../src/core/errors.js';
import {
  alignColumns,
  displayWidth,
  formatOutput,
  preFormat,
  TabWriter,
  type TabWriterFlags,
} from '../../../src/cli/format/table.js';

const runes = (s: string) => [...s].length;

// Cases from Go's src/text/tabwriter/tabwriter_test.go (those not using
// escapes or FilterHTML). Go's stock tabwriter counts runes, so `measure: runes`.
const goCases: [string, number, number, number, string, TabWriterFlags, string, string][] = [
  ['2', 8, 0, 1, '.', {}, '\n\n\n', '\n\n\n'],
  ['3', 8, 0, 1, '.', {}, 'a\nb\nc', 'a\nb\nc'],
  ['4a', 8, 0, 1, '.', {}, '\t', ''],
  ['4b', 8, 0, 1, '.', { alignRight: true }, '\t', ''],
  ['5', 8, 0, 1, '.', {}, '*\t*', '*.......*'],
  ['5b', 8, 0, 1, '.', {}, '*\t*\n', '*.......*\n'],
  ['5c', 8, 0, 1, '.', {}, '*\t*\t', '*.......*'],
  ['5c debug', 8, 0, 1, '.', { debug: true }, '*\t*\t', '*.......|*'],
  ['5d', 8, 0, 1, '.', { alignRight: true }, '*\t*\t', '.......**'],
  ['6', 8, 0, 1, '.', {}, '\t\n', '........\n'],
  ['7a', 8, 0, 1, '.', {}, 'a) foo', 'a) foo'],
  ['7b', 8, 0, 1, ' ', {}, 'b) foo\tbar', 'b) foo  bar'],
  ['7c', 8, 0, 1, '.', {}, 'c) foo\tbar\t', 'c) foo..bar'],
  ['7d', 8, 0, 1, '.', {}, 'd) foo\tbar\n', 'd) foo..bar\n'],
  ['7e', 8, 0, 1, '.', {}, 'e) foo\tbar\t\n', 'e) foo..bar.....\n'],
  ['8', 8, 0, 1, '*', {}, 'Hello, world!\n', 'Hello, world!\n'],
  ['9a', 1, 0, 0, '.', {}, '1\t2\t3\t4\n11\t222\t3333\t44444\n', '1.2..3...4\n11222333344444\n'],
  ['9c', 1, 0, 0, '.', {}, '1\t2\t3\t4\f11\t222\t3333\t44444\n', '1234\n11222333344444\n'],
  [
    '9c debug',
    1,
    0,
    0,
    '.',
    { debug: true },
    '1\t2\t3\t4\f11\t222\t3333\t44444\n',
    '1|2|3|4\n---\n11|222|3333|44444\n',
  ],
  ['10a', 5, 0, 0, '.', {}, '1\t2\t3\t4\n', '1....2....3....4\n'],
  ['10b', 5, 0, 0, '.', {}, '1\t2\t3\t4\t\n', '1....2....3....4....\n'],
  [
    '11',
    8,
    0,
    1,
    '.',
    {},
    '本\tb\tc\naa\t本本本\tcccc\tddddd\naaa\tbbbb\n',
    '本.......b.......c\naa......本本本.....cccc....ddddd\naaa.....bbbb\n',
  ],
  [
    '12a',
    8,
    0,
    1,
    ' ',
    { alignRight: true },
    'a\tè\tc\t\naa\tèèè\tcccc\tddddd\t\naaa\tèèèè\t\n',
    '       a       è       c\n      aa     èèè    cccc   ddddd\n     aaa    èèèè\n',
  ],
  ['12b', 2, 0, 0, ' ', {}, 'a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n', 'a  b  c\naa bbbcccc\naaabbbb\n'],
  [
    '12c',
    8,
    0,
    1,
    '_',
    {},
    'a\tb\tc\naa\tbbb\tcccc\naaa\tbbbb\n',
    'a_______b_______c\naa______bbb_____cccc\naaa_____bbbb\n',
  ],
  [
    '13a',
    4,
    0,
    1,
    '-',
    {},
    '4444\t日本語\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n',
    '4444------日本語-22--1---333\n999999999-22\n7---------22\n------------------88888888\n\n666666-666666-666666----4444\n1------1------999999999-0000000000\n',
  ],
  [
    '13b',
    4,
    0,
    3,
    '.',
    {},
    '4444\t333\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n',
    '4444........333...22...1...333\n999999999...22\n7...........22\n....................88888888\n\n666666...666666...666666......4444\n1........1........999999999...0000000000\n',
  ],
  [
    '14',
    1,
    0,
    2,
    ' ',
    { alignRight: true },
    '.0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t',
    '    .0          .3    2.4    -5.1\n  23.0  12345678.9    2.4  -989.4\n   5.1        12.0    2.4    -7.0\n    .0         0.0  332.0  8908.0\n    .0         -.3  456.4    22.1\n    .0         1.2   44.4   -13.3',
  ],
  ['15a', 4, 0, 0, '.', {}, 'a\t\tb', 'a.......b'],
  ['15b', 4, 0, 0, '.', { discardEmptyColumns: true }, 'a\t\tb', 'a.......b'],
  ['15c', 4, 0, 0, '.', { discardEmptyColumns: true }, 'a\v\vb', 'a...b'],
  ['15d', 4, 0, 0, '.', { alignRight: true, discardEmptyColumns: true }, 'a\v\vb', '...ab'],
  [
    '16a',
    100,
    100,
    0,
    '\t',
    {},
    'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
    'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
  ],
  [
    '16b',
    100,
    100,
    0,
    '\t',
    { discardEmptyColumns: true },
    'a\vb\v\vd\na\vb\v\vd\ve\na\na\vb\vc\vd\na\vb\vc\vd\ve\n',
    'a\tb\td\na\tb\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
  ],
  [
    '16b debug',
    100,
    100,
    0,
    '\t',
    { discardEmptyColumns: true, debug: true },
    'a\vb\v\vd\na\vb\v\vd\ve\na\na\vb\vc\vd\na\vb\vc\vd\ve\n',
    'a\t|b\t||d\na\t|b\t||d\t|e\na\na\t|b\t|c\t|d\na\t|b\t|c\t|d\t|e\n',
  ],
  [
    '16c debug',
    100,
    100,
    0,
    '\t',
    { discardEmptyColumns: true, debug: true },
    'a\tb\t\td\na\tb\t\td\te\na\na\tb\tc\td\na\tb\tc\td\te\n',
    'a\t|b\t|\t|d\na\t|b\t|\t|d\t|e\na\na\t|b\t|c\t|d\na\t|b\t|c\t|d\t|e\n',
  ],
];

test('tabwriter matches Go text/tabwriter tests', async (t) => {
  for (const [name, minw, tabw, pad, padchar, flags, src, want] of goCases) {
    await t.test(name, () => {
      const f = { ...flags, measure: runes };
      assert.equal(new TabWriter(minw, tabw, pad, padchar, f).write(src).flush(), want, 'all at once');
      const w = new TabWriter(minw, tabw, pad, padchar, f);
      for (const ch of src) w.write(ch);
      assert.equal(w.flush(), want, 'char by char');
    });
  }
});

test('display width follows go-runewidth (docker fork)', () => {
  assert.equal(displayWidth('abc'), 3);
  assert.equal(displayWidth('日本語'), 6);
  assert.equal(displayWidth('e\u0301'), 1);
  assert.equal(alignColumns('日本語日本語\tx\nA\tB\n'), '日本語日本語   x\nA              B\n');
});

const images =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const imageHeaders = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  CreatedSince: 'CREATED',
  Size: 'SIZE',
  Digest: 'DIGEST',
};
const imageRows = [
  {
    Repository: 'alpine',
    Tag: 'latest',
    ID: 'a606584aa9aa',
    CreatedSince: '2 weeks ago',
    Size: '7.8MB',
    Digest: '<none>',
  },
  { Repository: '<none>', Tag: '<none>', ID: '0123456789ab', CreatedSince: '', Size: '0B', Digest: '<none>' },
];

interface OutCase {
  name: string;
  format: string | undefined;
  rows?: object[];
  want: string;
}

const outCases: OutCase[] = [
  {
    name: 'default table (docker images)',
    format: undefined,
    want:
      'REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n' +
      'alpine       latest    a606584aa9aa   2 weeks ago   7.8MB\n' +
      '<none>       <none>    0123456789ab   N/A           0B\n',
  },
  {
    name: '"table" alone is the default',
    format: 'table',
    rows: [],
    want: 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n',
  },
  {
    name: 'empty string is the default',
    format: '',
    rows: [],
    want: 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n',
  },
  {
    name: 'custom table with \\t escapes',
    format: 'table {{.Repository}}\\t{{.Tag}}',
    want: 'REPOSITORY   TAG\nalpine       latest\n<none>       <none>\n',
  },
  {
    name: 'header functions leave titles intact',
    format: 'table {{upper .Repository}}\t{{json .Size}}\t{{truncate .Tag 2}}',
    rows: [imageRows[0]!],
    want: 'REPOSITORY   SIZE      TAG\nALPINE       "7.8MB"   la\n',
  },
  {
    name: 'header execution errors are ignored (docker keeps partial output)',
    format: 'table {{.Tag}}\t{{json .}}',
    rows: [{ Tag: 'x' }],
    want: 'TAG       \nx         {"Tag":"x"}\n',
  },
  {
    name: 'raw template: no header, no alignment',
    format: '{{.Repository}}:{{.Tag}}',
    want: 'alpine:latest\n<none>:<none>\n',
  },
  {
    name: 'raw template: \\t and \\n escapes',
    format: ' {{.Tag}}\\t{{.Size}}\\n ',
    want: 'latest\t7.8MB\n\n<none>\t0B\n\n',
  },
  {
    name: 'json: sorted keys, HTML-escaped like docker',
    format: 'json',
    rows: [{ Tag: '<none>', ID: 'a', Size: '1kB' }],
    want: '{"ID":"a","Size":"1kB","Tag":"\\u003cnone\\u003e"}\n',
  },
  {
    name: '{{json .}} is the same as json',
    format: '{{json .}}',
    rows: [{ b: 1, a: '&' }],
    want: '{"a":"\\u0026","b":1}\n',
  },
  { name: 'no rows, raw template', format: '{{.ID}}', rows: [], want: '' },
];

test('formatOutput', async (t) => {
  for (const c of outCases) {
    await t.test(c.name, () => assert.equal(formatOutput(c.format, images, imageHeaders, c.rows ?? imageRows), c.want));
  }
});

test('formatOutput wraps template errors like docker', () => {
  const check = (format: string, rows: object[], msg: string) =>
    assert.throws(
      () => formatOutput(format, images, imageHeaders, rows),
      (e: unknown) => {
        assert.ok(e instanceof BerthError);
        assert.equal(e.kind, 'InvalidArgument');
        assert.equal(e.message, msg);
        return true;
      },
    );
  check('{{foo}}', [], 'template parsing error: template: :1: function "foo" not defined');
  check(
    'table {{.A.B}}',
    [{ A: 's' }],
    'template parsing error: template: :1:4: executing "" at <.A.B>: can\'t evaluate field B in type string',
  );
});

test('preFormat', () => {
  assert.deepEqual(preFormat('table  {{.A}}\\t{{.B}} '), { template: '{{.A}}\t{{.B}}', isTable: true });
  assert.deepEqual(preFormat('json'), { template: '{{json .}}', isTable: false });
  assert.deepEqual(preFormat('{{.A}}\\\\t'), { template: '{{.A}}\\\t', isTable: false });
});
