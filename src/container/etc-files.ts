import * as fs from 'node:fs';

/** /etc/hosts for a container: loopback names and its own hostname (Docker's content). */
export function hostsFile(hostname: string, network: 'none' | 'host'): string {
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
    ...(network === 'none' ? [] : []),
    `127.0.1.1\t${hostname}`,
    '',
  ].join('\n');
}

/** resolv.conf: the host's, minus loopback nameservers a separate network namespace cannot reach. */
export function resolvConf(network: 'none' | 'host'): string {
  let host = '';
  try {
    host = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* none */
  }
  if (network === 'host') return host;
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  return lines.join('\n');
}
