/**
 * Steps that change only the image config (moby's dispatchers for ENV, LABEL,
 * CMD, ...): each updates the stage's run config and returns the commit message
 * that names the step in history, formatted as dockerd 20.10 formats it (Go's
 * %q and %v), so history and cache keys match Docker's.
 */
import { invalid } from '../core/errors.js';
import { parseSignal } from '../container/lifecycle.js';
import type { HealthConfig } from '../image/config.js';
import { expand, expandWords } from '../dockerfile/expand.js';
import type { Instruction } from '../dockerfile/instructions.js';
import { goDuration, goQuote, goQuoteRune, goQuoteSlice, goSlice } from './gofmt.js';
import { expansionEnv, shellOf, type StageState } from './state.js';

type Meta = Exclude<Instruction, { kind: 'FROM' | 'RUN' | 'COPY' | 'ADD' | 'WORKDIR' }>;

export function isMetadata(ins: Instruction): ins is Meta {
  return !['FROM', 'RUN', 'COPY', 'ADD', 'WORKDIR'].includes(ins.kind);
}

/** Apply a metadata instruction to the stage; returns the commit message. `noExpand`: values from --label. */
export function dispatchMetadata(s: StageState, ins: Meta, escape: '\\' | '`', noExpand = false): string {
  const env = expansionEnv(s);
  const x = (w: string) => (noExpand ? w : expand(w, env, { escape }));
  const rc = s.runConfig;
  switch (ins.kind) {
    case 'ENV': {
      const pairs = ins.env.map((p) => ({ key: x(p.key), value: x(p.value) }));
      const list = [...(rc.Env ?? [])];
      for (const { key, value } of pairs) {
        const kv = `${key}=${value}`;
        const i = list.findIndex((e) => e.split('=', 1)[0] === key);
        if (i >= 0) list[i] = kv;
        else list.push(kv);
      }
      rc.Env = list;
      return `ENV ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    }
    case 'LABEL': {
      const pairs = ins.labels.map((p) => ({ key: x(p.key), value: x(p.value) }));
      rc.Labels = { ...(rc.Labels ?? {}) };
      for (const p of pairs) rc.Labels[p.key] = p.value;
      return `LABEL ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    }
    case 'MAINTAINER':
      s.maintainer = ins.maintainer;
      return `MAINTAINER ${ins.maintainer}`;
    case 'ONBUILD':
      rc.OnBuild = [...(rc.OnBuild ?? []), ins.expression];
      return `ONBUILD ${ins.expression}`;
    case 'CMD': {
      rc.Cmd = ins.form === 'shell' ? [...shellOf(rc), ins.command] : [...ins.command];
      delete rc.ArgsEscaped;
      if (ins.form === 'shell' || ins.command.length > 0) s.cmdSet = true;
      return `CMD ${goQuoteSlice(rc.Cmd)}`;
    }
    case 'ENTRYPOINT': {
      // `ENTRYPOINT []` clears it (null), where `CMD []` stays []
      rc.Entrypoint =
        ins.form === 'shell' ? [...shellOf(rc), ins.command] : ins.command.length ? [...ins.command] : null;
      delete rc.ArgsEscaped;
      if (!s.cmdSet) rc.Cmd = null;
      return `ENTRYPOINT ${goQuoteSlice(rc.Entrypoint)}`;
    }
    case 'HEALTHCHECK': {
      const h: HealthConfig = { Test: [...ins.test] };
      if (ins.interval) h.Interval = ins.interval;
      if (ins.timeout) h.Timeout = ins.timeout;
      if (ins.startPeriod) h.StartPeriod = ins.startPeriod;
      if (ins.startInterval) h.StartInterval = ins.startInterval;
      if (ins.retries) h.Retries = ins.retries;
      const message = `HEALTHCHECK &{${goQuoteSlice(h.Test)} ${goQuote(goDuration(h.Interval ?? 0))} ${goQuote(goDuration(h.Timeout ?? 0))} ${goQuote(goDuration(h.StartPeriod ?? 0))} ${goQuoteRune(h.Retries ?? 0)}}`;
      // dockerd merges the parent image's healthcheck into the step's (its container create fills unset
      // durations and retries), and that merged one is what the image keeps: HEALTHCHECK NONE keeps the intervals
      const prev = rc.Healthcheck;
      if (prev) {
        for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const)
          if (!h[k] && prev[k]) h[k] = prev[k];
      }
      rc.Healthcheck = h;
      return message;
    }
    case 'EXPOSE': {
      // the words are sorted (bytewise, as Go's sort.Strings) before they are expanded, as buildkit's parser does
      const ports = [...ins.ports]
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
        .flatMap((p) => expandWords(p, env, { escape }));
      rc.ExposedPorts = { ...(rc.ExposedPorts ?? {}) };
      for (const p of ports) for (const spec of portSpecs(p)) rc.ExposedPorts[spec] = {};
      return `EXPOSE ${ports.join(' ')}`;
    }
    case 'USER':
      rc.User = x(ins.user);
      return `USER ${rc.User}`;
    case 'VOLUME': {
      const vols = ins.volumes.map(x);
      if (vols.some((v) => v === '')) throw invalid('dockerfile_volume', 'VOLUME specified can not be an empty string');
      rc.Volumes = { ...(rc.Volumes ?? {}) };
      for (const v of vols) rc.Volumes[v] = {};
      return `VOLUME ${goSlice(vols)}`;
    }
    case 'STOPSIGNAL': {
      const sig = x(ins.signal);
      parseSignal(sig);
      rc.StopSignal = sig;
      return `STOPSIGNAL ${sig}`;
    }
    case 'ARG': {
      const parts: string[] = [];
      for (const a of ins.args) {
        const name = x(a.name);
        const value = a.default === undefined ? undefined : x(a.default);
        parts.push(value === undefined ? name : `${name}=${value}`);
        s.args.addArg(name, value);
      }
      return `ARG ${parts.join(' ')}`;
    }
    case 'SHELL':
      rc.Shell = [...ins.shell];
      return `SHELL ${goSlice(rc.Shell)}`;
  }
}

/**
 * An EXPOSE word as Docker's nat.ParsePortSpecs reads it: `80`, `80/udp`,
 * `8000-8002/tcp`, `ip:host:container` (only the container port is exposed).
 */
export function portSpecs(word: string): string[] {
  const slash = word.lastIndexOf('/');
  let proto = 'tcp';
  let rest = word;
  if (slash >= 0) {
    proto = word.slice(slash + 1).toLowerCase();
    rest = word.slice(0, slash);
  }
  const container = rest.includes(':') ? rest.slice(rest.lastIndexOf(':') + 1) : rest;
  const m = /^(\d+)(?:-(\d+))?$/.exec(container);
  const bad = () => invalid('dockerfile_expose', `Invalid containerPort: ${container}`);
  if (!m) throw bad();
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo < 0 || hi > 65535 || hi < lo) throw bad();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalid('dockerfile_expose', `Invalid proto: ${proto}`);
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}
