import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, type Node } from '../../src/dockerfile/parse.js';
import { expand, expandWords } from '../../src/dockerfile/expand.js';
import {
  parseDockerfile,
  parseGoDuration,
  type CopyInstruction,
  type HealthcheckInstruction,
} from '../../src/dockerfile/instructions.js';
import { BerthError } from '../../src/core/errors.js';

type Want = Partial<
  Pick<Node, 'instruction' | 'args' | 'json' | 'flags' | 'startLine' | 'endLine' | 'original' | 'pairs' | 'legacy'>
> & {
  heredocs?: { name: string; expand: boolean; chomp: boolean; fd: number; content: string }[];
};

function pick(n: Node, w: Want): Want {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(w)) out[k] = (n as unknown as Record<string, unknown>)[k];
  return out as Want;
}

const T = '\t';
const parseCases: { name: string; src: string; want: Want[]; escape?: string }[] = [
  {
    name: 'keywords are case-insensitive; shell form keeps the rest as one string',
    src: 'from alpine\nRun echo  hi\n',
    want: [
      { instruction: 'FROM', args: ['alpine'] },
      { instruction: 'RUN', args: ['echo  hi'], json: false, startLine: 2, endLine: 2 },
    ],
  },
  {
    name: 'continuation with a comment line inside (the comment is skipped)',
    src: 'FROM a\nRUN echo hello \\\n# a comment\n  world\n',
    want: [
      {},
      {
        instruction: 'RUN',
        args: ['echo hello   world'],
        startLine: 2,
        endLine: 4,
        original: 'RUN echo hello   world',
      },
    ],
  },
  {
    name: 'empty continuation lines are skipped',
    src: 'FROM a\nRUN a \\\n\n   \\\n  b\n',
    want: [{}, { args: ['a' + ' '.repeat(6) + 'b'], startLine: 2, endLine: 5 }],
  },
  {
    name: 'escape=` with Windows paths: backslashes are literal, backtick continues',
    src: '# escape=`\nFROM mcr.microsoft.com/windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  && echo done\nWORKDIR c:\\windows\\system32\n',
    escape: '`',
    want: [
      { instruction: 'FROM', startLine: 2 },
      { instruction: 'COPY', args: ['testfile.txt', 'c:\\'] },
      { instruction: 'RUN', args: ['dir c:\\   && echo done'], startLine: 4, endLine: 5 },
      { instruction: 'WORKDIR', args: ['c:\\windows\\system32'] },
    ],
  },
  {
    name: 'JSON exec form, and text that is not valid JSON falls back to shell form',
    src: `FROM a\nRUN ["echo", "hi"]\nCMD [ "a", 'b' ]\nENTRYPOINT [a]\nCMD []\nSHELL ["/bin/bash", "-c"]\n`,
    want: [
      {},
      { instruction: 'RUN', args: ['echo', 'hi'], json: true },
      { instruction: 'CMD', args: [`[ "a", 'b' ]`], json: false },
      { instruction: 'ENTRYPOINT', args: ['[a]'], json: false },
      { instruction: 'CMD', args: [], json: true },
      { instruction: 'SHELL', args: ['/bin/bash', '-c'], json: true },
    ],
  },
  {
    name: 'ENV a=b c=d, legacy ENV a b c, quotes kept for expansion',
    src: `FROM a\nENV a=b c=d\nENV a b c\nENV x="y z" w='q'\n`,
    want: [
      {},
      {
        pairs: [
          { key: 'a', value: 'b' },
          { key: 'c', value: 'd' },
        ],
        legacy: false,
        args: ['a', 'b', 'c', 'd'],
      },
      { pairs: [{ key: 'a', value: 'b c' }], legacy: true },
      {
        pairs: [
          { key: 'x', value: '"y z"' },
          { key: 'w', value: "'q'" },
        ],
      },
    ],
  },
  {
    name: 'LABEL with quoted keys, spaces, escaped quotes and a continuation',
    src: String.raw`FROM a
LABEL "com.example.vendor"="ACME Inc" version=1.0 \
      description="say \"hi\" there"
LABEL legacy value here
`,
    want: [
      {},
      {
        pairs: [
          { key: '"com.example.vendor"', value: '"ACME Inc"' },
          { key: 'version', value: '1.0' },
          { key: 'description', value: String.raw`"say \"hi\" there"` },
        ],
        startLine: 2,
        endLine: 3,
      },
      { pairs: [{ key: 'legacy', value: 'value here' }], legacy: true },
    ],
  },
  {
    name: 'flags: --from --chown --chmod --link --platform --mount, quoted values',
    src: 'FROM --platform=$BUILDPLATFORM golang AS build\nCOPY --from=build --chown="app user" --chmod=755 --link a b\nRUN --mount=type=cache,target=/root/.cache go build\nADD --link=false x y\n',
    want: [
      { flags: { platform: '$BUILDPLATFORM' }, args: ['golang', 'AS', 'build'] },
      { flags: { from: 'build', chown: 'app user', chmod: '755', link: true }, args: ['a', 'b'] },
      { flags: { mount: 'type=cache,target=/root/.cache' }, args: ['go build'] },
      { flags: { link: 'false' }, args: ['x', 'y'] },
    ],
  },
  {
    name: 'heredoc: RUN <<EOF',
    src: 'FROM a\nRUN <<EOF\necho $A\n  indented\nEOF\nCMD x\n',
    want: [
      {},
      {
        instruction: 'RUN',
        args: ['<<EOF'],
        heredocs: [{ name: 'EOF', expand: true, chomp: false, fd: 0, content: 'echo $A\n  indented\n' }],
        startLine: 2,
        endLine: 5,
      },
      { instruction: 'CMD', startLine: 6 },
    ],
  },
  {
    name: 'heredoc: <<-EOF strips leading tabs, also before the terminator',
    src: `FROM a\nRUN <<-EOF\n${T}${T}echo a\n${T}  b\n${T}EOF\n`,
    want: [{}, { heredocs: [{ name: 'EOF', expand: true, chomp: true, fd: 0, content: 'echo a\n  b\n' }] }],
  },
  {
    name: 'heredoc: quoted delimiter means no expansion',
    src: `FROM a\nRUN <<"EOF"\n$A\nEOF\nRUN <<'X' sh\n$B\nX\n`,
    want: [
      {},
      { heredocs: [{ name: 'EOF', expand: false, chomp: false, fd: 0, content: '$A\n' }] },
      { args: [`<<'X' sh`], heredocs: [{ name: 'X', expand: false, chomp: false, fd: 0, content: '$B\n' }] },
    ],
  },
  {
    name: 'heredoc: several on one line, with a file descriptor',
    src: 'FROM a\nRUN <<A cat /dev/stdin /dev/fd/3 3<<B\none\nA\ntwo\nB\n',
    want: [
      {},
      {
        heredocs: [
          { name: 'A', expand: true, chomp: false, fd: 0, content: 'one\n' },
          { name: 'B', expand: true, chomp: false, fd: 3, content: 'two\n' },
        ],
        endLine: 6,
      },
    ],
  },
  {
    name: 'heredoc: COPY <<EOF /path; exec form has no heredocs',
    src: 'FROM a\nCOPY <<EOF /etc/motd\nhello\nEOF\nRUN ["echo", "<<EOF"]\n',
    want: [
      {},
      {
        instruction: 'COPY',
        args: ['<<EOF', '/etc/motd'],
        heredocs: [{ name: 'EOF', expand: true, chomp: false, fd: 0, content: 'hello\n' }],
      },
      { json: true, heredocs: [] },
    ],
  },
  {
    name: 'heredoc: not on CMD; `<<` without a word is not a heredoc',
    src: 'FROM a\nCMD cat <<EOF\nRUN echo a << b\n',
    want: [{}, { instruction: 'CMD', heredocs: [] }, { instruction: 'RUN', heredocs: [] }],
  },
  {
    name: 'directives: syntax and escape accepted; BOM and CRLF',
    src: '\uFEFF# syntax=docker/dockerfile:1\r\n# escape=`\r\nFROM a\r\nRUN a `\r\n b\r\n',
    escape: '`',
    want: [{ instruction: 'FROM', startLine: 3 }, { args: ['a  b'] }],
  },
  {
    name: 'directives only at the very top: after a comment it is a comment',
    src: '# hello\n# escape=`\nFROM a\nRUN a \\\n b\n',
    escape: '\\',
    want: [{}, { args: ['a  b'] }],
  },
  {
    name: 'an escaped escape char at the end of a line does not continue it',
    src: 'FROM a\nRUN echo \\\\\nCMD x\n',
    want: [
      {},
      { instruction: 'RUN', args: ['echo \\\\'], startLine: 2, endLine: 2 },
      { instruction: 'CMD', startLine: 3 },
    ],
  },
  {
    name: 'a continuation char alone on a line continues',
    src: 'FROM a\nRUN a \\\n\\\n b\n',
    want: [{}, { args: ['a  b'], endLine: 4 }],
  },
  {
    name: 'ONBUILD keeps the trigger as a nested node',
    src: 'FROM a\nONBUILD run --mount=type=cache,target=/x echo hi\n',
    want: [{}, { instruction: 'ONBUILD', args: [], original: 'ONBUILD run --mount=type=cache,target=/x echo hi' }],
  },
];

for (const c of parseCases) {
  test(`parse: ${c.name}`, () => {
    const r = parse(c.src);
    assert.equal(r.nodes.length, c.want.length);
    c.want.forEach((w, i) => assert.deepEqual(pick(r.nodes[i]!, w), w, `node ${i}`));
    if (c.escape) assert.equal(r.escape, c.escape);
  });
}

test('parse: ONBUILD RUN <<EOF collects the heredoc on the trigger', () => {
  const r = parse('FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nCMD x\n');
  assert.deepEqual(r.nodes[1]!.sub!.heredocs, [
    { name: 'EOF', expand: true, chomp: false, fd: 0, content: 'echo hi\n' },
  ]);
  assert.deepEqual([r.nodes[1]!.startLine, r.nodes[1]!.endLine, r.nodes[2]!.startLine], [2, 4, 5]);
});

test('parse: ONBUILD trigger node and empty-continuation warning', () => {
  const r = parse('FROM a\nONBUILD run --mount=type=cache,target=/x echo hi\nRUN a \\\n\n b\n');
  const sub = r.nodes[1]!.sub!;
  assert.equal(sub.instruction, 'RUN');
  assert.deepEqual(sub.flags, { mount: 'type=cache,target=/x' });
  assert.deepEqual(sub.args, ['echo hi']);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /^Dockerfile:3: empty continuation line/);
});

const parseErrors: [string, string, string][] = [
  ['unknown instruction', 'FROM a\n\n# c\nRUN a\nRUN b\nRUN c\nRUNN d\n', 'Dockerfile:7: unknown instruction: RUNN'],
  ['no instructions', '# only a comment\n\n', 'Dockerfile:2: file with no instructions'],
  ['empty file', '', 'Dockerfile:1: file with no instructions'],
  [
    'duplicate directive',
    '# escape=`\n# escape=\\\nFROM a\n',
    'Dockerfile:2: only one escape parser directive can be used',
  ],
  ['bad escape', '# escape=x\nFROM a\n', "Dockerfile:1: invalid escape token 'x' does not match ` or \\"],
  [
    'JSON with non-strings',
    'FROM a\nCMD ["a", 1]\n',
    'Dockerfile:2: CMD: when using JSON array syntax, arrays must be comprised of strings only',
  ],
  ['ENV one word', 'FROM a\nENV x\n', 'Dockerfile:2: ENV must have two arguments'],
  [
    'ENV mixed',
    'FROM a\nENV a=b c\n',
    `Dockerfile:2: ENV: syntax error - can't find = in "c". Must be of the form: name=value`,
  ],
  ['unterminated heredoc', 'FROM a\nRUN <<EOF\necho\n', 'Dockerfile:2: RUN: unterminated heredoc "EOF"'],
  ['unknown ONBUILD trigger', 'FROM a\nONBUILD BOGUS x\n', 'Dockerfile:2: unknown instruction: BOGUS'],
];
for (const [name, src, msg] of parseErrors) {
  test(`parse error: ${name}`, () => {
    assert.throws(
      () => parse(src),
      (e: unknown) =>
        (e instanceof BerthError && e.kind === 'InvalidArgument' && e.message === msg) ||
        assert.fail(String((e as Error).message)),
    );
  });
}

const expandCases: [string, Record<string, string>, string][] = [
  ['$A', { A: 'x' }, 'x'],
  ['${A}b', { A: 'x' }, 'xb'],
  ['$A_B-$A', { A: 'x', A_B: 'y' }, 'y-x'],
  ['${A:-d}', {}, 'd'],
  ['${A:-d}', { A: '' }, 'd'],
  ['${A:-d}', { A: 'x' }, 'x'],
  ['${A-d}', {}, 'd'],
  ['${A-d}', { A: '' }, ''],
  ['${A:+a}', { A: 'x' }, 'a'],
  ['${A:+a}', { A: '' }, ''],
  ['${A+a}', { A: '' }, 'a'],
  ['${A+a}', {}, ''],
  ['${A:-${B}c}', { B: 'b' }, 'bc'],
  ['${A:-"x y"}', {}, 'x y'],
  ["'$A'", { A: 'x' }, '$A'],
  ['"$A"', { A: 'x' }, 'x'],
  ['\\$A', { A: 'x' }, '$A'],
  ['"\\$A \\" \\\\"', { A: 'x' }, '$A " \\'],
  ['"a\\b"', {}, 'a\\b'],
  ['a\\b', {}, 'ab'],
  ['$', {}, '$'],
  ['a$ b', {}, 'a$ b'],
  ['$1x', { '1': 'no' }, 'nox'],
  ['$unset', {}, ''],
  ['"it\'s"', {}, "it's"],
  ['a"b"\'c\'', {}, 'abc'],
];
for (const [word, env, want] of expandCases) {
  test(`expand ${JSON.stringify(word)} with ${JSON.stringify(env)}`, () => assert.equal(expand(word, env), want));
}

test('expand: backtick as escape char, backslash literal', () => {
  assert.equal(expand('c:\\`$A', { A: 'x' }, { escape: '`' }), 'c:\\$A');
  assert.equal(expand('c:\\$A', { A: 'x' }, { escape: '`' }), 'c:\\x');
  assert.equal(expand('"`""', {}, { escape: '`' }), '"');
});

test('expand: a Map env works like a record', () => assert.equal(expand('${A}', new Map([['A', 'm']])), 'm'));

const expandErrors: [string, RegExp][] = [
  ['${A', /missing '}'/],
  ['${}', /bad substitution/],
  ['${:x}', /bad substitution/],
  ["'abc", /matching single-quote/],
  ['"abc', /matching double-quote/],
  ['${A:?must be set}', /: A: must be set$/],
  ['${A?}', /: A: is not allowed to be unset$/],
  ['${A:%x}', /unsupported modifier \(%\)/],
];
for (const [word, re] of expandErrors) test(`expand error ${word}`, () => assert.throws(() => expand(word, {}), re));

const wordCases: [string, Record<string, string>, string[]][] = [
  ['$X "a b" \'$X\'', { X: 'p q' }, ['p', 'q', 'a b', '$X']],
  ['a\\ b  c', {}, ['a b', 'c']],
  ['"" x', {}, ['', 'x']],
  ['   ', {}, []],
  ['80/tcp ${PORTS}', { PORTS: '443 8080/udp' }, ['80/tcp', '443', '8080/udp']],
];
for (const [text, env, want] of wordCases) {
  test(`expandWords ${JSON.stringify(text)}`, () => assert.deepEqual(expandWords(text, env), want));
}

test('instructions: stages, global ARGs, typed commands', () => {
  const df = parseDockerfile(String.raw`# syntax=docker/dockerfile:1
ARG BASE=alpine:3.19 VERSION
FROM --platform=linux/amd64 $BASE AS Build
ENV PATH=/go/bin:$PATH GOFLAGS="-mod=vendor"
ENV LEGACY some value
ARG GOOS=linux
RUN go build -o /out/app .
RUN ["/bin/true"]
COPY --chown=1000:1000 --chmod=644 --link go.mod go.sum ./
FROM scratch
COPY --from=build /out/app /app
ADD --checksum=sha256:abc https://example.com/x.tgz /x/
COPY <<EOF /etc/motd
hi
EOF
LABEL a=b "c d"=e
EXPOSE 80/tcp 443
VOLUME ["/data", "/logs"]
VOLUME /a /b
WORKDIR /srv
USER app:app
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD curl -f http://localhost/
ONBUILD COPY . /src
MAINTAINER someone
CMD ["/app"]
ENTRYPOINT /app --serve
`);
  assert.deepEqual(
    df.globalArgs.map((a) => a.args),
    [[{ name: 'BASE', default: 'alpine:3.19' }, { name: 'VERSION' }]],
  );
  assert.equal(df.stages.length, 2);
  const [s0, s1] = df.stages;
  assert.equal(s0!.name, 'build');
  assert.deepEqual([s0!.from.image, s0!.from.platform, s0!.from.stageName], ['$BASE', 'linux/amd64', 'build']);
  assert.deepEqual(
    s0!.instructions.map((i) => i.kind),
    ['ENV', 'ENV', 'ARG', 'RUN', 'RUN', 'COPY'],
  );
  const [env, legacy, , run, exec, copy] = s0!.instructions;
  assert.deepEqual(env!.kind === 'ENV' && env.env, [
    { key: 'PATH', value: '/go/bin:$PATH' },
    { key: 'GOFLAGS', value: '"-mod=vendor"' },
  ]);
  assert.deepEqual(legacy!.kind === 'ENV' && legacy.env, [{ key: 'LEGACY', value: 'some value' }]);
  assert.deepEqual(run!.kind === 'RUN' && [run!.form, run!.command], ['shell', 'go build -o /out/app .']);
  assert.deepEqual(exec!.kind === 'RUN' && [exec!.form, exec!.command], ['exec', ['/bin/true']]);
  const c = copy as CopyInstruction;
  assert.deepEqual(
    [c.sources, c.dest, c.chown, c.chmod, c.link, c.from],
    [
      [
        { kind: 'path', path: 'go.mod' },
        { kind: 'path', path: 'go.sum' },
      ],
      './',
      '1000:1000',
      '644',
      true,
      undefined,
    ],
  );
  assert.equal(s1!.index, 1);
  assert.equal(s1!.name, undefined);
  assert.equal(s1!.from.image, 'scratch');
  const k = (n: number) => s1!.instructions[n]!;
  const f = (n: number, key: string) => (k(n) as unknown as Record<string, unknown>)[key];
  assert.equal((k(0) as CopyInstruction).from, 'build');
  assert.deepEqual([(k(1) as CopyInstruction).kind, (k(1) as CopyInstruction).checksum], ['ADD', 'sha256:abc']);
  const here = k(2) as CopyInstruction;
  assert.deepEqual(here.sources, [
    { kind: 'heredoc', heredoc: { name: 'EOF', expand: true, chomp: false, fd: 0, content: 'hi\n' } },
  ]);
  assert.deepEqual(k(3).kind === 'LABEL' && k(3), {
    ...k(3),
    labels: [
      { key: 'a', value: 'b' },
      { key: '"c d"', value: 'e' },
    ],
  });
  assert.deepEqual(k(4).kind === 'EXPOSE' && k(4), { ...k(4), ports: ['80/tcp', '443'] });
  assert.deepEqual(k(5).kind === 'VOLUME' && k(5), { ...k(5), volumes: ['/data', '/logs'] });
  assert.deepEqual(k(6).kind === 'VOLUME' && k(6), { ...k(6), volumes: ['/a', '/b'] });
  assert.deepEqual(f(7, 'path'), '/srv');
  assert.deepEqual(f(8, 'user'), 'app:app');
  assert.deepEqual(f(9, 'signal'), 'SIGTERM');
  assert.deepEqual(f(10, 'shell'), ['/bin/sh', '-ec']);
  const hc = k(11) as HealthcheckInstruction;
  assert.deepEqual(
    [hc.test, hc.interval, hc.timeout, hc.startPeriod, hc.startInterval, hc.retries],
    [['CMD-SHELL', 'curl -f http://localhost/'], 30e9, 90e9, 500e6, 0, 3],
  );
  const ob = k(12);
  assert.ok(ob.kind === 'ONBUILD');
  assert.equal(ob.expression, 'COPY . /src');
  assert.deepEqual(ob.trigger.kind === 'COPY' && ob.trigger.sources, [{ kind: 'path', path: '.' }]);
  assert.deepEqual(f(13, 'maintainer'), 'someone');
  assert.deepEqual([f(14, 'form'), f(14, 'command')], ['exec', ['/app']]);
  assert.deepEqual([f(15, 'form'), f(15, 'command')], ['shell', '/app --serve']);
  assert.equal(k(15).node.startLine, 28);
});

test('instructions: HEALTHCHECK NONE and exec form', () => {
  const df = parseDockerfile('FROM a\nHEALTHCHECK NONE\nHEALTHCHECK CMD ["true"]\n');
  const [n, e] = df.stages[0]!.instructions as HealthcheckInstruction[];
  assert.deepEqual(n!.test, ['NONE']);
  assert.deepEqual(e!.test, ['CMD', 'true']);
});

const instructionErrors: [string, string, string][] = [
  [
    'instruction before FROM',
    'ARG a\nRUN x\nFROM a\n',
    'Dockerfile:2: RUN: no build stage in current context (only ARG may come before the first FROM)',
  ],
  ['no FROM', 'ARG a\n', 'Dockerfile:1: no FROM instruction: a Dockerfile needs at least one build stage'],
  ['FROM two args', 'FROM a b\n', 'Dockerfile:1: FROM requires either one or three arguments'],
  [
    'FROM bad stage name',
    'FROM a AS 1x\n',
    `Dockerfile:1: FROM: invalid name for build stage: "1x", name can't start with a number or contain symbols`,
  ],
  ['duplicate stage', 'FROM a AS x\nFROM b AS X\n', 'Dockerfile:2: FROM: duplicate stage name "x"'],
  ['unknown flag', 'FROM a\n\nCOPY --foo=1 a b\n', 'Dockerfile:3: COPY: unknown flag: --foo'],
  ['flag without value', 'FROM a\nCOPY --from a b\n', 'Dockerfile:2: COPY: missing a value on flag: --from'],
  [
    'bad bool flag',
    'FROM a\nCOPY --link=yes a b\n',
    'Dockerfile:2: COPY: expecting boolean value for flag --link, not: yes',
  ],
  [
    'COPY one arg',
    'FROM a\nCOPY a\n',
    'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.',
  ],
  ['SHELL not JSON', 'FROM a\nSHELL /bin/sh -c\n', 'Dockerfile:2: SHELL requires the arguments to be in JSON form'],
  ['ARG blank', 'FROM a\nARG =x\n', 'Dockerfile:2: ARG names can not be blank'],
  ['ENV blank', 'FROM a\nENV =x\n', 'Dockerfile:2: ENV names can not be blank'],
  ['WORKDIR empty', 'FROM a\nWORKDIR\n', 'Dockerfile:2: WORKDIR requires exactly one argument'],
  ['EXPOSE empty', 'FROM a\nEXPOSE\n', 'Dockerfile:2: EXPOSE requires at least one argument'],
  ['RUN empty', 'FROM a\nRUN\n', 'Dockerfile:2: RUN requires at least one argument'],
  [
    'ONBUILD ONBUILD',
    'FROM a\nONBUILD ONBUILD RUN x\n',
    "Dockerfile:2: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
  ],
  ['ONBUILD FROM', 'FROM a\nONBUILD FROM b\n', "Dockerfile:2: ONBUILD: FROM isn't allowed as an ONBUILD trigger"],
  [
    'ONBUILD MAINTAINER',
    'FROM a\nONBUILD MAINTAINER b\n',
    "Dockerfile:2: ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger",
  ],
  [
    'HEALTHCHECK type',
    'FROM a\nHEALTHCHECK RUN x\n',
    'Dockerfile:2: HEALTHCHECK: Unknown type "RUN" in HEALTHCHECK (try CMD)',
  ],
  ['HEALTHCHECK NONE args', 'FROM a\nHEALTHCHECK NONE x\n', 'Dockerfile:2: HEALTHCHECK NONE takes no arguments'],
  [
    'HEALTHCHECK no cmd',
    'FROM a\nHEALTHCHECK CMD\n',
    'Dockerfile:2: HEALTHCHECK: Missing command after HEALTHCHECK CMD',
  ],
  [
    'HEALTHCHECK short',
    'FROM a\nHEALTHCHECK --interval=10us CMD x\n',
    'Dockerfile:2: HEALTHCHECK: Interval "interval" cannot be less than 1ms',
  ],
  [
    'HEALTHCHECK bad duration',
    'FROM a\nHEALTHCHECK --timeout=5 CMD x\n',
    'Dockerfile:2: HEALTHCHECK: time: invalid duration "5"',
  ],
  [
    'HEALTHCHECK retries',
    'FROM a\nHEALTHCHECK --retries=-1 CMD x\n',
    'Dockerfile:2: HEALTHCHECK: --retries cannot be negative (-1)',
  ],
  ['flag on ENV', 'FROM a\nENV --x=1 a=b\n', 'Dockerfile:2: ENV: unknown flag: --x'],
];
for (const [name, src, msg] of instructionErrors) {
  test(`instruction error: ${name}`, () => {
    assert.throws(
      () => parseDockerfile(src),
      (e: unknown) => (e instanceof BerthError && e.message === msg) || assert.fail(String((e as Error).message)),
    );
  });
}

const durations: [string, number | undefined][] = [
  ['0', 0],
  ['30s', 30e9],
  ['1m30s', 90e9],
  ['1.5h', 5400e9],
  ['500ms', 500e6],
  ['10us', 10e3],
  ['-2s', -2e9],
  ['5', undefined],
  ['', undefined],
  ['1x', undefined],
];
for (const [s, want] of durations)
  test(`parseGoDuration ${JSON.stringify(s)}`, () => assert.equal(parseGoDuration(s), want));
