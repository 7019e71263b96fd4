/**
 * Parser nodes -> typed instructions, grouped into stages. Values are kept as
 * written (quotes and `$V` included): the builder expands the instructions
 * listed in expand.ts with the args in scope when the step runs, as Docker does.
 * Every error names the file and line: `Dockerfile:4: FROM requires either one or three arguments`.
 */
import { dockerfileError, parse, type Heredoc, type Node } from './parse.js';

interface Base {
  node: Node;
}
export type CommandForm = { form: 'shell'; command: string } | { form: 'exec'; command: string[] };
export interface KeyValue {
  key: string;
  value: string;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  image: string;
  stageName?: string;
  platform?: string;
}
export type RunInstruction = Base & {
  kind: 'RUN';
  heredocs: Heredoc[];
  flags: Record<string, string | true>;
} & CommandForm;
export type CmdInstruction = Base & { kind: 'CMD' } & CommandForm;
export type EntrypointInstruction = Base & { kind: 'ENTRYPOINT' } & CommandForm;
export interface EnvInstruction extends Base {
  kind: 'ENV';
  env: KeyValue[];
}
export interface LabelInstruction extends Base {
  kind: 'LABEL';
  labels: KeyValue[];
}
export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: { name: string; default?: string }[];
}
export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  ports: string[];
}
export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  volumes: string[];
}
export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}
export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}
export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}
export interface StopSignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}
export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}
export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  /**
   * Docker's config form: ["NONE"], ["CMD", ...argv] or ["CMD-SHELL", cmdline]. Durations in nanoseconds, 0 = default.
   */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}
export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  trigger: Instruction;
  expression: string;
}
export type CopySource = { kind: 'path'; path: string } | { kind: 'heredoc'; heredoc: Heredoc };
export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  sources: CopySource[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  /** ADD only. */
  checksum?: string;
  keepGitDir?: boolean;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | VolumeInstruction
  | WorkdirInstruction
  | UserInstruction
  | ShellInstruction
  | StopSignalInstruction
  | MaintainerInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | CopyInstruction;

export interface Stage {
  index: number;
  /** Lower case, as Docker compares stage names. */
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  globalArgs: ArgInstruction[];
  stages: Stage[];
  escape: '\\' | '`';
  warnings: string[];
}

/** Parse a Dockerfile's text all the way to stages. */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const res = parse(text, file);
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const node of res.nodes) {
    const ins = toInstruction(node, file);
    if (ins.kind === 'FROM') {
      stages.push({
        index: stages.length,
        ...(ins.stageName ? { name: ins.stageName } : {}),
        from: ins,
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(ins);
    } else if (ins.kind === 'ARG') {
      globalArgs.push(ins);
    } else {
      throw dockerfileError(
        file,
        node.startLine,
        `${node.instruction}: no build stage in current context (only ARG may come before the first FROM)`,
      );
    }
  }
  if (stages.length === 0)
    throw dockerfileError(
      file,
      res.nodes[res.nodes.length - 1]!.endLine,
      'no FROM instruction: a Dockerfile needs at least one build stage',
    );
  const seen = new Map<string, number>();
  for (const s of stages) {
    if (!s.name) continue;
    if (seen.has(s.name)) throw dockerfileError(file, s.from.node.startLine, `FROM: duplicate stage name "${s.name}"`);
    seen.set(s.name, s.index);
  }
  return { globalArgs, stages, escape: res.escape, warnings: res.warnings };
}

const ALLOWED_FLAGS: Record<string, Record<string, 'string' | 'bool'>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'string', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'string' },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    checksum: 'string',
    'keep-git-dir': 'bool',
    exclude: 'string',
  },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

/** Check the node's flags against what its instruction accepts; bool flags become booleans. */
function flagsOf(node: Node, fail: (m: string) => Error): Record<string, string | boolean> {
  const allowed = ALLOWED_FLAGS[node.instruction] ?? {};
  const out: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(node.flags)) {
    const type = allowed[name];
    if (!type) throw fail(`unknown flag: --${name}`);
    if (type === 'bool') {
      if (value !== true && value !== 'true' && value !== 'false')
        throw fail(`expecting boolean value for flag --${name}, not: ${value}`);
      out[name] = value === true || value === 'true';
    } else {
      if (value === true) throw fail(`missing a value on flag: --${name}`);
      out[name] = value;
    }
  }
  return out;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function toInstruction(node: Node, file = 'Dockerfile'): Instruction {
  const I = node.instruction;
  const fail = (m: string) => dockerfileError(file, node.startLine, m.startsWith(I) ? m : `${I}: ${m}`);
  const flags = flagsOf(node, fail);
  const args = node.args;
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const form = (): CommandForm =>
    node.json ? { form: 'exec', command: args } : { form: 'shell', command: args[0] ?? '' };
  const one = (): string => {
    if (args.length === 0 || args[0]!.trim() === '') throw fail(`${I} requires exactly one argument`);
    return args[0]!;
  };
  switch (I) {
    case 'FROM': {
      if (args.length !== 1 && !(args.length === 3 && args[1]!.toLowerCase() === 'as'))
        throw fail('FROM requires either one or three arguments');
      let stageName: string | undefined;
      if (args.length === 3) {
        stageName = args[2]!.toLowerCase();
        if (!STAGE_NAME.test(stageName))
          throw fail(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
      }
      const platform = str('platform');
      return {
        kind: 'FROM',
        node,
        image: args[0]!,
        ...(stageName ? { stageName } : {}),
        ...(platform !== undefined ? { platform } : {}),
      };
    }
    case 'RUN':
      if (args.length === 0 && !node.json) throw fail('RUN requires at least one argument');
      return { kind: 'RUN', node, heredocs: node.heredocs, flags: node.flags, ...form() };
    case 'CMD':
      return { kind: 'CMD', node, ...form() };
    case 'ENTRYPOINT':
      return { kind: 'ENTRYPOINT', node, ...form() };
    case 'ENV':
    case 'LABEL': {
      const pairs = node.pairs ?? [];
      if (pairs.length === 0) throw fail(`${I} requires at least one argument`);
      if (pairs.some((p) => p.key === '')) throw fail(`${I} names can not be blank`);
      return I === 'ENV' ? { kind: 'ENV', node, env: pairs } : { kind: 'LABEL', node, labels: pairs };
    }
    case 'ARG': {
      if (args.length === 0) throw fail('ARG requires at least one argument');
      return {
        kind: 'ARG',
        node,
        args: args.map((a) => {
          const eq = a.indexOf('=');
          const name = eq < 0 ? a : a.slice(0, eq);
          if (name === '') throw fail('ARG names can not be blank');
          return eq < 0 ? { name } : { name, default: a.slice(eq + 1) };
        }),
      };
    }
    case 'EXPOSE':
      if (args.length === 0) throw fail('EXPOSE requires at least one argument');
      return { kind: 'EXPOSE', node, ports: args };
    case 'VOLUME': {
      if (args.length === 0) throw fail('VOLUME requires at least one argument');
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw fail('VOLUME specified can not be an empty string');
      return { kind: 'VOLUME', node, volumes };
    }
    case 'WORKDIR':
      return { kind: 'WORKDIR', node, path: one() };
    case 'USER':
      return { kind: 'USER', node, user: one() };
    case 'STOPSIGNAL':
      return { kind: 'STOPSIGNAL', node, signal: one() };
    case 'MAINTAINER':
      return { kind: 'MAINTAINER', node, maintainer: one() };
    case 'SHELL':
      if (!node.json) throw fail('SHELL requires the arguments to be in JSON form');
      if (args.length === 0) throw fail('SHELL requires at least one argument');
      return { kind: 'SHELL', node, shell: args };
    case 'HEALTHCHECK':
      return healthcheck(node, flags, fail);
    case 'ONBUILD': {
      if (!node.sub) throw fail('ONBUILD requires at least one argument');
      const t = node.sub.instruction;
      if (t === 'ONBUILD') throw fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (t === 'FROM' || t === 'MAINTAINER') throw fail(`${t} isn't allowed as an ONBUILD trigger`);
      const expression = node.original.trim().replace(/^\S+\s+/, '');
      return { kind: 'ONBUILD', node, trigger: toInstruction(node.sub, file), expression };
    }
    case 'COPY':
    case 'ADD': {
      if (args.length < 2) {
        throw fail(
          args.length === 1
            ? `${I} requires at least two arguments, but only one was provided. Destination could not be determined.`
            : `${I} requires at least two arguments`,
        );
      }
      const docs = new Map(node.heredocs.map((h) => [h.name, h]));
      const sources: CopySource[] = args.slice(0, -1).map((a) => {
        const m = /^\d*<<-?(.*)$/.exec(a);
        const name = m?.[1]?.replace(/^(["'])(.*)\1$/, '$2');
        const doc = name !== undefined ? docs.get(name) : undefined;
        return doc && !node.json ? { kind: 'heredoc', heredoc: doc } : { kind: 'path', path: a };
      });
      const c: CopyInstruction = { kind: I, node, sources, dest: args[args.length - 1]!, link: flags['link'] === true };
      for (const k of ['from', 'chown', 'chmod', 'checksum'] as const) {
        const v = str(k);
        if (v !== undefined) c[k] = v;
      }
      if (I === 'COPY' && c.checksum !== undefined) throw fail('unknown flag: --checksum');
      if (flags['keep-git-dir'] !== undefined) c.keepGitDir = flags['keep-git-dir'] === true;
      return c;
    }
    default:
      throw fail(`unknown instruction: ${I}`);
  }
}

function healthcheck(
  node: Node,
  flags: Record<string, string | boolean>,
  fail: (m: string) => Error,
): HealthcheckInstruction {
  const [typ, ...rest] = node.args;
  const t = (typ ?? '').toUpperCase();
  const base = {
    kind: 'HEALTHCHECK' as const,
    node,
    interval: 0,
    timeout: 0,
    startPeriod: 0,
    startInterval: 0,
    retries: 0,
  };
  if (t === 'NONE') {
    if (rest.length > 0 || node.json) throw fail('HEALTHCHECK NONE takes no arguments');
    if (Object.keys(flags).length > 0) throw fail('HEALTHCHECK NONE takes no flags');
    return { ...base, test: ['NONE'] };
  }
  if (t !== 'CMD') throw fail(`Unknown type "${typ ?? ''}" in HEALTHCHECK (try CMD)`);
  if (rest.length === 0 || (!node.json && rest[0]!.trim() === '')) throw fail('Missing command after HEALTHCHECK CMD');
  const test = node.json ? ['CMD', ...rest] : ['CMD-SHELL', rest[0]!];
  const dur = (k: string) => {
    const v = flags[k];
    if (typeof v !== 'string' || v === '') return 0;
    const d = parseGoDuration(v);
    if (d === undefined) throw fail(`time: invalid duration "${v}"`);
    if (d === 0) return 0;
    if (d < 1e6) throw fail(`Interval "${k}" cannot be less than 1ms`);
    return d;
  };
  let retries = 0;
  const r = flags['retries'];
  if (typeof r === 'string' && r !== '') {
    if (!/^[+-]?\d+$/.test(r)) throw fail(`strconv.ParseInt: parsing "${r}": invalid syntax`);
    retries = Number(r);
    if (retries < 0) throw fail(`--retries cannot be negative (${retries})`);
  }
  return {
    ...base,
    test,
    interval: dur('interval'),
    timeout: dur('timeout'),
    startPeriod: dur('start-period'),
    startInterval: dur('start-interval'),
    retries,
  };
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds: "1m30s", "1.5h", "-2s", "0". Undefined when invalid. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(sign * total);
}
