/**
 * Phase timings for benchmarks: with BERTH_TRACE=1, each mark() records the
 * time since the previous one and the table goes to stderr when the process
 * exits ("where berth's time goes").
 */
const enabled = !!process.env.BERTH_TRACE;
const marks: Array<[string, number]> = [];
let last = enabled ? performance.now() : 0;

export function mark(phase: string): void {
  if (!enabled) return;
  const now = performance.now();
  marks.push([phase, now - last]);
  last = now;
}

if (enabled) {
  process.on('exit', () => {
    const startup = performance.timeOrigin ? `node start-up to first mark included in the first phase; process uptime ${(process.uptime() * 1000).toFixed(1)} ms` : '';
    process.stderr.write(`berth trace (${startup}):\n${marks.map(([p, ms]) => `  ${p.padEnd(24)} ${ms.toFixed(2)} ms`).join('\n')}\n`);
  });
}
