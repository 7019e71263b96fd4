/**
 * Paths the user names for berth to write on the host (`save -o`, `export -o`, `build --iidfile`,
 * `run/create --cidfile`, `cp CTR:SRC HOSTPATH`): a device, fifo, socket, directory or symlink there is
 * refused with Docker's words and left exactly as it was (same inode, type, content), a missing
 * directory gets a message (not a stack trace), nothing is left beside the target, also when berth is
 * ended by SIGINT or SIGTERM mid-write; a regular file and a new path still work. The targets are real:
 * device nodes made with mknod, fifos with mkfifo, listening unix sockets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { BERTH, berth, berthOk, mountsUnder, tempRoot, TMP, type RunResult } from '../helpers/berth.js';
import { buildTar } from '../helpers/tarbuild.js';
import { writeOutputFile, writeOutputFileSync } from '../../src/storage/output-file.js';

const t = tempRoot('berth-outpaths');
const root = t.root;
const work = fs.mkdtempSync(`${TMP}/berth-outpaths-host-`);
const servers: net.Server[] = [];
let n = 0;

/** A fresh directory for one case. */
const caseDir = () => {
  const d = `${work}/case-${++n}`;
  fs.mkdirSync(d);
  return d;
};

/** What may stand at an output path, made for real; `cp`: the end of Docker's cp message for it. */
const KINDS: Record<string, { make(p: string): Promise<void> | void; words: RegExp; cp?: RegExp }> = {
  'character device': {
    make: (p) => void execFileSync('mknod', [p, 'c', '1', '3']),
    words: /cannot write to a character device file$/m,
    cp: /got a character device file$/m,
  },
  'block device': {
    make: (p) => void execFileSync('mknod', [p, 'b', '7', '200']),
    words: /cannot write to a block device file$/m,
    cp: /got a block device file$/m,
  },
  fifo: {
    make: (p) => void execFileSync('mkfifo', [p]),
    words: /cannot write to a named pipe \(FIFO\)$/m,
    cp: /got a named pipe \(FIFO\)$/m,
  },
  'unix socket': {
    async make(p) {
      const s = net.createServer();
      servers.push(s);
      s.listen(p);
      await once(s, 'listening');
    },
    words: /cannot write to a socket$/m,
    cp: /got a socket$/m,
  },
  directory: {
    make: (p) => {
      fs.mkdirSync(p);
      fs.writeFileSync(`${p}/keep`, 'keep\n');
    },
    words: /cannot write to a directory$/m,
  },
  'symlink to a device': {
    make: (p) => {
      execFileSync('mknod', [`${p}.dev`, 'c', '1', '3']);
      fs.symlinkSync(`${p}.dev`, p);
    },
    words: /cannot write to a symbolic link directly$/m,
    cp: /got a character device file$/m,
  },
  'symlink to a regular file': {
    make: (p) => {
      fs.writeFileSync(`${p}.file`, 'mine\n');
      fs.symlinkSync(`${p}.file`, p);
    },
    words: /cannot write to a symbolic link directly$/m,
  },
  'dangling symlink': {
    make: (p) => fs.symlinkSync(`${p}.nowhere`, p),
    words: /cannot write to a symbolic link directly$/m,
  },
};

/** Everything in a directory as it is: name, inode, type and mode, device number, size, mtime, content or link. */
function state(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => {
      const p = `${dir}/${name}`;
      const st = fs.lstatSync(p, { bigint: true });
      const what = st.isFile()
        ? fs.readFileSync(p, 'hex')
        : st.isSymbolicLink()
          ? fs.readlinkSync(p)
          : st.isDirectory()
            ? state(p).join(';')
            : '';
      return [name, st.ino, st.mode.toString(8), st.rdev, st.size, st.mtimeNs, what].join(' ');
    });
}

/** berth fails with `code` and a message matching every pattern, and `dir` is as it was. */
function refused(args: string[], dir: string, code: number, ...patterns: RegExp[]): RunResult {
  const before = state(dir);
  const r = berth(root, args);
  assert.equal(r.code, code, `berth ${args.join(' ')} should fail with ${code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^Error response from berth: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  for (const p of patterns) assert.match(r.stderr, p);
  assert.deepEqual(state(dir), before, 'the target and its directory are untouched');
  return r;
}

const ctxDir = `${work}/build-ctx`;
const containers = () => berthOk(root, ['ps', '-aq']).split('\n').filter(Boolean).length;

before(async () => {
  berthOk(root, ['image', 'from-host', 'base', 'sh', 'cat']);
  berthOk(root, ['create', '--name', 'c1', 'base', 'sh']);
  fs.mkdirSync(`${work}/src/tree/sub`, { recursive: true });
  fs.writeFileSync(`${work}/src/f.txt`, 'from the container\n');
  fs.writeFileSync(`${work}/src/tree/sub/g.txt`, 'g\n');
  berthOk(root, ['cp', `${work}/src/f.txt`, 'c1:/f.txt']);
  berthOk(root, ['cp', `${work}/src/tree`, 'c1:/tree']);
  fs.mkdirSync(ctxDir);
  fs.writeFileSync(`${ctxDir}/Dockerfile`, 'FROM base\nLABEL built=yes\n');
});

after(() => {
  for (const s of servers) s.close();
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  t.remove();
  fs.rmSync(work, { recursive: true, force: true });
});

const WRITERS = [
  { name: 'save -o', args: (p: string) => ['save', '-o', p, 'base'], action: /failed to save image: /, mode: 0o600 },
  {
    name: 'export -o',
    args: (p: string) => ['export', '-o', p, 'c1'],
    action: /failed to export container: /,
    mode: 0o600,
  },
  {
    name: 'build --iidfile',
    args: (p: string) => ['build', '-q', '--iidfile', p, ctxDir],
    action: /failed to write the image ID file: /,
    mode: 0o644,
  },
];

describe('save -o, export -o, build --iidfile', () => {
  for (const w of WRITERS) {
    for (const [kind, k] of Object.entries(KINDS)) {
      test(`${w.name}: ${kind} is refused and left as it was`, async () => {
        const dir = caseDir();
        await k.make(`${dir}/out`);
        const images = berthOk(root, ['images', '-aq']);
        refused(w.args(`${dir}/out`), dir, 1, w.action, k.words, new RegExp(`"${dir}/out"`));
        assert.equal(berthOk(root, ['images', '-aq']), images, 'nothing was built');
      });
    }

    test(`${w.name}: /dev/stdout (a pipe here) is refused: it is a symlink`, () => {
      const r = refused(w.args('/dev/stdout'), caseDir(), 1, w.action, /cannot write to a symbolic link directly/);
      assert.equal(r.stdout, '');
    });

    test(`${w.name}: a missing directory and a file as directory get a message`, () => {
      const dir = caseDir();
      refused(
        w.args(`${dir}/missing/sub/out`),
        dir,
        1,
        w.action,
        new RegExp(`invalid output path: directory "${dir}/missing/sub" does not exist`),
      );
      fs.writeFileSync(`${dir}/file`, 'x');
      refused(
        w.args(`${dir}/file/out`),
        dir,
        1,
        w.action,
        new RegExp(`invalid output path: "${dir}/file" is not a directory`),
      );
      for (const p of [`${dir}/new/`, `${dir}/file/`, `${dir}/.`])
        refused(w.args(p), dir, 1, w.action, /cannot write to a directory/);
    });

    test(`${w.name}: a new path and a regular file are written whole, nothing beside them`, () => {
      const dir = caseDir();
      fs.writeFileSync(
        `${dir}/old`,
        'old content that is longer than an image id, so that a partial overwrite would show\n',
      );
      fs.chmodSync(`${dir}/old`, 0o666);
      for (const name of ['new', 'old']) {
        const out = berthOk(root, w.args(`${dir}/${name}`));
        const st = fs.lstatSync(`${dir}/${name}`);
        assert.ok(st.isFile());
        assert.equal(st.mode & 0o777, w.mode);
        const body = fs.readFileSync(`${dir}/${name}`);
        if (w.name.startsWith('build')) assert.equal(body.toString(), out.trim());
        else
          assert.match(
            execFileSync('tar', ['tf', `${dir}/${name}`], { encoding: 'utf8' }),
            w.name.startsWith('save') ? /^manifest\.json$/m : /^f\.txt$/m,
          );
      }
      assert.deepEqual(fs.readdirSync(dir).sort(), ['new', 'old']);
    });
  }

  test('build --iidfile: a stale ID file goes before the build, so a failed build leaves none', () => {
    const dir = caseDir();
    fs.writeFileSync(`${dir}/iid`, 'sha256:stale');
    fs.mkdirSync(`${dir}/ctx`);
    fs.writeFileSync(`${dir}/ctx/Dockerfile`, 'FROM base\nRUN exit 3\n');
    const r = berth(root, ['build', '--iidfile', `${dir}/iid`, `${dir}/ctx`]);
    assert.notEqual(r.code, 0);
    assert.deepEqual(fs.readdirSync(dir), ['ctx']);
  });
});

describe('run and create --cidfile', () => {
  const cidTaken = (p: string) =>
    new RegExp(`container ID file found, make sure the other container isn't running or delete ${p}$`, 'm');

  for (const cmd of [['create'], ['run', '-d']]) {
    const existing = { ...KINDS, 'regular file': { make: (p: string) => fs.writeFileSync(p, 'other\n'), words: /./ } };
    for (const [kind, k] of Object.entries(existing)) {
      test(`${cmd.join(' ')} --cidfile: an existing ${kind} is refused (exit 125) and left as it was`, async () => {
        const dir = caseDir();
        await k.make(`${dir}/cid`);
        const count = containers();
        refused([...cmd, '--cidfile', `${dir}/cid`, 'base', 'sh'], dir, 125, cidTaken(`${dir}/cid`));
        assert.equal(containers(), count, 'no container was created');
      });
    }

    test(`${cmd.join(' ')} --cidfile: a missing directory gets a message`, () => {
      const dir = caseDir();
      refused(
        [...cmd, '--cidfile', `${dir}/no/cid`, 'base', 'sh'],
        dir,
        125,
        new RegExp(`failed to create the container ID file: invalid output path: directory "${dir}/no" does not exist`),
      );
    });

    test(`${cmd.join(' ')} --cidfile: the new file holds the container's ID`, () => {
      const dir = caseDir();
      const id = berthOk(root, [...cmd, '--cidfile', `${dir}/cid`, 'base', 'sh', '-c', 'exit 0']).trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.equal(fs.readFileSync(`${dir}/cid`, 'utf8'), id);
      assert.equal(fs.statSync(`${dir}/cid`).mode & 0o777, 0o644);
      berthOk(root, ['rm', '-f', id]);
    });

    test(`${cmd.join(' ')} --cidfile: removed again when the container cannot be created`, () => {
      const dir = caseDir();
      const r = berth(root, [...cmd, '--cidfile', `${dir}/cid`, '--name', 'c1', 'base', 'sh']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /c1/);
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  }

  test('run --rm --cidfile (foreground): written before the container runs, kept after', () => {
    const dir = caseDir();
    const out = berthOk(root, ['run', '--rm', '--cidfile', `${dir}/cid`, 'base', 'cat', '/etc/hostname']).trim();
    const id = fs.readFileSync(`${dir}/cid`, 'utf8');
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(out, id.slice(0, 12), 'the container that ran is the one named in the file');
  });
});

describe('cp CONTAINER:SRC HOSTPATH', () => {
  for (const [kind, k] of Object.entries(KINDS)) {
    const words = k.cp;
    if (!words) continue;
    test(`onto a ${kind}: refused with Docker's message, left as it was`, async () => {
      const dir = caseDir();
      await k.make(`${dir}/out`);
      refused(
        ['cp', 'c1:/f.txt', `${dir}/out`],
        dir,
        1,
        new RegExp(`invalid output path: "${dir}/out" must be a directory or a regular file: `),
        words,
      );
    });
  }

  for (const kind of ['character device', 'fifo', 'unix socket']) {
    test(`into a directory where the file's name is a ${kind}: refused, not replaced`, async () => {
      const dir = caseDir();
      await KINDS[kind]!.make(`${dir}/f.txt`);
      refused(['cp', 'c1:/f.txt', `${dir}/`], dir, 1, new RegExp(`copy to "${dir}/f.txt": refusing to replace a `));
      refused(['cp', 'c1:/f.txt', dir], dir, 1, /refusing to replace a /);
    });

    test(`a tree whose member lands on a ${kind}: refused, not replaced`, async () => {
      const dir = caseDir();
      fs.mkdirSync(`${dir}/tree/sub`, { recursive: true });
      await KINDS[kind]!.make(`${dir}/tree/sub/g.txt`);
      refused(['cp', 'c1:/tree', dir], dir, 1, new RegExp(`copy to "${dir}/tree/sub/g.txt": refusing to replace a `));
    });
  }

  test("a missing directory gets Docker's message", () => {
    const dir = caseDir();
    refused(
      ['cp', 'c1:/f.txt', `${dir}/no/such/f`],
      dir,
      1,
      new RegExp(`invalid output path: directory "${dir}/no/such" does not exist`),
    );
  });

  test("a regular file is replaced, a new path made, a directory copied into (Docker's rules)", () => {
    const dir = caseDir();
    fs.writeFileSync(`${dir}/reg`, 'old\n');
    fs.mkdirSync(`${dir}/into`);
    for (const dest of ['reg', 'new', 'into']) berthOk(root, ['cp', 'c1:/f.txt', `${dir}/${dest}`]);
    for (const p of ['reg', 'new', 'into/f.txt'])
      assert.equal(fs.readFileSync(`${dir}/${p}`, 'utf8'), 'from the container\n');
  });
});

function mountIdOf(name: string): string {
  const id = berthOk(root, ['inspect', '--format', '{{.Id}}', name]).trim();
  return (JSON.parse(fs.readFileSync(`${root}/containers/${id}/config.v2.json`, 'utf8')) as { MountID: string })
    .MountID;
}

/** Names `pid` has open under `dir` (an O_TMPFILE file shows as "dir/#ino (deleted)"). */
function openUnder(pid: number, dir: string): string[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })
      .filter((l) => l.startsWith(`${dir}/`));
  } catch {
    return [];
  }
}

/** Wait (polling closely) until `ready` holds, then send `sig`; the exit signal and output. */
async function killWhen(
  child: ReturnType<typeof spawn>,
  ready: () => boolean,
  sig: NodeJS.Signals,
): Promise<{ signal: NodeJS.Signals | null; code: number | null; out: string }> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d;
  });
  const closed = once(child, 'close');
  let done = false;
  void closed.then(() => {
    done = true;
  });
  const end = Date.now() + 60000;
  while (!done && !ready() && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  if (!done) child.kill(sig);
  const [code, signal] = (await closed) as [number | null, NodeJS.Signals | null];
  return { signal, code, out };
}

describe('ended by a signal mid-write: nothing is left', () => {
  before(() => {
    // a layer big enough that writing it takes a while
    const tar = `${work}/big.tar`;
    fs.writeFileSync(tar, buildTar([{ name: 'big', body: Buffer.alloc(192 << 20, 0x5a) }]));
    berthOk(root, ['import', tar, 'big']);
    fs.rmSync(tar);
    berthOk(root, ['create', '--name', 'cbig', 'big', 'x']);
  });

  for (const [name, args, sig] of [
    ['save -o', ['save', '-o'], 'SIGINT'],
    ['export -o', ['export', '-o'], 'SIGTERM'],
    ['save -o (over a regular file)', ['save', '-o'], 'SIGTERM'],
  ] as const) {
    test(`${name}: ${sig} while the file is being written`, async () => {
      const dir = caseDir();
      if (name.includes('regular')) fs.writeFileSync(`${dir}/out.tar`, 'previous\n');
      const before = state(dir);
      const child = spawn(BERTH, ['--root', root, ...args, `${dir}/out.tar`, args[0] === 'save' ? 'big' : 'cbig'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r = await killWhen(child, () => openUnder(child.pid!, dir).length > 0, sig);
      assert.equal(r.signal, sig, `berth was ended by the signal (not finished first): ${r.out}`);
      assert.deepEqual(state(dir), before, 'the directory is as it was');
      assert.deepEqual(
        mountsUnder(`${root}/overlay2/${mountIdOf('cbig')}`),
        [],
        'the union mounted for export is gone',
      );
    });
  }

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    test(`a named staging file (filesystems without O_TMPFILE) is removed on ${sig}`, async () => {
      const dir = caseDir();
      const script = `
        const { writeOutputFile } = await import(${JSON.stringify(new URL('../../src/storage/output-file.js', import.meta.url).href)});
        await writeOutputFile(process.argv[1], 'write', async (out) => { out.write('partial'); process.stdout.write('staged\\n'); await new Promise((r) => setInterval(() => {}, 1000)); }, { unnamed: false });
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, `${dir}/out`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const r = await killWhen(child, () => fs.readdirSync(dir).some((f) => f.startsWith('.tmp-out-')), sig);
      assert.equal(r.signal, sig, r.out);
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  }
});

describe('the target changes while the file is written: checked again before it is put in place', () => {
  for (const unnamed of [true, false]) {
    const how = unnamed ? 'unnamed staging' : 'named staging';

    test(`${how}: a fifo put at the path meanwhile is refused and kept`, async () => {
      const dir = caseDir();
      fs.writeFileSync(`${dir}/out`, 'regular at first\n');
      await assert.rejects(
        writeOutputFile(
          `${dir}/out`,
          'failed to save image',
          async (out) => {
            out.write('data');
            fs.rmSync(`${dir}/out`);
            execFileSync('mkfifo', [`${dir}/out`]);
          },
          { unnamed },
        ),
        /failed to save image: invalid output path ".*\/out": cannot write to a named pipe \(FIFO\)/,
      );
      assert.ok(fs.lstatSync(`${dir}/out`).isFIFO());
      assert.deepEqual(fs.readdirSync(dir), ['out']);
    });

    test(`${how}: a device made at a new path meanwhile is refused and kept`, async () => {
      const dir = caseDir();
      await assert.rejects(
        writeOutputFile(
          `${dir}/out`,
          'failed to export container',
          async (out) => {
            out.write('data');
            execFileSync('mknod', [`${dir}/out`, 'c', '1', '3']);
          },
          { unnamed },
        ),
        /cannot write to a character device file/,
      );
      assert.ok(fs.lstatSync(`${dir}/out`).isCharacterDevice());
      assert.deepEqual(fs.readdirSync(dir), ['out']);
    });

    test(`${how}: a failed producer leaves nothing; a regular file put meanwhile is replaced`, async () => {
      const dir = caseDir();
      await assert.rejects(
        writeOutputFile(
          `${dir}/out`,
          'x',
          async (out) => {
            out.write('data');
            throw new Error('producer failed');
          },
          { unnamed },
        ),
        /producer failed/,
      );
      assert.deepEqual(fs.readdirSync(dir), []);
      await writeOutputFile(
        `${dir}/out`,
        'x',
        async (out) => {
          out.write('new');
          fs.writeFileSync(`${dir}/out`, 'someone else');
        },
        { unnamed },
      );
      assert.equal(fs.readFileSync(`${dir}/out`, 'utf8'), 'new');
      writeOutputFileSync(`${dir}/out2`, 'x', 'sync', { unnamed, mode: 0o640 });
      assert.equal(fs.statSync(`${dir}/out2`).mode & 0o777, 0o640);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['out', 'out2']);
    });
  }
});
