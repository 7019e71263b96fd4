import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../core/errors.js';
import { type ApplyOptions, type ApplyResult, type FileRange, applyLayerFile } from './layer-apply.js';

export { type FileRange, rangeStream } from './layer-apply.js';

interface Job {
  root: string;
  range: FileRange;
  opts: Omit<ApplyOptions, 'signal'>;
}
type Reply = { ok: true; res: ApplyResult } | { ok: false; kind: string; code: string; message: string };

/**
 * Apply a layer from a file range in a worker thread, so several layers extract in parallel.
 * An abort terminates the worker (it may stop between any two syscalls: the caller discards `root`).
 */
export function applyInWorker(root: string, range: FileRange, opts: ApplyOptions): Promise<ApplyResult> {
  const { signal, ...rest } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    // this module's own file; in the CLI bundle (dist/berth.mjs), the worker bundle beside it
    const w = new Worker(fileURLToPath(new URL('./apply-worker.js', import.meta.url)), {
      workerData: { root, range, opts: rest } satisfies Job,
    });
    let done = false;
    const onAbort = () => {
      if (done) return;
      done = true;
      // settle only once the worker is gone: nothing writes into `root` after the rejection
      void w.terminate().finally(() => reject(signal!.reason as Error));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (fn: () => void) => {
      signal?.removeEventListener('abort', onAbort);
      if (done) return;
      done = true;
      fn();
    };
    w.once('message', (m: Reply) =>
      settle(() => {
        if (m.ok) resolve({ ...m.res, tarSplit: Buffer.from(m.res.tarSplit) });
        else reject(new BerthError(m.kind as BerthError['kind'], m.code, m.message));
      }),
    );
    w.once('error', (err) => settle(() => reject(err)));
    w.once('exit', (code) => settle(() => reject(new Error(`layer worker exited with code ${code}`))));
  });
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.range) {
  const job = workerData as Job;
  const port = parentPort;
  applyLayerFile(job.root, job.range, job.opts).then(
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
