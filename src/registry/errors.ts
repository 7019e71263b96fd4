import { BerthError, type ErrorKind } from '../core/errors.js';
import { type Response, readBody } from './transport.js';

/**
 * A registry's error answer as Docker shows it: the distribution spec's
 * {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]} becomes
 * "manifest unknown: manifest unknown" (errcode's lower-case code, then the message).
 */
export async function registryError(res: Response, action: string): Promise<BerthError> {
  let text = '';
  try {
    text = res.body.readableEnded ? '' : (await readBody(res, 64 << 10, action)).toString('utf8');
  } catch {
    /* the status says enough */
  }
  return errorFromBody(res.status, text, action);
}

/** Pure: the error for a status and a body (JSON errors or anything else). */
export function errorFromBody(status: number, text: string, action: string): BerthError {
  const kind = kindOfStatus(status);
  let detail = '';
  try {
    const j = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(j.errors) && j.errors.length > 0) {
      detail = j.errors
        .map((e) => {
          const code = typeof e.code === 'string' ? e.code.toLowerCase().replace(/_/g, ' ') : 'unknown';
          return typeof e.message === 'string' && e.message ? `${code}: ${e.message}` : code;
        })
        .join(', ');
    }
  } catch {
    /* not JSON */
  }
  if (!detail) {
    const plain = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
    detail = status === 401 ? 'unauthorized: authentication required' : `status ${status}${plain ? `: ${plain}` : ''}`;
  }
  return new BerthError(kind, `registry_${status}`, `${action}: ${detail}`);
}

function kindOfStatus(status: number): ErrorKind {
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 429 || status >= 500) return 'Unavailable';
  return 'InvalidArgument';
}
