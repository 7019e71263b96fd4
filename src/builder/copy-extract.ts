/**
 * COPY and ADD write their sources through the step container's union with
 * the synchronous extractor of `berth cp` (container/cp-tree.ts). A build must
 * still see a SIGINT (Ctrl-C), SIGTERM or SIGHUP while a large source is being
 * copied: the copy gives the event loop a turn every few MiB and every few
 * hundred files, and stops as `interrupted` once the build's signal is aborted,
 * so the step container is removed at once instead of after the whole copy (a
 * second Ctrl-C, pressed while nothing seemed to happen, ended berth and left
 * the step container and its mounted union behind).
 */
import { Extractor, readBody, type TreeEntry } from '../container/cp-tree.js';
import { interrupted } from './step-container.js';

/** Bytes and files between two turns of the event loop. */
const TURN_BYTES = 8 << 20;
const TURN_FILES = 256;

/** Throw `interrupted` if the build was told to stop. */
export function checkInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw interrupted(signal);
}

/** A turn of the event loop (a pending signal's listener runs), then the check. */
export async function yieldTurn(signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
  checkInterrupted(signal);
}

/** extractTree (cp-tree.ts), interruptible: members through the extractor, finished or aborted. */
export async function extractTreeInterruptible(
  entries: Iterable<TreeEntry>,
  x: Extractor,
  signal: AbortSignal | undefined,
): Promise<void> {
  let bytes = 0;
  let files = 0;
  try {
    checkInterrupted(signal);
    for (const e of entries) {
      x.entry(e.h);
      if (e.fd !== undefined)
        for (const b of readBody(e.fd, e.h.size, e.h.name)) {
          x.body(b);
          bytes += b.length;
          if (bytes >= TURN_BYTES) {
            bytes = 0;
            await yieldTurn(signal);
          }
        }
      x.entryEnd();
      if (++files >= TURN_FILES) {
        files = 0;
        await yieldTurn(signal);
      }
    }
    x.finish();
  } catch (err) {
    x.abort();
    throw err;
  }
}
