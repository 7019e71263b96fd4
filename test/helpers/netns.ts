/**
 * Registries on a non-loopback address for tests, without anything leaving the machine: a network
 * namespace the test makes, joined to the host by a veth pair on a private /30 (host 10.x.y.1, the
 * namespace 10.x.y.2, no route beyond), with Debian's docker-registry running inside it (plain
 * http, TLS, TLS with client certificates required). A test CA and its certificates from openssl.
 * The scope removes the processes, the veth pair and the namespace, also when the test fails.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Scope } from './peers.js';

export interface Netns {
  name: string;
  /** The host's end of the veth pair. */
  hostIP: string;
  /** The namespace's address: where its registries listen. */
  nsIP: string;
  /** argv prefix that runs a program inside the namespace. */
  exec: string[];
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

let made = 0;

/** A namespace with lo up and a veth to the host on a free 10.x.y.0/30. */
export function makeNetns(scope: Scope): Netns {
  const n = made++;
  const name = `berth-test-${process.pid}-${n}`;
  const hostIf = `bt${process.pid}${n}h`.slice(-15);
  const nsIf = `bt${process.pid}${n}n`.slice(-15);
  const used = spawnSync('ip', ['-4', 'addr'], { encoding: 'utf8' }).stdout;
  let prefix = '';
  for (let tries = 0; tries < 100 && !prefix; tries++) {
    const x = 200 + Math.floor(Math.random() * 50);
    const y = Math.floor(Math.random() * 64) * 4;
    const p = `10.${x}.${Math.floor(Math.random() * 256)}.`;
    if (!used.includes(p)) prefix = `${p}${y}`;
  }
  if (!prefix) throw new Error('no free 10.x.y.0/30 found');
  const base = prefix.slice(0, prefix.lastIndexOf('.') + 1);
  const last = Number(prefix.slice(prefix.lastIndexOf('.') + 1));
  const hostIP = `${base}${last + 1}`;
  const nsIP = `${base}${last + 2}`;
  // clean-up first, so a half-made namespace goes too
  scope.defer(`remove netns ${name}`, () => {
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    spawnSync('ip', ['link', 'del', hostIf]);
    spawnSync('ip', ['netns', 'del', name]);
  });
  ip(['netns', 'add', name]);
  ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  ip(['link', 'set', nsIf, 'netns', name]);
  ip(['addr', 'add', `${hostIP}/30`, 'dev', hostIf]);
  ip(['link', 'set', hostIf, 'up']);
  ip(['-n', name, 'addr', 'add', `${nsIP}/30`, 'dev', nsIf]);
  ip(['-n', name, 'link', 'set', nsIf, 'up']);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, hostIP, nsIP, exec: ['ip', 'netns', 'exec', name] };
}

export interface NsRegistry {
  /** "10.x.y.2:PORT" */
  host: string;
  stop(): void;
  log(): string;
}

/**
 * docker-registry inside the namespace on nsIP:port, over `storage` (several may share one: push
 * to the plain one, pull from the TLS ones). `tls` is its certificate and key; `clientCAs` makes
 * it require client certificates signed by them; `basic` asks for a user and password.
 */
export async function startNsRegistry(
  scope: Scope,
  ns: Netns,
  port: number,
  opts: {
    storage: string;
    tls?: { cert: string; key: string; clientCAs?: string[] };
    /** Basic auth for this user and password (htpasswd). */
    basic?: { user: string; password: string };
  },
): Promise<NsRegistry> {
  const dir = scope.tempDir(`nsreg-${port}`);
  const host = `${ns.nsIP}:${port}`;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${opts.storage}`,
    'http:',
    `  addr: ${host}`,
    '  secret: berth-test-secret',
  ];
  if (opts.tls) {
    lines.push('  tls:', `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`);
    if (opts.tls.clientCAs) lines.push('    clientcas:', ...opts.tls.clientCAs.map((c) => `      - ${c}`));
  }
  if (opts.basic) {
    const r = spawnSync('htpasswd', ['-Bbn', opts.basic.user, opts.basic.password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    fs.writeFileSync(join(dir, 'htpasswd'), r.stdout);
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  fs.writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const logFile = join(dir, 'registry.log');
  const out = fs.openSync(logFile, 'a');
  // `ip netns exec` execs the program: the child is the registry itself
  const child: ChildProcess = spawn(
    ns.exec[0]!,
    [...ns.exec.slice(1), '/usr/bin/docker-registry', 'serve', join(dir, 'config.yml')],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  child.unref();
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  scope.defer(`stop docker-registry ${host}`, stop);
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(ns.nsIP, port))) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${log()}`);
    if (Date.now() > deadline) throw new Error(`docker-registry on ${host} did not listen: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host, stop, log };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

export interface TestPKI {
  dir: string;
  caCert: string;
  /** Server certificate (CA-signed) for the IP, and its key. */
  serverCert: string;
  serverKey: string;
  /** A client certificate (CA-signed, clientAuth) and its key. */
  clientCert: string;
  clientKey: string;
  /** A self-signed server certificate for the IP (no CA knows it), and its key. */
  selfCert: string;
  selfKey: string;
}

/** A test CA (P-256), a server certificate for `ipAddr`, a client certificate, and a self-signed one. */
export function makePKI(scope: Scope, ipAddr: string): TestPKI {
  const dir = scope.tempDir('pki');
  const p = (n: string) => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    '/CN=berth test CA',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const signed = (name: string, cn: string, ext: string) => {
    openssl(['req', ...ec, '-subj', `/CN=${cn}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`)]);
    fs.writeFileSync(p(`${name}.ext`), ext);
    openssl([
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      p(`${name}.crt`),
      '-extfile',
      p(`${name}.ext`),
    ]);
  };
  signed('server', ipAddr, `subjectAltName=IP:${ipAddr}\nextendedKeyUsage=serverAuth\n`);
  signed('client', 'berth test client', 'extendedKeyUsage=clientAuth\n');
  openssl([
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    `/CN=${ipAddr}`,
    '-keyout',
    p('self.key'),
    '-out',
    p('self.crt'),
    '-addext',
    `subjectAltName=IP:${ipAddr}`,
  ]);
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    selfCert: p('self.crt'),
    selfKey: p('self.key'),
  };
}
