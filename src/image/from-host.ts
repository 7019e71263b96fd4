import * as fs from 'node:fs';
import { PassThrough } from 'node:stream';
import type { ImageID } from '../core/digest.js';
import { TarWriter, fileHeader } from '../archive/tar-writer.js';
import { encodeImageConfig } from './config.js';
import { type HostEntry, hostFileSet } from './from-host-files.js';
import { emptyContainerConfig, singleLayerConfig } from './new-image.js';
import type { Reference } from './reference.js';
import type { ImageStore } from './store.js';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The layer tar of a host file set: deterministic for the same files (sorted, host mtimes, root-owned). */
async function writeFileSetTar(entries: HostEntry[], out: PassThrough): Promise<void> {
  const w = new TarWriter(out);
  try {
    for (const e of entries) {
      switch (e.kind) {
        case 'dir':
          await w.add(fileHeader(`${e.path}/`, 0, { type: 'dir', mode: e.mode }));
          break;
        case 'symlink':
          await w.add(fileHeader(e.path, 0, { type: 'symlink', linkname: e.target, mode: 0o777 }));
          break;
        case 'content':
          await w.add(fileHeader(e.path, e.data.length, { mode: e.mode }), e.data);
          break;
        case 'file': {
          const st = fs.statSync(e.hostPath);
          await w.addStream(
            fileHeader(e.path, st.size, { mode: e.mode, mtime: Math.floor(st.mtimeMs / 1000) }),
            fs.createReadStream(e.hostPath),
          );
          break;
        }
      }
    }
    await w.finish();
    out.end();
  } catch (err) {
    out.destroy(err as Error);
  }
}

/**
 * `image from-host`: a FROM-scratch image holding host programs, the shared
 * libraries they load, a Linux skeleton and a minimal /etc. Cmd is the first program.
 */
export async function imageFromHost(store: ImageStore, programs: string[], tags: Reference[]): Promise<ImageID> {
  const set = await hostFileSet(programs);
  return store.withTxn('from-host', async (txn) => {
    const tar = new PassThrough({ highWaterMark: 1 << 20 });
    const writing = writeFileSetTar(set.entries, tar);
    const layer = await store.layers.register(txn, undefined, tar, (fn) => store.lock(fn), { what: 'from-host layer' });
    await writing;
    const first = set.entries.find(
      (e) => e.kind === 'file' && programs.some((p) => e.hostPath.endsWith(`/${p.split('/').pop()}`)),
    );
    const cmd = first ? [`/${first.path}`] : ['/bin/sh'];
    const config = { ...emptyContainerConfig(), Env: [DEFAULT_PATH], Cmd: cmd };
    const cfg = singleLayerConfig(layer.diffID, config, {
      created_by: `berth image from-host ${programs.join(' ')}`,
      comment: 'made from host binaries',
    });
    return store.putImage(txn, encodeImageConfig(cfg), cfg, tags);
  });
}
