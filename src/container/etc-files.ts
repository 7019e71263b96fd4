import * as fs from 'node:fs';

/** none, host, bridge or a user network's name. */
type Mode = string;

/**
 * /etc/hosts for a container: loopback names and its own hostname (Docker's content). On the bridge, its hostname
 * names its address once it has one (`ip`, at start), as Docker writes it.
 */
export function hostsFile(hostname: string, network: Mode, ip?: string): string {
  if (network === 'host') {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* fall through */
    }
  }
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ip ? `${ip}\t${hostname}` : `127.0.1.1\t${hostname}`,
    '',
  ].join('\n');
}

/**
 * resolv.conf: the host's, minus loopback nameservers a separate network namespace cannot reach. On the bridge, with
 * none left, Google's public resolvers, as Docker falls back to them.
 */
export function resolvConf(network: Mode, host = readHostResolvConf()): string {
  if (network === 'host') return host;
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  if (network === 'bridge' && !lines.some((l) => /^\s*nameserver\s/.test(l))) {
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    lines.push('', 'nameserver 8.8.8.8', 'nameserver 8.8.4.4', '');
  }
  return lines.join('\n');
}

function readHostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
