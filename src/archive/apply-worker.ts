import { createReadStream } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../core/errors.js';
import { type ApplyOptions, type ApplyResult, applyLayer } from './layer-apply.js';

/** A byte range of a file holding a layer blob (e.g. a layer.tar inside a docker-archive). */
export interface FileRange {
  path: string;
  start: number;
  length: number;
}

interface Job {
  root: string;
  range: FileRange;
  opts: ApplyOptions;
}
type Reply = { ok: true; res: ApplyResult } | { ok: false; kind: string; code: string; message: string };

export function rangeStream(r: FileRange): AsyncIterable<Buffer> {
  if (r.length === 0)
    return (async function* () {
      /* empty */
    })();
  return createReadStream(r.path, { start: r.start, end: r.start + r.length - 1, highWaterMark: 1 << 20 });
}

/** Apply a layer from a file range in a worker thread, so several layers extract in parallel. */
export function applyInWorker(root: string, range: FileRange, opts: ApplyOptions): Promise<ApplyResult> {
  return new Promise((resolve, reject) => {
    // this module's own file; in the CLI bundle (dist/berth.mjs), the worker bundle beside it
    const w = new Worker(fileURLToPath(new URL('./apply-worker.js', import.meta.url)), {
      workerData: { root, range, opts } satisfies Job,
    });
    let done = false;
    w.once('message', (m: Reply) => {
      done = true;
      if (m.ok) resolve({ ...m.res, tarSplit: Buffer.from(m.res.tarSplit) });
      else reject(new BerthError(m.kind as BerthError['kind'], m.code, m.message));
    });
    w.once('error', (err) => {
      done = true;
      reject(err);
    });
    w.once('exit', (code) => {
      if (!done) reject(new Error(`layer worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.range) {
  const job = workerData as Job;
  const port = parentPort;
  applyLayer(job.root, rangeStream(job.range), job.opts).then(
    (res) => port.postMessage({ ok: true, res } satisfies Reply),
    (err: unknown) => {
      const e = err instanceof BerthError ? err : undefined;
      port.postMessage({
        ok: false,
        kind: e?.kind ?? 'Internal',
        code: e?.code ?? 'internal',
        message: (err as Error)?.message ?? String(err),
      } satisfies Reply);
    },
  );
}
