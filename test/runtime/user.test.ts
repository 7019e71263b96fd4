import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { checkUserSpec, MAX_ID, parseId, resolveUser } from '../../src/runtime/user.js';
import { BerthError } from '../../src/core/errors.js';

// -u and an image's User as Docker reads them (moby/sys/user): numbers are ids in 0..2^31-1, never passed on beyond
// that.
const root = fs.mkdtempSync(`${os.tmpdir()}/berth-user-`);
fs.mkdirSync(`${root}/etc`);
fs.writeFileSync(
  `${root}/etc/passwd`,
  [
    'root:x:0:0:root:/root:/bin/sh',
    'app:x:1000:1000:app:/home/app:/bin/sh',
    'big:x:3000000000:3000000000::/big:/bin/sh', // the kernel's range, not Docker's
    'huge:x:4294967295:0::/huge:/bin/sh', // (uid_t)-1: skipped as libc skips it
  ].join('\n'),
);
fs.writeFileSync(`${root}/etc/group`, ['root:x:0:', 'app:x:1000:', 'staff:x:50:app', 'wide:x:2147483648:'].join('\n'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const RANGE = /^uids and gids must be in range 0-2147483647$/;
const rangeError = (err: unknown) =>
  err instanceof BerthError &&
  err.kind === 'InvalidArgument' &&
  err.code === 'id_out_of_range' &&
  RANGE.test(err.message);

test('parseId: Go Atoi numbers are ids in 0..2^31-1; anything else is a name', () => {
  const ids: Array<[string, number]> = [
    ['0', 0],
    ['007', 7],
    ['+5', 5],
    ['-0', 0],
    ['2147483647', MAX_ID],
  ];
  for (const [s, n] of ids) assert.equal(parseId(s), n, s);
  for (const s of ['', 'app', '1a', '0x10', ' 1', '1 ', '1e3', '١'])
    assert.equal(parseId(s), undefined, JSON.stringify(s));
  for (const s of [
    '2147483648',
    '4294967294',
    '4294967295',
    '4294967296',
    '-1',
    '-2147483648',
    '99999999999999999999999999',
  ]) {
    assert.throws(() => parseId(s), rangeError, s);
  }
});

test('checkUserSpec refuses an out-of-range id in the user, the group or --group-add, and nothing else', () => {
  const refused: Array<[string | undefined, string[]]> = [
    ['4294967296', []],
    ['2147483648', []],
    ['-1', []],
    ['app:4294967295', []],
    ['1:-3', []],
    ['0', ['2147483648']],
    [undefined, ['app', '-5']],
  ];
  for (const [spec, add] of refused) assert.throws(() => checkUserSpec(spec, add), rangeError, `${spec} ${add}`);
  const accepted: Array<[string | undefined, string[]]> = [
    [undefined, []],
    ['', []],
    ['nosuchuser', []],
    ['app:nogroup', []],
    ['2147483647:2147483647', ['0', 'staff']],
    [':', []],
  ];
  for (const [spec, add] of accepted) assert.doesNotThrow(() => checkUserSpec(spec, add), `${spec} ${add}`);
});

test('resolveUser: in-range ids, names from the files; out of range refused before the files are read', () => {
  const cases: Array<
    [string | undefined, string[], { uid: number; gid: number; home: string; additionalGids: number[] }]
  > = [
    [undefined, [], { uid: 0, gid: 0, home: '/root', additionalGids: [0] }],
    ['app', [], { uid: 1000, gid: 1000, home: '/home/app', additionalGids: [1000, 50] }],
    ['+1000', [], { uid: 1000, gid: 1000, home: '/home/app', additionalGids: [1000, 50] }],
    ['2147483647:2147483647', ['staff', '7'], { uid: MAX_ID, gid: MAX_ID, home: '/', additionalGids: [50, 7] }],
    // a name whose passwd entry has a larger id: Docker passes it on (only what the user typed is range-checked)
    ['big', [], { uid: 3000000000, gid: 3000000000, home: '/big', additionalGids: [] }],
  ];
  for (const [spec, add, want] of cases) assert.deepEqual(resolveUser(root, spec, add), want, `${spec} ${add}`);
  for (const [spec, add] of [
    ['4294967296', []],
    ['app:2147483648', []],
    ['0', ['-1']],
    ['app', ['wide']],
  ] as Array<[string, string[]]>) {
    assert.throws(() => resolveUser(root, spec, add), rangeError, `${spec} ${add}`);
  }
  assert.throws(() => resolveUser(root, 'huge'), /unable to find user huge: no matching entries in passwd file/);
  // a range error wins over a missing file, as Docker checks the spec first
  assert.throws(() => resolveUser(`${root}/nonexistent`, 'nosuch:4294967296'), rangeError);
});
