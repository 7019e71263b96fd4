import * as fs from 'node:fs';
import { BerthError, invalid } from '../core/errors.js';

/**
 * Input files the user names (`load -i FILE`, `import FILE`): a missing,
 * unreadable or directory input is a message naming it, as Go prints it
 * (`open "/x": no such file or directory`), not a Node error or stack.
 */
export function inputError(action: string, path: string, err: unknown, code = 'load_input'): BerthError {
  const e = err as NodeJS.ErrnoException;
  // Node says "ENOENT: no such file or directory, open '/x'": keep the middle, as Go prints it
  const why = /^[A-Z]+: ([^,]+)/.exec(e?.message ?? '')?.[1] ?? String(e?.message ?? err);
  const kind =
    e?.code === 'ENOENT' ? 'NotFound' : e?.code === 'EACCES' || e?.code === 'EPERM' ? 'Forbidden' : 'InvalidArgument';
  return new BerthError(kind, code, `${action} ${JSON.stringify(path)}: ${why}`, { cause: err });
}

/** Open an input file now (a directory is refused by name) and read it as a stream. */
export function openInputStream(path: string, code: string): fs.ReadStream {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw inputError('open', path, err, code);
  }
  try {
    if (fs.fstatSync(fd).isDirectory()) throw invalid(code, `read ${JSON.stringify(path)}: is a directory`);
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof BerthError ? err : inputError('read', path, err, code);
  }
  return fs.createReadStream('', { fd });
}
