/**
 * One error type for the whole engine. `kind` says what class of failure it is
 * (mapped to CLI exit codes and, later, HTTP statuses in one place each); `code`
 * is a stable machine-readable identifier; the message starts with the action:
 *   apply layer "sha256:ab..": create "etc/x": EEXIST
 */
export type ErrorKind =
  'NotFound' | 'InvalidArgument' | 'Conflict' | 'Unauthorized' | 'Corrupt' | 'Unsupported' | 'Internal';

export class BerthError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  constructor(kind: ErrorKind, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BerthError';
    this.kind = kind;
    this.code = code;
  }
}

export const notFound = (code: string, msg: string, cause?: unknown) =>
  new BerthError('NotFound', code, msg, { cause });
export const invalid = (code: string, msg: string, cause?: unknown) =>
  new BerthError('InvalidArgument', code, msg, { cause });
export const conflict = (code: string, msg: string, cause?: unknown) =>
  new BerthError('Conflict', code, msg, { cause });
export const corrupt = (code: string, msg: string, cause?: unknown) => new BerthError('Corrupt', code, msg, { cause });
export const unsupported = (code: string, msg: string, cause?: unknown) =>
  new BerthError('Unsupported', code, msg, { cause });

/** Prefix an error's message with an action, keeping kind and code: `load "x": <cause>`. */
export function wrap(action: string, err: unknown): BerthError {
  if (err instanceof BerthError) return new BerthError(err.kind, err.code, `${action}: ${err.message}`, { cause: err });
  const e = err as NodeJS.ErrnoException;
  const detail = e?.code
    ? `${e.code}${e.message && !e.message.startsWith(e.code) ? ` (${e.message})` : ''}`
    : String(e?.message ?? err);
  return new BerthError(kindOfErrno(e?.code), e?.code ?? 'internal', `${action}: ${detail}`, { cause: err });
}

function kindOfErrno(code: string | undefined): ErrorKind {
  switch (code) {
    case 'ENOENT':
      return 'NotFound';
    case 'EEXIST':
    case 'ENOTEMPTY':
    case 'EBUSY':
      return 'Conflict';
    case 'EINVAL':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ELOOP':
      return 'InvalidArgument';
    case 'EACCES':
    case 'EPERM':
      return 'Unauthorized';
    default:
      return 'Internal';
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** CLI exit status for an error of a kind (Docker's CLI exits 1 for daemon errors). */
export function exitCodeOf(_err: unknown): number {
  return 1;
}
