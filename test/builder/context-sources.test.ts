/**
 * Build contexts from dirs and tars, and COPY source resolution, with hostile inputs:
 * tar names that leave the root, symlinks and hardlinks to host files, sources that
 * climb out of the context or lead through a link to /etc/shadow.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { openContext, type BuildContext } from '../../src/builder/context/context.js';
import { hashSources, resolveSources } from '../../src/builder/context/sources.js';
import { encodeHeader } from '../../src/archive/tar-header.js';

const TMP = fs.mkdtempSync('/var/tmp/berth-ctx-test-');
after(() => fs.rmSync(TMP, { recursive: true, force: true }));
let seq = 0;

function dir(files: Record<string, string | { link: string } | null>): string {
  const d = join(TMP, `d${++seq}`);
  fs.mkdirSync(d);
  for (const [p, v] of Object.entries(files)) {
    const full = join(d, p);
    if (v === null) {
      fs.mkdirSync(full, { recursive: true });
      continue;
    }
    fs.mkdirSync(join(full, '..'), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(full, v);
    else fs.symlinkSync(v.link, full);
  }
  return d;
}

interface Member {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'link';
  body?: string;
  linkname?: string;
}
function tar(members: Member[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const body = Buffer.from(m.body ?? '');
    parts.push(
      encodeHeader({
        name: m.name,
        linkname: m.linkname ?? '',
        type: m.type ?? 'file',
        mode: m.type === 'dir' ? 0o755 : 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 1_000_000_000,
        uname: '',
        gname: '',
        devmajor: 0,
        devminor: 0,
        xattrs: new Map(),
      }),
    );
    parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const DF = 'FROM scratch\n';
const open = (files: Parameters<typeof dir>[0], df?: { path?: string }) => openContext({ dir: dir(files) }, df);
const openTar = (bytes: Buffer, df?: { path?: string }) => openContext({ tar: Readable.from([bytes]) }, df);
const rels = async (ctx: BuildContext, src: string) => (await resolveSources(ctx, src)).map((m) => m.rel);

test('dir context: Dockerfile lookup, -f outside, lowercase fallback, errors', async () => {
  const c = await open({ Dockerfile: DF, 'a.txt': 'a' });
  assert.equal(c.dockerfileText, DF);
  assert.equal(c.dockerfileName, 'Dockerfile');
  const lower = await open({ dockerfile: 'FROM x\n' });
  assert.equal(lower.dockerfileName, 'dockerfile');
  const outside = join(TMP, 'outside.Dockerfile');
  fs.writeFileSync(outside, 'FROM y\n');
  const o = await open({ 'a.txt': 'a' }, { path: outside });
  assert.equal(o.dockerfileText, 'FROM y\n');
  assert.equal(o.dockerfileName, outside);
  await assert.rejects(
    open({ 'a.txt': 'a' }),
    /unable to evaluate symlinks in Dockerfile path: lstat .*\/Dockerfile: ENOENT/,
  );
  await assert.rejects(open({ Dockerfile: '' }), /the Dockerfile \(Dockerfile\) cannot be empty/);
  await assert.rejects(openContext({ dir: join(TMP, 'nope') }), /unable to prepare context: path ".*nope" not found/);
});

test('dir context: .dockerignore hides files, an ignored Dockerfile and .dockerignore too; Dockerfile.dockerignore is not read', async () => {
  const c = await open({
    Dockerfile: DF,
    '.dockerignore': 'secret\n*.log\nDockerfile\n.dockerignore\nvendor\n!vendor/keep\n',
    'Dockerfile.dockerignore': 'a.txt\n',
    'a.txt': 'a',
    secret: 's',
    'x.log': 'l',
    'sub/y.log': 'l',
    'vendor/keep': 'k',
    'vendor/drop': 'd',
  });
  const present = [...c.tree.walk('')].map((e) => e.rel);
  assert.deepEqual(present, ['', 'Dockerfile.dockerignore', 'a.txt', 'sub', 'sub/y.log', 'vendor', 'vendor/keep']);
  assert.equal(c.tree.get('vendor')!.st, undefined, 'an excluded dir is only a parent');
  for (const src of ['secret', 'x.log', 'Dockerfile', '.dockerignore', 'vendor/drop']) {
    await assert.rejects(resolveSources(c, src), {
      code: 'copy_not_found',
      message: `file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`,
    });
  }
  assert.deepEqual(await rels(c, 'vendor/keep'), ['vendor/keep']);
});

test('COPY sources: cleaning, absolute = relative, escapes refused, wildcards, symlinks inside only', async () => {
  const c = await open({
    Dockerfile: DF,
    'a.txt': 'a',
    'b.txt': 'b',
    'd/x': 'x',
    'd/sub/y': 'y',
    e: null,
    link: { link: 'a.txt' },
    abslink: { link: '/a.txt' },
    shadow: { link: '/etc/shadow' },
    up: { link: '../../../../etc' },
    dlink: { link: 'd' },
    loop: { link: 'loop' },
  });
  const rows: Array<[string, string[] | RegExp]> = [
    ['a.txt', ['a.txt']],
    ['./a.txt', ['a.txt']],
    ['/a.txt', ['a.txt']],
    ['d/../a.txt', ['a.txt']],
    ['.', ['']],
    ['*.txt', ['a.txt', 'b.txt']],
    ['d/*', ['d/sub', 'd/x']],
    ['[ab].txt', ['a.txt', 'b.txt']],
    ['nomatch*', []],
    ['[', []],
    ['dlink/x', ['dlink/x']],
    ['../x', /: forbidden path outside the build context: \.\.\/x \(\)$/],
    ['/../../etc/passwd', /: forbidden path outside the build context: \.\.\/\.\.\/etc\/passwd \(\)$/],
    ['d/../../x', /: forbidden path outside the build context: d\/\.\.\/\.\.\/x \(\)$/],
    ['a.txt/x', /: forbidden path outside the build context: a\.txt\/x \(\)$/],
    ['loop', /: forbidden path outside the build context: loop \(\)$/],
    [
      '/etc/passwd',
      /: file not found in build context or excluded by \.dockerignore: stat etc\/passwd: file does not exist$/,
    ],
    ['shadow', /: file not found .*: stat shadow: file does not exist$/],
    ['up/passwd', /: file not found .*: stat up\/passwd: file does not exist$/],
  ];
  for (const [src, want] of rows) {
    if (want instanceof RegExp) await assert.rejects(resolveSources(c, src), want, src);
    else assert.deepEqual(await rels(c, src), want, src);
  }
  const [l] = await resolveSources(c, 'link');
  assert.equal(l!.resolved, 'a.txt');
  assert.equal(l!.hash, (await resolveSources(c, 'a.txt'))[0]!.hash, 'a link is hashed as what it leads to');
  assert.equal((await resolveSources(c, 'abslink'))[0]!.resolved, 'a.txt', 'an absolute target is inside the context');
  const [dl] = await resolveSources(c, 'dlink');
  assert.equal(dl!.isDir, true);
  assert.equal(dl!.hostPath, join(c.root, 'd'));
  assert.equal(dl!.hash, (await resolveSources(c, 'd'))[0]!.hash);
  assert.throws(() => hashSources([]), /^BerthError: no source files were specified$|no source files were specified/);
  const two = [...(await resolveSources(c, 'a.txt')), ...(await resolveSources(c, 'b.txt'))];
  assert.match(hashSources(two), /^multi:[0-9a-f]{64}$/);
  assert.equal(hashSources(two.slice(0, 1)), two[0]!.hash);
});

const compressors: Array<[string, (b: Buffer) => Buffer]> = [
  ['plain', (b) => b],
  ['gzip', (b) => gzipSync(b)],
  ...(['bzip2', 'xz', 'zstd'] as const).map((p): [string, (b: Buffer) => Buffer] => [
    p,
    (b) => spawnSync(p, ['-c'], { input: b }).stdout,
  ]),
];

test('tar context: every compression, Dockerfile in the tar, hashes as for the same dir', async () => {
  const bytes = tar([
    { name: 'Dockerfile', body: DF },
    { name: 'a.txt', body: 'a' },
    { name: 'd/', type: 'dir' },
    { name: 'd/x', body: 'x' },
  ]);
  for (const [kind, z] of compressors) {
    const c = await openTar(z(bytes));
    try {
      assert.equal(c.dockerfileText, DF, kind);
      assert.deepEqual(
        [...c.tree.walk('')].map((e) => e.rel),
        ['', 'Dockerfile', 'a.txt', 'd', 'd/x'],
        kind,
      );
      assert.match((await resolveSources(c, 'a.txt'))[0]!.hash, /^file:[0-9a-f]{64}$/);
    } finally {
      await c.dispose();
    }
    assert.equal(fs.existsSync(c.root), false, 'dispose removes the temp dir');
  }
  await assert.rejects(
    openTar(tar([{ name: 'a.txt', body: 'a' }])),
    /^BerthError: Cannot locate specified Dockerfile: Dockerfile$|Cannot locate specified Dockerfile: Dockerfile/,
  );
  await assert.rejects(
    openTar(tar([{ name: 'a.txt', body: 'a' }]), { path: 'sub/DF' }),
    /Cannot locate specified Dockerfile: sub\/DF/,
  );
  const lower = await openTar(tar([{ name: 'dockerfile', body: DF }]));
  assert.equal(lower.dockerfileName, 'dockerfile');
  await lower.dispose();
});

test('tar context: .dockerignore removes only an ignored Dockerfile and itself (dockerd), not other files', async () => {
  const c = await openTar(
    tar([
      { name: 'Dockerfile', body: DF },
      { name: '.dockerignore', body: 'Dockerfile\n.dockerignore\nsecret\n' },
      { name: 'secret', body: 's' },
    ]),
  );
  try {
    assert.deepEqual(
      [...c.tree.walk('')].map((e) => e.rel),
      ['', 'secret'],
    );
    assert.equal(fs.existsSync(join(c.root, 'Dockerfile')), false);
  } finally {
    await c.dispose();
  }
});

test('tar context: hostile archives are refused or confined, never touching the host', async () => {
  const hostile: Array<[string, Member[], RegExp | ((c: BuildContext) => void)]> = [
    ['../ name', [{ name: '../evil', body: 'x' }], /outside of/],
    ['a/../../ name', [{ name: 'a/../../evil', body: 'x' }], /outside of/],
    [
      'absolute name is confined',
      [{ name: '/etc/evil-berth', body: 'x' }],
      (c) => {
        assert.equal(fs.readFileSync(join(c.root, 'etc/evil-berth'), 'utf8'), 'x');
        assert.equal(fs.existsSync('/etc/evil-berth'), false);
      },
    ],
    [
      'symlink then a file through it',
      [
        { name: 'l', type: 'symlink', linkname: '/tmp' },
        { name: 'l/evil-berth', body: 'x' },
      ],
      /ENOTDIR|not a directory/,
    ],
    ['hardlink to /etc/shadow', [{ name: 'h', type: 'link', linkname: '/etc/shadow' }], /ENOENT|no such file/],
    ['hardlink climbing out', [{ name: 'h', type: 'link', linkname: '../../etc/shadow' }], /outside of/],
  ];
  for (const [what, members, want] of hostile) {
    const bytes = tar([{ name: 'Dockerfile', body: DF }, ...members]);
    if (want instanceof RegExp) {
      await assert.rejects(openTar(bytes), want, what);
    } else {
      const c = await openTar(bytes);
      try {
        want(c);
      } finally {
        await c.dispose();
      }
    }
  }
  assert.equal(fs.existsSync('/tmp/evil-berth'), false);
  assert.deepEqual(
    fs.readdirSync(TMP).filter((n) => n === 'evil'),
    [],
  );
});

test('a context symlink to /etc/shadow: COPY of it fails, a dir holding it hashes the link by its own name', async () => {
  const c = await open({ Dockerfile: DF, 'd/shadow': { link: '/etc/shadow' }, 'd/f': 'f' });
  await assert.rejects(resolveSources(c, 'd/shadow'), /file not found/);
  const [d] = await resolveSources(c, 'd');
  assert.equal(d!.isDir, true);
  // the entries the builder copies: the link itself, never what it points to on the host
  const sub = [...c.tree.walk('d')];
  assert.deepEqual(
    sub.map((e) => [e.rel, e.kind, e.linkname]),
    [
      ['d', 'dir', ''],
      ['d/f', 'file', ''],
      ['d/shadow', 'symlink', '/etc/shadow'],
    ],
  );
  assert.equal(
    c.tree.hash('d/shadow'),
    'd/shadow',
    'dockerd falls back to the path for a link leading nowhere in the context',
  );
});
