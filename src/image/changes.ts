import { invalid } from '../core/errors.js';
import type { ContainerConfig } from './config.js';

/**
 * `--change` for import/commit: the Dockerfile instructions that only change
 * the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL,
 * USER, VOLUME, WORKDIR), in either shell or JSON form, as Docker accepts them.
 */
export function applyChanges(cfg: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const out: ContainerConfig = { ...cfg };
  for (const change of changes) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(change);
    if (!m) throw invalid('invalid_change', `invalid --change ${JSON.stringify(change)}: want "INSTRUCTION arguments"`);
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    const bad = (why: string) => invalid('invalid_change', `--change ${JSON.stringify(change)}: ${why}`);
    switch (instr) {
      case 'CMD':
        out.Cmd = execOrShell(rest);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = execOrShell(rest);
        break;
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of keyValues(rest, true, bad)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL':
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(rest, false, bad)) };
        break;
      case 'EXPOSE': {
        const ports: Record<string, object> = { ...(out.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/).filter(Boolean)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(p)) throw bad(`invalid port ${JSON.stringify(p)}`);
          ports[p.includes('/') ? p : `${p}/tcp`] = {};
        }
        out.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols: Record<string, object> = { ...(out.Volumes ?? {}) };
        for (const v of rest.startsWith('[') ? jsonArray(rest, bad) : rest.split(/\s+/).filter(Boolean)) vols[v] = {};
        out.Volumes = vols;
        break;
      }
      case 'USER':
        if (!rest) throw bad('USER needs a value');
        out.User = rest;
        break;
      case 'WORKDIR':
        if (!rest) throw bad('WORKDIR needs a path');
        out.WorkingDir = rest.startsWith('/') ? rest : `${(out.WorkingDir || '/').replace(/\/$/, '')}/${rest}`;
        break;
      case 'STOPSIGNAL':
        if (!rest) throw bad('STOPSIGNAL needs a signal');
        out.StopSignal = rest;
        break;
      case 'ONBUILD':
        out.OnBuild = [...(out.OnBuild ?? []), rest];
        break;
      default:
        throw invalid('invalid_change', `--change ${JSON.stringify(change)}: ${instr} is not a valid change command`);
    }
  }
  return out;
}

function execOrShell(rest: string): string[] {
  if (rest.startsWith('[')) {
    try {
      const j = JSON.parse(rest);
      if (Array.isArray(j) && j.every((x) => typeof x === 'string')) return j;
    } catch {
      /* Docker falls back to shell form */
    }
  }
  return ['/bin/sh', '-c', rest];
}

function jsonArray(rest: string, bad: (w: string) => Error): string[] {
  try {
    const j = JSON.parse(rest);
    if (Array.isArray(j) && j.every((x) => typeof x === 'string')) return j;
  } catch {
    /* fallthrough */
  }
  throw bad('invalid JSON array');
}

/** "k=v k2="a b"" or the legacy single "k v" form. */
function keyValues(rest: string, legacy: boolean, bad: (w: string) => Error): Array<[string, string]> {
  const words = splitWords(rest);
  if (words.length === 0) throw bad('needs arguments');
  if (!words[0]!.includes('=')) {
    if (!legacy || words.length < 2) throw bad('needs KEY=VALUE');
    const sp = rest.search(/\s/);
    return [[words[0]!, rest.slice(sp).trim()]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw bad(`${JSON.stringify(w)} is not KEY=VALUE`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '',
    q: string | null = null,
    any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      any = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (cur || any) out.push(cur);
  return out;
}
