import * as fs from 'node:fs';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../../src/native/index.js';

/**
 * One test file on berth's bridge at a time: files that count what the bridge leaves host-wide (veths, rules, leases
 * under /run/berth) or restore the host's networking at their end cannot overlap (scripts/test.sh runs two files at
 * once). Each such file takes this lock in before() and releases it in after().
 */
export async function lockBridge(): Promise<() => void> {
  const fd = fs.openSync('/run/lock/berth-test-bridge', fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  // polled: a blocking flock would stall the test's event loop
  while (!flock(fd, LOCK_EX | LOCK_NB)) await new Promise((r) => setTimeout(r, 100));
  return () => {
    flock(fd, LOCK_UN);
    fs.closeSync(fd);
  };
}
