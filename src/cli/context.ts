import { registrySettings } from '../engine/daemon-config.js';
import { Engine } from '../engine/engine.js';
import { writeErr, writeOut } from './stdio.js';

/** What every command gets: where the store is, and streams to talk to the user. */
export class Context {
  constructor(
    readonly root: string,
    /**
     * The output streams, as functions: Node makes process.stdout and process.stderr when they are first read,
     * loading its stream modules; out() and err() write text without them (stdio.ts) until a command uses one.
     */
    private readonly stdoutOf: () => NodeJS.WritableStream & { isTTY?: boolean },
    private readonly stderrOf: () => NodeJS.WritableStream,
    /** (a function: Node makes process.stdin when it is first read, loading net or tty for a pipe or terminal) */
    private readonly stdinOf: () => NodeJS.ReadableStream & { isTTY?: boolean },
    /** --config-file: the daemon.json to use instead of /etc/berth/daemon.json. */
    readonly configFile?: string,
  ) {}

  get stdout(): NodeJS.WritableStream & { isTTY?: boolean } {
    return this.stdoutOf();
  }

  get stderr(): NodeJS.WritableStream {
    return this.stderrOf();
  }

  get stdin(): NodeJS.ReadableStream & { isTTY?: boolean } {
    return this.stdinOf();
  }

  private enginePromise?: Promise<Engine>;

  /**
   * The engine on this data root (opened once per command), with the registry settings of daemon.json and of
   * this process's environment (HTTP(S)_PROXY, NO_PROXY; BERTH_CERTS_D: colon-separated certs.d directories
   * in place of /etc/berth/certs.d and /etc/docker/certs.d).
   */
  engine(): Promise<Engine> {
    return (this.enginePromise ??= (async () => {
      const certsDirs = process.env.BERTH_CERTS_D?.split(':').filter((d) => d);
      const registry = registrySettings({
        ...(this.configFile !== undefined ? { configFile: this.configFile } : {}),
        env: process.env,
        ...(certsDirs?.length ? { certsDirs } : {}),
      });
      // (one command per process: blocking reads cost less than the thread pool's hand-offs)
      const { hostGatewayIP, dns, ...registryOnly } = registry;
      return Engine.open({
        root: this.root,
        registry: registryOnly,
        ...(hostGatewayIP ? { hostGatewayIP } : {}),
        ...(dns ? { dns } : {}),
        blockingReads: true,
      });
    })());
  }

  /** A line (or lines) of text to stdout: a newline is added unless s ends with one. */
  out(s: string): void {
    this.print(s.endsWith('\n') ? s : s + '\n');
  }

  /** Text to stdout as it is. */
  print(s: string): void {
    writeOut(s);
  }

  err(s: string): void {
    writeErr(s.endsWith('\n') ? s : s + '\n');
  }
}

export interface Command {
  /** Words that select it: ["image", "ls"] and aliases. */
  names: string[][];
  usage: string;
  summary: string;
  options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }
  >;
  /** Options end at the first positional (IMAGE [CMD...]), as for `docker run`. */
  stopAtPositional?: boolean;
  /** Exit status for berth's own errors (Docker's run/create/start use 125). */
  errorExit?: number;
  run(
    ctx: Context,
    args: string[],
    opts: Record<string, string | boolean | string[] | boolean[] | undefined>,
  ): Promise<number | void>;
}
