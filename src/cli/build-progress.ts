import type { BuildEvent } from '../engine/image-types.js';

/**
 * How `build` reports: plain (Docker's classic output, RUN output as it comes),
 * quiet (nothing, but the output of the step that failed is kept for the
 * error), or tty: the step lines, with a RUN's output shown in a rolling
 * window of its last lines that is erased when the step succeeds.
 */
export interface Progress {
  readonly mode: 'plain' | 'quiet' | 'tty';
  /** One message of the engine's build stream. */
  event(e: BuildEvent): void;
  /** The output of the current step (the last 64 KiB), for an error report. */
  stepOutput(): string;
  /** Finish the display (erase a rolling window). */
  end(): void;
}

const KEEP = 64 * 1024;
const WINDOW = 6;

export function progress(
  mode: 'plain' | 'quiet' | 'tty',
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Progress {
  let tail = '';
  const keep = (s: string) => {
    tail = (tail + s).slice(-KEEP);
  };
  if (mode === 'plain' || mode === 'quiet') {
    return {
      mode,
      event(e) {
        if (e.stream === undefined) return;
        if (e.output === 'warning') return void err.write(e.stream);
        if (e.output) keep(e.stream);
        else if (e.stream.startsWith('Step ')) tail = '';
        if (mode === 'plain') (e.output === 'stderr' ? err : out).write(e.stream);
      },
      stepOutput: () => tail,
      end() {
        /* nothing on screen to finish */
      },
    };
  }
  let shown = 0;
  let partial = '';
  const lines: string[] = [];
  const erase = () => {
    if (shown > 0) out.write(`\x1b[${shown}A\x1b[J`);
    shown = 0;
  };
  const draw = () => {
    erase();
    const view = [...lines.slice(-WINDOW), ...(partial ? [partial] : [])].slice(-WINDOW);
    const cols = (out as { columns?: number }).columns ?? 100;
    for (const l of view) out.write(`\x1b[2m  ${l.slice(0, Math.max(10, cols - 4))}\x1b[0m\n`);
    shown = view.length;
  };
  const line = (s: string) => {
    erase();
    if (s.startsWith('Step ')) {
      tail = '';
      lines.length = 0;
      partial = '';
    }
    out.write(s);
  };
  return {
    mode,
    event(e) {
      if (e.stream === undefined) return;
      if (e.output === 'warning') {
        erase();
        return void err.write(e.stream);
      }
      if (!e.output) return line(e.stream);
      const text = e.stream;
      keep(text);
      const parts = (partial + text).replace(/\r(?!\n)/g, '\n').split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length > WINDOW) lines.splice(0, lines.length - WINDOW);
      draw();
    },
    stepOutput: () => tail,
    end: erase,
  };
}
