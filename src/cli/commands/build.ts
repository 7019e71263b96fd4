import * as fs from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { BerthError, invalid } from '../../core/errors.js';
import { mark } from '../../core/trace.js';
import type { BuildContextInput, ImageBuildOptions } from '../../engine/image-types.js';
import { progress } from '../build-progress.js';
import { credentialsFor } from './registry-auth.js';
import type { Command } from '../context.js';
import { checkOutputPath, writeOutputFileSync } from '../../storage/output-file.js';

const IIDFILE_ACTION = 'failed to write the image ID file';
/** How long after an interrupting signal a repeated one is taken as the same request (see onInterrupt). */
const REPEAT_GRACE_MS = 1000;

export const buildCmd: Command = {
  names: [['build'], ['image', 'build'], ['builder', 'build']],
  usage: 'build [OPTIONS] PATH | -',
  summary: 'Build an image from a Dockerfile',
  options: {
    tag: { type: 'string', short: 't', multiple: true },
    file: { type: 'string', short: 'f' },
    'build-arg': { type: 'string', multiple: true },
    target: { type: 'string' },
    'no-cache': { type: 'boolean' },
    pull: { type: 'boolean' },
    label: { type: 'string', multiple: true },
    quiet: { type: 'boolean', short: 'q' },
    iidfile: { type: 'string' },
    network: { type: 'string' },
    'add-host': { type: 'string', multiple: true },
    progress: { type: 'string' },
    rm: { type: 'boolean', default: true },
    'force-rm': { type: 'boolean' },
  },
  errorExit: 1,
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"build" requires exactly 1 argument: PATH | -');
    const mode = (o.progress as string | undefined) ?? 'auto';
    if (!['auto', 'plain', 'tty'].includes(mode))
      throw invalid('usage', `invalid --progress ${JSON.stringify(mode)}: auto, plain or tty`);
    const opts = buildOptions(o);
    const iidfile = (o.iidfile as string | undefined) || undefined;
    // as Docker's classic builder: a stale ID file goes first, so a failed build leaves none to be read
    if (iidfile && checkOutputPath(iidfile, IIDFILE_ACTION)) removeRegular(iidfile);
    const file = o.file as string | undefined;
    const src = args[0]!;
    if (src === '-' && file === '-')
      throw invalid('usage', "invalid argument: can't use stdin for both build context and dockerfile");
    const context = await decodeContext(ctx.stdin, src, file, opts);
    const quiet = !!o.quiet;
    const p = progress(
      quiet ? 'quiet' : mode === 'tty' || (mode === 'auto' && ctx.stdout.isTTY) ? 'tty' : 'plain',
      ctx.stdout,
      ctx.stderr,
    );
    const stop = onInterrupt();
    try {
      const engine = await ctx.engine();
      mark('open store');
      const res = await engine.images.build(context, opts, {
        signal: stop.signal,
        onEvent: (e) => p.event(e),
        credentials: credentialsFor,
      });
      p.end();
      if (iidfile) writeOutputFileSync(iidfile, IIDFILE_ACTION, res.Id, { mode: 0o644 });
      if (quiet) ctx.out(res.Id);
    } catch (err) {
      p.end();
      // as the docker CLI, which a signal ends: no message, the shell's status for the signal
      if (stop.signal.aborted) {
        const sig = stop.signal.reason as NodeJS.Signals;
        // the terminal is gone: end by the signal itself, as an unhandled SIGHUP does (a normal exit has Node
        // restore the terminal's modes, which fails on a hung-up terminal with an assertion and a core dump)
        if (sig === 'SIGHUP') {
          stop.dispose();
          process.kill(process.pid, sig);
        }
        return 128 + constants.signals[sig];
      }
      // -q and the tty display did not show the failed step's output in full: show it now
      if (err instanceof BerthError && (quiet || p.mode === 'tty')) {
        const output = p.stepOutput();
        if (output) ctx.stderr.write(output.endsWith('\n') ? output : `${output}\n`);
      }
      throw err;
    } finally {
      stop.dispose();
    }
  },
};

/** The flags as the /build query's parameters. */
function buildOptions(o: Record<string, unknown>): ImageBuildOptions {
  const buildargs: Record<string, string | null> = {};
  for (const a of (o['build-arg'] as string[] | undefined) ?? []) {
    const i = a.indexOf('=');
    // `--build-arg K` takes K from the environment, as the docker CLI does
    if (i < 0) buildargs[a] = process.env[a] ?? null;
    else buildargs[a.slice(0, i)] = a.slice(i + 1);
  }
  const labels: Record<string, string> = {};
  for (const l of (o.label as string[] | undefined) ?? []) {
    const i = l.indexOf('=');
    labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return {
    t: (o.tag as string[] | undefined) ?? [],
    buildargs,
    labels,
    nocache: !!o['no-cache'],
    pull: !!o.pull,
    rm: o.rm !== false,
    forcerm: !!o['force-rm'],
    networkmode: (o.network as string | undefined) ?? 'default',
    ...((o['add-host'] as string[] | undefined)?.length ? { extrahosts: o['add-host'] as string[] } : {}),
    ...(o.target ? { target: o.target as string } : {}),
  };
}

/** Remove a regular file, and nothing else (checked again just before). */
function removeRegular(path: string): void {
  if (fs.lstatSync(path, { throwIfNoEntry: false })?.isFile()) fs.rmSync(path, { force: true });
}

/**
 * SIGINT, SIGTERM or SIGHUP (the terminal closed) during a build aborts it
 * (the builder kills a running step or stops a copy, and removes the step's
 * container) instead of ending berth at once, which would leave the step
 * container behind. A second signal within a second of the first (Ctrl-C
 * pressed twice, or both delivered at once after a blocking step) waits for
 * that clean-up; a later one ends berth at once (a clean-up that hangs).
 */
function onInterrupt(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let abortedAt = 0;
  const on = (sig: NodeJS.Signals) => {
    if (!ac.signal.aborted) {
      abortedAt = Date.now();
      ac.abort(sig);
      return;
    }
    if (Date.now() - abortedAt < REPEAT_GRACE_MS) return;
    process.exit(128 + constants.signals[sig]);
  };
  for (const s of sigs) process.on(s, on);
  return {
    signal: ac.signal,
    dispose: () => {
      for (const s of sigs) process.off(s, on);
      // an interrupted build is ending: a repeated signal that comes now ends berth with the code the first gives
      // (Node's default action would end it by the signal instead)
      // (SIGHUP: berth ends by it, re-raised once the build is cleaned up)
      if (ac.signal.aborted)
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => process.exit(128 + constants.signals[s]));
    },
  };
}

/**
 * The context as `docker build` takes it: a directory, or `-`: stdin holds a
 * tar (plain or compressed: the context) or else a Dockerfile (no context).
 * `-f -` is the Dockerfile on stdin. Paths are made absolute here: the
 * engine reads no working directory.
 */
async function decodeContext(
  stdin: NodeJS.ReadableStream,
  src: string,
  file: string | undefined,
  opts: ImageBuildOptions,
): Promise<BuildContextInput> {
  if (file === '-') opts.dockerfileText = (await readAll(stdin)).toString('utf8');
  if (src !== '-') {
    if (file && file !== '-') opts.dockerfile = resolve(file);
    return { dir: resolve(src) };
  }
  const data = await readAll(stdin);
  if (looksLikeArchive(data)) {
    if (file) opts.dockerfile = file;
    return Readable.from([data]);
  }
  opts.dockerfileText = data.toString('utf8');
  return null;
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** gzip, bzip2, xz, zstd magic, or a tar header's ustar magic. */
function looksLikeArchive(b: Buffer): boolean {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
  if (b.length >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return true;
  return b.length >= 512 && b.subarray(257, 262).toString('latin1') === 'ustar';
}
