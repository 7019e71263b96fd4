import { posix } from 'node:path';
import { invalid } from '../core/errors.js';

/**
 * Clean a tar entry name into a path relative to a layer root: "./a//b/" -> "a/b",
 * "/etc/x" -> "etc/x" (absolute names are confined, as Docker does), "." -> "".
 * Names that would leave the root ("../x", "a/../../x") or contain NUL are rejected.
 */
export function cleanEntryName(name: string, what = 'entry'): string {
  if (name.includes('\0')) throw invalid('tar_name', `tar ${what} ${JSON.stringify(name)}: name contains NUL`);
  const n = posix.normalize('/' + name);
  // normalize of an absolute path never keeps "..": detect escapes on the relative form
  const rel = posix.normalize(name.replace(/^\/+/, '') || '.');
  if (rel === '..' || rel.startsWith('../')) {
    throw invalid('tar_breakout', `tar ${what} ${JSON.stringify(name)}: path escapes the layer root`);
  }
  const out = n.replace(/^\/+/, '').replace(/\/+$/, '');
  return out;
}

export function dirOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}
