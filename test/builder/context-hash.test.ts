/**
 * The COPY source hashes berth computes are dockerd 20.10's: a private dockerd builds the
 * same context with the classic builder and `docker history --no-trunc` shows each COPY's
 * `file:`/`dir:`/`multi:` hash. The client matters: the docker CLI 20.10 (Debian's
 * docker.io, /usr/bin/docker) puts Go 1.8 type bits in tar modes, the 28.x CLI does not,
 * and dockerd hashes what it is sent; both are checked. A tar on stdin is hashed from its
 * own headers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openContext } from '../../src/builder/context/context.js';
import { hashSources, resolveSources } from '../../src/builder/context/sources.js';
import { Scope, run, runOk, startDockerd, type Dockerd } from '../helpers/peers.js';

const scope = new Scope();
after(() => scope.dispose());

/** Each COPY's sources; one instruction per line. */
const COPIES = [
  ['a.txt'],
  ['d'],
  ['a.txt', 'b.txt'],
  ['special.bin'],
  ['link'],
  ['empty'],
  ['dlink'],
  ['d/*'],
  ['hl'],
  ['*.txt'],
  ['evil'],
  ['.'],
];
const DOCKERFILE = `FROM scratch\n${COPIES.map((s, i) => `COPY ${s.join(' ')} /c${i}/\n`).join('')}`;

let d: Dockerd;
let ctxDir: string;
const CLI20 = '/usr/bin/docker';

function makeContext(dir: string): void {
  const put = (p: string, data: string, mode = 0o644) => {
    fs.mkdirSync(join(dir, p, '..'), { recursive: true });
    fs.writeFileSync(join(dir, p), data);
    fs.chmodSync(join(dir, p), mode);
  };
  put('Dockerfile', DOCKERFILE);
  put('.dockerignore', 'ignored\n*.log\n');
  put('a.txt', 'hello\n');
  put('b.txt', 'bee\n');
  put('d/x', 'x\n');
  put('d/sub/y', 'y\n', 0o600);
  fs.symlinkSync('x', join(dir, 'd/lnk'));
  put('d/skip.log', 'not sent\n');
  put('evil/f', 'f\n');
  fs.symlinkSync('/etc/shadow', join(dir, 'evil/shadow'));
  put('special.bin', 'special\n', 0o4750);
  fs.chownSync(join(dir, 'special.bin'), 1234, 5678);
  fs.utimesSync(join(dir, 'special.bin'), 1_000_000_000, 1_000_000_000);
  fs.symlinkSync('a.txt', join(dir, 'link'));
  fs.mkdirSync(join(dir, 'empty'));
  fs.symlinkSync('d', join(dir, 'dlink'));
  put('hl/one', 'same\n');
  fs.linkSync(join(dir, 'hl/one'), join(dir, 'hl/two'));
  put('ignored', 'secret\n');
}

/** The COPY hashes of an image's history, oldest first. */
function dockerHashes(cli: string, args: string[], input?: Buffer): string[] {
  const env = { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' };
  const r = run(cli, ['build', '-q', ...args], { input, env });
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim().split('\n').pop()!;
  const hist = runOk(cli, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', id], { env });
  return hist
    .split('\n')
    .filter((l) => l.includes(' COPY '))
    .reverse()
    .map((l) => /COPY (\S+) in /.exec(l)![1]!);
}

async function berthHashes(ctx: Awaited<ReturnType<typeof openContext>>): Promise<string[]> {
  const out: string[] = [];
  for (const srcs of COPIES) {
    const ms = [];
    for (const s of srcs) ms.push(...(await resolveSources(ctx, s)));
    out.push(hashSources(ms));
  }
  return out;
}

before(
  () => {
    const work = scope.tempDir('ctx-hash');
    ctxDir = join(work, 'ctx');
    fs.mkdirSync(ctxDir);
    makeContext(ctxDir);
    d = startDockerd(scope, 'ctxhash', join(work, 'docker'));
  },
  { timeout: 300_000 },
);

test('dir context: hashes equal dockerd 20.10 + docker CLI 20.10', async () => {
  const want = dockerHashes(CLI20, [ctxDir]);
  const ctx = await openContext({ dir: ctxDir });
  assert.deepEqual(await berthHashes(ctx), want);
});

test('dir context: hashes equal dockerd 20.10 + the 28.x CLI (no type bits in modes)', async (t) => {
  const r = run('docker', ['--version']);
  if (r.code !== 0 || /20\.10/.test(r.stdout)) {
    t.skip('no newer docker CLI on PATH');
    return;
  }
  const want = dockerHashes('docker', [ctxDir]);
  const ctx = await openContext({ dir: ctxDir }, {}, { modeTypeBits: false });
  assert.deepEqual(await berthHashes(ctx), want);
});

test('tar context (GNU tar, "./" names, owners kept, gzip): hashes equal dockerd 20.10', async () => {
  const tgz = runOk('bash', ['-c', `tar --numeric-owner -C '${ctxDir}' -czf - . | base64 -w0`]);
  const bytes = Buffer.from(tgz, 'base64');
  const want = dockerHashes(CLI20, ['-'], bytes);
  const ctx = await openContext({ tar: Readable.from([bytes]) });
  try {
    assert.deepEqual(await berthHashes(ctx), want);
  } finally {
    await ctx.dispose();
  }
});

test("dockerd's COPY errors are berth's messages", async () => {
  const ctx = await openContext({ dir: ctxDir });
  for (const src of ['missing.txt', '../x', '/../../etc/passwd', 'ignored', 'evil/shadow', 'a.txt/x', 'nomatch*']) {
    const df = join(ctxDir, '..', `Dockerfile.err`);
    fs.writeFileSync(df, `FROM scratch\nCOPY ${src} /out/\n`);
    const r = run(CLI20, ['build', '-q', '-f', df, ctxDir], { env: { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } });
    assert.notEqual(r.code, 0, src);
    const dockerMsg = /COPY failed: (.*)/.exec(r.stderr)?.[1];
    let berthMsg: string;
    try {
      berthMsg = `hash ${hashSources(await resolveSources(ctx, src))}`;
    } catch (err) {
      berthMsg = (err as Error).message;
    }
    assert.equal(berthMsg, dockerMsg, src);
  }
});
