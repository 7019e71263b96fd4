import type { PullEvent } from '../../engine/registries.js';
import { humanSize } from '../format/units.js';

/**
 * A pull's progress as the docker CLI shows it. Not a terminal: one line per status,
 * without the byte counts. A terminal: one line per layer, rewritten in place (cursor
 * up, clear, write, cursor down) with Docker's bar `[=====>    ]  1.2MB/3.4MB` when the
 * terminal is wider than 110 columns; any other line starts a new block.
 */
export class PullProgress {
  private readonly lines = new Map<string, number>();

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly quiet: boolean,
  ) {}

  write(e: PullEvent): void {
    if (this.quiet) return;
    const layer = e.id !== undefined && !e.status.startsWith('Pulling from ');
    if (!this.out.isTTY) {
      if (!e.progressDetail) this.out.write(`${e.id !== undefined ? `${e.id}: ` : ''}${e.status}\n`);
      return;
    }
    if (!layer) {
      this.lines.clear();
      this.out.write(`${e.id !== undefined ? `${e.id}: ` : ''}${e.status}\n`);
      return;
    }
    let line = this.lines.get(e.id!);
    if (line === undefined) {
      line = this.lines.size;
      this.lines.set(e.id!, line);
      this.out.write('\n');
    }
    const up = this.lines.size - line;
    const bar = e.progressDetail ? ` ${progressString(e.progressDetail, this.out.columns ?? 80)}` : '';
    this.out.write(`\x1b[${up}A\x1b[2K\r${e.id}: ${e.status}${bar}\r\x1b[${up}B`);
  }
}

/** Docker's JSONProgress.String(): the bar (50 wide) only on terminals wider than 110 columns. */
export function progressString(p: { current: number; total: number }, width: number): string {
  if (p.current <= 0 && p.total <= 0) return '';
  const current = humanSize(p.current);
  if (p.total <= 0) return `${current.padStart(8)}`;
  const total = humanSize(p.total);
  const pct = Math.min(50, Math.floor(Math.floor((p.current / p.total) * 100) / 2));
  const bar = width > 110 ? `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] ` : '';
  return `${bar}${current.padStart(8)}/${total}`;
}
