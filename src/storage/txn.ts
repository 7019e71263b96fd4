import * as fs from 'node:fs';
import * as native from '../native/index.js';
import { randomHex } from './fsutil.js';
import type { StorePaths } from './paths.js';

/**
 * What one operation did to the store, appended BEFORE it does it,
 * so that if the process dies the next one can finish or undo it. The journal
 * file is flock'ed for the life of the operation: a journal whose lock can be
 * taken belongs to a dead process.
 *   layer-dir   an overlay2/<cacheId> dir and l/<link> being created
 *   tmp         a layerdb/tmp entry (write-set or layer being deleted)
 *   layer       a layer this operation registered (undone if nothing uses it)
 *   lease       an existing layer this operation relies on (must not be collected)
 *   image       an image config this operation wrote (collected on undo if untagged)
 *   collect     a layer this operation is deleting (deleted on recovery if unused)
 *   collect-image  an image this operation is deleting (deleted on recovery if untagged); with ifUnused,
 *               a parent pruned after its child: deleted only if no container uses it either, and
 *               then its own parent likewise
 *   container   a container this operation creates or removes: it exists iff containers/<id>
 *               does (created last, removed first), so on undo a layerdb/mounts/<id> without
 *               it is removed, and with it what kept the container's layer dirs
 *   volume      a volume this operation creates (for a container it creates): on undo it is removed
 *               unless a container uses it
 */
export type TxnRecord =
  | { op: 'layer-dir'; cacheId: string; link: string }
  | { op: 'tmp'; path: string }
  | { op: 'layer'; chainID: string }
  | { op: 'lease'; chainID: string }
  | { op: 'image'; id: string }
  | { op: 'collect'; chainID: string }
  | { op: 'collect-image'; id: string; ifUnused?: boolean }
  | { op: 'container'; id: string }
  | { op: 'volume'; name: string };

export class Txn {
  readonly records: TxnRecord[] = [];
  private constructor(
    readonly id: string,
    readonly path: string,
    private fd: number,
  ) {}

  static begin(paths: StorePaths, kind: string): Txn {
    fs.mkdirSync(paths.txn, { recursive: true, mode: 0o700 });
    const id = `${kind}-${process.pid}-${randomHex(6)}`;
    const path = `${paths.txn}/${id}.journal`;
    // lock under a name recovery ignores, then publish: a journal is never visible unlocked
    const tmp = `${paths.txn}/${id}.new`;
    const fd = fs.openSync(
      tmp,
      fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND,
      0o600,
    );
    native.flock(fd, native.LOCK_EX);
    // between open and flock, another process's recovery may have taken it for a dead one and removed it
    if (fs.fstatSync(fd).nlink === 0) {
      fs.closeSync(fd);
      return Txn.begin(paths, kind);
    }
    fs.renameSync(tmp, path);
    return new Txn(id, path, fd);
  }

  /** Record an intention durably before acting on it. */
  add(rec: TxnRecord): void {
    this.records.push(rec);
    fs.writeSync(this.fd, JSON.stringify(rec) + '\n');
    // no fsync: journals guard against a killed process (the page cache survives it), as the rest of the store
  }

  /** The operation completed: forget the journal. */
  commit(): void {
    if (this.fd < 0) return;
    fs.rmSync(this.path, { force: true });
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  get open(): boolean {
    return this.fd >= 0;
  }

  /** Release the lock without deleting the journal, making it a dead journal for recovery. */
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export function parseJournal(text: string): TxnRecord[] {
  const out: TxnRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as TxnRecord);
    } catch {
      /* a torn last line: the action was never started */
    }
  }
  return out;
}

export interface JournalInfo {
  path: string;
  records: TxnRecord[];
  live: boolean;
  /** Held while dead journals are being recovered; release after. */
  lock?: { release(): void };
}

/** All journals, each marked live (its owner holds the lock) or dead. Dead ones come back locked by us. */
export function listJournals(
  paths: StorePaths,
  tryLock: (p: string) => { release(): void } | undefined,
): JournalInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(paths.txn);
  } catch {
    return [];
  }
  const out: JournalInfo[] = [];
  for (const n of names) {
    if (!n.endsWith('.journal')) continue;
    const path = `${paths.txn}/${n}`;
    let text: string;
    try {
      text = fs.readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const lock = tryLock(path);
    out.push({ path, records: parseJournal(text), live: !lock, lock });
  }
  return out;
}
