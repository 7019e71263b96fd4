/**
 * Hostile layer tars, table-driven (in the spirit of moby's and containerd's
 * archive breakout tests). Every case runs against a fresh, empty layer root
 * next to a sentinel directory `outside`; whatever the outcome, nothing outside
 * the root may be created, changed or followed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { BerthError } from '../../src/core/errors.js';
import { type ApplyOptions, applyLayer } from '../../src/archive/layer-apply.js';
import * as native from '../../src/native/index.js';
import {
  BLOCK,
  EOA,
  base256,
  buildTar,
  chunked,
  gnuLong,
  paxHeader,
  rawBlock,
  rawEntry,
  zstd,
  type Piece,
} from '../helpers/tarbuild.js';

const base = fs.mkdtempSync('/var/tmp/berth-hostile-');
after(() => fs.rmSync(base, { recursive: true, force: true }));

interface Ctx {
  caseDir: string;
  root: string;
  /** The sentinel directory next to the root, as an absolute path. */
  outside: string;
}

type Outcome = { reject: RegExp } | { confined: (root: string, ctx: Ctx) => void };

interface Case {
  name: string;
  /** Tar entries (built into a plain tar), or the exact input bytes. */
  input: (ctx: Ctx) => Piece[] | Buffer;
  expect: Outcome;
  opts?: ApplyOptions;
  /** Only feed the whole input at once (large inputs). */
  wholeOnly?: boolean;
}

const SENTINEL = 'sentinel content\n';
const T = 1234567890;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const isLink = (p: string) => fs.lstatSync(p).isSymbolicLink();
const exists = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
const raw = (b: Buffer) => b;

const cases: Case[] = [
  // ---- names that leave the root
  {
    name: '../escape',
    input: () => [{ name: '../escape', body: 'x' }],
    expect: { reject: /"\.\.\/escape": path escapes the layer root/ },
  },
  {
    name: 'a/../../escape',
    input: () => [{ name: 'a/' }, { name: 'a/../../escape', body: 'x' }],
    expect: { reject: /"a\/\.\.\/\.\.\/escape": path escapes the layer root/ },
  },
  {
    name: './../escape (dir)',
    input: () => [{ name: './../escape/' }],
    expect: { reject: /"\.\/\.\.\/escape\/": path escapes/ },
  },
  {
    name: 'deep ../../../../../../../escape',
    input: () => [{ name: `${'../'.repeat(12)}var/tmp/escape`, body: 'x' }],
    expect: { reject: /path escapes the layer root/ },
  },
  { name: '.. alone', input: () => [{ name: '../' }], expect: { reject: /"\.\.\/": path escapes/ } },
  {
    name: 'PAX path with ..',
    input: () => [paxHeader([['path', 'ok/../../escape']]), rawEntry({ name: 'innocent', size: 1 }, 'x')],
    expect: { reject: /"ok\/\.\.\/\.\.\/escape": path escapes/ },
  },
  {
    name: 'GNU long name with ..',
    input: () => [gnuLong(`${'a/'.repeat(60)}${'../'.repeat(61)}escape`), rawEntry({ name: 'innocent' })],
    expect: { reject: /path escapes the layer root/ },
  },
  {
    name: '/abs/path is confined to root/abs/path',
    input: () => [
      { name: '/abs/path', body: 'abs' },
      { name: '/abs2/', mode: 0o700 },
    ],
    expect: {
      confined: (r) => {
        assert.equal(fs.readFileSync(`${r}/abs/path`, 'utf8'), 'abs');
        assert.ok(fs.lstatSync(`${r}/abs2`).isDirectory());
        assert.ok(!exists('/abs/path'));
      },
    },
  },
  // ---- symlinked parents
  {
    name: 'symlink s -> outside, then file s/x',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/x', body: 'pwned' },
    ],
    expect: { reject: /"s\/x": parent "s" is a symlink/ },
  },
  {
    name: 'symlink s -> ../../, then file s/x',
    input: () => [
      { name: 's', type: 'symlink', linkname: '../../' },
      { name: 's/x', body: 'pwned' },
    ],
    expect: { reject: /"s\/x": parent "s" is a symlink/ },
  },
  {
    name: 'symlink s -> /, then file s/var/tmp/x',
    input: () => [
      { name: 's', type: 'symlink', linkname: '/' },
      { name: 's/var/tmp/x', body: 'pwned' },
    ],
    expect: { reject: /"s\/var\/tmp\/x": parent "s" is a symlink/ },
  },
  {
    name: 'symlink chain a -> b -> outside, then a/x',
    input: (c) => [
      { name: 'b', type: 'symlink', linkname: c.outside },
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'a/x', body: 'p' },
    ],
    expect: { reject: /"a\/x": parent "a" is a symlink/ },
  },
  {
    name: 'nested: d/s -> outside, then d/s/sub/x',
    input: (c) => [
      { name: 'd/' },
      { name: 'd/s', type: 'symlink', linkname: c.outside },
      { name: 'd/s/sub/x', body: 'p' },
    ],
    expect: { reject: /"d\/s\/sub\/x": parent "d\/s" is a symlink/ },
  },
  {
    name: 'symlink s -> outside, then dir s/sub/',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/sub/', mode: 0o777 },
    ],
    expect: { reject: /"s\/sub\/": parent "s" is a symlink/ },
  },
  {
    name: 'symlink s -> outside, then symlink s/evil',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/evil', type: 'symlink', linkname: '/' },
    ],
    expect: { reject: /"s\/evil": parent "s" is a symlink/ },
  },
  {
    name: 'symlink s -> outside, then fifo and device under it',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/fifo', type: 'fifo' },
    ],
    expect: { reject: /"s\/fifo": parent "s" is a symlink/ },
  },
  {
    name: 'symlink s -> outside, then hardlink s/h -> f',
    input: (c) => [
      { name: 'f', body: 'f' },
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/h', type: 'link', linkname: 'f' },
    ],
    expect: { reject: /"s\/h": parent "s" is a symlink/ },
  },
  {
    name: 'file f, then f/x (parent not a directory)',
    input: () => [
      { name: 'f', body: 'f' },
      { name: 'f/x', body: 'x' },
    ],
    expect: { reject: /"f\/x": parent "f" is not a directory/ },
  },
  // ---- hardlinks
  {
    name: 'hardlink to ../outside/file',
    input: () => [{ name: 'h', type: 'link', linkname: '../outside/file' }],
    expect: { reject: /"\.\.\/outside\/file": path escapes the layer root/ },
  },
  {
    name: 'hardlink to an absolute path of the sentinel',
    input: (c) => [{ name: 'h', type: 'link', linkname: `${c.outside}/file` }],
    expect: { reject: /"h": hardlink target passes through "var"/ },
  },
  {
    name: 'hardlink to /etc/passwd (not in the layer)',
    input: () => [{ name: 'h', type: 'link', linkname: '/etc/passwd' }],
    expect: { reject: /"h": hardlink target passes through "etc"/ },
  },
  {
    name: 'hardlink to a name not in the layer',
    input: () => [{ name: 'h', type: 'link', linkname: 'passwd' }],
    expect: { reject: /"h": hardlink target "passwd" is not in this layer/ },
  },
  {
    name: 'hardlink through a symlinked parent (s -> outside, h -> s/file)',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 'h', type: 'link', linkname: 's/file' },
    ],
    expect: { reject: /"h": hardlink target passes through "s"/ },
  },
  {
    name: 'hardlink through a dir replaced by a symlink',
    input: (c) => [
      { name: 'd/' },
      { name: 'd/file', body: 'in' },
      { name: 'd', type: 'symlink', linkname: c.outside },
      { name: 'h', type: 'link', linkname: 'd/file' },
    ],
    expect: { reject: /"h": hardlink target passes through "d"/ },
  },
  {
    name: 'hardlink to the root',
    input: () => [{ name: 'h', type: 'link', linkname: './' }],
    expect: { reject: /"h": hardlink to the layer root/ },
  },
  {
    name: 'hardlink to a directory',
    input: () => [{ name: 'd/' }, { name: 'h', type: 'link', linkname: 'd' }],
    expect: { reject: /"h"/ },
  },
  {
    name: 'hardlink target with NUL',
    input: () => [
      { name: 'f' },
      paxHeader([['linkpath', 'f\0/../../x']]),
      rawEntry({ name: 'h', flag: '1', linkname: 'f' }),
    ],
    expect: { reject: /"f\\u0000\/\.\.\/\.\.\/x": name contains NUL/ },
  },
  {
    name: 'hardlink to a symlink pointing outside links the symlink, not its target',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: `${c.outside}/file` },
      { name: 'h', type: 'link', linkname: 's' },
    ],
    expect: {
      confined: (r, c) => {
        assert.ok(isLink(`${r}/h`));
        assert.equal(fs.lstatSync(`${c.outside}/file`).nlink, 1);
      },
    },
  },
  // ---- symlinks are created, never followed
  {
    name: 'symlink with an absolute target is created as is',
    input: (c) => [
      { name: 'etc-shadow', type: 'symlink', linkname: '/etc/shadow' },
      { name: 'out', type: 'symlink', linkname: `${c.outside}/file`, uid: 1000, mtime: T },
    ],
    expect: {
      confined: (r, c) => {
        assert.equal(fs.readlinkSync(`${r}/etc-shadow`), '/etc/shadow');
        assert.equal(fs.readlinkSync(`${r}/out`), `${c.outside}/file`);
        assert.equal(fs.lstatSync(`${r}/out`).uid, 1000);
      },
    },
  },
  {
    name: 'file written over a symlink to outside replaces the symlink',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: `${c.outside}/file` },
      { name: 's', body: 'pwned', mode: 0o777, uid: 1000, mtime: T },
    ],
    expect: {
      confined: (r) => {
        assert.ok(fs.lstatSync(`${r}/s`).isFile());
        assert.equal(fs.readFileSync(`${r}/s`, 'utf8'), 'pwned');
      },
    },
  },
  {
    name: 'dir entry over a symlink to outside replaces the symlink (no chmod/chown/xattr through it)',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/', mode: 0o777, uid: 1000, mtime: T, xattrs: { 'user.x': 'y' } },
    ],
    expect: {
      confined: (r) => {
        assert.ok(fs.lstatSync(`${r}/s`).isDirectory());
        assert.equal(fs.lstatSync(`${r}/s`).mode & 0o7777, 0o777);
      },
    },
  },
  {
    name: 'fifo and device over symlinks to outside replace the symlinks',
    input: (c) => [
      { name: 's', type: 'symlink', linkname: `${c.outside}/file` },
      { name: 's', type: 'fifo', mode: 0o777, mtime: T },
      { name: 't', type: 'symlink', linkname: `${c.outside}/file` },
      { name: 't', type: 'char', devmajor: 1, devminor: 3, mode: 0o777, uid: 5 },
    ],
    expect: {
      confined: (r) => {
        assert.ok(fs.lstatSync(`${r}/s`).isFIFO());
        assert.ok(fs.lstatSync(`${r}/t`).isCharacterDevice());
      },
    },
  },
  {
    name: 'hardlink over a symlink to outside replaces the symlink',
    input: (c) => [
      { name: 'f', body: 'mine' },
      { name: 's', type: 'symlink', linkname: `${c.outside}/file` },
      { name: 's', type: 'link', linkname: 'f' },
    ],
    expect: {
      confined: (r) => {
        assert.equal(fs.readFileSync(`${r}/s`, 'utf8'), 'mine');
        assert.equal(fs.lstatSync(`${r}/f`).nlink, 2);
      },
    },
  },
  {
    name: "dir replaced by a symlink to outside: the dir's mtime is not applied through the symlink",
    input: (c) => [
      { name: 'd/', mtime: T, mode: 0o700 },
      { name: 'd/child', body: 'c' },
      { name: 'd', type: 'symlink', linkname: c.outside },
    ],
    expect: {
      confined: (r, c) => {
        assert.equal(fs.readlinkSync(`${r}/d`), c.outside);
      },
    },
  },
  {
    name: 'dir, then symlink d -> outside, then d/x: rejected, never written outside',
    input: (c) => [
      { name: 'd/' },
      { name: 'd/x', body: 'inside' },
      { name: 'd', type: 'symlink', linkname: c.outside },
      { name: 'd/x', body: 'pwned' },
    ],
    expect: { reject: /"d\/x": parent "d" is a symlink/ },
  },
  {
    name: 'dir, then symlink d -> outside, then d/file whiteout',
    input: (c) => [{ name: 'd/' }, { name: 'd', type: 'symlink', linkname: c.outside }, { name: 'd/.wh.file' }],
    expect: { reject: /"d\/\.wh\.file": parent "d" is a symlink/ },
  },
  // ---- whiteouts
  {
    name: 'whiteout .wh. (empty name)',
    input: () => [{ name: '.wh.' }],
    expect: { reject: /"\.wh\.": whiteout of an invalid name/ },
  },
  {
    name: 'whiteout .wh..',
    input: () => [{ name: '.wh..' }],
    expect: { reject: /"\.wh\.\.": whiteout of an invalid name/ },
  },
  {
    name: 'whiteout .wh...',
    input: () => [{ name: '.wh...' }],
    expect: { reject: /"\.wh\.\.\.": whiteout of an invalid name/ },
  },
  {
    name: 'whiteout sub/.wh..',
    input: () => [{ name: 'sub/' }, { name: 'sub/.wh..' }],
    expect: { reject: /"sub\/\.wh\.\.": whiteout of an invalid name/ },
  },
  {
    name: 'whiteout ../.wh.file',
    input: () => [{ name: '../.wh.file' }],
    expect: { reject: /"\.\.\/\.wh\.file": path escapes/ },
  },
  {
    name: 'whiteout inside a symlinked dir (s -> outside, s/.wh.file)',
    input: (c) => [{ name: 's', type: 'symlink', linkname: c.outside }, { name: 's/.wh.file' }],
    expect: { reject: /"s\/\.wh\.file": parent "s" is a symlink/ },
  },
  {
    name: 'opaque marker inside a symlinked dir (s -> outside, s/.wh..wh..opq)',
    input: (c) => [{ name: 's', type: 'symlink', linkname: c.outside }, { name: 's/.wh..wh..opq' }],
    expect: { reject: /"s\/\.wh\.\.wh\.\.opq": parent "s" is a symlink/ },
  },
  {
    name: 'whiteout of a symlink to outside replaces the symlink',
    input: (c) => [{ name: 's', type: 'symlink', linkname: `${c.outside}/file` }, { name: '.wh.s' }],
    expect: {
      confined: (r) => {
        assert.ok(fs.lstatSync(`${r}/s`).isCharacterDevice());
        assert.equal(fs.lstatSync(`${r}/s`).rdev, 0);
      },
    },
  },
  {
    name: 'whiteout with content',
    input: () => [{ name: '.wh.x', body: 'data' }],
    expect: { reject: /"\.wh\.x": whiteout entry has content/ },
  },
  // ---- devices
  {
    name: 'char device 4096:0 (major beyond 12 bits)',
    input: () => [{ name: 'dev', type: 'char', devmajor: 4096, devminor: 0 }],
    expect: { reject: /"dev": device number 4096:0 out of range/ },
  },
  {
    name: 'char device 0:1048576 (minor beyond 20 bits)',
    input: () => [{ name: 'dev', type: 'char', devmajor: 0, devminor: 1048576 }],
    expect: { reject: /"dev": device number 0:1048576 out of range/ },
  },
  {
    name: 'block device with base-256 major 2^32',
    input: () => [rawEntry({ name: 'blk', flag: '4', devmajor: base256(2n ** 32n, 8) })],
    expect: { reject: /"blk": device number 4294967296:0 out of range/ },
  },
  // ---- sizes and truncation
  {
    name: 'negative size (base-256)',
    input: () => [{ name: 'ok', body: 'fine' }, rawBlock({ name: 'neg', size: base256(-1024n, 12) }), EOA],
    expect: { reject: /negative size after entry "ok"/ },
  },
  {
    name: 'size beyond 2^53 (base-256)',
    input: () => [rawBlock({ name: 'huge', size: base256(2n ** 80n, 12) }), EOA],
    expect: { reject: /size out of range/ },
  },
  {
    name: 'size of 1 TiB with 100 bytes of data',
    input: () => raw(Buffer.concat([rawBlock({ name: 'tera', size: base256(2n ** 40n, 12) }), Buffer.alloc(100, 1)])),
    expect: { reject: /unexpected end of input in entry "tera"/ },
  },
  {
    name: 'size larger than the data (truncated body)',
    input: () => raw(Buffer.concat([rawBlock({ name: 'trunc', size: 10000 }), Buffer.alloc(3000, 0x41)])),
    expect: { reject: /unexpected end of input in entry "trunc" \(7000 bytes missing\)/ },
  },
  {
    name: 'truncated header',
    input: () =>
      raw(
        Buffer.concat([
          buildTar([{ name: 'first', body: 'x' }], { trailer: false }),
          rawBlock({ name: 'second' }).subarray(0, 200),
        ]),
      ),
    expect: { reject: /unexpected end of input inside a header in entry "first"/ },
  },
  {
    name: 'bad header checksum',
    input: () => [{ name: 'good' }, rawEntry({ name: 'bad', checksum: 'bad' })],
    expect: { reject: /checksum mismatch.*after entry "good"/ },
  },
  {
    name: 'garbage after one zero block',
    input: () =>
      raw(
        Buffer.concat([buildTar([{ name: 'a' }], { trailer: false }), Buffer.alloc(BLOCK), Buffer.alloc(BLOCK, 0x61)]),
      ),
    expect: { reject: /invalid header after a zero block/ },
  },
  {
    name: 'not a tar at all',
    input: () => raw(Buffer.from('#!/bin/sh\necho this is a shell script, not a layer\n'.repeat(40))),
    expect: { reject: /checksum mismatch \(not a tar archive/ },
  },
  // ---- extended headers
  {
    name: 'PAX header bigger than 1 MiB',
    input: () =>
      raw(
        Buffer.concat([
          rawBlock({ name: 'pax', flag: 'x', size: (1 << 20) + 512 }),
          Buffer.alloc((1 << 20) + 512, 0x20),
          EOA,
        ]),
      ),
    expect: { reject: /extended header of 1049088 bytes exceeds the 1048576-byte limit/ },
    wholeOnly: true,
  },
  {
    name: 'GNU long name bigger than 1 MiB',
    input: () =>
      raw(Buffer.concat([rawBlock({ name: '././@LongLink', flag: 'L', size: 4 << 20 }), Buffer.alloc(4096, 0x61)])),
    expect: { reject: /exceeds the 1048576-byte limit/ },
  },
  {
    // Docker (Go's archive/tar) reads no data after a directory header whatever size it declares: the
    // entries in those bytes are real entries, and must be extracted like any other (the same diffID
    // must never give two engines two different trees)
    name: 'a directory that declares a size cannot hide the entries after it',
    input: (c) => [
      rawBlock({ name: 'd/', flag: '5', size: 2048 }),
      { name: 'd/hidden', body: 'seen' },
      { name: 's', type: 'symlink', linkname: c.outside },
      { name: 's/x', body: 'p' },
    ],
    expect: { reject: /"s\/x": parent "s" is a symlink/ },
  },
  {
    name: 'a symlink that declares a size: the next entry is still extracted',
    input: () => [
      rawBlock({ name: 'l', flag: '2', linkname: '/etc/passwd', size: 1024 }),
      { name: 'next', body: 'n' },
      { name: 'other', body: 'o' },
    ],
    expect: {
      confined: (r) => {
        assert.deepEqual(fs.readdirSync(r).sort(), ['l', 'next', 'other']);
        assert.equal(fs.readFileSync(`${r}/next`, 'utf8'), 'n');
      },
    },
  },
  {
    // Go keeps the USTAR size when the PAX size record is empty: these 1024 bytes are file content, not entries
    name: 'an empty PAX size cannot turn file content into entries',
    input: (c) => [
      paxHeader([['size', '']]),
      rawBlock({ name: 'f', size: 1024 }),
      rawBlock({ name: 's', flag: '2', linkname: c.outside }),
      rawBlock({ name: 's/x' }),
    ],
    expect: {
      confined: (r) => {
        assert.deepEqual(fs.readdirSync(r), ['f']);
        assert.equal(fs.lstatSync(`${r}/f`).size, 1024);
      },
    },
  },
  {
    name: 'an empty PAX path keeps the USTAR name (never the layer root)',
    input: (): Piece[] => [paxHeader([['path', '']]), rawEntry({ name: 'sub/', flag: '5', mode: 0o777 })],
    expect: {
      confined: (r) => {
        assert.equal(fs.lstatSync(r).mode & 0o777, 0o755);
        assert.equal(fs.lstatSync(`${r}/sub`).mode & 0o777, 0o777);
      },
    },
  },
  {
    name: 'PAX record with a bad length',
    input: () => [paxHeader(Buffer.from('999 path=x\n')), rawEntry({ name: 'f' })],
    expect: { reject: /malformed PAX record length/ },
  },
  {
    name: 'PAX record with a length of 0',
    input: () => [paxHeader(Buffer.from('0 path=x\n')), rawEntry({ name: 'f' })],
    expect: { reject: /malformed PAX record length/ },
  },
  {
    name: 'GNU sparse entry (S)',
    input: () => [rawEntry({ name: 'sparse', flag: 'S', magic: 'gnu', size: 512 }, Buffer.alloc(512))],
    expect: { reject: /"sparse": GNU sparse files are not supported/ },
  },
  {
    name: 'PAX GNU sparse records',
    input: () => [
      paxHeader([
        ['GNU.sparse.major', '1'],
        ['GNU.sparse.name', 'x'],
      ]),
      rawEntry({ name: 'GNUSparseFile.0/x' }),
    ],
    expect: { reject: /sparse files are not supported/ },
  },
  {
    name: 'xattrs trusted.overlay.* in PAX are ignored, not set',
    input: (): Piece[] => [
      {
        name: 'f',
        body: 'x',
        xattrs: { 'trusted.overlay.redirect': '/etc', 'trusted.overlay.origin': 'o', 'user.ok': '1' },
      },
      { name: 'd/', xattrs: { 'trusted.overlay.opaque': 'y' } },
    ],
    expect: {
      confined: (r) => {
        assert.equal(native.lgetxattr(`${r}/f`, 'trusted.overlay.redirect'), null);
        assert.equal(native.lgetxattr(`${r}/f`, 'trusted.overlay.origin'), null);
        assert.equal(native.lgetxattr(`${r}/d`, 'trusted.overlay.opaque'), null);
        assert.deepEqual(native.lgetxattr(`${r}/f`, 'user.ok'), Buffer.from('1'));
      },
    },
  },
  // ---- NUL bytes
  {
    name: 'NUL in a PAX path',
    input: () => [paxHeader([['path', 'a\0b']]), rawEntry({ name: 'plain', size: 1 }, 'x')],
    expect: { reject: /"a\\u0000b": name contains NUL/ },
  },
  {
    name: 'NUL inside the header name field ends the name',
    input: () => [rawEntry({ name: 'abc', size: 3, patch: [[3, Buffer.from('\0/../../x')]] }, 'abc')],
    expect: {
      confined: (r) => {
        assert.deepEqual(fs.readdirSync(r), ['abc']);
        assert.equal(fs.readFileSync(`${r}/abc`, 'utf8'), 'abc');
      },
    },
  },
  {
    name: 'NUL in a symlink target',
    input: () => [paxHeader([['linkpath', '/etc\0/passwd']]), rawEntry({ name: 'sl', flag: '2', linkname: 'x' })],
    expect: { reject: /"sl"/ },
  },
  // ---- the root
  {
    name: 'root entry as a symlink',
    input: (c) => [{ name: './', type: 'symlink', linkname: c.outside }],
    expect: { reject: /the layer root must be a directory/ },
  },
  {
    name: 'root entry as a file',
    input: () => [{ name: '/', type: 'file', body: 'x' }],
    expect: { reject: /the layer root must be a directory/ },
  },
  {
    name: 'empty input is an empty layer',
    input: () => raw(Buffer.alloc(0)),
    expect: { confined: (r) => assert.deepEqual(fs.readdirSync(r), []) },
  },
  // ---- compression
  {
    name: 'corrupt gzip (valid magic, garbage after)',
    input: () => raw(Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(4000, 0xa5)])),
    expect: { reject: /corrupt gzip data/ },
  },
  {
    name: 'gzip with a bad header',
    input: () => raw(Buffer.from([0x1f, 0x8b, 0x63, 0x00, 1, 2, 3, 4, 5, 6, 7, 8])),
    expect: { reject: /corrupt gzip data/ },
  },
  {
    name: 'gzip truncated midway',
    input: () => {
      const g = gzipSync(
        buildTar([{ name: 'f', body: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff)) }]),
      );
      return raw(g.subarray(0, g.length >> 1));
    },
    expect: { reject: /corrupt gzip data|unexpected end/ },
  },
  {
    name: 'gzip without its trailer (CRC/size)',
    input: () => {
      const g = gzipSync(buildTar([{ name: 'f', body: 'tiny' }]));
      return raw(g.subarray(0, g.length - 8));
    },
    expect: { reject: /corrupt gzip data/ },
  },
  {
    name: 'corrupt zstd (valid magic, garbage after)',
    input: () => raw(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(4000, 0xa5)])),
    expect: { reject: /zstd/ },
  },
  {
    name: 'zstd truncated midway',
    input: () => {
      const z = zstd(
        buildTar([{ name: 'f', body: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff)) }]),
      );
      return raw(z.subarray(0, z.length >> 1));
    },
    expect: { reject: /zstd|unexpected end/ },
  },
  {
    name: 'bzip2 is not supported',
    input: () => raw(Buffer.from('BZh91AY&SY\0\0\0\0')),
    expect: { reject: /bzip2 compression is not supported/ },
  },
  {
    name: 'gzip bomb: 64 MiB of zeros with maxBytes 1 MiB',
    input: () => raw(gzipSync(Buffer.alloc(64 << 20), { level: 9 })),
    opts: { maxBytes: 1 << 20 },
    expect: { reject: /uncompressed size exceeds the limit of 1048576 bytes/ },
  },
  {
    name: 'zstd bomb: 64 MiB of zeros with maxBytes 1 MiB',
    input: () => raw(zstd(Buffer.alloc(64 << 20))),
    opts: { maxBytes: 1 << 20 },
    expect: { reject: /uncompressed size exceeds the limit of 1048576 bytes/ },
  },
  {
    name: 'gzip bomb of file content: a 64 MiB file with maxBytes 1 MiB',
    input: () => raw(gzipSync(buildTar([{ name: 'zeros', body: Buffer.alloc(64 << 20) }]), { level: 1 })),
    opts: { maxBytes: 1 << 20 },
    expect: { reject: /exceeds the limit of 1048576 bytes/ },
    wholeOnly: true,
  },
];

// ---- the harness -----------------------------------------------------------------------------------

/**
 * Everything observable about a tree (except the layer root): names, types, modes, owners, times, links, xattrs,
 * contents.
 */
function snapshot(dir: string, skip: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    const st = fs.lstatSync(p);
    const xs = native
      .llistxattr(p)
      .sort()
      .map((k) => `${k}=${native.lgetxattr(p, k)?.toString('hex')}`);
    const what = st.isFile() ? sha(fs.readFileSync(p)) : st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : '';
    out.push(
      `${rel} mode=${st.mode.toString(8)} own=${st.uid}:${st.gid} size=${st.size} nlink=${st.nlink} ino=${st.ino} rdev=${st.rdev} mtime=${st.mtimeMs} ctime=${st.ctimeMs} xattrs=[${xs.join(',')}] ${what}`,
    );
    if (st.isDirectory())
      for (const n of fs.readdirSync(p).sort()) if (`${p}/${n}` !== skip) walk(`${p}/${n}`, `${rel}/${n}`);
  };
  walk(dir, '.');
  return out;
}

const hostPaths = [
  '/etc/passwd',
  '/etc/shadow',
  '/abs',
  '/escape',
  '/x',
  '/var/tmp/escape',
  '/var/tmp/x',
  '/var/escape',
  '/outside',
];
function hostState(): string[] {
  return hostPaths.map((p) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    return st
      ? `${p} ino=${st.ino} nlink=${st.nlink} size=${st.size} mode=${st.mode.toString(8)} mtime=${st.mtimeMs} ctime=${st.ctimeMs}`
      : `${p} absent`;
  });
}

function newCase(): Ctx {
  const caseDir = fs.mkdtempSync(`${base}/case-`);
  const root = `${caseDir}/root`,
    outside = `${caseDir}/outside`;
  fs.mkdirSync(root);
  fs.mkdirSync(outside, 0o755);
  fs.writeFileSync(`${outside}/file`, SENTINEL, { mode: 0o644 });
  fs.mkdirSync(`${outside}/sub`);
  fs.writeFileSync(`${outside}/sub/inner`, SENTINEL);
  // make the sentinel's times distinctive, so a time applied through a link shows
  for (const p of [`${outside}/sub/inner`, `${outside}/sub`, `${outside}/file`, outside])
    fs.utimesSync(p, 1000000000, 1000000000);
  return { caseDir, root, outside };
}

async function runCase(c: Case, chunk: number | undefined): Promise<void> {
  const ctx = newCase();
  const input = c.input(ctx);
  const data = Buffer.isBuffer(input) ? input : buildTar(input);
  const beforeBase = fs.readdirSync(base).sort();
  const beforeCase = snapshot(ctx.caseDir, ctx.root);
  const beforeHost = hostState();
  let outcome: { ok: true } | { ok: false; err: unknown };
  try {
    await applyLayer(ctx.root, chunked(data, chunk ?? (data.length || 1)), { ...c.opts, what: 'hostile layer' });
    outcome = { ok: true };
  } catch (err) {
    outcome = { ok: false, err };
  }
  // whatever happened: nothing outside the root was created, changed or removed
  assert.deepEqual(fs.readdirSync(base).sort(), beforeBase, 'entries next to the case dirs');
  assert.deepEqual(snapshot(ctx.caseDir, ctx.root), beforeCase, 'the sentinel dir and the case dir');
  assert.deepEqual(hostState(), beforeHost, 'host paths');
  assert.equal(fs.readFileSync(`${ctx.outside}/file`, 'utf8'), SENTINEL);
  assert.ok(fs.lstatSync(ctx.root).isDirectory() && !fs.lstatSync(ctx.root).isSymbolicLink());
  if ('reject' in c.expect) {
    assert.ok(!outcome.ok, 'expected the layer to be rejected, but it was applied');
    const err = (outcome as { err: unknown }).err;
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.match(err.message, c.expect.reject);
  } else {
    if (!outcome.ok) throw outcome.err;
    c.expect.confined(ctx.root, ctx);
  }
  fs.rmSync(ctx.caseDir, { recursive: true, force: true });
}

for (const c of cases) {
  test(`hostile: ${c.name}`, async () => {
    await runCase(c, undefined);
    if (!c.wholeOnly) await runCase(c, 7);
  });
}

test('hostile: case names are unique', () => {
  const names = cases.map((c) => c.name);
  assert.equal(new Set(names).size, names.length);
});
