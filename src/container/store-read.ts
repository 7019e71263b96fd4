/** Reading the container store: what its sync and async readers share. */
import * as fs from 'node:fs';
import { invalid, notFound } from '../core/errors.js';
import type { ContainerRecord } from './types.js';

/** How many containers listAsync reads at once: enough to keep the thread pool busy, few enough to leave others a turn. */
export const READ_PARALLEL = 16;

/** A container by name (with or without the leading slash), else by unique id prefix. */
export function pick(ref: string, all: ContainerRecord[]): ContainerRecord {
  const byName = all.find((c) => c.Name === `/${ref.replace(/^\//, '')}`);
  if (byName) return byName;
  const byId = all.filter((c) => c.ID.startsWith(ref));
  if (byId.length === 1) return byId[0]!;
  if (byId.length > 1) throw invalid('ambiguous_id', `container id prefix ${JSON.stringify(ref)} is ambiguous`);
  throw notFound('container_not_found', `No such container: ${ref}`);
}

export function readDirOr(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** readOptional through the thread pool (fs.readFile: a few times cheaper than fs.promises' for small files). */
export function readOptionalAsync(path: string): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    fs.readFile(path, 'utf8', (err, text) => {
      if (!err) resolve(text);
      else if (err.code === 'ENOENT') resolve(undefined);
      else reject(err);
    }),
  );
}

/** JSON that may be missing or torn (being replaced): undefined then. */
export function parseOptional<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
