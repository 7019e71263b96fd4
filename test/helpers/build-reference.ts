/**
 * Build the whole corpus (test/builder/corpus/) on a private dockerd 20.10 with the legacy builder and
 * dump, per case, what Docker made: OUT/<case>/
 *   command.txt   the docker build command line (cwd-independent paths of the prepared copy)
 *   build.log     stdout + stderr of the build, then "exit N"
 *   rebuild.log   the same build again (cache), then "exit N"
 *   history.txt   docker history --no-trunc --format '{{.CreatedBy}}|{{.Size}}'
 *   config.json   the image config as saved (config, history, rootfs, author ...)
 *   inspect.json  docker image inspect
 *   layers.txt    per layer: path type mode uid:gid size sha256[:16] [-> link]
 * and OUT/summary.txt (one line per case). Run through scripts/build-reference.sh [OUT].
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Scope, docker, dockerOk, startDockerd } from './peers.js';
import {
  BASE,
  buildArgs,
  cacheHits,
  caseTag,
  checkTools,
  corpusBaseTar,
  layerListing,
  loadCorpus,
  prepareCase,
  readSaved,
  steps,
} from './build-corpus.js';

const out = process.argv[2] ?? '/work/build-docker-ref';
const only = process.argv.slice(3);
const scope = new Scope();
try {
  checkTools();
  const work = scope.tempDir('build-ref');
  fs.mkdirSync(join(work, 'ctx'));
  const d = startDockerd(scope, 'bref', join(work, 'docker'));
  dockerOk(d.host, ['import', corpusBaseTar(work), BASE]);
  const baseDiffID = dockerOk(d.host, ['image', 'inspect', '--format', '{{index .RootFS.Layers 0}}', BASE]).trim();
  fs.mkdirSync(out, { recursive: true });
  const version = dockerOk(d.host, [
    'version',
    '--format',
    'client {{.Client.Version}}, server {{.Server.Version}}',
  ]).trim();
  const summary: string[] = [
    `# docker ${version}, DOCKER_BUILDKIT=0; base ${BASE} = busybox rootfs (test/helpers/build-corpus.ts corpusBaseTar)`,
  ];
  for (const c of loadCorpus(only)) {
    const dir = join(out, c.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    const p = prepareCase(c, join(work, 'ctx'));
    const iid = join(work, `${c.name}.iid`);
    const args = ['build', ...buildArgs(c, p, iid)];
    fs.writeFileSync(
      join(dir, 'command.txt'),
      `${p.stdin ? '<Dockerfile ' : ''}DOCKER_BUILDKIT=0 docker ${args.join(' ')}\n# cwd-independent; context prepared from test/builder/corpus/${c.name}\n`,
    );
    const r = docker(d.host, args, p.stdin);
    const log = (res: typeof r) => `${res.stdout}${res.stderr ? `--- stderr\n${res.stderr}` : ''}exit ${res.code}\n`;
    fs.writeFileSync(join(dir, 'build.log'), log(r));
    if (r.code !== 0) {
      summary.push(`${c.name}: FAILED exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
      continue;
    }
    const r2 = docker(
      d.host,
      args.filter((a) => a !== '--no-cache'),
      p.stdin,
    );
    fs.writeFileSync(join(dir, 'rebuild.log'), log(r2));
    const ref = caseTag(c);
    fs.writeFileSync(
      join(dir, 'history.txt'),
      dockerOk(d.host, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', ref]),
    );
    fs.writeFileSync(join(dir, 'inspect.json'), dockerOk(d.host, ['image', 'inspect', ref]));
    const tar = join(work, `${c.name}.tar`);
    dockerOk(d.host, ['save', '-o', tar, ref]);
    const saved = readSaved(tar, join(work, `${c.name}-saved`), ref);
    fs.writeFileSync(join(dir, 'config.json'), `${JSON.stringify(saved.rawConfig, null, 2)}\n`);
    const makers = saved.facts.history.filter((h) => !h.empty_layer).map((h) => h.created_by);
    fs.writeFileSync(
      join(dir, 'layers.txt'),
      saved.facts.layers
        .map(
          (l, i) =>
            `## layer ${i}: ${saved.facts.diffIDs[i]}\n## by: ${makers[i] ?? '?'}\n${saved.facts.diffIDs[i] === baseDiffID ? `(the base ${BASE}: ${l.length} entries, not listed)` : layerListing(l)}\n`,
        )
        .join('\n'),
    );
    summary.push(
      `${c.name}: ok, ${steps(r.stdout)} steps, ${saved.facts.history.length} history entries, ${saved.facts.diffIDs.length} layers, rebuild ${cacheHits(r2.stdout)} cache hits`,
    );
  }
  fs.writeFileSync(join(out, 'summary.txt'), `${summary.join('\n')}\n`);
  process.stdout.write(`${summary.join('\n')}\nwritten to ${out}\n`);
} finally {
  scope.dispose();
}
