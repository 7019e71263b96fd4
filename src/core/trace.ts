/**
 * Phase timings for benchmarks: with BERTH_TRACE=1, each mark() records the
 * time since the previous one and the table goes to stderr when the process
 * exits ("where berth's time goes"). The environment is read at the first
 * mark, not at load (the process's environment as it is when the command runs).
 */
const marks: Array<[string, number]> = [];
let enabled: boolean | undefined;
let last = 0;

export function mark(phase: string): void {
  if (enabled === undefined) {
    enabled = !!process.env.BERTH_TRACE;
    if (enabled) {
      last = 0; // the first phase counts from the process's start (performance.now() is ms since then)
      process.on('exit', report);
    }
  }
  if (!enabled) return;
  const now = performance.now();
  marks.push([phase, now - last]);
  last = now;
}

function report(): void {
  const up = (process.uptime() * 1000).toFixed(1);
  process.stderr.write(
    `berth trace (process uptime ${up} ms; the first phase includes node's start-up):\n${marks.map(([p, ms]) => `  ${p.padEnd(24)} ${ms.toFixed(2)} ms`).join('\n')}\n`,
  );
}
