import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BerthError } from '../../src/core/errors.js';
import { hexOf } from '../../src/core/digest.js';
import { type ApplyResult, applyLayer } from '../../src/archive/layer-apply.js';
import { encodeHeader, padding } from '../../src/archive/tar-header.js';
import { parseTarSplit } from '../../src/archive/tarsplit.js';
import { ImageStore } from '../../src/image/store.js';
import type { Layer } from '../../src/storage/layer-store.js';
import * as native from '../../src/native/index.js';
import {
  EOA,
  buildTar,
  chunked,
  collect,
  gnuLong,
  gzip,
  header,
  paxHeader,
  rawBlock,
  rawEntry,
  zstd,
  type Piece,
} from '../helpers/tarbuild.js';

const tmp = fs.mkdtempSync('/var/tmp/berth-apply-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const freshDir = (what = 'r') => {
  const d = `${tmp}/${what}${seq++}`;
  fs.mkdirSync(d);
  return d;
};

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const lst = (p: string) => fs.lstatSync(p);
const perm = (p: string) => lst(p).mode & 0o7777;
const owner = (p: string) => [lst(p).uid, lst(p).gid];
const mtime = (p: string) => Math.floor(lst(p).mtimeMs / 1000);
const read = (p: string) => fs.readFileSync(p, 'utf8');
const xattr = (p: string, k: string) => native.lgetxattr(p, k);
function dev(p: string): [number, number] {
  const r = fs.lstatSync(p, { bigint: true }).rdev;
  return [Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), Number((r & 0xffn) | ((r >> 12n) & ~0xffn))];
}
const ls = (p: string) => fs.readdirSync(p).sort();

async function apply(tar: Buffer, chunk = 4093): Promise<{ root: string; res: ApplyResult }> {
  const root = freshDir();
  const res = await applyLayer(root, chunked(tar, chunk));
  return { root, res };
}

const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const T1 = 1111111111,
  T2 = 1222222222,
  T3 = 1333333333,
  T4 = 1444444444;

// ---- extraction table -----------------------------------------------------------------------------

interface Case {
  name: string;
  tar: Piece[];
  check: (root: string, res: ApplyResult) => void;
  /** Layer size as Docker counts it. */
  size?: number;
}

const cases: Case[] = [
  {
    name: 'regular files: content and permission bits incl. setuid/setgid/sticky',
    tar: [
      { name: 'f644', body: 'hello', mode: 0o644 },
      { name: 'f600', body: 'x', mode: 0o600 },
      { name: 'f755', body: '#!/bin/sh\n', mode: 0o755 },
      { name: 'f666', body: '', mode: 0o666 },
      { name: 'f000', body: 'no', mode: 0 },
      { name: 'suid', body: 's', mode: 0o4755 },
      { name: 'sgid', body: 'g', mode: 0o2755 },
      { name: 'sticky', body: 't', mode: 0o1644 },
      { name: 'all', body: 'a', mode: 0o7777 },
    ],
    size: 5 + 1 + 10 + 0 + 2 + 1 + 1 + 1 + 1,
    check: (r) => {
      const want: Record<string, [number, string]> = {
        f644: [0o644, 'hello'],
        f600: [0o600, 'x'],
        f755: [0o755, '#!/bin/sh\n'],
        f666: [0o666, ''],
        f000: [0, 'no'],
        suid: [0o4755, 's'],
        sgid: [0o2755, 'g'],
        sticky: [0o1644, 't'],
        all: [0o7777, 'a'],
      };
      for (const [n, [m, body]] of Object.entries(want)) {
        assert.ok(lst(`${r}/${n}`).isFile(), n);
        assert.equal(perm(`${r}/${n}`).toString(8), m.toString(8), `${n} mode`);
        assert.equal(read(`${r}/${n}`), body, `${n} content`);
      }
    },
  },
  {
    name: 'a file larger than one read chunk',
    tar: [{ name: 'big', body: Buffer.alloc(3 << 20, 0x5a) }],
    size: 3 << 20,
    check: (r) => {
      assert.equal(lst(`${r}/big`).size, 3 << 20);
      assert.ok(fs.readFileSync(`${r}/big`).every((b) => b === 0x5a));
    },
  },
  {
    name: 'owners of files, dirs, symlinks, fifos and devices; chown keeps setuid/setgid',
    tar: [
      { name: 'home/', uid: 0, gid: 0 },
      { name: 'home/u/', uid: 1000, gid: 2000, mode: 0o2775 },
      { name: 'home/u/f', body: 'f', uid: 1000, gid: 1000 },
      { name: 'home/u/suid', body: 's', uid: 1000, gid: 1000, mode: 0o6755 },
      { name: 'home/u/ln', type: 'symlink', linkname: 'f', uid: 1001, gid: 1002 },
      { name: 'home/u/fifo', type: 'fifo', uid: 1003, gid: 1004, mode: 0o640 },
      { name: 'home/u/tty', type: 'char', devmajor: 5, devminor: 0, uid: 1005, gid: 5, mode: 0o620 },
      { name: 'home/u/big', body: 'b', uid: 70000, gid: 4_000_000 },
    ],
    size: 1 + 1 + 1 + 1,
    check: (r) => {
      assert.deepEqual(owner(`${r}/home`), [0, 0]);
      assert.deepEqual(owner(`${r}/home/u`), [1000, 2000]);
      assert.equal(perm(`${r}/home/u`).toString(8), '2775');
      assert.deepEqual(owner(`${r}/home/u/f`), [1000, 1000]);
      assert.deepEqual(owner(`${r}/home/u/suid`), [1000, 1000]);
      assert.equal(perm(`${r}/home/u/suid`).toString(8), '6755');
      assert.deepEqual(owner(`${r}/home/u/ln`), [1001, 1002]);
      assert.deepEqual(owner(`${r}/home/u/f`), [1000, 1000], 'lchown of the symlink did not touch its target');
      assert.deepEqual(owner(`${r}/home/u/fifo`), [1003, 1004]);
      assert.deepEqual(owner(`${r}/home/u/tty`), [1005, 5]);
      assert.deepEqual(owner(`${r}/home/u/big`), [70000, 4_000_000]);
    },
  },
  {
    name: 'mtimes: files, symlinks (lutimes), fifos, and dirs set after their children',
    tar: [
      { name: './', mtime: T4 },
      { name: 'd/', mtime: T1 },
      { name: 'd/file', body: 'x', mtime: T2 },
      { name: 'd/sub/', mtime: T3 },
      { name: 'd/sub/f', mtime: T4 },
      { name: 'd/ln', type: 'symlink', linkname: 'file', mtime: T3 },
      { name: 'd/fifo', type: 'fifo', mtime: T2 },
      { name: 'frac', body: 'q', mtime: T1 + 0.9 },
    ],
    size: 1 + 4 + 1,
    check: (r) => {
      assert.equal(mtime(r), T4, 'root');
      assert.equal(mtime(`${r}/d`), T1, 'd (children created after it)');
      assert.equal(mtime(`${r}/d/sub`), T3);
      assert.equal(mtime(`${r}/d/file`), T2, 'file (not changed by the symlink pointing at it)');
      assert.equal(mtime(`${r}/d/sub/f`), T4);
      assert.equal(mtime(`${r}/d/ln`), T3, 'symlink itself');
      assert.equal(mtime(`${r}/d/fifo`), T2);
      assert.equal(mtime(`${r}/frac`), T1);
    },
  },
  {
    name: 'directories: modes, and a read-only dir still gets its children',
    tar: [
      { name: 'priv/', mode: 0o700 },
      { name: 'shared/', mode: 0o2775 },
      { name: 'tmp/', mode: 0o1777 },
      { name: 'ro/', mode: 0o555 },
      { name: 'ro/child', body: 'c' },
      { name: 'ro/sub/', mode: 0o500 },
      { name: 'ro/sub/x', body: 'x' },
    ],
    size: 2,
    check: (r) => {
      for (const [n, m] of [
        ['priv', 0o700],
        ['shared', 0o2775],
        ['tmp', 0o1777],
        ['ro', 0o555],
        ['ro/sub', 0o500],
      ] as const) {
        assert.ok(lst(`${r}/${n}`).isDirectory(), n);
        assert.equal(perm(`${r}/${n}`).toString(8), m.toString(8), n);
      }
      assert.equal(read(`${r}/ro/child`), 'c');
      assert.equal(read(`${r}/ro/sub/x`), 'x');
    },
  },
  {
    name: 'symlinks: relative, absolute, dangling, to a directory (never followed)',
    tar: [
      { name: 'bin/' },
      { name: 'bin/busybox', body: 'bb', mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/abs', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'dangling', type: 'symlink', linkname: '/does/not/exist' },
      { name: 'etcdir', type: 'symlink', linkname: '/etc' },
      { name: 'up', type: 'symlink', linkname: '../../../..' },
    ],
    size: 2 + 7 + 12 + 15 + 4 + 11,
    check: (r) => {
      for (const [n, t] of [
        ['bin/sh', 'busybox'],
        ['bin/abs', '/bin/busybox'],
        ['dangling', '/does/not/exist'],
        ['etcdir', '/etc'],
        ['up', '../../../..'],
      ]) {
        assert.ok(lst(`${r}/${n}`).isSymbolicLink(), n);
        assert.equal(fs.readlinkSync(`${r}/${n}`), t, n);
      }
    },
  },
  {
    name: 'hardlinks share the inode and count once in the size',
    tar: [
      { name: 'f', body: 'shared content', mode: 0o640, uid: 7 },
      { name: 'sub/' },
      { name: 'sub/h2', type: 'link', linkname: 'f' },
      { name: 'h1', type: 'link', linkname: './f' },
      { name: 'lnk', type: 'symlink', linkname: 'f' },
      { name: 'hlnk', type: 'link', linkname: 'lnk' },
      { name: 'empty' },
      { name: 'hempty', type: 'link', linkname: 'empty' },
    ],
    size: 14 + 1,
    check: (r) => {
      const ino = lst(`${r}/f`).ino;
      assert.equal(lst(`${r}/h1`).ino, ino);
      assert.equal(lst(`${r}/sub/h2`).ino, ino);
      assert.equal(lst(`${r}/f`).nlink, 3);
      assert.equal(read(`${r}/sub/h2`), 'shared content');
      assert.equal(perm(`${r}/h1`), 0o640);
      assert.deepEqual(owner(`${r}/h1`), [7, 0]);
      assert.ok(lst(`${r}/hlnk`).isSymbolicLink(), 'a hardlink to a symlink is the symlink, not its target');
      assert.equal(lst(`${r}/hlnk`).ino, lst(`${r}/lnk`).ino);
      assert.equal(lst(`${r}/hempty`).ino, lst(`${r}/empty`).ino);
    },
  },
  {
    name: 'char and block devices and fifos',
    tar: [
      { name: 'dev/' },
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block', devmajor: 7, devminor: 0, mode: 0o660, gid: 6 },
      { name: 'dev/big', type: 'char', devmajor: 4095, devminor: 1048575, mode: 0o600 },
      { name: 'dev/mid', type: 'block', devmajor: 259, devminor: 300, mode: 0o600 },
      { name: 'run/fifo', type: 'fifo', mode: 0o622 },
    ],
    size: 0,
    check: (r) => {
      assert.ok(lst(`${r}/dev/null`).isCharacterDevice());
      assert.deepEqual(dev(`${r}/dev/null`), [1, 3]);
      assert.equal(perm(`${r}/dev/null`), 0o666);
      assert.ok(lst(`${r}/dev/loop0`).isBlockDevice());
      assert.deepEqual(dev(`${r}/dev/loop0`), [7, 0]);
      assert.deepEqual(owner(`${r}/dev/loop0`), [0, 6]);
      assert.deepEqual(dev(`${r}/dev/big`), [4095, 1048575]);
      assert.deepEqual(dev(`${r}/dev/mid`), [259, 300]);
      assert.ok(lst(`${r}/run/fifo`).isFIFO());
      assert.equal(perm(`${r}/run/fifo`), 0o622);
    },
  },
  {
    name: 'xattrs from PAX SCHILY.xattr: user.* and security.capability',
    tar: [
      { name: 'bin/', xattrs: { 'user.dir': 'd' } },
      {
        name: 'bin/ping',
        body: 'ELF',
        mode: 0o755,
        xattrs: { 'security.capability': cap, 'user.comment': 'with\0nul' },
      },
      { name: 'empty', xattrs: { 'user.empty': '' } },
    ],
    size: 3,
    check: (r) => {
      assert.deepEqual(xattr(`${r}/bin/ping`, 'security.capability'), cap);
      assert.deepEqual(xattr(`${r}/bin/ping`, 'user.comment'), Buffer.from('with\0nul'));
      assert.deepEqual(xattr(`${r}/bin`, 'user.dir'), Buffer.from('d'));
      assert.deepEqual(xattr(`${r}/empty`, 'user.empty'), Buffer.alloc(0));
      assert.equal(perm(`${r}/bin/ping`), 0o755);
    },
  },
  {
    name: "whiteouts: .wh.NAME becomes a 0/0 char device NAME with the entry's owner",
    tar: [
      { name: '.wh.gone', uid: 1000, gid: 1000, mode: 0o600 },
      { name: 'etc/' },
      { name: 'etc/.wh.passwd' },
      { name: 'deep/er/.wh.x' },
      { name: 'd/' },
      { name: 'd/x', body: 'replaced' },
      { name: 'd/.wh.x' },
      { name: 'dir/' },
      { name: 'dir/sub/' },
      { name: 'dir/sub/f', body: 'gone' },
      { name: '.wh.dir' },
    ],
    size: 0,
    check: (r) => {
      for (const n of ['gone', 'etc/passwd', 'deep/er/x', 'd/x', 'dir']) {
        assert.ok(lst(`${r}/${n}`).isCharacterDevice(), n);
        assert.deepEqual(dev(`${r}/${n}`), [0, 0], n);
      }
      assert.deepEqual(owner(`${r}/gone`), [1000, 1000]);
      assert.deepEqual(owner(`${r}/etc/passwd`), [0, 0]);
      assert.deepEqual(ls(r), ['d', 'deep', 'dir', 'etc', 'gone'], 'no .wh. entries are written');
      assert.deepEqual(ls(`${r}/etc`), ['passwd']);
      assert.ok(lst(`${r}/deep/er`).isDirectory(), 'implicit parent of a whiteout');
    },
  },
  {
    name: 'opaque dirs: .wh..wh..opq sets trusted.overlay.opaque=y and is not written',
    tar: [
      { name: 'd/' },
      { name: 'd/.wh..wh..opq' },
      { name: 'd/keep', body: 'k' },
      { name: 'implicit/sub/.wh..wh..opq' },
      { name: '.wh..wh..opq' },
    ],
    size: 1,
    check: (r) => {
      for (const p of [`${r}/d`, `${r}/implicit/sub`, r])
        assert.deepEqual(xattr(p, 'trusted.overlay.opaque'), Buffer.from('y'), p);
      assert.equal(xattr(`${r}/implicit`, 'trusted.overlay.opaque'), null);
      assert.deepEqual(ls(`${r}/d`), ['keep']);
      assert.deepEqual(ls(`${r}/implicit/sub`), []);
      assert.deepEqual(ls(r), ['d', 'implicit']);
    },
  },
  {
    name: 'other .wh..wh. metadata entries are skipped',
    tar: [
      { name: '.wh..wh.plnk/' },
      { name: 'x/' },
      { name: 'x/.wh..wh.aufs' },
      { name: '.wh..wh.orph', type: 'symlink', linkname: '/etc' },
    ],
    size: 0,
    check: (r) => {
      assert.deepEqual(ls(r), ['x']);
      assert.deepEqual(ls(`${r}/x`), []);
    },
  },
  {
    name: 'duplicate: file then file, the last wins (content, mode, owner, mtime)',
    tar: [
      { name: 'f', body: 'first version', mode: 0o600, uid: 1, mtime: T1 },
      { name: 'f', body: 'second', mode: 0o644, mtime: T2 },
    ],
    size: 6,
    check: (r) => {
      assert.equal(read(`${r}/f`), 'second');
      assert.equal(perm(`${r}/f`), 0o644);
      assert.deepEqual(owner(`${r}/f`), [0, 0]);
      assert.equal(mtime(`${r}/f`), T2);
    },
  },
  {
    name: 'duplicate: dir (with children) then file',
    tar: [
      { name: 'p/', mtime: T1 },
      { name: 'p/child', body: 'cc' },
      { name: 'p/sub/' },
      { name: 'p', body: 'now a file', mtime: T2 },
    ],
    size: 10,
    check: (r) => {
      assert.ok(lst(`${r}/p`).isFile());
      assert.equal(read(`${r}/p`), 'now a file');
      assert.equal(mtime(`${r}/p`), T2, "the replaced dir's time is not applied to the file");
    },
  },
  {
    name: 'duplicate: file then dir, then children',
    tar: [
      { name: 'q', body: 'file' },
      { name: 'q/', mode: 0o700 },
      { name: 'q/c', body: 'c' },
    ],
    size: 1,
    check: (r) => {
      assert.ok(lst(`${r}/q`).isDirectory());
      assert.equal(perm(`${r}/q`), 0o700);
      assert.equal(read(`${r}/q/c`), 'c');
    },
  },
  {
    name: 'duplicate: dir then dir keeps the children, the last metadata wins',
    tar: [
      { name: 'r/', mode: 0o755, mtime: T1 },
      { name: 'r/c', body: 'c' },
      { name: 'r/', mode: 0o700, uid: 5, gid: 6, mtime: T2 },
    ],
    size: 1,
    check: (r) => {
      assert.equal(perm(`${r}/r`), 0o700);
      assert.deepEqual(owner(`${r}/r`), [5, 6]);
      assert.equal(mtime(`${r}/r`), T2);
      assert.equal(read(`${r}/r/c`), 'c');
    },
  },
  {
    name: 'duplicate: symlink then file, file then symlink',
    tar: [
      { name: 's', type: 'symlink', linkname: 'target' },
      { name: 's', body: 'real' },
      { name: 't', body: 'was a file' },
      { name: 't', type: 'symlink', linkname: 's' },
    ],
    size: 4 + 1,
    check: (r) => {
      assert.ok(lst(`${r}/s`).isFile());
      assert.equal(read(`${r}/s`), 'real');
      assert.equal(fs.readlinkSync(`${r}/t`), 's');
    },
  },
  {
    name: 'duplicate: rewriting a hardlinked name leaves the other link alone',
    tar: [
      { name: 'a', body: 'orig' },
      { name: 'b', type: 'link', linkname: 'a' },
      { name: 'b', body: 'new!!' },
    ],
    size: 4 + 5,
    check: (r) => {
      assert.equal(read(`${r}/a`), 'orig');
      assert.equal(read(`${r}/b`), 'new!!');
      assert.equal(lst(`${r}/a`).nlink, 1);
    },
  },
  {
    name: 'implicit parent directories are created 0755, root-owned',
    tar: [
      { name: 'a/b/c/file', body: 'deep', uid: 1000 },
      { name: 'm/n/f', body: 'x' },
      { name: 'm/', mode: 0o700, mtime: T1 },
    ],
    size: 5,
    check: (r) => {
      for (const d of ['a', 'a/b', 'a/b/c', 'm/n']) {
        assert.ok(lst(`${r}/${d}`).isDirectory(), d);
        assert.equal(perm(`${r}/${d}`), 0o755, d);
        assert.deepEqual(owner(`${r}/${d}`), [0, 0], d);
      }
      assert.equal(read(`${r}/a/b/c/file`), 'deep');
      assert.equal(perm(`${r}/m`), 0o700, 'explicit entry after the implicit creation');
      assert.equal(mtime(`${r}/m`), T1);
      assert.equal(read(`${r}/m/n/f`), 'x');
    },
  },
  {
    name: 'root entry "./" applies mode, owner and mtime to the layer root',
    tar: [
      { name: './', mode: 0o750, uid: 1000, gid: 1000, mtime: T3 },
      { name: './etc/' },
      { name: './etc/x', body: 'x' },
    ],
    size: 1,
    check: (r) => {
      assert.equal(perm(r), 0o750);
      assert.deepEqual(owner(r), [1000, 1000]);
      assert.equal(mtime(r), T3);
      assert.equal(read(`${r}/etc/x`), 'x');
    },
  },
  {
    name: 'root entry "." and names with "./", "//" and absolute paths are cleaned',
    tar: [
      { name: '.', type: 'dir', mode: 0o711 },
      { name: '/abs/file', body: 'a' },
      { name: 'x//y/./z', body: 'z' },
      { name: './dot' },
    ],
    size: 2,
    check: (r) => {
      assert.equal(perm(r), 0o711);
      assert.equal(read(`${r}/abs/file`), 'a');
      assert.equal(read(`${r}/x/y/z`), 'z');
      assert.ok(lst(`${r}/dot`).isFile());
    },
  },
  {
    name: 'PAX long names, GNU long names and long link targets',
    tar: [
      { name: `${'long/'.repeat(50)}file`, body: 'pax' },
      gnuLong(`${'gnu/'.repeat(40)}file`),
      rawEntry({ name: 'ignored', size: 3, magic: 'gnu' }, 'gnu'),
      { name: 'ln', type: 'symlink', linkname: `/${'t'.repeat(300)}` },
      { name: 'hl', type: 'link', linkname: `${'long/'.repeat(50)}file` },
    ],
    size: 3 + 3 + 301,
    check: (r) => {
      assert.equal(read(`${r}/${'long/'.repeat(50)}file`), 'pax');
      assert.equal(read(`${r}/${'gnu/'.repeat(40)}file`), 'gnu');
      assert.equal(fs.readlinkSync(`${r}/ln`), `/${'t'.repeat(300)}`);
      assert.equal(read(`${r}/hl`), 'pax');
      assert.ok(!fs.existsSync(`${r}/ignored`));
    },
  },
];

for (const c of cases) {
  test(`apply: ${c.name}`, async () => {
    const tar = buildTar(c.tar);
    const { root, res } = await apply(tar);
    c.check(root, res);
    assert.equal(res.diffID, sha(tar));
    if (c.size !== undefined) assert.equal(res.size, c.size, 'size');
    // the same tar fed one byte at a time extracts the same way
    if (tar.length < 100_000) {
      const one = await apply(tar, 1);
      c.check(one.root, one.res);
      assert.equal(one.res.diffID, res.diffID);
      assert.deepEqual(gunzipSync(one.res.tarSplit), gunzipSync(res.tarSplit));
    }
  });
}

test('apply: a whiteout entry with content is rejected', async () => {
  await assert.rejects(
    apply(buildTar([{ name: '.wh.x', body: 'data' }])),
    (e) => e instanceof BerthError && /"\.wh\.x": whiteout entry has content/.test(e.message),
  );
});

test('apply: the root entry must be a directory', async () => {
  await assert.rejects(
    apply(buildTar([{ name: './', type: 'symlink', linkname: '/' }])),
    (e) => e instanceof BerthError && /the layer root must be a directory/.test(e.message),
  );
});

// ---- compression, digests, size -------------------------------------------------------------------

const sample = buildTar([
  { name: 'etc/' },
  { name: 'etc/hosts', body: '127.0.0.1 localhost\n' },
  { name: 'bin/' },
  { name: 'bin/tool', body: Buffer.alloc(200_000, 7), mode: 0o755 },
  { name: 'bin/t2', type: 'link', linkname: 'bin/tool' },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
  { name: 'dev/' },
  { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
  { name: '.wh.old' },
  { name: `${'p/'.repeat(70)}x`, body: 'long' },
]);
const sampleSize = 20 + 200_000 + 12 + 4;

for (const [kind, data] of [
  ['plain', sample],
  ['gzip', gzip(sample)],
  ['zstd', zstd(sample)],
] as const) {
  test(`compression: ${kind} input gives the diffID of the plain tar, blobDigest of the input, Docker's size`, async () => {
    if (kind !== 'plain') assert.notDeepEqual(data, sample);
    for (const chunk of [data.length, 1000, 1]) {
      const root = freshDir();
      const res = await applyLayer(root, chunked(data, chunk), { blobDigest: true });
      assert.equal(res.diffID, sha(sample), `chunk ${chunk}`);
      assert.equal(res.blobDigest, sha(data));
      assert.equal(res.size, sampleSize);
      assert.equal(res.entries, 10);
      assert.equal(fs.readFileSync(`${root}/bin/tool`).length, 200_000);
      const entries = parseTarSplit(res.tarSplit);
      const rebuilt = Buffer.concat(
        entries.map((e) =>
          e.type === 2 ? e.payload : e.size === 0 ? Buffer.alloc(0) : fs.readFileSync(`${root}/${e.name}`),
        ),
      );
      assert.deepEqual(rebuilt, sample, 'tar-split + files reproduce the uncompressed tar');
    }
  });
}

test('compression: blobDigest is absent unless asked for', async () => {
  const res = await applyLayer(freshDir(), chunked(gzip(sample)));
  assert.equal(res.blobDigest, undefined);
});

test('size: as Docker counts it, also after replacements (recomputed from the tree)', async () => {
  const t = buildTar([
    { name: 'a', body: '12345' },
    { name: 'h', type: 'link', linkname: 'a' },
    { name: 'h2', type: 'link', linkname: 'a' },
    { name: 's', type: 'symlink', linkname: 'abc' },
    { name: 'd/' },
    { name: 'd/f', body: 'xy' },
    { name: 'e', body: '' },
    { name: 'dev', type: 'char', devmajor: 1, devminor: 3 },
  ]);
  assert.equal((await apply(t)).res.size, 5 + 3 + 2);
  const replaced = buildTar([
    { name: 'a', body: '1234567890' },
    { name: 'a', body: '12' },
    { name: 'd/' },
    { name: 'd/big', body: Buffer.alloc(1000) },
    { name: 'd', body: 'f' },
    { name: 'x', body: 'xyz' },
    { name: 'hx', type: 'link', linkname: 'x' },
    { name: 'x', body: 'new' },
  ]);
  assert.equal((await apply(replaced)).res.size, 2 + 1 + 3 + 3);
});

// ---- tar-split round trip through the layer store ---------------------------------------------------

const storeRoot = freshDir('store');
const storeP = ImageStore.open(storeRoot);

async function register(data: Buffer, chunk = 65536): Promise<{ store: ImageStore; layer: Layer }> {
  const store = await storeP;
  const layer = await store.withTxn('test', (txn) =>
    store.layers.register(txn, undefined, chunked(data, chunk), (fn) => store.lock(fn), { what: 'test layer' }),
  );
  return { store, layer };
}
const diffOf = (store: ImageStore, l: Layer) => `${store.paths.cacheDir(l.cacheId)}/diff`;
const splitPath = (store: ImageStore, l: Layer) => `${store.paths.layerDir(hexOf(l.chainID))}/tar-split.json.gz`;

const roundTripPieces: Piece[] = [
  { name: './', mode: 0o755 },
  paxHeader([['comment', 'a global header']], 'g'),
  { name: 'etc/' },
  { name: 'etc/hosts', body: 'hosts\n' },
  { name: 'empty' },
  { name: 'b511', body: Buffer.alloc(511, 1) },
  { name: 'b512', body: Buffer.alloc(512, 2) },
  { name: 'big', body: Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7) & 0xff)) },
  { name: `${'pax/'.repeat(60)}name`, body: 'long pax name' },
  { name: 'caps', body: 'c', xattrs: { 'security.capability': cap, 'user.x': 'y' }, uid: 3_000_000 },
  gnuLong(`${'gnu/'.repeat(40)}name`),
  rawEntry({ name: 'short', size: 8, magic: 'gnu' }, 'gnu body'),
  gnuLong(`/${'k'.repeat(200)}`, 'K'),
  rawEntry({ name: 'klink', flag: '2', magic: 'gnu' }),
  { name: 'hard', type: 'link', linkname: 'etc/hosts' },
  { name: 'sym', type: 'symlink', linkname: '/etc/hosts' },
  { name: 'dev/' },
  { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
  { name: 'fifo', type: 'fifo' },
  { name: '.wh.removed' },
  { name: 'opq/' },
  { name: 'opq/.wh..wh..opq' },
  rawEntry({ name: 'v7file', flag: '\0', magic: 'v7', size: 2 }, 'v7'),
  rawBlock({ name: 'dirsize/', flag: '5', size: 100 }),
  rawBlock({ name: 'symsize', flag: '2', linkname: 'etc', size: 5 }),
  { name: 'dup', type: 'symlink', linkname: 'first' },
  { name: 'dup', body: 'second' },
];
const garbage = Buffer.concat([
  Buffer.from('trailing garbage after the end-of-archive blocks'),
  Buffer.alloc(777, 0xab),
]);
const roundTripTar = buildTar(roundTripPieces, { after: garbage });

test('tar-split: LayerStore.tar() reproduces the input bytes exactly (PAX, GNU, trailing garbage)', async () => {
  const { store, layer } = await register(roundTripTar, 4099);
  assert.equal(layer.diffID, sha(roundTripTar));
  assert.equal(store.layers.tarSize(layer.chainID), roundTripTar.length);
  const out = await collect(store.layers.tar(layer.chainID));
  assert.equal(out.length, roundTripTar.length);
  assert.ok(out.equals(roundTripTar), 'rebuilt tar differs from the input');
  const diff = diffOf(store, layer);
  assert.equal(read(`${diff}/dup`), 'second');
  assert.equal(read(`${diff}/${'gnu/'.repeat(40)}name`), 'gnu body');
});

test('tar-split: a gzip and a zstd layer rebuild to the uncompressed tar', async () => {
  for (const [kind, compress] of [
    ['gzip', gzip],
    ['zstd', zstd],
  ] as const) {
    const plain = buildTar([{ name: 'kind', body: kind }, ...roundTripPieces], { after: garbage });
    const { store, layer } = await register(compress(plain), 1000);
    assert.equal(layer.diffID, sha(plain), kind);
    assert.ok((await collect(store.layers.tar(layer.chainID))).equals(plain), kind);
  }
});

test('tar-split: a file changed in diff/ makes tar() throw a CRC error', async () => {
  const t = buildTar([
    { name: 'a', body: 'original a' },
    { name: 'b', body: 'original b' },
  ]);
  const { store, layer } = await register(t);
  const diff = diffOf(store, layer);
  fs.writeFileSync(`${diff}/b`, 'tampered b');
  await assert.rejects(
    collect(store.layers.tar(layer.chainID)),
    (e) => e instanceof BerthError && /file "b" changed since the layer was stored \(CRC mismatch\)/.test(e.message),
  );
  fs.writeFileSync(`${diff}/b`, 'short');
  await assert.rejects(
    collect(store.layers.tar(layer.chainID)),
    (e) => e instanceof BerthError && /shorter than recorded/.test(e.message),
  );
  fs.writeFileSync(`${diff}/b`, 'original b');
  assert.ok((await collect(store.layers.tar(layer.chainID))).equals(t), 'restored content rebuilds again');
});

/**
 * Replace a registered layer's tar-split with one that names `name` as a file of `body`'s size and CRC,
 * and its diff file with the digest that such a rebuild would have: only the path checks stand in the way.
 */
function forgeSplit(store: ImageStore, layer: Layer, name: string, body: Buffer): Buffer {
  const hdr = encodeHeader(header({ name, body }));
  const tail = Buffer.concat([Buffer.alloc(padding(body.length)), EOA]);
  const lines = [
    { type: 2, payload: hdr.toString('base64'), position: 0 },
    { type: 1, name, size: body.length, payload: native.crc64Of(body).toString('base64'), position: 1 },
    { type: 2, payload: tail.toString('base64'), position: 2 },
  ];
  fs.writeFileSync(splitPath(store, layer), gzipSync(lines.map((l) => JSON.stringify(l)).join('\n') + '\n'));
  const would = Buffer.concat([hdr, body, tail]);
  fs.writeFileSync(`${store.paths.layerDir(hexOf(layer.chainID))}/diff`, sha(would));
  return would;
}

const passwd = fs.readFileSync('/etc/passwd');

for (const [what, name, re] of [
  ['a parent directory that is a symlink (a -> /etc, a/passwd)', 'a/passwd', /"a" is not a directory in the layer/],
  ['a final component that is a symlink (p -> /etc/passwd)', 'p', /"[^"]*\/diff\/p" is not a regular file/],
  ['a name that climbs out of diff/', '../../../../../../../../etc/passwd', /escapes the layer root/],
  [
    'an absolute name (confined to diff/, where it does not exist)',
    '/etc/passwd',
    /"etc" is not a directory in the layer/,
  ],
] as const) {
  test(`tar-split: a forged entry through ${what} is refused and /etc/passwd is never read`, async () => {
    const { store, layer } = await register(
      buildTar([
        { name: 'case', body: what },
        { name: 'a', type: 'symlink', linkname: '/etc' },
        { name: 'p', type: 'symlink', linkname: '/etc/passwd' },
      ]),
    );
    forgeSplit(store, layer, name, passwd);
    const got: Buffer[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of store.layers.tar(layer.chainID)) got.push(c);
      })(),
      (e) => e instanceof BerthError && re.test(e.message),
    );
    assert.equal(Buffer.concat(got).indexOf(passwd), -1, 'passwd content was emitted');
  });
}

test('tar-split: a forged entry naming a directory or device is refused', async () => {
  const { store, layer } = await register(
    buildTar([{ name: 'd/' }, { name: 'null', type: 'char', devmajor: 1, devminor: 3 }]),
  );
  forgeSplit(store, layer, 'd', Buffer.from('abc'));
  await assert.rejects(
    collect(store.layers.tar(layer.chainID)),
    (e) => e instanceof BerthError && /is not a regular file|EISDIR/.test(e.message),
  );
  forgeSplit(store, layer, 'null', Buffer.alloc(10));
  await assert.rejects(
    collect(store.layers.tar(layer.chainID)),
    (e) => e instanceof BerthError && /is not a regular file/.test(e.message),
  );
});

test('tar-split: a file entry whose name is now a device node is refused without opening the device', async () => {
  // a file, then a whiteout of it: diff/ holds the 0/0 char device where tar-split recorded a file body;
  // opening a device node of the host (here 0/0: ENXIO) must not even be tried
  const { store, layer } = await register(
    buildTar([{ name: 'gone', body: 'abc' }, { name: '.wh.gone' }, { name: 'p', type: 'fifo' }]),
  );
  assert.ok(lst(`${diffOf(store, layer)}/gone`).isCharacterDevice());
  await assert.rejects(
    collect(store.layers.tar(layer.chainID)),
    (e) => e instanceof BerthError && /"[^"]*\/gone" is not a regular file/.test(e.message),
  );
});

test('tar-split: names that are not UTF-8 (old Latin-1 tars) and names with U+FFFD rebuild exactly', async () => {
  const t = buildTar([
    rawEntry({ name: Buffer.from('caf\xe9.txt', 'latin1'), size: 6 }, 'latin1'),
    rawEntry({ name: 'ok\ufffd', size: 4 }, 'fffd'),
    { name: 'plain', body: 'p' },
  ]);
  const { store, layer } = await register(t);
  assert.ok((await collect(store.layers.tar(layer.chainID))).equals(t));
});
