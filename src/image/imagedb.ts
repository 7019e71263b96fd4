import * as fs from 'node:fs';
import { type ImageID, hexOf, isHex64, sha256 } from '../core/digest.js';
import { corrupt, notFound } from '../core/errors.js';
import { mkdirp, readOptional, removeAll, writeFileAtomic } from '../storage/fsutil.js';
import type { StorePaths } from '../storage/paths.js';
import { type ImageConfig, parseImageConfig } from './config.js';

/**
 * image/overlay2/imagedb: content/sha256/<id> holds the config bytes (id is their
 * sha256); metadata/sha256/<id>/{parent,lastUpdated,builtLocally}.
 */
export class ImageDB {
  /**
   * Configs read (and verified) by this process, with the file's identity when read: content-addressed, so they cannot
   * change under their id, but another process may delete the image (or delete and load it again), which a long-lived
   * engine must see. An entry serves only while the file is the same one (inode, size, change time).
   */
  private readonly read = new Map<string, { bytes: Buffer; stamp: string }>();

  constructor(readonly paths: StorePaths) {}

  init(): void {
    mkdirp(this.paths.imagedbContent, 0o700);
    mkdirp(this.paths.imagedbMetadata, 0o700);
  }

  list(): ImageID[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.paths.imagedbContent);
    } catch {
      /* empty */
    }
    return names.filter(isHex64).map((h) => `sha256:${h}` as ImageID);
  }

  has(id: ImageID): boolean {
    return fs.existsSync(`${this.paths.imagedbContent}/${hexOf(id)}`);
  }

  /** Raw config bytes, verified against the id. */
  getBytes(id: ImageID): Buffer {
    const path = `${this.paths.imagedbContent}/${hexOf(id)}`;
    let stamp: string;
    let b: Buffer;
    try {
      // one stat when it is known; a file replaced between the stat and the read is verified all the same, and its
      // older stamp only costs a read next time
      const st = fs.statSync(path, { bigint: true });
      stamp = `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}`;
      const known = this.read.get(id);
      if (known?.stamp === stamp) return known.bytes;
      b = fs.readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.read.delete(id);
      throw notFound('image_not_found', `No such image: ${id}`);
    }
    if (sha256(b) !== (id as string))
      throw corrupt('image_corrupt', `image ${id}: config content does not match its id`);
    this.read.set(id, { bytes: b, stamp });
    return b;
  }

  get(id: ImageID): ImageConfig {
    return parseImageConfig(this.getBytes(id), `image ${id}`);
  }

  /** Store config bytes (idempotent); returns the id. */
  put(bytes: Buffer): ImageID {
    const id = sha256(bytes) as string as ImageID;
    const p = `${this.paths.imagedbContent}/${hexOf(id)}`;
    if (!fs.existsSync(p)) writeFileAtomic(p, bytes, 0o600);
    return id;
  }

  setMetadata(id: ImageID, key: 'parent' | 'lastUpdated' | 'builtLocally', value: string | Buffer): void {
    const dir = `${this.paths.imagedbMetadata}/${hexOf(id)}`;
    mkdirp(dir, 0o700);
    writeFileAtomic(`${dir}/${key}`, value, 0o600);
  }

  getMetadata(id: ImageID, key: 'parent' | 'lastUpdated' | 'builtLocally'): string | undefined {
    return readOptional(`${this.paths.imagedbMetadata}/${hexOf(id)}/${key}`);
  }

  delete(id: ImageID): void {
    this.read.delete(id);
    removeAll(`${this.paths.imagedbMetadata}/${hexOf(id)}`);
    fs.rmSync(`${this.paths.imagedbContent}/${hexOf(id)}`, { force: true });
  }

  /** Images whose metadata names `id` as parent. */
  children(id: ImageID): ImageID[] {
    return this.list().filter((c) => this.getMetadata(c, 'parent') === id);
  }
}
