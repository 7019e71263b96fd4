/**
 * `berth cp` against real containers, running and stopped: Docker's naming rules in both directions
 * (file/dir onto missing/existing file/dir, "dir/.", trailing "/"), -a, -L, modes and mtimes, symlinks
 * copied as symlinks, tars on stdout and stdin. Then hostile cases: symlinks in the container that
 * point at host paths (absolute and via ../..), tars with ../ names, absolute names, a symlink then a
 * file through it, hardlinks out. A canary dir on the host is never written, read into the output or
 * linked; no mount is left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { alive, BERTH, berth, berthOk, mountsUnder, tempRoot, TMP, type RunResult } from '../helpers/berth.js';
import { hdr, makeTar } from '../helpers/archive.js';
import { TarParser } from '../../src/archive/tar-parser.js';
import type { TarHeader } from '../../src/archive/tar-header.js';
import { copyPlan } from '../../src/container/cp.js';
import { Extractor, openBeneath, walkTree } from '../../src/container/cp-tree.js';
import { splitCpArg } from '../../src/cli/commands/cp.js';

const t = tempRoot('berth-cp');
const root = t.root;
const work = fs.mkdtempSync(`${TMP}/berth-cp-host-`);
const canary = fs.mkdtempSync(`${TMP}/berth-cp-canary-`);
const MTIME = 1600000000;

const ok = (args: string[], input?: Buffer | string) => berthOk(root, args, { input });
const cp = (args: string[], input?: Buffer | string): RunResult => berth(root, ['cp', ...args], { input });
const cpOk = (args: string[], input?: Buffer | string) => {
  const r = cp(args, input);
  assert.equal(r.code, 0, `cp ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const cpFails = (args: string[], re: RegExp, input?: Buffer | string) => {
  const r = cp(args, input);
  assert.equal(r.code, 1, `cp ${args.join(' ')} should fail, printed ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^Error response from berth: /);
  assert.match(r.stderr, re);
  return r.stderr;
};

/** The container's rw layer: what a copy into the container wrote (also while it is not mounted). */
function upper(name: string): string {
  const id = ok(['inspect', '--format', '{{.Id}}', name]).trim();
  const rec = JSON.parse(fs.readFileSync(`${root}/containers/${id}/config.v2.json`, 'utf8')) as { MountID: string };
  return `${root}/overlay2/${rec.MountID}/diff`;
}

/** Every entry under a dir: type, mode, owner, size, mtime, content, link target, link count. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    const st = fs.lstatSync(p, { bigint: true });
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    const parts = [
      rel,
      type,
      (st.mode & 0o7777n).toString(8),
      `${st.uid}:${st.gid}`,
      `nlink=${st.nlink}`,
      `mtime=${st.mtimeNs}`,
      `ctime=${st.ctimeNs}`,
    ];
    if (type === 'file') parts.push(fs.readFileSync(p, 'utf8'));
    if (type === 'symlink') parts.push(`-> ${fs.readlinkSync(p)}`);
    out.push(parts.join(' '));
    if (type === 'dir') for (const n of fs.readdirSync(p).sort()) walk(`${p}/${n}`, `${rel}/${n}`);
  };
  walk(dir, '.');
  return out;
}

/** Members of a tar: [name, type, mode, uid:gid, body or link target]. */
function members(tar: Buffer): string[][] {
  const out: string[][] = [];
  let cur: { h: TarHeader; body: Buffer[] } | undefined;
  const p = new TarParser({
    raw() {
      /* not needed */
    },
    entry(h) {
      cur = { h, body: [] };
    },
    body(b) {
      cur!.body.push(Buffer.from(b));
    },
    entryEnd() {
      const { h, body } = cur!;
      out.push([
        h.name,
        h.type,
        (h.mode & 0o7777).toString(8),
        `${h.uid}:${h.gid}`,
        h.type === 'file' ? Buffer.concat(body).toString() : h.linkname,
      ]);
    },
  });
  p.write(tar);
  p.end();
  return out;
}

/** `cp ... -`: the tar on stdout, as bytes. */
function cpTar(args: string[]): Buffer {
  const r = spawnSync(BERTH, ['--root', root, 'cp', ...args], { maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
}

/** The host tree every test copies from: a file, a dir with a subdir, a symlink out, odd modes, fixed mtimes. */
const H = {
  file: `${work}/src/hello.txt`,
  dir: `${work}/src/tree`,
  owned: `${work}/src/owned.txt`,
  link: `${work}/src/link-to-hello`,
  dirlink: `${work}/src/link-to-tree`,
};

function makeHostTree(): void {
  fs.mkdirSync(`${work}/src/tree/sub`, { recursive: true });
  fs.writeFileSync(H.file, 'hello\n');
  fs.chmodSync(H.file, 0o640);
  fs.writeFileSync(`${H.dir}/a.txt`, 'a\n');
  fs.chmodSync(`${H.dir}/a.txt`, 0o600);
  fs.writeFileSync(`${H.dir}/sub/b.sh`, '#!/bin/sh\n');
  fs.chmodSync(`${H.dir}/sub/b.sh`, 0o4755);
  fs.symlinkSync(`${canary}/secret`, `${H.dir}/out-link`);
  fs.linkSync(`${H.dir}/a.txt`, `${H.dir}/sub/a-hard`);
  fs.chmodSync(`${H.dir}/sub`, 0o750);
  fs.writeFileSync(H.owned, 'owned\n');
  fs.chownSync(H.owned, 1234, 5678);
  fs.chownSync(H.file, 4321, 8765);
  fs.symlinkSync('hello.txt', H.link);
  fs.symlinkSync('tree', H.dirlink);
  for (const p of [H.file, `${H.dir}/a.txt`, `${H.dir}/sub/b.sh`, H.owned]) fs.utimesSync(p, MTIME, MTIME);
  for (const p of [`${H.dir}/sub`, H.dir]) fs.utimesSync(p, MTIME + 10, MTIME + 10);
  fs.writeFileSync(`${canary}/secret`, 'host secret\n');
  fs.mkdirSync(`${canary}/dir`);
  fs.writeFileSync(`${canary}/dir/victim`, 'victim\n');
}

let canaryBefore: string[] = [];
const HOST_ETC_PROBE = '/etc/berth-cp-probe';

before(() => {
  makeHostTree();
  canaryBefore = snapshot(canary);
  ok(['image', 'from-host', 'base', 'sh', 'cat', 'ls', 'ln', 'mkdir', 'echo', 'sleep']);
});

const monitors = new Set<number>();

after(() => {
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  // a monitor ends by running `berth container cleanup` for a moment: let it finish before the root goes
  const end = Date.now() + 10000;
  while (([...monitors].some(alive) || mountsUnder(root).length) && Date.now() < end) spawnSync('sleep', ['0.1']);
  for (const m of monitors) if (alive(m)) process.kill(m, 'SIGKILL');
  const left = mountsUnder(root);
  assert.deepEqual(snapshot(canary), canaryBefore, 'the host canary is untouched');
  assert.ok(!fs.existsSync(HOST_ETC_PROBE), 'nothing was written to the host /etc');
  t.remove();
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(canary, { recursive: true, force: true });
  assert.deepEqual(left, [], 'no mount is left under the root');
});

test('copyPlan: where a copy lands (Docker PrepareArchiveCopy)', () => {
  const d = (path: string, exists: boolean, isDir: boolean) => ({ path, exists, isDir, shown: path });
  assert.deepEqual(copyPlan({ isDir: false, name: 'f' }, d('/x', true, true)), { into: 'dest', name: 'f' });
  assert.deepEqual(copyPlan({ isDir: false, name: 'f' }, d('/x', true, false)), { into: 'parent', name: 'x' });
  assert.deepEqual(copyPlan({ isDir: false, name: 'f' }, d('/x', false, false)), { into: 'parent', name: 'x' });
  assert.throws(() => copyPlan({ isDir: false, name: 'f' }, d('/x/', false, false)), /no such directory/);
  assert.deepEqual(copyPlan({ isDir: true, name: 'd' }, d('/x', false, false)), { into: 'parent', name: 'x' });
  assert.deepEqual(copyPlan({ isDir: true, name: 'd' }, d('/x/', false, false)), { into: 'parent', name: 'x' });
  assert.deepEqual(copyPlan({ isDir: true, name: '.' }, d('/x', true, true)), { into: 'dest', name: '.' });
  assert.throws(() => copyPlan({ isDir: true, name: 'd' }, d('/x', true, false)), /cannot copy directory/);
  assert.deepEqual(splitCpArg('c1:/a'), { container: 'c1', path: '/a' });
  assert.deepEqual(splitCpArg('./c1:/a'), { path: './c1:/a' });
  assert.deepEqual(splitCpArg('/abs:x'), { path: '/abs:x' });
  assert.deepEqual(splitCpArg('-'), { path: '-' });
});

test('usage errors: no container, two containers, unknown container, empty args', () => {
  assert.match(cp([H.file, `${work}/x`]).stderr, /must specify at least one container source/);
  assert.match(cp(['a:/x', 'b:/y']).stderr, /copying between containers is not supported/);
  assert.match(cp([H.file, 'nosuch:/x']).stderr, /No such container: nosuch/);
  assert.match(cp(['', 'c:/x']).stderr, /source can not be empty/);
  assert.notEqual(cp(['onlyone']).code, 0);
});

for (const mode of ['running', 'stopped'] as const) {
  describe(`${mode} container`, () => {
    const c = `cp-${mode}`;
    const out = `${work}/out-${mode}`;
    let up = '';
    const inCtr = (p: string) => `${up}${p}`;
    const stat = (p: string) => fs.lstatSync(inCtr(p));

    before(() => {
      if (mode === 'running') {
        const id = ok(['run', '-d', '--name', c, 'base', 'sleep', '600']).trim();
        monitors.add(
          (JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number })
            .MonitorPid,
        );
      } else ok(['create', '--name', c, 'base', 'cat', '/hello-at-start']);
      up = upper(c);
      fs.mkdirSync(out);
      assert.equal(ok(['inspect', '--format', '{{.State.Running}}', c]).trim(), String(mode === 'running'));
    });

    after(() => {
      // a stopped container is mounted only for the copy; a running one stays mounted
      const mounted = mountsUnder(root).filter((m) => m.startsWith(`${root}/overlay2/${up.split('/').slice(-2)[0]}`));
      assert.equal(mounted.length, mode === 'running' ? 1 : 0, `mounts: ${mounted.join(' ')}`);
    });

    test('file to a container: into an existing dir, to a new name, over a file; mode and mtime kept, root-owned without -a', () => {
      cpOk([H.file, `${c}:/tmp`]);
      assert.equal(fs.readFileSync(inCtr('/tmp/hello.txt'), 'utf8'), 'hello\n');
      assert.equal(stat('/tmp/hello.txt').mode & 0o7777, 0o640);
      assert.equal(stat('/tmp/hello.txt').mtimeMs, MTIME * 1000);
      assert.deepEqual([stat('/tmp/hello.txt').uid, stat('/tmp/hello.txt').gid], [0, 0]);
      cpOk([H.file, `${c}:/hello-at-start`]);
      assert.equal(fs.readFileSync(inCtr('/hello-at-start'), 'utf8'), 'hello\n');
      cpOk([H.owned, `${c}:/hello-at-start`]);
      assert.equal(
        fs.readFileSync(inCtr('/hello-at-start'), 'utf8'),
        'owned\n',
        'an existing file is replaced, keeping the destination name',
      );
      cpOk([H.file, `${c}:/hello-at-start`]);
      cpOk([H.file, `${c}:tmp/relative.txt`]);
      assert.ok(stat('/tmp/relative.txt').isFile(), 'container paths are relative to /');
      if (mode === 'running') assert.equal(ok(['exec', c, 'cat', '/tmp/hello.txt']), 'hello\n');
    });

    test('file to a container: missing parent, missing dir with "/", file over a directory', () => {
      cpFails([H.file, `${c}:/nope/x`], /no such directory: cp-\w+:\/nope/);
      cpFails([H.file, `${c}:/newdir/`], /no such directory: cp-\w+:\/newdir\//);
      assert.ok(!fs.existsSync(inCtr('/newdir')));
      cpFails([H.file, `${c}:/hello-at-start/x`], /extraction point is not a directory: cp-\w+:\/hello-at-start/);
      cpOk([H.dir, `${c}:/clash`]);
      fs.writeFileSync(`${work}/sub`, 'a file named sub\n');
      cpFails([`${work}/sub`, `${c}:/clash`], /cannot overwrite directory "cp-\w+:\/clash\/sub" with non-directory/);
    });

    test('-a keeps the uid/gid of what is copied into the container', () => {
      cpOk(['-a', H.owned, `${c}:/tmp/owned-a`]);
      assert.deepEqual([stat('/tmp/owned-a').uid, stat('/tmp/owned-a').gid], [1234, 5678]);
      cpOk([H.owned, `${c}:/tmp/owned-no-a`]);
      assert.deepEqual([stat('/tmp/owned-no-a').uid, stat('/tmp/owned-no-a').gid], [0, 0]);
    });

    test('dir to a container: new name gets its content, existing dir gets it by name, "dir/." merges; symlinks and hardlinks kept', () => {
      cpOk([H.dir, `${c}:/t1`]);
      assert.equal(fs.readFileSync(inCtr('/t1/a.txt'), 'utf8'), 'a\n');
      assert.equal(stat('/t1/a.txt').mode & 0o7777, 0o600);
      assert.equal(stat('/t1/sub').mode & 0o7777, 0o750);
      assert.equal(stat('/t1/sub/b.sh').mode & 0o7777, 0o4755);
      assert.equal(stat('/t1/sub').mtimeMs, (MTIME + 10) * 1000, 'directory mtimes are set after their content');
      assert.equal(stat('/t1').mtimeMs, (MTIME + 10) * 1000);
      assert.equal(fs.readlinkSync(inCtr('/t1/out-link')), `${canary}/secret`, 'a symlink is copied as a symlink');
      assert.equal(stat('/t1/sub/a-hard').ino, stat('/t1/a.txt').ino, 'hardlinks stay hardlinks');
      cpOk([H.dir, `${c}:/t1`]);
      assert.ok(stat('/t1/tree/sub/b.sh').isFile(), 'an existing dir gets the source by its name');
      cpOk([`${H.dir}/.`, `${c}:/tmp`]);
      assert.ok(stat('/tmp/a.txt').isFile() && stat('/tmp/sub').isDirectory(), '"dir/." copies the content');
      assert.equal(stat('/tmp').mode & 0o7777, 0o1777, 'the destination dir of "dir/." keeps its own metadata');
      cpOk([`${H.dir}/.`, `${c}:/t2/`]);
      assert.ok(stat('/t2/sub/b.sh').isFile());
      cpFails([H.dir, `${c}:/hello-at-start`], /cannot copy directory/);
      fs.mkdirSync(`${work}/dod/tree/a.txt`, { recursive: true });
      cpFails(
        [`${work}/dod/tree`, `${c}:/t1`],
        /cannot overwrite non-directory "cp-\w+:\/t1\/tree\/a.txt" with directory/,
      );
    });

    test('-L follows a symlink source; without it the symlink itself is copied', () => {
      cpOk([H.link, `${c}:/tmp/l1`]);
      assert.equal(fs.readlinkSync(inCtr('/tmp/l1')), 'hello.txt');
      cpOk(['-L', H.link, `${c}:/tmp`]);
      assert.equal(
        fs.readFileSync(inCtr('/tmp/link-to-hello'), 'utf8'),
        'hello\n',
        '-L: the target, under the link name',
      );
      cpOk([`${H.dirlink}/`, `${c}:/tmp/dl`]);
      assert.ok(stat('/tmp/dl/a.txt').isFile(), 'a trailing "/" follows a symlink to a dir');
    });

    test("file from a container: into a dir, to a new name, over a file; mode and mtime kept; owner: the invoking user, or the container's with -a", () => {
      fs.mkdirSync(`${out}/f`, { recursive: true });
      cpOk([`${c}:/tmp/hello.txt`, `${out}/f`]);
      const st = fs.statSync(`${out}/f/hello.txt`);
      assert.equal(fs.readFileSync(`${out}/f/hello.txt`, 'utf8'), 'hello\n');
      assert.equal(st.mode & 0o7777, 0o640);
      assert.equal(st.mtimeMs, MTIME * 1000);
      cpOk([`${c}:/tmp/hello.txt`, `${out}/f/renamed`]);
      assert.equal(fs.readFileSync(`${out}/f/renamed`, 'utf8'), 'hello\n');
      cpOk([`${c}:/tmp/owned-a`, `${out}/f/renamed`]);
      assert.equal(fs.readFileSync(`${out}/f/renamed`, 'utf8'), 'owned\n');
      assert.deepEqual(
        [fs.statSync(`${out}/f/renamed`).uid, fs.statSync(`${out}/f/renamed`).gid],
        [process.getuid!(), process.getgid!()],
      );
      cpOk(['-a', `${c}:/tmp/owned-a`, `${out}/f/kept`]);
      assert.deepEqual([fs.statSync(`${out}/f/kept`).uid, fs.statSync(`${out}/f/kept`).gid], [1234, 5678]);
      cpFails([`${c}:/tmp/hello.txt`, `${out}/f/missing/`], /no such directory/);
      cpFails([`${c}:/tmp/hello.txt`, `${out}/nope/x`], /invalid output path: directory ".*\/nope" does not exist/);
      cpFails([`${c}:/no/such/file`, `${out}/f`], /Could not find the file \/no\/such\/file in container cp-\w+/);
    });

    test('dir from a container: new name, into an existing dir, "dir/."; symlinks not followed; dir over file fails', () => {
      cpOk([`${c}:/t1`, `${out}/d1`]);
      assert.equal(fs.readFileSync(`${out}/d1/a.txt`, 'utf8'), 'a\n');
      assert.equal(fs.statSync(`${out}/d1/sub`).mode & 0o7777, 0o750);
      assert.equal(fs.statSync(`${out}/d1/sub/b.sh`).mode & 0o7777, 0o4755);
      assert.equal(fs.statSync(`${out}/d1/sub`).mtimeMs, (MTIME + 10) * 1000);
      assert.equal(fs.readlinkSync(`${out}/d1/out-link`), `${canary}/secret`);
      assert.equal(fs.statSync(`${out}/d1/sub/a-hard`).ino, fs.statSync(`${out}/d1/a.txt`).ino);
      cpOk([`${c}:/t1`, `${out}/d1`]);
      assert.ok(fs.statSync(`${out}/d1/t1/tree/a.txt`).isFile());
      fs.mkdirSync(`${out}/d2`);
      cpOk([`${c}:/t1/.`, `${out}/d2`]);
      assert.ok(fs.statSync(`${out}/d2/sub/b.sh`).isFile());
      cpFails([`${c}:/t1`, `${out}/f/renamed`], /cannot copy directory/);
      cpFails([`${c}:/tmp/hello.txt/`, `${out}/x`], /not a directory/);
    });

    test('-L from a container: the link target under the link name', () => {
      cpOk([`${c}:/tmp/l1`, `${out}/l1`]);
      assert.equal(fs.readlinkSync(`${out}/l1`), 'hello.txt');
      cpOk(['-L', `${c}:/tmp/l1`, `${out}/l1-followed`]);
      assert.equal(fs.readFileSync(`${out}/l1-followed`, 'utf8'), 'hello\n');
    });

    test('"-" as DEST: a tar of SRC on stdout, named by the base name of SRC', () => {
      const m = members(cpTar([`${c}:/t1`, '-']));
      assert.deepEqual(m[0]!.slice(0, 3), ['t1/', 'dir', '755']);
      assert.ok(m.some((e) => e[0] === 't1/sub/b.sh' && e[2] === '4755' && e[4] === '#!/bin/sh\n'));
      assert.ok(m.some((e) => e[0] === 't1/out-link' && e[1] === 'symlink' && e[4] === `${canary}/secret`));
      assert.ok(m.some((e) => e[0] === 't1/sub/a-hard' && e[1] === 'link' && e[4] === 't1/a.txt'));
      assert.deepEqual(members(cpTar([`${c}:/tmp/owned-a`, '-'])), [
        ['owned-a', 'file', '644', '1234:5678', 'owned\n'],
      ]);
      const dot = members(cpTar([`${c}:/t1/.`, '-']));
      assert.equal(dot[0]![0], './');
      assert.ok(dot.some((e) => e[0] === 'sub/b.sh'));
    });

    test('"-" as SRC: a tar from stdin extracted into a directory; root-owned unless -a; gzip accepted', () => {
      const tar = makeTar([
        [hdr('x/', { type: 'dir', mode: 0o711 })],
        [hdr('x/f', { mode: 0o604, uid: 77, gid: 88 }), 'from tar\n'],
        [hdr('x/l', { type: 'symlink', linkname: '/etc/passwd' })],
        [hdr('./top', { mtime: MTIME }), 'top\n'],
      ]);
      cpFails(['-', `${c}:/nope`], /destination "cp-\w+:\/nope" must be a directory/, tar);
      cpFails(['-', `${c}:/hello-at-start`], /must be a directory/, tar);
      cpOk(['-', `${c}:/tmp`], tar);
      assert.equal(fs.readFileSync(inCtr('/tmp/x/f'), 'utf8'), 'from tar\n');
      assert.equal(stat('/tmp/x').mode & 0o7777, 0o711);
      assert.equal(stat('/tmp/x/f').mode & 0o7777, 0o604);
      assert.deepEqual([stat('/tmp/x/f').uid, stat('/tmp/x/f').gid], [0, 0]);
      assert.equal(fs.readlinkSync(inCtr('/tmp/x/l')), '/etc/passwd');
      assert.equal(stat('/tmp/top').mtimeMs, MTIME * 1000);
      cpOk(['-a', '-', `${c}:/t2`], gzipSync(tar));
      assert.deepEqual([stat('/t2/x/f').uid, stat('/t2/x/f').gid], [77, 88]);
    });

    test('hostile: symlinks in the container to host paths resolve inside the container, both ways', () => {
      // /dest/abs -> <canary> (absolute), /dest/rel -> ../../../../../../<canary>, /dest/etc -> /etc
      fs.mkdirSync(`${work}/links-${mode}/dest`, { recursive: true });
      fs.symlinkSync(canary, `${work}/links-${mode}/dest/abs`);
      fs.symlinkSync(`../../../../../../../..${canary}`, `${work}/links-${mode}/dest/rel`);
      fs.symlinkSync('/etc', `${work}/links-${mode}/dest/etc`);
      cpOk([`${work}/links-${mode}/dest`, `${c}:/dest`]);
      assert.equal(fs.readlinkSync(inCtr('/dest/abs')), canary);

      // into the container: lands in the container's own /etc and <canary>, never the host's
      cpOk([H.file, `${c}:/dest/etc/berth-cp-probe`]);
      assert.equal(fs.readFileSync(inCtr('/etc/berth-cp-probe'), 'utf8'), 'hello\n');
      cpFails([H.file, `${c}:/dest/abs/pwned`], new RegExp(`no such directory: cp-\\w+:${canary}$`, 'm'));
      cpFails([H.file, `${c}:/dest/rel/pwned`], /no such directory/);
      cpFails([H.dir, `${c}:/dest/abs/dir/`], /no such directory/);
      // with that path made in the container, the copy goes there
      fs.mkdirSync(`${work}/mk-${mode}${canary}`, { recursive: true });
      cpOk([`${work}/mk-${mode}/.`, `${c}:/`]);
      cpOk([H.file, `${c}:/dest/abs/pwned`]);
      cpOk([H.file, `${c}:/dest/rel/pwned-rel`]);
      cpOk([H.dir, `${c}:/dest/abs/`]);
      assert.equal(fs.readFileSync(inCtr(`${canary}/pwned`), 'utf8'), 'hello\n');
      assert.equal(fs.readFileSync(inCtr(`${canary}/pwned-rel`), 'utf8'), 'hello\n');
      assert.ok(stat(`${canary}/tree/sub/b.sh`).isFile());

      // out of the container: the host canary's files are never read
      cpFails([`${c}:/dest/abs/secret`, `${out}/stolen`], /Could not find the file \/dest\/abs\/secret in container/);
      cpFails([`${c}:/dest/rel/dir/victim`, `${out}/stolen`], /Could not find the file/);
      cpOk(['-L', `${c}:/dest/abs`, `${out}/followed`]);
      assert.ok(
        !fs.existsSync(`${out}/followed/secret`) && fs.existsSync(`${out}/followed/pwned`),
        '-L follows inside the container',
      );
      cpOk([`${c}:/dest/abs/`, `${out}/followed2`]);
      assert.deepEqual(fs.readdirSync(`${out}/followed2`).sort(), ['pwned', 'pwned-rel', 'tree']);
      cpOk([`${c}:/dest`, `${out}/tree-with-links`]);
      assert.equal(
        fs.readlinkSync(`${out}/tree-with-links/abs`),
        canary,
        'symlinks in a tree are copied, never followed',
      );
      assert.ok(!members(cpTar([`${c}:/dest`, '-'])).some((e) => e[4]?.includes('host secret')));
    });

    test('hostile: tars on stdin cannot leave the destination or the container', () => {
      cpOk([`${work}/links-${mode}/dest/.`, `${c}:/tmp`]); // /tmp/abs, /tmp/rel -> canary, /tmp/etc -> /etc
      const rel = `../../../../../../../..${canary}`;
      const cases: Array<[string, Array<[TarHeader, string?]>, RegExp]> = [
        ['../ name', [[hdr(`${rel}/dir/victim`), 'pwned\n']], /tar entry ".*" is outside of "cp-\w+:\/tmp"/],
        ['a/../../ name', [[hdr('a/', { type: 'dir' })], [hdr(`a/../../x`), 'pwned\n']], /is outside of/],
        [
          'hardlink to ../',
          [[hdr('h', { type: 'link', linkname: `${rel}/secret` })]],
          /hardlink target ".*" is outside of/,
        ],
        [
          "hardlink to /etc/passwd (confined: tmp/etc/passwd is the container's)",
          [[hdr('h2', { type: 'link', linkname: '/nonexistent/passwd' })]],
          /no such file or directory/,
        ],
      ];
      for (const [what, entries, re] of cases) {
        const err = cpFails(['-', `${c}:/tmp`], re, makeTar(entries));
        assert.ok(!err.includes('/proc/self/fd'), `${what}: ${err}`);
      }
      // absolute names are confined to the destination
      cpOk(['-', `${c}:/tmp`], makeTar([[hdr(`${canary}/dir/abs-name`), 'abs\n']]));
      assert.equal(fs.readFileSync(inCtr(`/tmp${canary}/dir/abs-name`), 'utf8'), 'abs\n');
      // a symlink then a file through it: followed inside the container (as Docker's chroot does), never on the host
      cpOk(
        ['-', `${c}:/tmp`],
        makeTar([
          [hdr('esc', { type: 'symlink', linkname: canary })],
          [hdr('esc/through-abs'), 'through\n'],
          [hdr('esc2', { type: 'symlink', linkname: rel })],
          [hdr('esc2/through-rel'), 'through\n'],
          [hdr('abs/through-existing'), 'through\n'],
          [hdr('etc/berth-cp-probe2'), 'probe\n'],
        ]),
      );
      for (const n of ['through-abs', 'through-rel', 'through-existing'])
        assert.equal(fs.readFileSync(inCtr(`${canary}/${n}`), 'utf8'), 'through\n');
      assert.equal(fs.readFileSync(inCtr('/etc/berth-cp-probe2'), 'utf8'), 'probe\n');
      // a hardlink through a symlink to the host links the container's file, never the host's
      cpOk(['-', `${c}:/tmp`], makeTar([[hdr('hl', { type: 'link', linkname: 'abs/pwned' })]]));
      assert.equal(stat('/tmp/hl').ino, stat(`${canary}/pwned`).ino);
      assert.equal(fs.statSync(`${canary}/secret`).nlink, 1);
      // an entry replacing a symlink replaces the symlink, it does not write through it
      cpOk(['-', `${c}:/tmp`], makeTar([[hdr('rel'), 'replaced\n']]));
      assert.equal(fs.readFileSync(inCtr('/tmp/rel'), 'utf8'), 'replaced\n');
      // truncated and garbage input fail cleanly
      cpFails(
        ['-', `${c}:/tmp`],
        /unexpected end|truncated/,
        makeTar([[hdr('big'), 'x'.repeat(2000)]]).subarray(0, 1000),
      );
    });

    test('hostile: a host destination holding a symlink is replaced, not written through', () => {
      fs.mkdirSync(`${out}/trap`);
      fs.symlinkSync(`${canary}/dir/victim`, `${out}/trap/hello.txt`);
      cpOk([`${c}:/tmp/hello.txt`, `${out}/trap`]);
      assert.ok(fs.lstatSync(`${out}/trap/hello.txt`).isFile());
      fs.mkdirSync(`${out}/trap2`);
      fs.symlinkSync(`${canary}/dir`, `${out}/trap2/sub`);
      cpFails([`${c}:/t1/.`, `${out}/trap2`], /cannot overwrite non-directory ".*trap2\/sub" with directory/);
    });
  });
}

test('a copy into a stopped container is there when it starts; it is not mounted afterwards', () => {
  ok(['create', '--name', 'starts', 'base', 'cat', '/greeting']);
  fs.writeFileSync(`${work}/greeting`, 'hi from the host\n');
  cpOk([`${work}/greeting`, 'starts:/']);
  const mountId = upper('starts').split('/').slice(-2)[0]!;
  assert.deepEqual(mountsUnder(`${root}/overlay2/${mountId}`), [], 'mounted only for the copy');
  assert.equal(ok(['start', '-a', 'starts']), 'hi from the host\n');
  cpOk(['starts:/greeting', `${work}/greeting-back`]);
  assert.equal(fs.readFileSync(`${work}/greeting-back`, 'utf8'), 'hi from the host\n');
});

test('bind mounts (-v) are reached, as Docker mounts volumes for a copy: the host dir gets and gives the files; read-only ones refuse writes', () => {
  const vol = fs.mkdtempSync(`${TMP}/berth-cp-vol-`);
  const rovol = fs.mkdtempSync(`${TMP}/berth-cp-rovol-`);
  const volFile = `${work}/vol-file`;
  fs.writeFileSync(`${vol}/from-host`, 'on the host\n');
  fs.writeFileSync(`${rovol}/kept`, 'kept\n');
  fs.writeFileSync(volFile, 'a file volume\n');
  try {
    // a created container (never started: the mount points are made for the copy)
    ok([
      'create',
      '--name',
      'withbind',
      '-v',
      `${vol}:/data`,
      '-v',
      `${rovol}:/ro:ro`,
      '-v',
      `${volFile}:/etc/one-file`,
      'base',
      'sh',
    ]);
    cpOk([H.file, 'withbind:/data/x']);
    assert.equal(fs.readFileSync(`${vol}/x`, 'utf8'), fs.readFileSync(H.file, 'utf8'));
    cpOk(['withbind:/data/from-host', `${work}/from-vol`]);
    assert.equal(fs.readFileSync(`${work}/from-vol`, 'utf8'), 'on the host\n');
    cpOk(['-', 'withbind:/data'], makeTar([[hdr('from-tar'), 'tar']]));
    assert.equal(fs.readFileSync(`${vol}/from-tar`, 'utf8'), 'tar');
    cpOk(['withbind:/etc/one-file', `${work}/one-file-back`]);
    assert.equal(fs.readFileSync(`${work}/one-file-back`, 'utf8'), 'a file volume\n');
    cpFails([H.file, 'withbind:/ro/x'], /mounted volume is marked read-only: withbind:\/ro/);
    cpFails(['-', 'withbind:/ro'], /mounted volume is marked read-only/, makeTar([[hdr('y'), 'y']]));
    assert.deepEqual(fs.readdirSync(rovol), ['kept']);
    cpOk(['withbind:/ro/kept', `${work}/kept`]);
    // the rootfs outside the volumes is the container's: nothing of it reached the host dirs
    cpOk([H.file, 'withbind:/not-a-volume']);
    assert.deepEqual(fs.readdirSync(vol).sort(), ['from-host', 'from-tar', 'x']);
    // a running container: the copy lands in the host dir, and the container sees it through its own mount
    ok(['start', 'withbind']);
    const id = ok(['inspect', '--format', '{{.Id}}', 'withbind']).trim();
    assert.ok(id);
    const run = ok(['run', '-d', '--name', 'binduser', '-v', `${vol}:/data`, 'base', 'sleep', '60']).trim();
    monitors.add(
      (JSON.parse(fs.readFileSync(`${root}/containers/${run}/state.json`, 'utf8')) as { MonitorPid: number })
        .MonitorPid,
    );
    cpOk([H.file, 'binduser:/data/while-running']);
    assert.ok(fs.existsSync(`${vol}/while-running`));
    assert.equal(ok(['exec', 'binduser', 'cat', '/data/while-running']), fs.readFileSync(H.file, 'utf8'));
    // a --read-only rootfs takes copies into its writable volumes only
    ok(['create', '--name', 'robind', '--read-only', '-v', `${vol}:/data`, 'base', 'sh']);
    cpOk([H.file, 'robind:/data/into-ro-container']);
    cpFails([H.file, 'robind:/tmp'], /container rootfs is marked read-only/);
    // nothing stays mounted over the host dirs, nor the rootfs of a stopped container
    assert.deepEqual([...mountsUnder(vol), ...mountsUnder(rovol), ...mountsUnder(volFile)], []);
    for (const c of ['robind', 'withbind'])
      assert.deepEqual(
        mountsUnder(
          `${root}/overlay2/${ok(['inspect', '--format', '{{.GraphDriver.Data.MergedDir}}', c]).trim().split('/').slice(-2)[0]}`,
        ),
        [],
        c,
      );
    ok(['rm', '-f', 'binduser', 'robind', 'withbind']);
  } finally {
    fs.rmSync(vol, { recursive: true, force: true });
    fs.rmSync(rovol, { recursive: true, force: true });
  }
});

test('a read-only rootfs is refused as Docker refuses it', () => {
  ok(['create', '--name', 'ro', '--read-only', 'base', 'sh']);
  cpFails([H.file, 'ro:/tmp'], /container rootfs is marked read-only/);
  cpOk(['ro:/etc/passwd', `${work}/ro-passwd`]);
});

test('hostile: a container swapping a directory for a symlink to the host while copies run (CVE-2018-15664)', () => {
  ok(['image', 'from-host', 'racer', 'sh', 'mkdir', 'mv', 'ln', 'sleep']);
  // /r/real flips between a real directory and a symlink to the host canary, as fast as mv can
  const script = `mkdir -p /r/real/sub; ln -s ${canary} /r/link; while :; do mv -T /r/real /r/tmp; mv -T /r/link /r/real; mv -T /r/real /r/link; mv -T /r/tmp /r/real; done`;
  const id = ok(['run', '-d', '--name', 'racer', 'racer', 'sh', '-c', script]).trim();
  monitors.add(
    (JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number }).MonitorPid,
  );
  const outcomes = new Set<string>();
  for (let i = 0; i < 25; i++) {
    for (const args of [
      [H.file, `racer:/r/real/sub/pwned-${i}`],
      [H.dir, `racer:/r/real/sub/`],
      [`racer:/r/real/sub`, `${work}/race-out-${i}`],
      ['-', 'racer:/r/real/sub'],
    ]) {
      const r = cp(args, args[0] === '-' ? makeTar([[hdr(`sub/tar-${i}`), 'x']]) : undefined);
      assert.ok(r.code === 0 || /^Error response from berth: /.test(r.stderr), `cp ${args.join(' ')}: ${r.stderr}`);
      outcomes.add(r.code === 0 ? 'copied' : 'refused');
    }
  }
  assert.ok(outcomes.has('copied'), 'some copies ran while the container raced');
  ok(['rm', '-f', 'racer']);
  // the whole canary is compared in the file's after hook; nothing of the race may be there
  assert.ok(!fs.readdirSync(canary).some((n) => n === 'sub' || n === 'tree'));
  for (let i = 0; i < 25; i++) {
    if (fs.existsSync(`${work}/race-out-${i}`))
      assert.ok(!JSON.stringify(snapshot(`${work}/race-out-${i}`)).includes('host secret'));
  }
});

test('the guards themselves: no symlink is followed on the way to a directory, nor written through on the host', () => {
  const d = fs.mkdtempSync(`${work}/guard-`);
  fs.mkdirSync(`${d}/real/sub`, { recursive: true });
  fs.symlinkSync(`${d}/real`, `${d}/link`);
  fs.symlinkSync(canary, `${d}/out`);
  const fd = fs.openSync(d, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.closeSync(openBeneath(fd, 'real/sub'));
    assert.throws(
      () => openBeneath(fd, 'link/sub'),
      { code: 'ENOTDIR' },
      'a symlink on the way, even to a directory inside',
    );
    assert.throws(() => openBeneath(fd, 'out/dir', true), { code: 'ENOTDIR' });
    const x = new Extractor({
      show: (r) => `${d}/${r}`,
      openDir: (r, create) => openBeneath(fd, r, create),
      owner: () => undefined,
    });
    assert.throws(() => x.entry(hdr('out/dir/victim')), /not a directory/);
    x.abort();
    assert.deepEqual(
      [...walkTree(fd, 'out', 'out')].map((e) => [e.h.name, e.h.type, e.h.linkname]),
      [['out', 'symlink', canary]],
      'a walk never enters a symlink',
    );
  } finally {
    fs.closeSync(fd);
  }
});

test('no summary without a terminal; -q accepted', () => {
  for (const args of [
    ['-q', H.file, 'cp-running:/tmp/q.txt'],
    [H.file, 'cp-running:/tmp/q2.txt'],
  ]) {
    const r = cp(args);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
  }
  assert.ok(fs.existsSync(`${upper('cp-running')}/tmp/q.txt`));
});
