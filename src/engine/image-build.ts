import { isAbsolute, join } from 'node:path';
import { parseExtraHost } from '../container/etc-files.js';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { BerthError, invalid } from '../core/errors.js';
import { mark } from '../core/trace.js';
import { build, type BuildOutput } from '../builder/builder.js';
import { contextSource, dirSource } from '../builder/context-source.js';
import { openContext, type BuildContext } from '../builder/context/context.js';
import { parseDockerfile } from '../dockerfile/instructions.js';
import { parseReference, withDefaultTag, type Reference } from '../image/reference.js';
import type { ImageID } from '../core/digest.js';
import { pullImage } from '../registry/pull.js';
import type { Engine } from './engine.js';
import type { BuildContextInput, BuildRequest, ImageBuildOptions } from './image-types.js';

/** How much of a step's output `q` keeps for the error report. */
const KEEP = 64 * 1024;

/**
 * POST /build with Docker 20.10's classic builder. Progress is the /build
 * stream's messages: the builder's lines and RUN output as {stream}, the
 * image as {aux: {ID}}, a failure as {errorDetail, error} (then the
 * BerthError is thrown). With `q`, nothing is streamed but the ID, and a
 * failed step's output comes before the error, as dockerd does. An aborted
 * signal stops the build at the next step, killing a running RUN; the
 * builder removes its step container and tags nothing.
 */
export async function buildImage(
  engine: Engine,
  context: BuildContextInput,
  opts: ImageBuildOptions,
  req: BuildRequest,
): Promise<{ Id: string }> {
  const tags = (opts.t ?? []).map(buildTag);
  const network = opts.networkmode || 'default';
  if (network !== 'none' && network !== 'host' && network !== 'default' && network !== 'bridge')
    throw invalid(
      'unsupported',
      `network ${JSON.stringify(network)}: berth builds with "default" (the bridge), "bridge", "none" or "host"`,
    );
  for (const e of opts.extrahosts ?? []) parseExtraHost(e);
  const buildArgs = new Map(Object.entries(opts.buildargs ?? {}).map(([k, v]) => [k, v ?? undefined]));
  const emit = req.onEvent ?? (() => {});
  let kept = '';
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const keep = (s: string) => {
    kept = (kept + s).slice(-KEEP);
  };
  const out: BuildOutput = opts.q
    ? {
        line: (s) => {
          if (s.startsWith('Step ')) kept = '';
        },
        run: (chunk, stream) => keep(decoders[stream].write(chunk)),
      }
    : {
        line: (s) => emit({ stream: `${s}\n` }),
        // a character may be split between two chunks: each stream decodes its own bytes
        run: (chunk, stream) => {
          const text = decoders[stream].write(chunk);
          if (text) emit({ stream: text, output: stream });
        },
      };
  const bctx = await openBuildContext(engine, context, opts);
  mark('read context');
  try {
    const text = bctx?.dockerfileText ?? opts.dockerfileText;
    if (text === undefined) throw invalid('build_no_dockerfile', 'build: no build context and no Dockerfile');
    const df = parseDockerfile(text, bctx?.dockerfileName ?? '-');
    for (const w of df.warnings) emit({ stream: `[WARNING]: ${w}\n`, output: 'warning' });
    mark('parse Dockerfile');
    const res = await build(engine.containerStore, {
      dockerfile: df,
      file: bctx?.dockerfileName ?? '-',
      context: bctx ? contextSource(bctx) : undefined,
      sourceRoot: dirSource,
      tags,
      buildArgs,
      ...(opts.target ? { target: opts.target } : {}),
      noCache: !!opts.nocache,
      labels: opts.labels ?? {},
      network: network === 'default' ? 'bridge' : network,
      extraHosts: opts.extrahosts ?? [],
      rm: opts.rm !== false,
      forceRm: !!opts.forcerm,
      ...(req.signal ? { signal: req.signal } : {}),
      out,
      pull: !!opts.pull,
      pullImage: (name) => pullBase(engine, name, req, out),
    });
    emit({ aux: { ID: res.imageId } });
    if (opts.q) emit({ stream: `${res.imageId}\n` });
    return { Id: res.imageId };
  } catch (err) {
    if (opts.q && kept) emit({ stream: kept.endsWith('\n') ? kept : `${kept}\n` });
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof BerthError) emit({ errorDetail: { message }, error: message });
    throw err;
  } finally {
    await bctx?.dispose();
  }
}

/**
 * A FROM image fetched during the build, as dockerd's classic builder does: its pull's
 * statuses go to the build's output as lines ("latest: Pulling from app", "Pull complete",
 * "Status: ..."), the byte counts are left out.
 */
async function pullBase(engine: Engine, name: string, req: BuildRequest, out: BuildOutput): Promise<ImageID> {
  const auth = req.credentials?.(engine.registries.registryOf(name));
  const res = await pullImage(engine.store, name, {
    registry: engine.registryConfig,
    ...(auth ? { auth } : {}),
    onProgress: (e) => {
      if (e.progressDetail || !e.status) return;
      out.line(e.id !== undefined ? `${e.id}: ${e.status}` : e.status);
    },
  });
  return res.id;
}

function buildTag(t: string): Reference {
  const r = withDefaultTag(parseReference(t));
  if (r.digest) throw invalid('invalid_reference', `invalid tag ${JSON.stringify(t)}: a tag cannot contain a digest`);
  return r;
}

/** A directory (its file sums remembered in the store between builds), a tar stream, or none. */
async function openBuildContext(
  engine: Engine,
  context: BuildContextInput,
  opts: ImageBuildOptions,
): Promise<BuildContext | undefined> {
  if (context === null) return undefined;
  const text = opts.dockerfileText;
  const path = opts.dockerfile;
  if (context instanceof Readable)
    return openContext({ tar: context }, text !== undefined ? { stdin: text } : { path });
  // a relative Dockerfile path is in the context, as the /build query means it (never the process's working directory)
  const dockerfile =
    text !== undefined ? { stdin: text } : path ? { path: isAbsolute(path) ? path : join(context.dir, path) } : {};
  return openContext({ dir: context.dir }, dockerfile, {
    sumCacheDir: `${engine.store.paths.root}/berth/cache/context-sums`,
  });
}
