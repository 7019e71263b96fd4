import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BerthError,
  KINDS,
  conflict,
  corrupt,
  exitCodeOf,
  forbidden,
  httpStatusOf,
  invalid,
  kindOfErrno,
  notFound,
  notImplemented,
  toBerthError,
  unavailable,
  unsupported,
  wrap,
  type ErrorKind,
} from '../../src/core/errors.js';
import { berth } from '../helpers/berth.js';

// moby's errdefs -> httpstatus, and the docker CLI's exit 1 for a daemon error (0 for a 304)
const expected: [ErrorKind, number, number][] = [
  ['NotFound', 404, 1],
  ['Conflict', 409, 1],
  ['InvalidArgument', 400, 1],
  ['Forbidden', 403, 1],
  ['Unauthorized', 401, 1],
  ['Unavailable', 503, 1],
  ['NotImplemented', 501, 1],
  ['NotModified', 304, 0],
  ['Corrupt', 500, 1],
  ['Internal', 500, 1],
];

test('every kind has the HTTP status and exit code Docker gives it, and the table has no other kind', () => {
  assert.deepEqual(Object.keys(KINDS).sort(), expected.map(([k]) => k).sort());
  for (const [kind, http, exit] of expected) {
    const err = new BerthError(kind, 'x', 'x');
    assert.equal(httpStatusOf(err), http, kind);
    assert.equal(exitCodeOf(err), exit, kind);
  }
});

test('a raw Error, a string or undefined counts as Internal (500, exit 1)', () => {
  for (const thrown of [new TypeError('boom'), 'boom', undefined, null, 42]) {
    assert.equal(httpStatusOf(thrown), 500);
    assert.equal(exitCodeOf(thrown), 1);
  }
});

test('the helpers make their kinds; unsupported is NotImplemented', () => {
  const cases: [BerthError, ErrorKind][] = [
    [notFound('a', 'm'), 'NotFound'],
    [invalid('a', 'm'), 'InvalidArgument'],
    [conflict('a', 'm'), 'Conflict'],
    [forbidden('a', 'm'), 'Forbidden'],
    [unavailable('a', 'm'), 'Unavailable'],
    [notImplemented('a', 'm'), 'NotImplemented'],
    [unsupported('a', 'm'), 'NotImplemented'],
    [corrupt('a', 'm'), 'Corrupt'],
  ];
  for (const [err, kind] of cases) {
    assert.equal(err.kind, kind);
    assert.equal(err.code, 'a');
    assert.equal(err.message, 'm');
  }
  const cause = new Error('under');
  assert.equal(notFound('a', 'm', cause).cause, cause);
});

test('errno codes map to kinds; EPERM and EACCES are Forbidden, never Unauthorized', () => {
  const table: [string | undefined, ErrorKind][] = [
    ['ENOENT', 'NotFound'],
    ['ESRCH', 'NotFound'],
    ['EEXIST', 'Conflict'],
    ['ENOTEMPTY', 'Conflict'],
    ['EBUSY', 'Conflict'],
    ['EINVAL', 'InvalidArgument'],
    ['ENOTDIR', 'InvalidArgument'],
    ['EISDIR', 'InvalidArgument'],
    ['ELOOP', 'InvalidArgument'],
    ['EPERM', 'Forbidden'],
    ['EACCES', 'Forbidden'],
    ['EROFS', 'Forbidden'],
    ['ENOSPC', 'Unavailable'],
    ['EMFILE', 'Unavailable'],
    ['ECONNREFUSED', 'Unavailable'],
    ['ENOSYS', 'NotImplemented'],
    ['EOPNOTSUPP', 'NotImplemented'],
    ['EIO', 'Internal'],
    ['EWHATEVER', 'Internal'],
    // names of Object.prototype are not errno codes
    ['constructor', 'Internal'],
    ['toString', 'Internal'],
    [undefined, 'Internal'],
  ];
  for (const [code, kind] of table) {
    assert.equal(kindOfErrno(code), kind, String(code));
    const e = Object.assign(new Error(`${code}: something`), { code });
    assert.equal(wrap('do "x"', e).kind, kind, String(code));
  }
});

test('wrap keeps the kind and code of what real syscalls throw and puts the action first', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-errors-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'file'), 'x');
  const cases: [() => unknown, ErrorKind, string][] = [
    [() => fs.readFileSync(path.join(dir, 'absent')), 'NotFound', 'ENOENT'],
    [() => fs.mkdirSync(dir), 'Conflict', 'EEXIST'],
    [() => fs.readdirSync(path.join(dir, 'file')), 'InvalidArgument', 'ENOTDIR'],
    [() => fs.writeFileSync(dir, 'x'), 'InvalidArgument', 'EISDIR'],
    [() => fs.rmdirSync(os.tmpdir()), 'Conflict', 'ENOTEMPTY'],
  ];
  for (const [op, kind, code] of cases) {
    let caught: unknown;
    try {
      op();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught, `${code} was thrown`);
    const err = wrap(`open store "${dir}"`, caught);
    assert.equal(err.kind, kind);
    assert.equal(err.code, code);
    assert.ok(err.message.startsWith(`open store "${dir}": ${code}`), err.message);
    assert.equal(err.cause, caught);
  }
});

test('wrap of a BerthError prefixes the action and keeps kind, code and the original as cause', () => {
  const inner = corrupt('layer_digest', 'verify layer "sha256:ab": digest mismatch');
  const outer = wrap('load "image.tar"', inner);
  assert.equal(outer.kind, 'Corrupt');
  assert.equal(outer.code, 'layer_digest');
  assert.equal(outer.message, 'load "image.tar": verify layer "sha256:ab": digest mismatch');
  assert.equal(outer.cause, inner);
});

test('toBerthError: no raw error reaches a user', () => {
  const own = conflict('name_in_use', 'the name "web" is in use');
  assert.equal(toBerthError('berth run', own), own);

  const bug = new TypeError("Cannot read properties of undefined (reading 'Id')");
  const internal = toBerthError('berth ps', bug);
  assert.equal(internal.kind, 'Internal');
  assert.equal(internal.code, 'internal');
  assert.equal(internal.message, `berth ps: internal error: TypeError: ${bug.message}`);
  assert.equal(internal.cause, bug, 'the stack stays reachable for BERTH_DEBUG');

  const eperm = Object.assign(new Error("EPERM: operation not permitted, mount '/x'"), { code: 'EPERM' });
  const forbid = toBerthError('berth run', eperm);
  assert.equal(forbid.kind, 'Forbidden');
  assert.equal(forbid.message, `berth run: ${eperm.message}`);
  assert.equal(forbid.code, 'EPERM');

  const odd = toBerthError('berth rm', 'a thrown string');
  assert.equal(odd.kind, 'Internal');
  assert.equal(odd.message, 'berth rm: internal error: a thrown string');
});

test('the CLI prints a raw errno error as one line naming the action, the stack only with BERTH_DEBUG', () => {
  // a data root that is a file: opening the store fails inside Node's fs, not in berth's code
  const plain = berth('/etc/passwd', ['ps']);
  assert.equal(plain.code, 1);
  assert.match(
    plain.stderr,
    /^Error response from berth: open data root "\/etc\/passwd": E[A-Z]+: [^\n]*'\/etc\/passwd[^\n]*'\n$/,
  );
  const debug = berth('/etc/passwd', ['ps'], { env: { BERTH_DEBUG: '1' } });
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /^Error response from berth: open data root "\/etc\/passwd": E[A-Z]+: /);
  assert.match(debug.stderr, /\n\s+at /, 'the stack is shown');
});
