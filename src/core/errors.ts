/**
 * One error type for the whole engine. `kind` says what class of failure it is and is mapped to an
 * HTTP status and a CLI exit code in one table (KINDS); `code` is a stable machine-readable
 * identifier; the message starts with the action:
 *   apply layer "sha256:ab..": create "etc/x": EEXIST
 */

/**
 * The kinds, as moby's errdefs classes, with the status its API server answers (httpstatus) and
 * the exit status of the docker CLI, which exits 1 for every error the daemon returns (run and
 * create exit 125 for their own failures: that is per command, Command.errorExit). The API answers
 * 304 without an error body and the CLI takes it as success, hence exit 0.
 */
export const KINDS = {
  NotFound: { http: 404, exit: 1 },
  Conflict: { http: 409, exit: 1 },
  InvalidArgument: { http: 400, exit: 1 },
  /** The caller may not do this (EPERM, EACCES, a read-only store). */
  Forbidden: { http: 403, exit: 1 },
  /** Registry credentials are missing or refused: not for file permissions. */
  Unauthorized: { http: 401, exit: 1 },
  /** A resource or service berth needs is not there now (a peer, a tool, free space): retrying may work. */
  Unavailable: { http: 503, exit: 1 },
  NotImplemented: { http: 501, exit: 1 },
  /** The state asked for is already the state (start a running container). */
  NotModified: { http: 304, exit: 0 },
  /** Data in the store or in an archive fails verification. */
  Corrupt: { http: 500, exit: 1 },
  Internal: { http: 500, exit: 1 },
} as const satisfies Record<string, { http: number; exit: number }>;

export type ErrorKind = keyof typeof KINDS;

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

const make = (kind: ErrorKind) => (code: string, msg: string, cause?: unknown) =>
  new BerthError(kind, code, msg, { cause });

export const notFound = make('NotFound');
export const invalid = make('InvalidArgument');
export const conflict = make('Conflict');
export const forbidden = make('Forbidden');
export const unavailable = make('Unavailable');
export const notImplemented = make('NotImplemented');
export const corrupt = make('Corrupt');
/** What berth does not do (yet): a format, a flag, an architecture. */
export const unsupported = notImplemented;

/** Prefix an error's message with an action, keeping kind and code: `load "x": <cause>`. */
export function wrap(action: string, err: unknown): BerthError {
  if (err instanceof BerthError) return new BerthError(err.kind, err.code, `${action}: ${err.message}`, { cause: err });
  const e = err as NodeJS.ErrnoException;
  const detail = e?.code
    ? `${e.code}${e.message && !e.message.startsWith(e.code) ? ` (${e.message})` : ''}`
    : String(e?.message ?? err);
  return new BerthError(kindOfErrno(e?.code), e?.code ?? 'internal', `${action}: ${detail}`, { cause: err });
}

const ERRNO_KINDS: Record<string, ErrorKind> = {
  ENOENT: 'NotFound',
  ESRCH: 'NotFound',
  EEXIST: 'Conflict',
  ENOTEMPTY: 'Conflict',
  EBUSY: 'Conflict',
  ETXTBSY: 'Conflict',
  EINVAL: 'InvalidArgument',
  ENOTDIR: 'InvalidArgument',
  EISDIR: 'InvalidArgument',
  ELOOP: 'InvalidArgument',
  ENAMETOOLONG: 'InvalidArgument',
  E2BIG: 'InvalidArgument',
  EPERM: 'Forbidden',
  EACCES: 'Forbidden',
  EROFS: 'Forbidden',
  EAGAIN: 'Unavailable',
  EMFILE: 'Unavailable',
  ENFILE: 'Unavailable',
  ENOMEM: 'Unavailable',
  ENOSPC: 'Unavailable',
  EDQUOT: 'Unavailable',
  ETIMEDOUT: 'Unavailable',
  ECONNREFUSED: 'Unavailable',
  ECONNRESET: 'Unavailable',
  EHOSTUNREACH: 'Unavailable',
  ENETUNREACH: 'Unavailable',
  ENOTFOUND: 'Unavailable',
  ENOSYS: 'NotImplemented',
  EOPNOTSUPP: 'NotImplemented',
  ENOTSUP: 'NotImplemented',
};

/** The kind of a Node errno code (`ENOENT` -> NotFound); Internal for what says nothing about the cause. */
export function kindOfErrno(code: string | undefined): ErrorKind {
  return (code !== undefined && Object.hasOwn(ERRNO_KINDS, code) && ERRNO_KINDS[code]) || 'Internal';
}

export function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** The kind of any thrown value: a raw Error or a non-Error is Internal. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof BerthError ? err.kind : 'Internal';
}

/** CLI exit status for an error (Docker's CLI exits 1 for daemon errors). */
export function exitCodeOf(err: unknown): number {
  return KINDS[kindOf(err)].exit;
}

/** HTTP status the Engine API answers for an error. */
export function httpStatusOf(err: unknown): number {
  return KINDS[kindOf(err)].http;
}

/**
 * What a user sees for anything thrown while berth was doing `action`: a BerthError as it is,
 * anything else as Internal naming the action and the error (its stack stays in `cause`).
 */
export function toBerthError(action: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  if (typeof e?.code === 'string' && kindOfErrno(e.code) !== 'Internal')
    // Node's own message names the syscall and the path: "EEXIST: file already exists, mkdir '/x'"
    return new BerthError(kindOfErrno(e.code), e.code, `${action}: ${e.message}`, { cause: err });
  const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new BerthError('Internal', 'internal', `${action}: internal error: ${what}`, { cause: err });
}

/**
 * An operation or wait its caller stopped (an AbortSignal): `load: aborted (why)`. Unavailable (nothing is wrong
 * with the request; it may be made again), code 'aborted'; the signal's reason, when it says one, is named and kept
 * as the cause.
 */
export function aborted(action: string, signal?: AbortSignal): BerthError {
  const r: unknown = signal?.reason;
  const why = typeof r === 'string' ? r : r instanceof Error && r.name !== 'AbortError' ? r.message : '';
  return new BerthError('Unavailable', 'aborted', `${action}: aborted${why ? ` (${why})` : ''}`, { cause: r });
}
