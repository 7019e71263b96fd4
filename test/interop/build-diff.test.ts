/**
 * Differential build tests (issue 5, "Proof"): every case of test/builder/corpus/ is built by
 * `docker build` (legacy builder, DOCKER_BUILDKIT=0, a private dockerd 20.10) and by `berth build`
 * with the same flags, FROM the same base (one busybox rootfs tarball imported into both as
 * corpus-base:latest). Both images are saved and compared by build-diff.ts: config fields, author,
 * history (created_by, empty_layer), diff_ids count and every layer's files. Then a second berth
 * build must be fully cached: as many ` ---> Using cache` lines as docker's own rebuild prints, and
 * the same image ID.
 *
 * Cases with `fail` in case.json must fail on both sides (berth's output containing the text);
 * `berthOnly` cases are refused by dockerd 20.10 (heredocs, --chmod, --link) and are checked
 * against their `expect` instead.
 *
 * Environment:
 *   BUILD_DIFF_DOCKER_ONLY=1   only docker's side: each case builds (or fails) as case.json says,
 *                              its saved image reads back; berth is not run.
 *   BUILD_DIFF_CASES=a,b       only these cases (and the cases they need).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, mountsUnder } from '../helpers/berth.js';
import { Scope, dockerOk, run, since, startDockerd, type Dockerd } from '../helpers/peers.js';

const DOCKER_CLI = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
import { compareImages } from '../helpers/build-diff.js';
import {
  BASE,
  buildArgs,
  cacheHits,
  caseTag,
  checkExpect,
  failTexts,
  checkTools,
  corpusBaseTar,
  loadCorpus,
  prepareCase,
  readSaved,
  type Case,
  type Prepared,
} from '../helpers/build-corpus.js';

const DOCKER_ONLY = process.env.BUILD_DIFF_DOCKER_ONLY === '1';
const ONLY = (process.env.BUILD_DIFF_CASES ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const T0 = Date.now();
const scope = new Scope();
let work: string;
let br: string;
let d: Dockerd;

after(() => {
  const roots = [work, br].filter(Boolean);
  scope.dispose();
  for (const r of roots) assert.deepEqual(mountsUnder(r), [], `mounts left under ${r}`);
  process.stderr.write(`build-diff.test: ${since(T0)} in all${DOCKER_ONLY ? ' (docker only)' : ''}\n`);
});

before(
  () => {
    checkTools();
    work = scope.tempDir('build-diff');
    fs.mkdirSync(join(work, 'ctx'));
    fs.mkdirSync(join(work, 'out'));
    const baseTar = corpusBaseTar(work);
    d = startDockerd(scope, 'bdiff', join(work, 'docker'));
    dockerOk(d.host, ['import', baseTar, BASE]);
    if (!DOCKER_ONLY) {
      br = scope.tempDir('build-diff-berth');
      berthOk(br, ['import', baseTar, BASE]);
    }
  },
  { timeout: 300_000 },
);

/** ARG steps before the first FROM (they make no image, so they are never "Using cache"). */
function metaArgs(output: string): number {
  const lines = output.split('\n').filter((l) => /^Step \d+\/\d+ : /.test(l));
  let n = 0;
  for (const l of lines) {
    if (/ : ARG /i.test(l)) n++;
    else break;
  }
  return n;
}

interface Built {
  code: number;
  output: string;
  id?: string;
}

function build(
  side: 'docker' | 'berth',
  c: Case,
  p: Prepared,
  tag: string,
  extra: (args: string[]) => string[] = (a) => a,
): Built {
  const iid = join(work, 'out', `${c.name}-${side}-${tag}.iid`);
  fs.rmSync(iid, { force: true });
  const args = ['build', ...extra(buildArgs(c, p, iid))];
  // the 20.10 CLI sends the context as berth hashes it (mode with type bits, owner 0:0): COPY hashes in history then
  // match
  const r =
    side === 'docker'
      ? run(DOCKER_CLI, args, { input: p.stdin, env: { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } })
      : berth(br, args, { input: p.stdin });
  const id = fs.existsSync(iid) ? fs.readFileSync(iid, 'utf8').trim() : undefined;
  return { code: r.code, output: `${r.stdout}\n${r.stderr}`, id };
}

function save(side: 'docker' | 'berth', c: Case) {
  const tar = join(work, 'out', `${c.name}-${side}.tar`);
  if (side === 'docker') dockerOk(d.host, ['save', '-o', tar, caseTag(c)]);
  else berthOk(br, ['save', '-o', tar, caseTag(c)]);
  const saved = readSaved(tar, join(work, 'out', `${c.name}-${side}`), caseTag(c));
  fs.rmSync(tar, { force: true });
  return saved;
}

const tail = (s: string) => s.trim().split('\n').slice(-25).join('\n');
const noNoCache = (args: string[]) => args.filter((a) => a !== '--no-cache');

for (const c of loadCorpus(ONLY)) {
  test(`build-diff: ${c.name}`, { timeout: 300_000 }, () => {
    const p = prepareCase(c, join(work, 'ctx'));
    const dk = build('docker', c, p, 'first');
    const { fail, dockerFail, berthOnly } = c.spec;

    if (fail !== undefined || berthOnly) {
      assert.notEqual(dk.code, 0, `case "${c.name}": docker build should fail, it succeeded:\n${tail(dk.output)}`);
      if (dockerFail)
        assert.ok(
          dk.output.includes(dockerFail),
          `case "${c.name}": docker's output should contain ${JSON.stringify(dockerFail)}:\n${tail(dk.output)}`,
        );
    } else {
      assert.equal(dk.code, 0, `case "${c.name}": docker build failed:\n${tail(dk.output)}`);
      assert.match(dk.id ?? '', /^sha256:[0-9a-f]{64}$/, `case "${c.name}": docker --iidfile`);
    }
    if (DOCKER_ONLY) {
      if (dk.code === 0) save('docker', c);
      return;
    }

    const bt = build('berth', c, p, 'first');
    if (fail !== undefined) {
      assert.notEqual(
        bt.code,
        0,
        `case "${c.name}": berth build should fail (docker did), it succeeded:\n${tail(bt.output)}`,
      );
      for (const text of failTexts(c)) {
        assert.ok(
          bt.output.includes(text),
          `case "${c.name}": berth's output should contain ${JSON.stringify(text)}:\n${tail(bt.output)}\ndocker said:\n${tail(dk.output)}`,
        );
      }
      return;
    }
    assert.equal(bt.code, 0, `case "${c.name}": berth build failed:\n${tail(bt.output)}`);
    assert.match(bt.id ?? '', /^sha256:[0-9a-f]{64}$/, `case "${c.name}": berth --iidfile`);
    const bimg = save('berth', c);
    if (berthOnly) {
      const diffs = checkExpect(c, bimg.facts);
      assert.deepEqual(diffs, [], diffs.join('\n'));
    } else {
      const diffs = compareImages(c.name, save('docker', c).facts, bimg.facts);
      assert.deepEqual(diffs, [], diffs.join('\n'));
    }

    // a second build with nothing changed is fully cached: every step after FROM says so, as docker's does
    const bt2 = build('berth', c, p, 'again', noNoCache);
    assert.equal(bt2.code, 0, `case "${c.name}": berth rebuild failed:\n${tail(bt2.output)}`);
    assert.equal(bt2.id, bt.id, `case "${c.name}": the rebuild made another image:\n${tail(bt2.output)}`);
    // docker builds every stage before the target, berth only those the target needs: each step berth ran is cached
    const steps =
      (bt2.output.match(/^Step \d+\/\d+ : (?!FROM |ARG )/gim) ?? []).length +
      (bt2.output.match(/^Step \d+\/\d+ : ARG /gim) ?? []).length -
      metaArgs(bt2.output) +
      [...bt2.output.matchAll(/^# Executing (\d+) build trigger/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(
      cacheHits(bt2.output),
      steps,
      `case "${c.name}": " ---> Using cache" lines on rebuild: ${cacheHits(bt2.output)} of ${steps} steps\nberth:\n${tail(bt2.output)}`,
    );
    assert.doesNotMatch(bt2.output, /Running in/, `case "${c.name}": a cached rebuild starts no container`);
  });
}
