import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildArgs } from '../../src/builder/args.js';
import { goDuration, goQuote, goQuoteRune, goQuoteSlice, goSlice } from '../../src/builder/gofmt.js';
import { dispatchMetadata, portSpecs } from '../../src/builder/metadata.js';
import { neededStages } from '../../src/builder/builder.js';
import { prependArgs, runCommandLine, runConfigs } from '../../src/builder/run-step.js';
import { normalizeDest, hashSources } from '../../src/builder/copy-step.js';
import { normalizeWorkdir } from '../../src/builder/workdir-step.js';
import { beginStage, sameStepConfig, withCmdComment, withCmdCommentString } from '../../src/builder/state.js';
import { childImage, scratchImage } from '../../src/builder/image-step.js';
import { parseDockerfile, type Instruction, type RunInstruction } from '../../src/dockerfile/instructions.js';

const stage = (args = new BuildArgs(new Map())) => beginStage(scratchImage(), undefined, args);
const ins = (line: string): Instruction => parseDockerfile(`FROM scratch\n${line}\n`).stages[0]!.instructions[0]!;
const meta = (s: ReturnType<typeof stage>, line: string) =>
  dispatchMetadata(s, ins(line) as Parameters<typeof dispatchMetadata>[1], '\\');

test('Go formatting as dockerd uses it in history: %q, %v, Duration.String, QuoteRune', () => {
  assert.equal(goQuote('a "b" \\ \n\t\x01é'), '"a \\"b\\" \\\\ \\n\\t\\x01é"');
  assert.equal(goQuoteSlice(['/bin/sh', '-c', 'echo "hi"']), '["/bin/sh" "-c" "echo \\"hi\\""]');
  assert.equal(goQuoteSlice(null), '[]');
  assert.equal(goSlice(['/data', '/x']), '[/data /x]');
  const durations: Array<[number, string]> = [
    [0, '0s'],
    [30e9, '30s'],
    [90e9, '1m30s'],
    [1.5e9, '1.5s'],
    [500e6, '500ms'],
    [3600e9, '1h0m0s'],
    [1500, '1.5µs'],
    [7, '7ns'],
    [3723.5e9, '1h2m3.5s'],
  ];
  for (const [ns, want] of durations) assert.equal(goDuration(ns), want, `${ns}`);
  assert.equal(goQuoteRune(0), "'\\x00'");
  assert.equal(goQuoteRune(3), "'\\x03'");
  assert.equal(goQuoteRune(10), "'\\n'");
  assert.equal(goQuoteRune(65), "'A'");
});

test('metadata steps: config changes and the commit messages dockerd writes into history', () => {
  const s = stage();
  assert.deepEqual(s.runConfig.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  const cases: Array<[string, string]> = [
    ['ENV A=b C="d e"', 'ENV A=b C=d e'],
    ['ENV A $C-x', 'ENV A=d e-x'],
    ['LABEL "k 1"=v a=$A', 'LABEL k 1=v a=d e-x'],
    ['MAINTAINER Jo <jo@x>', 'MAINTAINER Jo <jo@x>'],
    ['EXPOSE 80 53/udp 8000-8001', 'EXPOSE 53/udp 80 8000-8001'],
    ['USER app:$A', 'USER app:d e-x'],
    ['VOLUME ["/data", "/x"]', 'VOLUME [/data /x]'],
    ['STOPSIGNAL SIGKILL', 'STOPSIGNAL SIGKILL'],
    ['ARG V W=$A', 'ARG V W=d e-x'],
    ['SHELL ["/bin/bash", "-c"]', 'SHELL [/bin/bash -c]'],
    ['CMD echo hi', 'CMD ["/bin/bash" "-c" "echo hi"]'],
    ['ENTRYPOINT ["/e"]', 'ENTRYPOINT ["/e"]'],
    [
      'HEALTHCHECK --interval=5s --retries=3 CMD curl -f x || exit 1',
      'HEALTHCHECK &{["CMD-SHELL" "curl -f x || exit 1"] "5s" "0s" "0s" \'\\x03\'}',
    ],
    ['HEALTHCHECK NONE', 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}'],
    ['ONBUILD RUN echo  hi', 'ONBUILD RUN echo  hi'],
  ];
  for (const [line, want] of cases) assert.equal(meta(s, line), want, line);
  const rc = s.runConfig;
  assert.deepEqual(rc.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=d e-x', 'C=d e']);
  assert.deepEqual(rc.Labels, { 'k 1': 'v', a: 'd e-x' });
  assert.deepEqual(Object.keys(rc.ExposedPorts!), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(rc.Volumes, { '/data': {}, '/x': {} });
  assert.equal(s.maintainer, 'Jo <jo@x>');
  // ENTRYPOINT after CMD in the same stage keeps the CMD; a fresh stage's ENTRYPOINT resets the inherited one
  assert.deepEqual(rc.Cmd, ['/bin/bash', '-c', 'echo hi']);
  assert.deepEqual(
    rc.Healthcheck,
    { Test: ['NONE'], Interval: 5e9, Retries: 3 },
    "as dockerd merges the parent image's healthcheck",
  );
  assert.deepEqual(rc.OnBuild, ['RUN echo  hi']);
  const t = beginStage({ ...scratchImage(), config: { Cmd: ['x'] } }, undefined, new BuildArgs(new Map()));
  meta(t, 'ENTRYPOINT ["/e"]');
  assert.equal(t.runConfig.Cmd, null);
  assert.throws(() => meta(stage(), 'STOPSIGNAL SIGNOPE'), /signal/);
  assert.throws(() => meta(stage(), 'EXPOSE 80/xyz'), /Invalid proto/);
});

test('EXPOSE port specs as nat.ParsePortSpecs reads them', () => {
  assert.deepEqual(portSpecs('80'), ['80/tcp']);
  assert.deepEqual(portSpecs('53/UDP'), ['53/udp']);
  assert.deepEqual(portSpecs('1.2.3.4:8080:80/tcp'), ['80/tcp']);
  assert.deepEqual(portSpecs('7-9/sctp'), ['7/sctp', '8/sctp', '9/sctp']);
  assert.throws(() => portSpecs('http'), /Invalid containerPort: http/);
  assert.throws(() => portSpecs('9-7'), /Invalid containerPort/);
});

test('build args: scoping per stage, meta args, --build-arg overrides, proxy args', () => {
  const args = new BuildArgs(
    new Map([
      ['V', '2'],
      ['UNUSED', 'x'],
      ['HTTP_PROXY', 'http://p'],
    ]),
  );
  args.addArg('G', 'g');
  args.addMetaArg('G', 'g');
  const s1 = args.forStage();
  assert.deepEqual(
    [...s1.allAllowed()],
    [['HTTP_PROXY', 'http://p']],
    'nothing declared in the stage yet; proxy args always',
  );
  s1.addArg('G', undefined);
  s1.addArg('V', '1');
  assert.deepEqual(Object.fromEntries(s1.allAllowed()), { G: 'g', V: '2', HTTP_PROXY: 'http://p' });
  assert.deepEqual(s1.filterAllowed(['V=env']).sort(), ['G=g', 'HTTP_PROXY=http://p']);
  assert.deepEqual(args.unused(), ['UNUSED']);
  const s = stage(s1);
  assert.deepEqual(
    prependArgs(s, ['V=2', 'HTTP_PROXY=http://p', 'G=g'], ['/bin/sh', '-c', 'x']),
    ['|2', 'G=g', 'V=2', '/bin/sh', '-c', 'x'],
    'undeclared proxy args stay out of history',
  );
});

test('RUN: command line, cache key and the container config', () => {
  const args = new BuildArgs(new Map());
  const s = stage(args);
  s.args.addArg('V', '1');
  s.runConfig.Entrypoint = ['/entry'];
  s.runConfig.Healthcheck = { Test: ['CMD', 'x'] };
  const run = (line: string) => ins(line) as RunInstruction;
  assert.deepEqual(runCommandLine(run('RUN echo $V'), s.runConfig), ['/bin/sh', '-c', 'echo $V']);
  assert.deepEqual(runCommandLine(run('RUN ["echo", "x"]'), s.runConfig), ['echo', 'x']);
  assert.deepEqual(runCommandLine(run('RUN <<EOF\necho a\necho b\nEOF'), s.runConfig), [
    '/bin/sh',
    '-c',
    'echo a\necho b\n',
  ]);
  assert.deepEqual(runCommandLine(run('RUN cat <<EOF > /f\nhello\nEOF'), s.runConfig), [
    '/bin/sh',
    '-c',
    'cat <<EOF > /f\nhello\nEOF',
  ]);
  const { key, run: rc } = runConfigs(s, ['/bin/sh', '-c', 'echo $V']);
  assert.deepEqual(key.Cmd, ['|1', 'V=1', '/bin/sh', '-c', 'echo $V']);
  assert.equal(key.Entrypoint, null);
  assert.deepEqual(rc.Cmd, ['/bin/sh', '-c', 'echo $V']);
  assert.deepEqual(rc.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'V=1']);
  assert.deepEqual(rc.Healthcheck, { Test: ['NONE'] });
  assert.deepEqual(key.Healthcheck, { Test: ['CMD', 'x'] }, 'the image keeps its healthcheck');
});

test('paths: COPY destinations and WORKDIR are relative to the working dir; trailing slash kept', () => {
  assert.equal(normalizeDest('/app', '.'), '/app');
  assert.equal(normalizeDest('/app', 'x/'), '/app/x/');
  assert.equal(normalizeDest('', 'x'), '/x');
  assert.equal(normalizeDest('/app', '/abs/'), '/abs/');
  assert.equal(normalizeWorkdir('/a', 'b/../c'), '/a/c');
  assert.equal(normalizeWorkdir('/a', '/z'), '/z');
  assert.throws(() => normalizeWorkdir('/a', ''), /cannot normalize nothing/);
  assert.equal(hashSources([{ rel: 'a', name: 'a', isDir: false, hash: 'file:aa' }]), 'file:aa');
  assert.equal(
    hashSources([
      { rel: 'a', name: 'a', isDir: false, hash: 'file:aa' },
      { rel: 'b', name: 'b', isDir: true, hash: 'dir:bb' },
    ]),
    'multi:' + sha256hex('file:aa,dir:bb'),
  );
});

import { createHash } from 'node:crypto';
function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

test('the stages a target needs: FROM and COPY --from by name or index, transitively', () => {
  const df = parseDockerfile(
    [
      'ARG BASE=b',
      'FROM scratch AS a',
      'FROM scratch AS b',
      'COPY --from=a /x /x',
      'FROM scratch AS unused',
      'RUN exit 1',
      'FROM ${BASE} AS c',
      'COPY --from=0 /y /y',
      'FROM scratch AS d',
      'COPY --from=c /z /z',
    ].join('\n'),
  );
  assert.deepEqual([...neededStages(df, 4, new Map([['BASE', 'b']]))].sort(), [0, 1, 3, 4]);
  assert.deepEqual([...neededStages(df, 2, new Map())], [2]);
});

test('cache comparison: every field a step depends on; step configs name the step', () => {
  const base = { Cmd: ['/bin/sh', '-c', 'x'], Env: ['A=1'], WorkingDir: '/a', Labels: { b: '2', a: '1' } };
  assert.ok(sameStepConfig(base, { ...base, Labels: { a: '1', b: '2' } }));
  assert.ok(!sameStepConfig(base, { ...base, WorkingDir: '/b' }), 'WORKDIR matters (dockerd ignores it)');
  assert.ok(!sameStepConfig(base, { ...base, Env: ['A=2'] }));
  assert.ok(!sameStepConfig({ ...base, OpenStdin: true }, base));
  assert.deepEqual(withCmdComment({ Shell: ['/bin/bash', '-c'] }, 'ENV A=b').Cmd, [
    '/bin/bash',
    '-c',
    '#(nop) ',
    'ENV A=b',
  ]);
  assert.deepEqual(withCmdCommentString({}, 'COPY file:x in / ').Cmd, ['/bin/sh', '-c', '#(nop) COPY file:x in / ']);
  const child = childImage(scratchImage(), {
    containerConfig: withCmdComment({}, 'ENV A=b'),
    config: { Env: ['A=b'] },
    author: 'me',
  });
  assert.deepEqual(
    child.history!.map((h) => [h.created_by, h.empty_layer, h.author]),
    [['/bin/sh -c #(nop)  ENV A=b', true, 'me']],
  );
  assert.deepEqual(child.rootfs.diff_ids, []);
});
