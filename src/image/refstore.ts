import { type ImageID, isDigest } from '../core/digest.js';
import { corrupt } from '../core/errors.js';
import { readOptional, writeFileAtomic } from '../storage/fsutil.js';
import type { StorePaths } from '../storage/paths.js';
import { type Reference, familiarName, familiarString } from './reference.js';

type Repos = Record<string, Record<string, string>>;

/**
 * repositories.json: {"Repositories":{"<familiar name>":{"<familiar ref>":"sha256:<id>"}}}.
 * Reads are lock-free (the file is replaced atomically); modifications happen
 * under the store lock via update().
 */
export class RefStore {
  constructor(readonly paths: StorePaths) {}

  private read(): Repos {
    const text = readOptional(this.paths.repositories);
    if (text === undefined) return {};
    let j: { Repositories?: Repos };
    try {
      j = JSON.parse(text);
    } catch {
      throw corrupt('refs_corrupt', `${this.paths.repositories}: not valid JSON`);
    }
    return j.Repositories ?? {};
  }

  /** All references as [familiar ref string, image id]. */
  all(): Array<[string, ImageID]> {
    const out: Array<[string, ImageID]> = [];
    for (const refs of Object.values(this.read()))
      for (const [r, id] of Object.entries(refs)) if (isDigest(id)) out.push([r, id as ImageID]);
    return out;
  }

  get(ref: Reference): ImageID | undefined {
    const repo = this.read()[familiarName(ref.name)];
    return repo?.[familiarString(ref)] as ImageID | undefined;
  }

  refsOf(id: ImageID): string[] {
    return this.all()
      .filter(([, i]) => i === id)
      .map(([r]) => r);
  }

  /** Apply changes atomically. Caller holds the store lock. */
  update(fn: (r: RefEditor) => void): void {
    const repos = this.read();
    const ed = new RefEditor(repos);
    fn(ed);
    if (ed.changed) writeFileAtomic(this.paths.repositories, JSON.stringify({ Repositories: repos }), 0o600);
  }
}

export class RefEditor {
  changed = false;
  constructor(private readonly repos: Repos) {}

  set(ref: Reference, id: ImageID): void {
    const name = familiarName(ref.name);
    const repo = (this.repos[name] ??= {});
    const key = familiarString(ref);
    if (repo[key] !== id) {
      repo[key] = id;
      this.changed = true;
    }
  }

  delete(ref: Reference): boolean {
    const name = familiarName(ref.name);
    const repo = this.repos[name];
    const key = familiarString(ref);
    if (!repo || !(key in repo)) return false;
    delete repo[key];
    if (Object.keys(repo).length === 0) delete this.repos[name];
    this.changed = true;
    return true;
  }

  deleteAllOf(id: ImageID): string[] {
    const removed: string[] = [];
    for (const [name, repo] of Object.entries(this.repos)) {
      for (const [k, v] of Object.entries(repo))
        if (v === id) {
          delete repo[k];
          removed.push(k);
          this.changed = true;
        }
      if (Object.keys(repo).length === 0) delete this.repos[name];
    }
    return removed;
  }
}
