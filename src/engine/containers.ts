import type { Readable } from 'node:stream';
import type { Engine } from './engine.js';
import * as io from './container-io.js';
import * as ioArchive from './container-io-archive.js';
import * as ioExec from './container-io-exec.js';
import * as ioStreams from './container-io-streams.js';

/** Container operations (Docker Engine API /containers/...). */
export class Containers {
  constructor(readonly engine: Engine) {}

  // ---- streams and files (container-io.ts) ----
  execCreate(id: string, config: ioExec.ExecConfig): Promise<{ Id: string }> {
    return ioExec.execCreate(this.engine, id, config);
  }
  execStart(execId: string, opts?: { Detach?: boolean; Tty?: boolean }, stdio?: ioExec.ExecIO): Promise<number> {
    return ioExec.execStart(this.engine, execId, opts, stdio);
  }
  execInspect(execId: string): ioExec.ExecInspect {
    return ioExec.execInspect(this.engine, execId);
  }
  logs(id: string, opts?: ioStreams.LogsOptions): AsyncGenerator<ioStreams.LogEntry> {
    return ioStreams.logs(this.engine, id, opts);
  }
  attach(id: string, opts?: ioStreams.AttachOptions): Promise<ioStreams.Attached> {
    return ioStreams.attach(this.engine, id, opts);
  }
  top(id: string, psArgs?: string | string[]): Promise<{ Titles: string[]; Processes: string[][] }> {
    return io.top(this.engine, id, psArgs);
  }
  stats(id: string, opts?: { stream?: false; oneShot?: boolean; intervalMs?: number }): Promise<io.StatsJSON> {
    return io.stats(this.engine, id, opts);
  }
  statsStream(id: string, opts?: { intervalMs?: number; signal?: AbortSignal }): AsyncGenerator<io.StatsJSON> {
    return io.statsStream(this.engine, id, opts);
  }
  changes(id: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    return io.changes(this.engine, id);
  }
  export(id: string): Promise<Readable> {
    return ioArchive.exportContainer(this.engine, id);
  }
  getArchive(id: string, path: string, opts?: { followLink?: boolean }) {
    return ioArchive.getArchive(this.engine, id, path, opts);
  }
  putArchive(
    id: string,
    path: string,
    tar: AsyncIterable<Buffer> | Iterable<Buffer>,
    opts?: ioArchive.PutArchiveOptions,
  ): Promise<void> {
    return ioArchive.putArchive(this.engine, id, path, tar, opts);
  }
  commit(id: string, opts?: io.CommitOptions): Promise<{ Id: string }> {
    return io.commit(this.engine, id, opts);
  }
}
