import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/core/errors.js';
import { BLOCK, encodeHeader, parseNumeric, parsePax, type TarHeader } from '../../src/archive/tar-header.js';
import { TarParser, type TarParserOptions } from '../../src/archive/tar-parser.js';
import {
  EOA,
  MTIME,
  base256,
  buildTar,
  entryBytes,
  gnuLong,
  header,
  padded,
  paxHeader,
  paxRecord,
  rawBlock,
  rawEntry,
  type Entry,
} from '../helpers/tarbuild.js';

// ---- a recording visitor ------------------------------------------------------------------------

type Ev = { ev: 'raw'; data: Buffer } | { ev: 'entry'; h: TarHeader } | { ev: 'body'; data: Buffer } | { ev: 'end' };

interface Parsed {
  events: Ev[];
  /** Every byte handed to raw() or body(), in order. */
  bytes: Buffer;
  entries: Array<{ h: TarHeader; body: Buffer }>;
}

/** Parse `buf` fed in `chunk`-byte pieces (whole when omitted); adjacent raw/body pieces are merged. */
function parse(buf: Buffer, chunk = buf.length || 1, opts: TarParserOptions = {}): Parsed {
  const events: Ev[] = [];
  const all: Buffer[] = [];
  const push = (ev: 'raw' | 'body', data: Buffer) => {
    all.push(Buffer.from(data));
    const last = events[events.length - 1];
    if (last && last.ev === ev) last.data = Buffer.concat([last.data, data]);
    else events.push({ ev, data: Buffer.from(data) });
  };
  const p = new TarParser(
    {
      raw: (b) => push('raw', b),
      entry: (h) => events.push({ ev: 'entry', h: { ...h, xattrs: new Map(h.xattrs) } }),
      body: (b) => push('body', b),
      entryEnd: () => events.push({ ev: 'end' }),
    },
    opts,
  );
  for (let i = 0; i < buf.length; i += chunk) p.write(buf.subarray(i, Math.min(buf.length, i + chunk)));
  p.end();
  const entries: Parsed['entries'] = [];
  for (const e of events) {
    if (e.ev === 'entry') entries.push({ h: e.h, body: Buffer.alloc(0) });
    else if (e.ev === 'body')
      entries[entries.length - 1]!.body = Buffer.concat([entries[entries.length - 1]!.body, e.data]);
  }
  return { events, bytes: Buffer.concat(all), entries };
}

/** Parse only the first header of `buf` (the body may be absent: e.g. a declared size of 16 GiB). */
function firstHeader(buf: Buffer): TarHeader {
  let got: TarHeader | undefined;
  const p = new TarParser({
    raw() {},
    entry: (h) => {
      got ??= h;
    },
    body() {},
    entryEnd() {},
  });
  p.write(buf);
  assert.ok(got, 'no entry parsed');
  return got;
}

const rejects = (re: RegExp) => (err: unknown) => {
  assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
  assert.match(err.message, re);
  return true;
};

const blocksOf = (b: Buffer) => b.length / BLOCK;
const flagOf = (b: Buffer, block = 0) => String.fromCharCode(b[block * BLOCK + 156]!);
const field = (b: Buffer, off: number, len: number) => b.toString('utf8', off, off + len).replace(/\0.*$/s, '');

// ---- encodeHeader -> TarParser round trips --------------------------------------------------------

interface RoundTrip {
  name: string;
  entry: Entry;
  /** Header blocks encodeHeader must produce: 1 = plain ustar; more = a PAX record first. */
  blocks?: number;
  check?: (enc: Buffer) => void;
  /** Fields of the parsed header that differ from the input (e.g. mtime truncated). */
  expect?: Partial<TarHeader>;
}

const long = (n: number, c = 'x') => c.repeat(n);
const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const roundTrips: RoundTrip[] = [
  {
    name: 'short name, ustar only',
    entry: { name: 'etc/hosts', body: '127.0.0.1 localhost\n', mode: 0o644 },
    blocks: 1,
    check: (b) => {
      assert.equal(field(b, 0, 100), 'etc/hosts');
      assert.equal(b.toString('latin1', 257, 265), 'ustar\x0000');
    },
  },
  { name: 'name of exactly 100 bytes fits the name field', entry: { name: long(100, 'n') }, blocks: 1 },
  {
    name: 'ustar prefix split at the last usable slash',
    entry: { name: `${long(120, 'a')}/${long(90, 'b')}`, body: 'p' },
    blocks: 1,
    check: (b) => {
      assert.equal(field(b, 345, 155), long(120, 'a'));
      assert.equal(field(b, 0, 100), long(90, 'b'));
    },
  },
  { name: 'ustar prefix of exactly 155 bytes', entry: { name: `${long(155, 'p')}/${long(100, 'q')}` }, blocks: 1 },
  {
    name: '101-byte name without a slash needs PAX path',
    entry: { name: long(101) },
    blocks: 3,
    check: (b) => assert.equal(flagOf(b), 'x'),
  },
  {
    name: 'name of 300 bytes needs PAX path',
    entry: { name: `${'dir/'.repeat(74)}file`, body: 'deep' },
    blocks: 3,
    check: (b) => {
      assert.equal(flagOf(b), 'x');
      assert.equal(flagOf(b, 2), '0');
    },
  },
  { name: 'utf-8 name', entry: { name: 'données/файл/日本語.txt', body: 'u' }, blocks: 1 },
  { name: 'long utf-8 name (multi-byte) needs PAX', entry: { name: 'é'.repeat(60) }, blocks: 3 },
  {
    name: 'symlink with long target needs PAX linkpath',
    entry: { name: 'lnk', type: 'symlink', linkname: `/${long(150, 't')}` },
    blocks: 3,
    check: (b) => {
      assert.equal(flagOf(b, 2), '2');
      assert.equal(field(b, 2 * BLOCK + 157, 100), '');
    },
  },
  {
    name: 'hardlink',
    entry: { name: 'bin/b', type: 'link', linkname: 'bin/a' },
    blocks: 1,
    check: (b) => assert.equal(flagOf(b), '1'),
  },
  { name: 'hardlink with long target', entry: { name: 'h', type: 'link', linkname: `${'d/'.repeat(60)}f` }, blocks: 3 },
  {
    name: 'xattrs as SCHILY.xattr records (binary value kept)',
    blocks: 3,
    entry: {
      name: 'bin/ping',
      body: 'ELF',
      mode: 0o755,
      xattrs: { 'security.capability': cap, 'user.comment': 'hé\0llo\n' },
    },
  },
  { name: 'uid/gid beyond 7 octal digits need PAX', entry: { name: 'big', uid: 3_000_000, gid: 2 ** 21 }, blocks: 3 },
  {
    name: 'uid/gid at the octal maximum stay ustar',
    entry: { name: 'max', uid: 0o7777777, gid: 0o7777777 },
    blocks: 1,
  },
  {
    name: 'uid 1000 with user and group names',
    entry: { name: 'home/u/.profile', uid: 1000, gid: 1000, uname: 'user', gname: 'users', body: 'x' },
    blocks: 1,
  },
  {
    name: 'uname longer than 32 bytes needs PAX',
    entry: { name: 'n', uname: long(40, 'u'), gname: long(33, 'g') },
    blocks: 3,
  },
  {
    name: 'directory with sticky bit',
    entry: { name: 'tmp/', mode: 0o1777 },
    blocks: 1,
    check: (b) => assert.equal(flagOf(b), '5'),
  },
  { name: 'setuid and setgid file', entry: { name: 'usr/bin/su', mode: 0o6755, body: '#!' }, blocks: 1 },
  {
    name: 'char device 1:3',
    entry: { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 },
    blocks: 1,
    check: (b) => {
      assert.equal(b.toString('latin1', 329, 336), '0000001');
      assert.equal(b.toString('latin1', 337, 344), '0000003');
    },
  },
  {
    name: 'block device 8:1',
    entry: { name: 'dev/sda1', type: 'block', mode: 0o660, devmajor: 8, devminor: 1 },
    blocks: 1,
  },
  {
    name: 'device numbers at the field maximum',
    entry: { name: 'dev/x', type: 'char', devmajor: 0o7777777, devminor: 0o7777777 },
    blocks: 1,
  },
  {
    name: 'fifo',
    entry: { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    blocks: 1,
    check: (b) => assert.equal(flagOf(b), '6'),
  },
  {
    name: 'fractional mtime is truncated to seconds',
    entry: { name: 'f', mtime: MTIME + 0.75 },
    blocks: 1,
    expect: { mtime: MTIME },
  },
  { name: 'mtime 0 and mode 0', entry: { name: 'z', mtime: 0, mode: 0 }, blocks: 1 },
  { name: 'body of 512 bytes (no padding)', entry: { name: 'b512', body: Buffer.alloc(512, 0x61) }, blocks: 1 },
  { name: 'body of 513 bytes', entry: { name: 'b513', body: Buffer.alloc(513, 0x62) }, blocks: 1 },
];

for (const c of roundTrips) {
  test(`round trip: ${c.name}`, () => {
    const h = header(c.entry);
    const enc = encodeHeader(h);
    assert.equal(enc.length % BLOCK, 0);
    if (c.blocks !== undefined) assert.equal(blocksOf(enc), c.blocks, 'header blocks');
    c.check?.(enc);
    const tar = buildTar([c.entry]);
    const p = parse(tar);
    assert.equal(p.entries.length, 1);
    const got = p.entries[0]!;
    const want = { ...h, ...c.expect };
    assert.deepEqual(
      { ...got.h, xattrs: [...got.h.xattrs] },
      { ...want, xattrs: [...want.xattrs].sort(([a], [b]) => (a < b ? -1 : 1)) },
    );
    assert.deepEqual(got.body, Buffer.from(c.entry.body ?? ''));
    assert.deepEqual(p.bytes, tar, 'raw() + body() reproduce the input');
  });
}

test('round trip: size beyond 8 GiB goes to a PAX size record (header parsed before any body)', () => {
  const h = { ...header({ name: 'huge' }), size: 2 ** 34 + 5 };
  const enc = encodeHeader(h);
  assert.equal(flagOf(enc), 'x');
  assert.match(enc.toString('latin1', BLOCK, 2 * BLOCK), /\d+ size=17179869189\n/);
  assert.equal(firstHeader(enc).size, 2 ** 34 + 5);
});

// ---- hand-crafted headers -------------------------------------------------------------------------

interface Crafted {
  name: string;
  tar: Buffer;
  /** Expected entries (name, type and whatever else is given), or an error. */
  want: Array<Partial<TarHeader> & { body?: string }> | RegExp;
}

const crafted: Crafted[] = [
  {
    name: 'GNU long name (L)',
    tar: buildTar([gnuLong(`${long(200, 'g')}/file`), rawEntry({ name: 'trunc', size: 5, magic: 'gnu' }, 'hello')]),
    want: [{ name: `${long(200, 'g')}/file`, type: 'file', size: 5, body: 'hello' }],
  },
  {
    name: 'GNU long link (K) on a symlink',
    tar: buildTar([
      gnuLong(`/${long(300, 'k')}`, 'K'),
      rawEntry({ name: 'sym', flag: '2', linkname: 'trunc', magic: 'gnu' }),
    ]),
    want: [{ name: 'sym', type: 'symlink', linkname: `/${long(300, 'k')}` }],
  },
  {
    name: 'GNU long name and long link on a hardlink',
    tar: buildTar([
      gnuLong(long(150, 'n')),
      gnuLong(long(150, 'l'), 'K'),
      rawEntry({ name: 'x', flag: '1', linkname: 'y' }),
    ]),
    want: [{ name: long(150, 'n'), type: 'link', linkname: long(150, 'l') }],
  },
  {
    name: 'GNU long name applies to one entry only',
    tar: buildTar([gnuLong(long(120, 'a')), rawEntry({ name: 'a' }), rawEntry({ name: 'b' })]),
    want: [{ name: long(120, 'a') }, { name: 'b' }],
  },
  {
    name: 'PAX path, linkpath, uid, gid, uname, gname, fractional mtime',
    tar: buildTar([
      paxHeader([
        ['path', 'pax/name'],
        ['linkpath', 'pax/target'],
        ['uid', '4000000'],
        ['gid', '5000000'],
        ['uname', 'pu'],
        ['gname', 'pg'],
        ['mtime', '1700000000.123456789'],
      ]),
      rawEntry({ name: 'ustar-name', flag: '2', linkname: 'ustar-target' }),
    ]),
    want: [
      {
        name: 'pax/name',
        linkname: 'pax/target',
        type: 'symlink',
        uid: 4000000,
        gid: 5000000,
        uname: 'pu',
        gname: 'pg',
        // eslint-disable-next-line no-loss-of-precision -- the nanoseconds a float cannot hold are the point
        mtime: 1700000000.123456789,
      },
    ],
  },
  {
    name: 'PAX size overrides the header size',
    tar: buildTar([paxHeader([['size', '3']]), rawEntry({ name: 's', size: 0 }, 'abc')]),
    want: [{ name: 's', size: 3, body: 'abc' }],
  },
  {
    name: 'PAX xattrs, including a value with NUL and newline',
    tar: buildTar([
      paxHeader([
        ['SCHILY.xattr.user.a', 'x\0y\nz'],
        ['SCHILY.xattr.security.capability', cap],
      ]),
      rawEntry({ name: 'f' }),
    ]),
    want: [
      {
        name: 'f',
        xattrs: new Map([
          ['user.a', Buffer.from('x\0y\nz')],
          ['security.capability', cap],
        ]),
      },
    ],
  },
  {
    name: 'two PAX headers merge, the later one wins',
    tar: buildTar([
      paxHeader([
        ['path', 'first'],
        ['uid', '7'],
      ]),
      paxHeader([['path', 'second']]),
      rawEntry({ name: 'u' }),
    ]),
    want: [{ name: 'second', uid: 7 }],
  },
  {
    name: 'PAX records do not leak into the next entry',
    tar: buildTar([
      paxHeader([
        ['path', 'p1'],
        ['SCHILY.xattr.user.k', 'v'],
      ]),
      rawEntry({ name: 'a' }),
      rawEntry({ name: 'b' }),
    ]),
    want: [{ name: 'p1' }, { name: 'b', xattrs: new Map() }],
  },
  // precedence and empty values as Go's archive/tar has them (Docker reads layers with it: the same bytes must give the
  // same tree)
  {
    name: 'a GNU long name wins over a PAX path, a GNU long link over a PAX linkpath',
    tar: buildTar([
      paxHeader([
        ['path', 'pax-name'],
        ['linkpath', 'pax-link'],
      ]),
      gnuLong('gnu-name'),
      gnuLong('gnu-link', 'K'),
      rawEntry({ name: 'ustar', flag: '2', linkname: 'ustar-link' }),
    ]),
    want: [{ name: 'gnu-name', linkname: 'gnu-link', type: 'symlink' }],
  },
  {
    name: 'an empty GNU long name does not replace the name',
    tar: buildTar([gnuLong(''), rawEntry({ name: 'kept' })]),
    want: [{ name: 'kept' }],
  },
  {
    name: 'empty PAX values keep the USTAR fields',
    tar: buildTar([
      paxHeader([
        ['path', ''],
        ['linkpath', ''],
        ['size', ''],
        ['uid', ''],
        ['gid', ''],
        ['mtime', ''],
        ['uname', ''],
        ['gname', ''],
      ]),
      rawEntry({ name: 'kept', size: 3, uid: 7, gid: 8, mtime: 99, uname: 'u', gname: 'g' }, 'abc'),
    ]),
    want: [{ name: 'kept', size: 3, uid: 7, gid: 8, mtime: 99, uname: 'u', gname: 'g', body: 'abc' }],
  },
  {
    name: 'an empty PAX xattr value is an empty xattr',
    tar: buildTar([paxHeader([['SCHILY.xattr.user.empty', '']]), rawEntry({ name: 'x' })]),
    want: [{ name: 'x', xattrs: new Map([['user.empty', Buffer.alloc(0)]]) }],
  },
  {
    name: 'NUL type flag: a PAX path ending in "/" makes a directory',
    tar: buildTar([paxHeader([['path', 'pax-dir/']]), rawEntry({ name: 'plain', flag: '\0' })]),
    want: [{ name: 'pax-dir/', type: 'dir' }],
  },
  {
    name: 'NUL type flag: a PAX path without "/" makes a file even if the USTAR name has one',
    tar: buildTar([paxHeader([['path', 'pax-file']]), rawEntry({ name: 'ustar-dir/', flag: '\0', size: 1 }, 'f')]),
    want: [{ name: 'pax-file', type: 'file', body: 'f' }],
  },
  {
    name: 'global PAX header is ignored',
    tar: buildTar([
      paxHeader(
        [
          ['path', 'global'],
          ['comment', 'x'],
        ],
        'g',
      ),
      rawEntry({ name: 'local' }),
    ]),
    want: [{ name: 'local' }],
  },
  {
    name: 'empty PAX header',
    tar: buildTar([paxHeader(Buffer.alloc(0)), rawEntry({ name: 'e' })]),
    want: [{ name: 'e' }],
  },
  {
    name: 'base-256 uid, gid, mtime and size',
    tar: buildTar([
      rawEntry(
        {
          name: 'b256',
          uid: base256(5_000_000_000n, 8),
          gid: base256(1n, 8),
          mtime: base256(2n ** 40n, 12),
          size: base256(5n, 12),
        },
        'hello',
      ),
    ]),
    want: [{ name: 'b256', uid: 5_000_000_000, gid: 1, mtime: 2 ** 40, size: 5, body: 'hello' }],
  },
  {
    name: 'base-256 device numbers',
    tar: buildTar([rawEntry({ name: 'dev', flag: '3', devmajor: base256(300n, 8), devminor: base256(70000n, 8) })]),
    want: [{ name: 'dev', type: 'char', devmajor: 300, devminor: 70000 }],
  },
  {
    name: 'octal fields padded with spaces and NULs (old tars)',
    tar: buildTar([
      rawEntry(
        {
          name: 'sp',
          mode: Buffer.from('   755 \0'),
          uid: Buffer.from(' 1750 \0\0'),
          size: Buffer.from('          3 '),
          mtime: Buffer.from('\0\0\0\0\0\0\0\0\0\0\0\0'),
        },
        'abc',
      ),
    ]),
    want: [{ name: 'sp', mode: 0o755, uid: 1000, size: 3, mtime: 0, body: 'abc' }],
  },
  {
    name: 'mode keeps only permission and special bits',
    tar: buildTar([rawEntry({ name: 'm', mode: 0o100755 })]),
    want: [{ name: 'm', mode: 0o755 }],
  },
  {
    name: 'old v7 directory: NUL type flag and trailing slash',
    tar: buildTar([rawEntry({ name: 'olddir/', flag: '\0', magic: 'v7', mode: 0o755 })]),
    want: [{ name: 'olddir/', type: 'dir' }],
  },
  {
    name: 'old v7 file with NUL type flag',
    tar: buildTar([rawEntry({ name: 'oldfile', flag: '\0', magic: 'v7', size: 2 }, 'v7')]),
    want: [{ name: 'oldfile', type: 'file', body: 'v7' }],
  },
  {
    name: 'v7 header: the ustar prefix area is not part of the name',
    tar: buildTar([
      rawEntry({
        name: 'v7name',
        magic: 'v7',
        patch: [
          [345, Buffer.from('notaprefix')],
          [265, Buffer.from('notauser')],
        ],
      }),
    ]),
    want: [{ name: 'v7name', uname: '' }],
  },
  {
    name: 'GNU magic: the prefix area is not part of the name',
    tar: buildTar([rawEntry({ name: 'gnuname', magic: 'gnu', patch: [[345, Buffer.from('atime-bytes')]] })]),
    want: [{ name: 'gnuname' }],
  },
  {
    name: 'contiguous file (type 7) is a regular file',
    tar: buildTar([rawEntry({ name: 'c7', flag: '7', size: 1 }, 'c')]),
    want: [{ name: 'c7', type: 'file', body: 'c' }],
  },
  // as in Go's archive/tar (Docker): types 1-6 have no data section whatever size they declare
  {
    name: 'a directory that declares a size has no data: the next header follows at once',
    tar: buildTar([rawBlock({ name: 'dsz/', flag: '5', size: 600 }), rawEntry({ name: 'next', size: 1 }, 'n')]),
    want: [
      { name: 'dsz/', type: 'dir', size: 0 },
      { name: 'next', body: 'n' },
    ],
  },
  {
    name: 'symlink, hardlink, fifo and devices that declare sizes have no data',
    tar: buildTar([
      rawBlock({ name: 'sl', flag: '2', linkname: 't', size: 1 }),
      rawBlock({ name: 'hl', flag: '1', linkname: 'sl', size: 512 }),
      rawBlock({ name: 'ff', flag: '6', size: 10 }),
      rawBlock({ name: 'cd', flag: '3', size: 10000 }),
      rawBlock({ name: 'bd', flag: '4', size: 3 }),
      rawBlock({ name: 'v7d/', flag: '\0', magic: 'v7', size: 1024 }),
      rawEntry({ name: 'last', size: 1 }, 'l'),
    ]),
    want: [
      { name: 'sl', type: 'symlink' },
      { name: 'hl', type: 'link' },
      { name: 'ff', type: 'fifo' },
      { name: 'cd', type: 'char' },
      { name: 'bd', type: 'block' },
      { name: 'v7d/', type: 'dir' },
      { name: 'last', body: 'l' },
    ],
  },
  {
    name: 'a PAX size on a hardlink gives it no data either',
    tar: buildTar([
      paxHeader([['size', '512']]),
      rawBlock({ name: 'hl', flag: '1', linkname: 'x' }),
      rawEntry({ name: 'after' }),
    ]),
    want: [{ name: 'hl', type: 'link', size: 0 }, { name: 'after' }],
  },
  {
    name: 'NUL inside the name field ends the name',
    tar: buildTar([rawEntry({ name: 'abc', patch: [[3, Buffer.from('\0../../evil')]] })]),
    want: [{ name: 'abc' }],
  },
  {
    name: 'signed checksum (old Sun tar) is accepted, as Go does',
    tar: buildTar([rawEntry({ name: 'naïve-ñ', checksum: 'signed', size: 1 }, 's')]),
    want: [{ name: 'naïve-ñ', body: 's' }],
  },
  {
    name: 'EOF right after an entry without the zero blocks is accepted',
    tar: buildTar([rawEntry({ name: 'f', size: 1 }, 'x')], { trailer: false }),
    want: [{ name: 'f', body: 'x' }],
  },
  {
    name: 'one zero block then EOF is accepted',
    tar: Buffer.concat([rawEntry({ name: 'f' }), Buffer.alloc(BLOCK)]),
    want: [{ name: 'f' }],
  },
  {
    name: 'anything after the two zero blocks is trailing data',
    tar: buildTar([rawEntry({ name: 'f' })], { after: Buffer.from('garbage that is not a header') }),
    want: [{ name: 'f' }],
  },
  // errors
  {
    name: 'bad checksum at the start',
    tar: buildTar([rawEntry({ name: 'f', checksum: 'bad' })]),
    want: /checksum mismatch.* at the start/,
  },
  {
    name: 'bad checksum after an entry names that entry',
    tar: buildTar([rawEntry({ name: 'first' }), rawEntry({ name: 'second', checksum: 'bad' })]),
    want: /checksum mismatch.*after entry "first"/,
  },
  {
    name: 'checksum field that is not octal',
    tar: buildTar([rawEntry({ name: 'f', checksum: Buffer.from('zzzzzz\0 ') })]),
    want: /checksum mismatch/,
  },
  {
    name: 'text is not a tar',
    tar: Buffer.concat([Buffer.alloc(BLOCK, 0x41), EOA]),
    want: /checksum mismatch \(not a tar archive, or corrupt\) at the start/,
  },
  {
    name: 'digits are not a tar',
    tar: Buffer.concat([Buffer.alloc(BLOCK, 0x31), EOA]),
    want: /checksum mismatch \(not a tar archive, or corrupt\) at the start/,
  },
  {
    name: 'non-octal mode',
    tar: buildTar([rawEntry({ name: 'f', mode: Buffer.from('0000988\0') })]),
    want: /invalid mode "0000988"/,
  },
  {
    name: 'negative base-256 uid',
    tar: buildTar([rawEntry({ name: 'f', uid: base256(-1n, 8) })]),
    want: /negative uid/,
  },
  {
    name: 'negative base-256 size',
    tar: buildTar([rawEntry({ name: 'f', size: base256(-512n, 12) })]),
    want: /negative size/,
  },
  {
    name: 'base-256 size beyond 2^53',
    tar: buildTar([rawEntry({ name: 'f', size: base256(2n ** 70n, 12) })]),
    want: /size out of range/,
  },
  {
    name: 'PAX size not a number',
    tar: buildTar([paxHeader([['size', 'lots']]), rawEntry({ name: 'f' })]),
    want: /invalid PAX size "lots"/,
  },
  {
    name: 'PAX negative uid',
    tar: buildTar([paxHeader([['uid', '-1']]), rawEntry({ name: 'f' })]),
    want: /invalid PAX uid "-1"/,
  },
  {
    name: 'PAX size beyond 2^53',
    tar: buildTar([paxHeader([['size', '99999999999999999999']]), rawEntry({ name: 'f' })]),
    want: /PAX size out of range/,
  },
  {
    name: 'PAX record length beyond the data',
    tar: buildTar([paxHeader(Buffer.from('99 path=x\n')), rawEntry({ name: 'f' })]),
    want: /malformed PAX record length/,
  },
  {
    name: 'PAX record length too short',
    tar: buildTar([paxHeader(Buffer.from('3 path=x\n')), rawEntry({ name: 'f' })]),
    want: /malformed PAX record length/,
  },
  {
    name: 'PAX record length not a number',
    tar: buildTar([paxHeader(Buffer.from('1x path=x\n')), rawEntry({ name: 'f' })]),
    want: /malformed PAX record length/,
  },
  {
    name: 'PAX record without a space',
    tar: buildTar([paxHeader(Buffer.from('garbage')), rawEntry({ name: 'f' })]),
    want: /malformed PAX record/,
  },
  {
    name: 'PAX record without "="',
    tar: buildTar([paxHeader(Buffer.from('9 pathx\n\n')), rawEntry({ name: 'f' })]),
    want: /malformed PAX record \(no "="\)/,
  },
  {
    name: 'PAX record not ending in newline',
    tar: buildTar([paxHeader(Buffer.from('10 path=xy!')), rawEntry({ name: 'f' })]),
    want: /malformed PAX record length/,
  },
  {
    name: 'extended header larger than the limit',
    tar: buildTar([rawBlock({ name: 'pax', flag: 'x', size: (1 << 20) + 1 })]),
    want: /extended header of 1048577 bytes exceeds the 1048576-byte limit/,
  },
  {
    name: 'GNU long name larger than the limit',
    tar: buildTar([rawBlock({ name: '././@LongLink', flag: 'L', size: 2 << 20 })]),
    want: /exceeds the 1048576-byte limit/,
  },
  {
    name: 'GNU sparse file (type S)',
    tar: buildTar([rawEntry({ name: 'sparse', flag: 'S', magic: 'gnu' })]),
    want: /"sparse": GNU sparse files are not supported/,
  },
  {
    name: 'PAX GNU.sparse records',
    tar: buildTar([
      paxHeader([
        ['GNU.sparse.major', '1'],
        ['GNU.sparse.minor', '0'],
      ]),
      rawEntry({ name: 'sp' }),
    ]),
    want: /"sp": sparse files are not supported/,
  },
  {
    name: 'unknown type flag',
    tar: buildTar([rawEntry({ name: 'vol', flag: 'V' })]),
    want: /"vol": unsupported entry type "V"/,
  },
  {
    name: 'body shorter than its size',
    tar: Buffer.concat([rawBlock({ name: 'short', size: 1000 }), Buffer.alloc(100, 1)]),
    want: /unexpected end of input in entry "short" \(900 bytes missing\)/,
  },
  {
    name: 'padding cut short',
    tar: Buffer.concat([rawBlock({ name: 'pad', size: 10 }), Buffer.alloc(10, 1), Buffer.alloc(5)]),
    want: /unexpected end of input in entry "pad"/,
  },
  {
    name: 'header cut short',
    tar: Buffer.concat([rawEntry({ name: 'whole' }), rawBlock({ name: 'cut' }).subarray(0, 300)]),
    want: /unexpected end of input inside a header in entry "whole"/,
  },
  {
    name: 'PAX data cut short',
    tar: Buffer.concat([rawBlock({ name: 'p', flag: 'x', size: 100 }), Buffer.from('20 path=aaaaaaaaaaa\n')]),
    want: /unexpected end of input/,
  },
  {
    name: 'EOF after an extended header',
    tar: paxHeader([['path', 'dangling']]),
    want: /unexpected end of input after an extended header/,
  },
  {
    name: 'a header after one zero block',
    tar: Buffer.concat([rawEntry({ name: 'f' }), Buffer.alloc(BLOCK), rawEntry({ name: 'g' })]),
    want: /invalid header after a zero block/,
  },
];

for (const c of crafted) {
  test(`crafted: ${c.name}`, () => {
    if (c.want instanceof RegExp) {
      for (const chunk of [c.tar.length, 1, 7])
        assert.throws(() => parse(c.tar, chunk), rejects(c.want as RegExp), `chunk ${chunk}`);
      return;
    }
    const p = parse(c.tar);
    assert.deepEqual(p.bytes, c.tar, 'raw() + body() reproduce the input');
    assert.equal(p.entries.length, c.want.length, `entries: ${p.entries.map((e) => e.h.name).join(', ')}`);
    c.want.forEach((w, i) => {
      const { body, ...fields } = w;
      const got = p.entries[i]!;
      for (const [k, v] of Object.entries(fields)) assert.deepEqual(got.h[k as keyof TarHeader], v, `entry ${i} ${k}`);
      if (body !== undefined) assert.equal(got.body.toString(), body, `entry ${i} body`);
    });
  });
}

// ---- chunking -------------------------------------------------------------------------------------

const mixed = buildTar(
  [
    { name: './', mode: 0o755 },
    paxHeader([['comment', 'global']], 'g'),
    { name: 'empty' },
    { name: 'one', body: 'x' },
    { name: 'b511', body: Buffer.alloc(511, 1) },
    { name: 'b512', body: Buffer.alloc(512, 2) },
    { name: 'b513', body: Buffer.alloc(513, 3) },
    { name: 'big', body: Buffer.alloc(70_000, 4) },
    { name: `${'long/'.repeat(60)}name`, body: 'pax path' },
    { name: 'cap', body: 'c', xattrs: { 'security.capability': cap, 'user.x': 'y' } },
    gnuLong(long(180, 'G')),
    rawEntry({ name: 'g', size: 3, magic: 'gnu' }, 'gnu'),
    gnuLong(long(130, 'T'), 'K'),
    rawEntry({ name: 'glink', flag: '2', magic: 'gnu' }),
    { name: 'dir/' },
    { name: 'dir/sym', type: 'symlink', linkname: '../one' },
    { name: 'dir/hard', type: 'link', linkname: 'one' },
    { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
    { name: 'fifo', type: 'fifo' },
    rawEntry({ name: 'v7dir/', flag: '\0', magic: 'v7' }),
    rawBlock({ name: 'dsz/', flag: '5', size: 700 }),
    { name: 'last', body: 'end' },
  ],
  { after: Buffer.concat([Buffer.from('trailing garbage'), Buffer.alloc(3000, 0xee)]) },
);

test('TarParser: 1-byte, 7-byte, 512-byte, 513-byte and whole-buffer chunks give identical results', () => {
  const whole = parse(mixed);
  assert.equal(whole.entries.length, 19);
  assert.deepEqual(whole.bytes, mixed);
  for (const chunk of [1, 7, 512, 513, 4096]) {
    const p = parse(mixed, chunk);
    assert.deepEqual(p.bytes, mixed, `chunk ${chunk}: raw() + body() re-concatenated equal the input`);
    assert.deepEqual(p.events, whole.events, `chunk ${chunk}: same events`);
  }
  // every entry's events come in order: entry, body*, end
  let open = false;
  for (const e of whole.events) {
    if (e.ev === 'entry') {
      assert.ok(!open);
      open = true;
    } else if (e.ev === 'end') {
      assert.ok(open);
      open = false;
    } else if (e.ev === 'body') assert.ok(open);
  }
  const byName = new Map(whole.entries.map((e) => [e.h.name, e]));
  assert.equal(byName.get('big')!.body.length, 70_000);
  assert.equal(byName.get(`${'long/'.repeat(60)}name`)!.body.toString(), 'pax path');
  assert.equal(byName.get(long(180, 'G'))!.body.toString(), 'gnu');
  assert.equal(byName.get('glink')!.h.linkname, long(130, 'T'));
  assert.equal(byName.get('v7dir/')!.h.type, 'dir');
  assert.equal(byName.get('dsz/')!.body.length, 0);
  // the trailing bytes after the end-of-archive blocks arrive through raw()
  const lastRaw = whole.events[whole.events.length - 1]!;
  assert.equal(lastRaw.ev, 'raw');
  assert.ok((lastRaw as { data: Buffer }).data.toString('latin1').includes('trailing garbage'));
});

test('TarParser: entries counter and a zero-size body never calls body()', () => {
  const p = new TarParser({ raw() {}, entry() {}, body: () => assert.fail('body() for an empty file'), entryEnd() {} });
  p.write(buildTar([{ name: 'a' }, { name: 'b/' }, { name: 'c', type: 'symlink', linkname: 'a' }]));
  p.end();
  assert.equal(p.entries, 3);
});

test('TarParser: maxMetaSize option', () => {
  const t = buildTar([paxHeader([['path', long(3000, 'p')]]), rawEntry({ name: 'f' })]);
  assert.equal(parse(t).entries[0]!.h.name, long(3000, 'p'));
  assert.throws(() => parse(t, t.length, { maxMetaSize: 1024 }), rejects(/exceeds the 1024-byte limit/));
});

// ---- field codecs ---------------------------------------------------------------------------------

test('parseNumeric: octal and base-256 edge cases', () => {
  const cases: Array<[Buffer, number | RegExp]> = [
    [Buffer.from('0000644\0'), 0o644],
    [Buffer.from('\0\0\0\0\0\0\0\0'), 0],
    [Buffer.from('        '), 0],
    [Buffer.from('77777777777\0'), 0o77777777777],
    [Buffer.from('777777777777'), 0o777777777777], // all 12 digits, no terminator
    [base256(0n, 12), 0],
    [base256(2n ** 53n - 1n, 12), Number.MAX_SAFE_INTEGER],
    [base256(2n ** 53n, 12), /out of range/],
    [base256(-1n, 12), /negative/],
    [base256(-(2n ** 60n), 12), /negative/],
    [Buffer.from('12 34\0\0\0'), /invalid/],
    [Buffer.from('-1\0\0\0\0\0\0'), /invalid/],
    [Buffer.from('0x10\0\0\0\0'), /invalid/],
  ];
  for (const [b, want] of cases) {
    if (typeof want === 'number') assert.equal(parseNumeric(b, 0, b.length, 'f'), want, b.toString('hex'));
    else assert.throws(() => parseNumeric(b, 0, b.length, 'f'), rejects(want), b.toString('hex'));
  }
});

test('PAX record lengths are self-consistent around digit-count boundaries', () => {
  for (let n = 0; n < 1200; n += 1) {
    const rec = paxRecord('path', long(n, 'v'));
    const m = /^(\d+) /.exec(rec.toString('latin1'))!;
    assert.equal(Number(m[1]), rec.length, `value of ${n} bytes`);
    assert.equal(parsePax(rec).get('path')!.length, n);
  }
  // and the production encoder agrees with it
  for (const n of [90, 91, 92, 93, 94, 95, 96, 97, 98, 990, 991, 992, 993, 994, 995, 996, 997]) {
    const name = long(n, 'q');
    const enc = encodeHeader(header({ name }));
    assert.equal(firstHeader(Buffer.concat([enc, EOA])).name, name);
  }
});

test('encodeHeader output has a valid checksum and terminated octal fields', () => {
  const enc = entryBytes({ name: 'ck', uid: 1000, gid: 1000, mode: 0o4755, body: 'z' });
  const b = enc.subarray(0, BLOCK);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  assert.equal(parseInt(b.toString('latin1', 148, 154), 8), sum);
  assert.equal(b.toString('latin1', 100, 108), '0004755\0');
  assert.equal(b.toString('latin1', 108, 116), '0001750\0');
  assert.deepEqual(padded(Buffer.from('z')).length, BLOCK);
});
