import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TabWriter, formatOutput, preFormat } from '../../../src/cli/format/table.js';
import { HEADER_FUNCS, markAsContext, parseTemplate } from '../../../src/cli/format/template.js';

/** formatOutput through the template engine only (what the plain-field path must print the same as). */
function viaTemplate(format: string, headers: Record<string, string>, rows: object[]): string {
  const { template, isTable } = preFormat(format);
  const t = parseTemplate(template);
  const body = rows.map((r) => `${t.execute(markAsContext(r))}\n`).join('');
  if (!isTable) return body;
  const header = t.executePartial(headers, { funcs: HEADER_FUNCS }).output;
  return new TabWriter(10, 1, 3, ' ').write(`${header}\n`).write(body).flush();
}

const headers = { ID: 'CONTAINER ID', Image: 'IMAGE', Names: 'NAMES', Status: 'STATUS' };
const rows = [
  { ID: 'c3777d154c69', Image: 'bench/bbx:latest', Names: 'a-very-long-container-name', Status: 'Created' },
  { ID: 'fb4891ab279c', Image: 'busybox', Names: 'x', Status: 'Exited (0) 3 minutes ago' },
  { ID: '0123456789ab', Image: 'ünïcode/名前:tag', Names: '', Status: '}} literal' },
];

test('field-only templates print as through the template engine (tables, plain lines, literal text)', () => {
  for (const format of [
    'table {{.ID}}\t{{.Image}}\t{{.Status}}\t{{.Names}}',
    'table {{.ID}}\\t{{.Names}}',
    '{{.ID}} {{.Names}}',
    '{{.ID}}: {{.Status}} }} [{{.Image}}]',
    'just text',
    'table   {{.Names}}   ',
  ])
    assert.equal(formatOutput(format, '', headers, rows), viaTemplate(format, headers, rows), format);
  // the default table when no --format is given
  const def = 'table {{.ID}}\t{{.Image}}\t{{.Status}}';
  assert.equal(formatOutput(undefined, def, headers, rows), viaTemplate(def, headers, rows));
  assert.equal(formatOutput(undefined, def, headers, []), viaTemplate(def, headers, []));
});

test('templates that are more than fields, or fields without a string, still go through the template engine', () => {
  assert.equal(formatOutput('{{.ID | upper}}', '', headers, rows), 'C3777D154C69\nFB4891AB279C\n0123456789AB\n');
  assert.equal(formatOutput('{{json .Names}}', '', headers, rows.slice(0, 1)), '"a-very-long-container-name"\n');
  // a field no row has: Go's "<no value>", as before
  assert.equal(
    formatOutput('{{.Missing}}', '', headers, rows.slice(0, 1)),
    viaTemplate('{{.Missing}}', headers, rows.slice(0, 1)),
  );
  const numbers = [{ ID: 'x', N: 3 }];
  assert.equal(formatOutput('{{.ID}} {{.N}}', '', { ID: 'ID', N: 'N' }, numbers), 'x 3\n');
});
