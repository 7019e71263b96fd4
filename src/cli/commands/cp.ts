import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { invalid } from '../../core/errors.js';
import { pipeline } from 'node:stream/promises';
import { humanSizeWithPrecision } from '../format/units.js';
import type { Command } from '../context.js';

/**
 * "CONTAINER:PATH" or a local path. As Docker's CLI: an absolute path, or one
 * starting with "." ("./file:name"), is always local.
 */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (path.isAbsolute(arg)) return { path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

export const cp: Command = {
  names: [['cp'], ['container', 'cp']],
  usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  summary:
    "Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to read a tar archive from stdin\nand extract it to a directory destination in a container.\nUse '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
  options: {
    archive: { type: 'boolean', short: 'a' },
    'follow-link': { type: 'boolean', short: 'L' },
    quiet: { type: 'boolean', short: 'q' },
  },
  async run(ctx, args, o) {
    if (args.length !== 2) throw invalid('usage', '"cp" requires exactly 2 arguments');
    if (args[0] === '') throw invalid('usage', 'source can not be empty');
    if (args[1] === '') throw invalid('usage', 'destination can not be empty');
    const src = splitCpArg(args[0]!);
    const dst = splitCpArg(args[1]!);
    if (src.container !== undefined && dst.container !== undefined)
      throw invalid('usage', 'copying between containers is not supported');
    if (src.container === undefined && dst.container === undefined)
      throw invalid('usage', 'must specify at least one container source');
    const ref = (src.container ?? dst.container)!;
    const engine = await ctx.engine();
    // the tar forms are the engine's archive operations, as Docker's CLI uses the API's
    if (src.container !== undefined && dst.path === '-') {
      const { stream } = await engine.containers.getArchive(ref, src.path, { followLink: !!o['follow-link'] });
      await pipeline(stream, ctx.stdout as unknown as Writable, { end: false });
      return;
    }
    // as Docker: a summary on stderr only when a terminal is attached and -q is not given
    const quiet = o.quiet ? true : !ctx.stdout.isTTY;
    const summary = (bytes: number, dest: string) => {
      if (!quiet) ctx.err(`Successfully copied ${humanSizeWithPrecision(bytes, 3)} to ${dest}`);
    };
    if (src.path === '-') {
      // Docker's CLI counts the archive's bytes as it sends them
      let bytes = 0;
      const counted = async function* (input: AsyncIterable<Buffer>) {
        for await (const chunk of input) {
          bytes += chunk.length;
          yield chunk;
        }
      };
      await engine.containers.putArchive(ref, dst.path, counted(ctx.stdin as AsyncIterable<Buffer>), {
        noOverwriteDirNonDir: true,
        copyUIDGID: !!o.archive,
      });
      summary(bytes, args[1]!);
      return;
    }
    // to and from host paths: the engine walks the host side and the container side in one pipeline
    const opts = { archive: !!o.archive, followLink: !!o['follow-link'] };
    const r =
      src.container !== undefined
        ? await engine.containers.copyToHost(ref, src.path, dst.path, opts)
        : await engine.containers.copyFromHost(ref, src.path, dst.path, opts);
    summary(r.bytes, r.dest);
  },
};
