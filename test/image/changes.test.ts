import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from '../../src/image/changes.js';

test('--change: exec and shell forms, env, labels, ports, volumes, workdir', () => {
  const c = applyChanges({ Env: ['PATH=/bin'] }, [
    'CMD ["sh", "-c", "echo hi"]',
    'ENTRYPOINT /bin/init --x',
    'ENV A=1 B="two words"',
    'ENV PATH /usr/bin',
    'LABEL a=b "c d"=e',
    'EXPOSE 80 53/udp',
    'VOLUME ["/data"]',
    'VOLUME /logs /cache',
    'USER 1000:1000',
    'WORKDIR /app',
    'WORKDIR sub',
    'STOPSIGNAL SIGTERM',
    'ONBUILD RUN true',
  ]);
  assert.deepEqual(c.Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/bin/init --x']);
  assert.deepEqual(c.Env, ['PATH=/usr/bin', 'A=1', 'B=two words']);
  assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e' });
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Volumes, { '/data': {}, '/logs': {}, '/cache': {} });
  assert.equal(c.User, '1000:1000');
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.StopSignal, 'SIGTERM');
  assert.deepEqual(c.OnBuild, ['RUN true']);
});

test('--change: errors name the change', () => {
  assert.throws(() => applyChanges({}, ['RUN true']), /RUN is not a valid change command/);
  assert.throws(() => applyChanges({}, ['EXPOSE abc']), /invalid port "abc"/);
  assert.throws(() => applyChanges({}, ['USER']), /USER needs a value/);
  assert.throws(() => applyChanges({}, ['ENV']), /needs arguments/);
});
