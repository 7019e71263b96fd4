import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { berth, berthOk, mountsUnder, tempRoot } from '../helpers/berth.js';
import { buildTar } from '../helpers/tarbuild.js';

// Real builds: RUN steps are berth containers, COPY/ADD write through a step container's union.
const t = tempRoot('berth-build');
const root = t.root;
const ctxs = tempRoot('berth-build-ctx');
const PROGRAMS = ['sh', 'ls', 'cat', 'echo', 'id', 'stat', 'mkdir', 'rm', 'touch', 'readlink', 'ln', 'wc'];
before(() => {
  berthOk(root, ['image', 'from-host', 'base', ...PROGRAMS]);
});
after(() => {
  assert.deepEqual(mountsUnder(root), [], 'no mount may outlive the builds');
  const check = berth(root, ['system', 'check']);
  assert.equal(check.code, 0, `the store is consistent after all the builds:\n${check.stdout}${check.stderr}`);
  t.remove();
  ctxs.remove();
});

let n = 0;
/** A context dir with these files (a string is content; {link} a symlink; {mode} a mode). */
function context(files: Record<string, string | { link: string } | { content: string; mode: number }>): string {
  const dir = `${ctxs.root}/c${n++}`;
  fs.mkdirSync(dir, { recursive: true });
  for (const [p, v] of Object.entries(files)) {
    const f = `${dir}/${p}`;
    fs.mkdirSync(f.slice(0, f.lastIndexOf('/')), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(f, v);
    else if ('link' in v) fs.symlinkSync(v.link, f);
    else {
      fs.writeFileSync(f, v.content);
      fs.chmodSync(f, v.mode);
    }
  }
  return dir;
}

const build = (dir: string, args: string[] = [], input?: string) =>
  berth(root, ['build', ...args, dir], input === undefined ? {} : { input });
const inspect = (img: string) => JSON.parse(berthOk(root, ['image', 'inspect', img]))[0];
const history = (img: string) =>
  berthOk(root, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', img]).trim().split('\n');
const runIn = (img: string, cmd: string) =>
  berthOk(root, ['run', '--rm', '-u', '0', '--entrypoint', 'sh', img, '-c', cmd]);
const containers = () => berthOk(root, ['ps', '-a', '-q']).trim();

test('a Dockerfile with every kind of step: config, history, files; a rebuild is fully cached', () => {
  const dir = context({
    'hello.txt': 'hello\n',
    'sub/a': 'a\n',
    'sub/deep/b': 'b\n',
    'run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    Dockerfile: [
      'FROM base',
      'ARG V=1',
      'ENV A=b C="d e"',
      'LABEL x=y',
      'WORKDIR /app',
      'COPY hello.txt .',
      'COPY sub /app/sub2/',
      'COPY run.sh /usr/local/bin/',
      'RUN echo "v=$V a=$A" > /app/out && rm /bin/ls',
      'USER 1000:1000',
      'EXPOSE 80 53/udp',
      'VOLUME /data',
      'STOPSIGNAL SIGTERM',
      'HEALTHCHECK --interval=5s CMD cat /app/out',
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD ["cat /app/out"]',
      'MAINTAINER me',
    ].join('\n'),
  });
  const r = build(dir, ['-t', 'app:1']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /^Step 1\/17 : FROM base$/m);
  assert.match(r.stdout, /^Step 9\/17 : RUN echo "v=\$V a=\$A" > \/app\/out && rm \/bin\/ls$/m);
  assert.match(r.stdout, /^ ---> Running in [0-9a-f]{12}$/m);
  assert.match(r.stdout, /^Successfully built [0-9a-f]{12}\nSuccessfully tagged app:1$/m);
  const img = inspect('app:1');
  const c = img.Config;
  assert.deepEqual(c.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=b', 'C=d e']);
  assert.deepEqual([c.User, c.WorkingDir, c.StopSignal], ['1000:1000', '/app', 'SIGTERM']);
  assert.deepEqual(c.Labels, { x: 'y' });
  assert.deepEqual(Object.keys(c.ExposedPorts).sort(), ['53/udp', '80/tcp']);
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(c.Cmd, ['cat /app/out']);
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'cat /app/out'], Interval: 5e9 });
  assert.equal(img.Author, 'me');
  const h = history('app:1');
  assert.equal(h.length, 17, h.join('\n'));
  assert.match(h[0]!, /^\/bin\/sh -c #\(nop\)  MAINTAINER me\|0B$/);
  assert.match(h[8]!, /^\|1 V=1 \/bin\/sh -c echo "v=\$V a=\$A" > \/app\/out && rm \/bin\/ls\|\d+B$/);
  assert.match(h[9]!, /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/usr\/local\/bin\/ \|/);
  assert.match(h[10]!, /^\/bin\/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in \/app\/sub2\/ \|/);
  assert.match(h[12]!, /^\/bin\/sh -c #\(nop\) WORKDIR \/app\|\d+B$/);
  assert.match(h[15]!, /^\/bin\/sh -c #\(nop\)  ARG V=1\|0B$/);
  // layers: base + WORKDIR + 3 COPY + RUN
  assert.equal(img.RootFS.Layers.length, 6);
  const out = runIn(
    'app:1',
    'cat /app/out /app/hello.txt /app/sub2/a /app/sub2/deep/b; stat -c "%a %u:%g %n" /usr/local/bin/run.sh /app/sub2 /app; test -e /bin/ls || echo ls-gone',
  );
  assert.equal(out, 'v=1 a=b\nhello\na\nb\n755 0:0 /usr/local/bin/run.sh\n755 0:0 /app/sub2\n755 0:0 /app\nls-gone\n');
  assert.equal(containers(), '', 'step containers are removed');

  const again = build(dir, ['-t', 'app:2']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stdout.match(/ ---> Using cache/g) ?? []).length, 16, again.stdout);
  assert.doesNotMatch(again.stdout, /Running in/);
  assert.equal(inspect('app:2').Id, img.Id, 'a fully cached rebuild is the same image');

  fs.writeFileSync(`${dir}/sub/a`, 'changed\n');
  const changed = build(dir, ['-t', 'app:3']);
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal(
    (changed.stdout.match(/ ---> Using cache/g) ?? []).length,
    5,
    'steps before the changed COPY are cached, the rest is not',
  );
  assert.equal(runIn('app:3', 'cat /app/sub2/a'), 'changed\n');

  const arg = build(dir, ['--build-arg', 'V=2', '--build-arg', 'NOPE=1', '-t', 'app:4']);
  assert.equal(arg.code, 0, arg.stderr);
  assert.match(arg.stdout, /\[Warning\] One or more build-args \[NOPE\] were not consumed/);
  assert.equal(runIn('app:4', 'cat /app/out'), 'v=2 a=b\n');
  assert.match(history('app:4')[8]!, /^\|1 V=2 /);
});

test('multi-stage: only the stages the target needs, COPY --from by name and index, --target', () => {
  const dir = context({
    Dockerfile: [
      'FROM base AS one',
      'RUN echo one > /one',
      'FROM base AS broken',
      'RUN exit 3',
      'FROM base AS two',
      'RUN echo two > /two',
      'FROM scratch',
      'COPY --from=one /one /from-name',
      'COPY --from=2 /two /from-index',
    ].join('\n'),
  });
  const r = build(dir, ['-t', 'multi']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.doesNotMatch(r.stdout, /exit 3/, 'the unused stage is not built');
  assert.match(r.stdout, /^Step 1\/7 : FROM base AS one$/m);
  const img = inspect('multi');
  assert.equal(img.RootFS.Layers.length, 2);
  const files = berthOk(root, ['save', 'multi']);
  assert.ok(files.length > 0);
  const tgt = build(dir, ['--target', 'two', '-t', 'two']);
  assert.equal(tgt.code, 0, tgt.stderr);
  assert.equal(runIn('two', 'cat /two'), 'two\n');
  const bad = build(dir, ['--target', 'nope']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /failed to reach build target nope in Dockerfile/);
});

test('a failing RUN: the step, its exit code, nothing tagged; --force-rm removes the container', () => {
  const dir = context({ Dockerfile: 'FROM base\nRUN echo before\nRUN echo out; echo err >&2; exit 7\n' });
  const r = build(dir, ['-t', 'fails']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^out$/m);
  assert.match(r.stderr, /^err$/m);
  assert.match(r.stderr, /The command '\/bin\/sh -c echo out; echo err >&2; exit 7' returned a non-zero code: 7/);
  assert.equal(berth(root, ['image', 'inspect', 'fails']).code, 1, 'nothing tagged');
  assert.notEqual(containers(), '', 'like docker build, the failed step container is kept for inspection');
  berthOk(root, ['rm', containers()]);
  const f = build(dir, ['--force-rm', '-q']);
  assert.equal(f.code, 1);
  assert.match(f.stderr, /^out\nerr\n/m, '-q shows the failed step output');
  assert.equal(containers(), '');
});

test('context rules: .dockerignore, paths outside the context, symlinks copied as links, Dockerfile outside the context', () => {
  const dir = context({
    '.dockerignore': '*.secret\n!keep.secret\n**/tmp\n/only-root\n',
    'a.secret': 's',
    'keep.secret': 'k',
    'x/tmp': 't',
    'only-root': 'r',
    'x/only-root': 'r2',
    'links/shadow': { link: '/etc/shadow' },
    'links/rel': { link: '../keep.secret' },
    Dockerfile: 'FROM base\nCOPY . /ctx/\n',
  });
  const r = build(dir, ['-t', 'ctx']);
  assert.equal(r.code, 0, r.stderr);
  const ls = runIn('ctx', 'cd /ctx && ls -A . x links; readlink links/shadow links/rel; cat links/rel');
  assert.match(ls, /^\.:\n\.dockerignore\nDockerfile\nkeep\.secret\nlinks\nx\n/);
  assert.match(ls, /\/etc\/shadow\n\.\.\/keep\.secret\nk$/);
  const cases: Array<[string, RegExp]> = [
    [
      'COPY a.secret /',
      /file not found in build context or excluded by \.dockerignore: stat a\.secret: file does not exist/,
    ],
    ['COPY ../x /', /forbidden path outside the build context|not found in build context/],
    ['COPY links/shadow /s', /not found in build context/],
    ['COPY nothing* /', /no source files were specified/],
    ['COPY keep.secret .dockerignore /dir', /the destination must be a directory and end with a \//],
  ];
  for (const [line, re] of cases) {
    fs.writeFileSync(`${dir}/Dockerfile`, `FROM base\n${line}\n`);
    const b = build(dir);
    assert.equal(b.code, 1, line);
    assert.match(b.stderr, re, line);
    assert.match(
      b.stderr,
      /Dockerfile:2: (COPY failed: |When using COPY)/,
      'the error names the file, line and instruction',
    );
  }
  const outside = `${ctxs.root}/outside.Dockerfile`;
  fs.writeFileSync(outside, 'FROM base\nCOPY keep.secret /k\n');
  const o = build(dir, ['-f', outside, '-t', 'outside']);
  assert.equal(o.code, 0, o.stderr);
  assert.equal(runIn('outside', 'cat /k'), 'k');
});

test('ADD extracts local archives (tar, gzip, bzip2, xz) keeping their owners; a plain file is copied; a malicious tar stays inside', () => {
  const src = context({ 'pkg/bin/tool': 'tool\n', 'pkg/etc/conf': 'conf\n' });
  const dir = context({ 'plain.txt': 'plain\n' });
  for (const [name, flag] of [
    ['p.tar', ''],
    ['p.tar.gz', 'z'],
    ['p.tar.bz2', 'j'],
    ['p.tar.xz', 'J'],
  ] as const) {
    assert.equal(
      spawnSync('tar', [`-c${flag}f`, `${dir}/${name}`, '--owner=7', '--group=8', '-C', `${src}/pkg`, '.']).status,
      0,
    );
  }
  fs.writeFileSync(
    `${dir}/Dockerfile`,
    'FROM base\nADD p.tar /t/\nADD p.tar.gz /z/\nADD p.tar.bz2 /j/\nADD p.tar.xz /x/\nADD plain.txt /p/\n',
  );
  const r = build(dir, ['-t', 'add']);
  assert.equal(r.code, 0, r.stderr);
  const out = runIn(
    'add',
    'for d in t z j x; do cat /$d/bin/tool; stat -c "%u:%g" /$d/etc/conf; done; cat /p/plain.txt',
  );
  assert.equal(out, 'tool\n7:8\n'.repeat(4) + 'plain\n');
  // hostile archives: members that climb out with ../, absolute names, a file written through a symlink to /etc
  const hostile: Array<[string, Parameters<typeof buildTar>[0]]> = [
    ['dotdot', [{ name: '../../../../../../tmp/berth-evil-dotdot', body: 'x' }]],
    [
      'through-link',
      [
        { name: 'esc', type: 'symlink', linkname: '/tmp' },
        { name: 'esc/berth-evil-link', body: 'x' },
      ],
    ],
    ['hardlink', [{ name: 'h', type: 'link', linkname: '/etc/shadow' }]],
  ];
  for (const [name, pieces] of hostile) {
    fs.writeFileSync(`${dir}/${name}.tar`, buildTar(pieces));
    fs.writeFileSync(`${dir}/Dockerfile`, `FROM base\nADD ${name}.tar /e/\n`);
    const e = build(dir, ['-t', `evil-${name}`]);
    if (e.code !== 0) assert.match(e.stderr, /Dockerfile:2: ADD/, `${name}: a refusal names the step`);
    else if (name === 'through-link')
      assert.equal(
        runIn(`evil-${name}`, 'readlink /e/esc; ls /tmp'),
        '/tmp\nberth-evil-link\n',
        'confined: the link is followed inside the rootfs',
      );
  }
  for (const f of ['/tmp/berth-evil-dotdot', '/tmp/berth-evil-link'])
    assert.ok(!fs.existsSync(f), `${f}: nothing lands on the host`);
  fs.writeFileSync(`${dir}/absolute.tar`, buildTar([{ name: '/abs-berth-evil', body: 'x' }]));
  fs.writeFileSync(`${dir}/Dockerfile`, 'FROM base\nADD absolute.tar /e/\n');
  const abs = build(dir, ['-t', 'evil-abs']);
  assert.equal(abs.code, 0, abs.stderr);
  assert.equal(runIn('evil-abs', 'cat /e/abs-berth-evil'), 'x', 'an absolute name lands below the destination');
  assert.ok(!fs.existsSync('/abs-berth-evil'));
});

test('heredocs, ONBUILD triggers, FROM scratch, stdin Dockerfile and tar context, -q and --iidfile', () => {
  const dir = context({
    Dockerfile:
      'FROM base\nRUN <<EOF\necho one > /h1\necho two >> /h1\nEOF\nCOPY <<EOT /etc/greeting\nhi $HOME\nEOT\nONBUILD RUN echo triggered > /trig\n',
  });
  const r = build(dir, ['-t', 'parent']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(runIn('parent', 'cat /h1 /etc/greeting; test -e /trig || echo no-trig'), 'one\ntwo\nhi \nno-trig\n');
  const child = build('-', ['-t', 'child'], 'FROM parent\nRUN echo child\n');
  assert.equal(child.code, 0, child.stderr);
  assert.match(child.stdout, /# Executing 1 build trigger/);
  assert.equal(runIn('child', 'cat /trig'), 'triggered\n');
  assert.deepEqual(inspect('child').Config.OnBuild, null);

  const scratch = context({ 'f.txt': 'f\n', Dockerfile: 'FROM scratch\nCOPY f.txt /\nENV X=1\n' });
  const tar = spawnSync('tar', ['-C', scratch, '-c', '.']).stdout;
  const iid = `${ctxs.root}/iid`;
  const s = berth(root, ['build', '-q', '--iidfile', iid, '-t', 'fromscratch', '-'], { input: tar });
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.equal(fs.readFileSync(iid, 'utf8'), s.stdout.trim());
  const img = inspect('fromscratch');
  assert.equal(img.RootFS.Layers.length, 1);
  assert.deepEqual(img.Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'X=1']);
});

test('a RUN is confined: it sees the image, not the host, and its writes land only in its layer', () => {
  const marker = `${ctxs.root}/host-marker`;
  fs.writeFileSync(marker, 'host');
  const dir = context({
    Dockerfile: `FROM base\nRUN test ! -e ${marker} && echo pwned > /etc/written && (echo x > /proc/sys/kernel/hostname 2>/dev/null || echo denied)\n`,
  });
  const r = build(dir, ['-t', 'confined']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^denied$/m);
  assert.equal(fs.readFileSync(marker, 'utf8'), 'host');
  assert.notEqual(fs.readFileSync('/etc/hostname', 'utf8'), 'x\n');
  assert.equal(runIn('confined', 'cat /etc/written'), 'pwned\n');
});

test('--progress tty: RUN output in a rolling window that is erased; on failure the whole step output is shown', () => {
  const dir = context({
    Dockerfile: 'FROM base\nRUN for i in 1 2 3 4 5 6 7 8 9; do echo line$i; done\nRUN echo bad; exit 2\n',
  });
  const r = build(dir, ['--progress', 'tty']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\x1b\[2m  line9\x1b\[0m/);
  assert.match(r.stdout, /\x1b\[\d+A\x1b\[J/, 'the window is erased');
  assert.match(r.stderr, /^bad$/m);
  assert.match(r.stderr, /returned a non-zero code: 2/);
  for (const c of containers().split('\n').filter(Boolean)) berthOk(root, ['rm', c]);
});

test('ADD of a URL: fetched (mode 0600, as Docker), cached by content; an unreachable URL is a clear error', async () => {
  const { spawn } = await import('node:child_process');
  const www = context({ 'file.txt': 'served\n' });
  const port = 20000 + Math.floor(Math.random() * 12000); // below the ephemeral ports (32768-)
  const server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', www], {
    stdio: 'ignore',
  });
  try {
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/file.txt`).then(
        () => true,
        () => false,
      );
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(up, `the test's HTTP server listens on port ${port}`);
    const dir = context({ Dockerfile: `FROM base\nADD http://127.0.0.1:${port}/file.txt /dl/\n` });
    const r = build(dir, ['-t', 'url']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(runIn('url', 'cat /dl/file.txt; stat -c "%a %u" /dl/file.txt'), 'served\n600 0\n');
    assert.match(history('url')[0]!, /^\/bin\/sh -c #\(nop\) ADD file:[0-9a-f]{64} in \/dl\/ \|/);
    const again = build(dir, ['-t', 'url']);
    assert.match(again.stdout, / ---> Using cache/);
    fs.writeFileSync(`${dir}/Dockerfile`, `FROM base\nADD http://127.0.0.1:${port + 1}/nothing.tar /x\n`);
    const bad = build(dir);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /Dockerfile:2: ADD failed: cannot fetch http:\/\/127\.0\.0\.1:\d+\/nothing\.tar: .*ECONNREFUSED/,
    );
    fs.writeFileSync(`${dir}/Dockerfile`, `FROM base\nADD http://127.0.0.1:${port}/missing.txt /x\n`);
    assert.match(build(dir).stderr, /ADD failed: cannot fetch .*missing\.txt: HTTP 404/);
    fs.writeFileSync(`${dir}/Dockerfile`, `FROM base\nCOPY http://127.0.0.1:${port}/file.txt /x\n`);
    assert.match(build(dir).stderr, /source can't be a URL for COPY/);
  } finally {
    server.kill('SIGKILL');
  }
});

test('ADD of an https URL trusts the CAs NODE_EXTRA_CA_CERTS names (read by berth only when it downloads), and only those', async () => {
  const { spawn, spawnSync } = await import('node:child_process');
  const www = context({ 'tls.txt': 'over tls\n' });
  const certs = context({});
  const gen = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=berth-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      `${certs}/k.pem`,
      '-out',
      `${certs}/c.pem`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(gen.status, 0, gen.stderr);
  const port = 20000 + Math.floor(Math.random() * 12000); // below the ephemeral ports (32768-)
  const serve =
    'import functools,http.server,ssl,sys\n' +
    'h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])\n' +
    's = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), h)\n' +
    'c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[2] + "/c.pem", sys.argv[2] + "/k.pem")\n' +
    's.socket = c.wrap_socket(s.socket, server_side=True); s.serve_forever()\n';
  const server = spawn('python3', ['-c', serve, String(port), certs, www], { stdio: 'ignore' });
  try {
    const net = await import('node:net');
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      up = await new Promise<boolean>((r) => {
        const c = net.connect(port, '127.0.0.1', () => {
          c.destroy();
          r(true);
        });
        c.on('error', () => r(false));
      });
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(up, `the test's TLS server listens on port ${port}`);
    const dir = context({ Dockerfile: `FROM base\nADD https://127.0.0.1:${port}/tls.txt /dl/\n` });
    const untrusted = berth(root, ['build', dir], { env: { NODE_EXTRA_CA_CERTS: '' } });
    assert.equal(untrusted.code, 1);
    assert.match(
      untrusted.stderr,
      /ADD failed: cannot fetch https:\/\/127\.0\.0\.1:\d+\/tls\.txt: .*self[- ]signed certificate/,
    );
    const trusted = berth(root, ['build', '-t', 'tls', dir], { env: { NODE_EXTRA_CA_CERTS: `${certs}/c.pem` } });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(runIn('tls', 'cat /dl/tls.txt'), 'over tls\n');
  } finally {
    server.kill('SIGKILL');
  }
});

test("RUN --network=host|none overrides the build's network for one step, and is part of its cache key", () => {
  const dir = context({
    Dockerfile:
      'FROM base\nRUN --network=host ls /sys/class/net > /host-net\nRUN --network=none ls /sys/class/net > /none-net\n' +
      'RUN ls /sys/class/net > /bridge-net\n',
  });
  const r = build(dir, ['-t', 'net']);
  assert.equal(r.code, 0, r.stderr);
  const out = runIn('net', 'cat /host-net; echo --; cat /none-net; echo --; cat /bridge-net');
  const [host, none, bridge] = out.split('--\n');
  assert.notEqual(host!.trim(), 'lo', 'the host network has more than lo');
  assert.equal(none!.trim(), 'lo');
  // the build's network: the default bridge, as the classic builder's RUN steps
  assert.equal(bridge!.trim(), 'eth0\nlo');
  assert.match(history('net')[2]!, /^--network=host \/bin\/sh -c ls \/sys\/class\/net > \/host-net\|/);
  assert.match(history('net')[1]!, /^--network=none \/bin\/sh -c ls \/sys\/class\/net > \/none-net\|/);
  fs.writeFileSync(`${dir}/Dockerfile`, 'FROM base\nRUN ls /sys/class/net > /host-net\n');
  assert.doesNotMatch(build(dir).stdout, /Using cache/, 'a step without the override is another step');
  fs.writeFileSync(`${dir}/Dockerfile`, 'FROM base\nRUN --network=bridge true\n');
  assert.match(build(dir).stderr, /RUN --network=bridge: expected default, none or host/);
});
