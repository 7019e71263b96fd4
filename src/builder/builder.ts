/**
 * `build`: a Dockerfile's stages, step by step, as the classic Docker builder
 * runs them. Each step is first looked up in the cache (a child of the current
 * image with the same container_config); otherwise metadata steps store a new
 * config with an empty layer, and RUN, COPY, ADD and WORKDIR work in a step
 * container whose read-write layer becomes the step's layer. Only the stages
 * the target needs are built. Nothing is tagged unless every step succeeded.
 */
import { BerthError, invalid, notFound, unsupported, wrap } from '../core/errors.js';
import { mark } from '../core/trace.js';
import type { ImageID } from '../core/digest.js';
import type { ContainerStore } from '../container/store.js';
import { goArch } from '../image/archive-plan.js';
import type { ImageConfig } from '../image/config.js';
import { familiarString, type Reference } from '../image/reference.js';
import { BuildArgs } from './args.js';
import { expand } from '../dockerfile/expand.js';
import { parse } from '../dockerfile/parse.js';
import {
  toInstruction,
  type Dockerfile,
  type Instruction,
  type LabelInstruction,
  type Stage,
} from '../dockerfile/instructions.js';
import { childImage, probeCache, putStepImage, scratchImage, useCached } from './image-step.js';
import { dispatchMetadata, isMetadata } from './metadata.js';
import { dispatchRun } from './run-step.js';
import { beginStage, withCmdComment, type StageState } from './state.js';
import { dispatchWorkdir } from './workdir-step.js';
import { dispatchCopy, type SourceRoot } from './copy-step.js';
import { interrupted } from './step-container.js';

export interface BuildOutput {
  /** A line of the builder's own report ("Step 2/5 : RUN make", " ---> Using cache"). */
  line(s: string): void;
  /** Output of a RUN command, as it comes. */
  run(chunk: Buffer, stream: 'stdout' | 'stderr'): void;
}

export interface BuildOptions {
  dockerfile: Dockerfile;
  /** The Dockerfile's name in messages. */
  file: string;
  /** The build context (COPY/ADD sources); undefined when there is none (`-` with a Dockerfile only). */
  context: SourceRoot | undefined;
  /** Source roots over other directories (COPY --from, heredocs, ADD downloads). */
  sourceRoot(dir: string): SourceRoot;
  tags: Reference[];
  buildArgs: ReadonlyMap<string, string | undefined>;
  target?: string;
  noCache: boolean;
  labels: Record<string, string>;
  /** The RUN steps' network (RUN --network=none|host overrides it for one step). */
  network: 'none' | 'host' | 'bridge';
  /** --add-host entries of the RUN steps' /etc/hosts. */
  extraHosts?: string[];
  rm: boolean;
  forceRm: boolean;
  /** Stop the build at the next step, killing a running RUN; its step container is removed (see endIfInterrupted). */
  signal?: AbortSignal;
  out: BuildOutput;
  /**
   * Fetch a FROM image the store lacks (the engine's pull, with the build's credentials):
   * without it, a missing image is an error. `pull`: fetch every FROM image first, as
   * `build --pull` does, even those the store has.
   */
  pullImage?: (name: string) => Promise<ImageID>;
  pull?: boolean;
}

export interface BuildResult {
  imageId: ImageID;
  /** The target stage's index. */
  stage: number;
}

interface StageResult {
  imageId: ImageID | undefined;
  image: ImageConfig;
}

export async function build(containers: ContainerStore, o: BuildOptions): Promise<BuildResult> {
  const store = containers.images;
  const df = o.dockerfile;
  const escape = df.escape;
  const args = new BuildArgs(o.buildArgs);
  const metaEnv = () => args.allMeta();
  const targetIx =
    o.target === undefined ? df.stages.length - 1 : df.stages.findIndex((s) => s.name === o.target!.toLowerCase());
  if (targetIx < 0) throw invalid('build_target', `failed to reach build target ${o.target} in Dockerfile`);
  // meta args first: later stages' FROM lines and the stage graph need them
  const metaSteps = df.globalArgs.length;
  for (const a of df.globalArgs) {
    for (const { name, default: d } of a.args) {
      const env = args.allAllowed();
      const n = expand(name, env, { escape });
      const v = d === undefined ? undefined : expand(d, env, { escape });
      args.addArg(n, v);
      args.addMetaArg(n, v);
    }
  }
  const needed = neededStages(df, targetIx, metaEnv());
  const labelSteps = Object.keys(o.labels)
    .sort()
    .map((k) => labelInstruction(k, o.labels[k]!, df.stages[targetIx]!));
  const total =
    metaSteps + [...needed].reduce((n, i) => n + 1 + df.stages[i]!.instructions.length, 0) + labelSteps.length;
  let step = 1;
  const say = (s: string) => o.out.line(s);
  const stepLine = (text: string) => {
    if (o.signal?.aborted) throw interrupted(o.signal);
    say(`Step ${step++}/${total} : ${text}`);
  };
  for (const a of df.globalArgs) stepLine(a.node.original.trim());

  const results = new Map<number, StageResult>();
  let last: StageState | undefined;
  for (const stage of df.stages) {
    if (!needed.has(stage.index)) continue;
    stepLine(stage.from.node.original.trim());
    const s = await fromStage(containers, o, stage, args, results, metaEnv());
    mark(`step ${step - 1}: FROM`);
    s.runConfig.Image = s.imageId ?? '';
    const env: StepEnv = { containers, o, results, df, s };
    say(` ---> ${short(s.imageId)}`);
    if (s.runConfig.OnBuild && s.runConfig.OnBuild.length > 0) {
      const triggers = s.runConfig.OnBuild;
      s.runConfig.OnBuild = null;
      say(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}`);
      for (const t of triggers) {
        const ins = triggerInstruction(t, o.file, stage.from.node.startLine);
        await dispatch(env, s, ins, o.file);
        s.runConfig.Image = s.imageId ?? '';
      }
    }
    const instructions: Array<{ ins: Instruction; noExpand?: boolean }> = stage.instructions.map((ins) => ({ ins }));
    if (stage.index === targetIx) for (const l of labelSteps) instructions.push({ ins: l, noExpand: true });
    for (const { ins, noExpand } of instructions) {
      stepLine(ins.node.original.trim());
      await dispatch(env, s, ins, o.file, noExpand);
      s.runConfig.Image = s.imageId ?? '';
      say(` ---> ${short(s.imageId)}`);
      mark(`step ${step - 1}: ${ins.kind}`);
    }
    results.set(stage.index, { imageId: s.imageId, image: s.image });
    last = s;
    if (stage.index === targetIx) break;
  }
  const unused = args.unused();
  if (unused.length) say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
  if (!last?.imageId) throw invalid('build_empty', 'No image was generated. Is your Dockerfile empty?');
  const id = last.imageId;
  say(`Successfully built ${short(id)}`);
  mark('built');
  for (const t of o.tags) {
    if (store.refs.get(t) !== id) await store.tag(id, familiarString(t));
    say(`Successfully tagged ${familiarString(t)}`);
  }
  if (o.tags.length) mark('tagged');
  return { imageId: id, stage: targetIx };
}

const short = (id: string | undefined) => (id ? id.replace(/^sha256:/, '').slice(0, 12) : '');

/** The stages the target needs: itself, and (transitively) the stages its FROM and COPY --from name. */
export function neededStages(df: Dockerfile, target: number, meta: ReadonlyMap<string, string>): Set<number> {
  const byName = new Map(df.stages.filter((s) => s.name).map((s) => [s.name!, s.index]));
  const refOf = (word: string, before: number, allowIndex: boolean): number | undefined => {
    let v: string;
    try {
      v = expand(word, meta, { escape: df.escape });
    } catch {
      return undefined;
    }
    const named = byName.get(v.toLowerCase());
    if (named !== undefined && named < before) return named;
    if (allowIndex && /^\d+$/.test(v) && Number(v) < before) return Number(v);
    return undefined;
  };
  const out = new Set<number>();
  const visit = (i: number) => {
    if (out.has(i)) return;
    out.add(i);
    const st = df.stages[i]!;
    const dep = refOf(st.from.image, i, false);
    if (dep !== undefined) visit(dep);
    for (const ins of st.instructions) {
      if (ins.kind === 'COPY' && ins.from !== undefined) {
        const d = refOf(ins.from, i, true);
        if (d !== undefined) visit(d);
        // a --from that names no stage is an image; an unresolvable one may name any earlier stage
        else if (ins.from.includes('$')) for (let j = 0; j < i; j++) visit(j);
      }
    }
  };
  visit(target);
  return out;
}

async function fromStage(
  containers: ContainerStore,
  o: BuildOptions,
  stage: Stage,
  args: BuildArgs,
  results: Map<number, StageResult>,
  meta: Map<string, string>,
): Promise<StageState> {
  const fail = (e: unknown) => wrap(`${o.file}:${stage.from.node.startLine}: FROM`, e);
  const df = o.dockerfile;
  const name = expand(stage.from.image, meta, { escape: df.escape });
  if (name === '') throw fail(invalid('dockerfile_from', `base name (${stage.from.image}) should not be blank`));
  if (stage.from.platform !== undefined) {
    const p = expand(stage.from.platform, meta, { escape: df.escape });
    const [os, arch] = p.split('/');
    if (os !== 'linux' || (arch !== undefined && arch !== goArch()))
      throw fail(unsupported('platform', `platform ${p} is not supported: berth builds for linux/${goArch()}`));
  }
  const stageArgs = args.forStage();
  const byName = df.stages.find((s) => s.name === name.toLowerCase() && s.index < stage.index);
  if (byName) {
    const r = results.get(byName.index)!;
    return beginStage(r.image, r.imageId, stageArgs, stage.name);
  }
  if (name === 'scratch') return beginStage(scratchImage(), undefined, stageArgs, stage.name);
  let id = o.pull && o.pullImage && !isImageID(name) ? undefined : containers.images.tryResolve(name);
  if (!id && o.pullImage && !isImageID(name)) {
    try {
      id = await o.pullImage(name);
    } catch (err) {
      throw fail(err);
    }
  }
  if (!id)
    throw fail(
      notFound(
        'image_not_found',
        `no such image: ${name} (berth build uses local images: load, import or pull it first)`,
      ),
    );
  return beginStage(containers.images.images.get(id), id, stageArgs, stage.name);
}

/** A full image ID ("sha256:" or not): the store's or nothing, never a registry's. */
function isImageID(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/.test(s);
}

function triggerInstruction(text: string, file: string, line: number): Instruction {
  try {
    const res = parse(text, `${file} (ONBUILD trigger)`);
    if (res.nodes.length !== 1) throw invalid('onbuild', 'onbuild trigger should be a single expression');
    const ins = toInstruction(res.nodes[0]!, `${file} (ONBUILD trigger)`);
    if (ins.kind === 'FROM' || ins.kind === 'ONBUILD' || ins.kind === 'MAINTAINER')
      throw invalid('onbuild', `${ins.kind} isn't allowed as an ONBUILD trigger`);
    return ins;
  } catch (err) {
    throw wrap(`${file}:${line}: ONBUILD trigger ${JSON.stringify(text)}`, err);
  }
}

function labelInstruction(key: string, value: string, stage: Stage): LabelInstruction {
  const original = `LABEL ${key}=${value}`;
  return {
    kind: 'LABEL',
    labels: [{ key, value }],
    node: { ...stage.from.node, instruction: 'LABEL', args: [], original, flags: {}, rawFlags: [], heredocs: [] },
  };
}

interface StepEnv {
  containers: ContainerStore;
  o: BuildOptions;
  results: Map<number, StageResult>;
  df: Dockerfile;
  s: StageState;
}

async function dispatch(env: StepEnv, s: StageState, ins: Instruction, file: string, noExpand = false): Promise<void> {
  const { containers, o } = env;
  const common = {
    containers,
    noCache: o.noCache,
    network: o.network,
    extraHosts: o.extraHosts ?? [],
    rm: o.rm,
    forceRm: o.forceRm,
    ...(o.signal ? { signal: o.signal } : {}),
    say: (l: string) => o.out.line(l),
    usingCache: () => o.out.line(' ---> Using cache'),
  };
  try {
    if (isMetadata(ins)) {
      const comment = dispatchMetadata(s, ins, env.df.escape, noExpand);
      await commitMetadata(containers, s, comment, o.noCache, common.usingCache);
    } else if (ins.kind === 'RUN') {
      await dispatchRun({ ...common, output: { write: (c, st) => o.out.run(c, st) } }, s, ins);
    } else if (ins.kind === 'WORKDIR') {
      await dispatchWorkdir(common, s, ins, env.df.escape);
    } else if (ins.kind === 'COPY' || ins.kind === 'ADD') {
      await dispatchCopy(
        { ...common, context: o.context, sourceRoot: o.sourceRoot, stage: (ref) => stageSource(env, ref) },
        s,
        ins,
        env.df.escape,
      );
    } else {
      throw invalid('dockerfile', `${ins.kind} is not allowed here`);
    }
  } catch (err) {
    if (err instanceof BerthError && (err.code === 'run_failed' || err.code === 'build_interrupted')) throw err;
    // `Dockerfile:3: COPY failed: ...`: the file, line and instruction, named once
    const named =
      err instanceof Error && (err.message.startsWith(`${ins.kind} `) || err.message.startsWith('When using'));
    throw wrap(named ? `${file}:${ins.node.startLine}` : `${file}:${ins.node.startLine}: ${ins.kind}`, err);
  }
}

/** COPY --from: an earlier stage by name or index, else an image. */
function stageSource(env: StepEnv, ref: string): { imageId: ImageID | undefined; image: ImageConfig } {
  const byName = env.df.stages.find((st) => st.name === ref.toLowerCase() && env.results.has(st.index));
  if (byName) return env.results.get(byName.index)!;
  if (/^\d+$/.test(ref)) {
    const r = env.results.get(Number(ref));
    if (r) return r;
    const n = Number(ref);
    const current = [...env.results.keys()].length;
    throw invalid(
      'copy_from',
      n >= env.df.stages.length || n > current ? 'index out of bounds' : 'refers to current build stage',
    );
  }
  const id = env.containers.images.tryResolve(ref);
  if (!id)
    throw notFound('image_not_found', `invalid from flag value ${ref}: no such image (berth build uses local images)`);
  return { imageId: id, image: env.containers.images.images.get(id) };
}

/** A metadata step: reuse a cached image, else store the new config with no layer. */
async function commitMetadata(
  containers: ContainerStore,
  s: StageState,
  comment: string,
  noCache: boolean,
  usingCache: () => void,
): Promise<void> {
  const store = containers.images;
  const cc = withCmdComment(s.runConfig, comment);
  const hit = noCache ? undefined : probeCache(store, s.imageId, cc);
  if (hit) {
    usingCache();
    useCached(store, s, hit);
    return;
  }
  const cfg = childImage(s.image, {
    containerConfig: cc,
    config: s.runConfig,
    ...(s.maintainer ? { author: s.maintainer } : {}),
  });
  await store.withTxn('build', (txn) => putStepImage(store, txn, s, cfg));
}
