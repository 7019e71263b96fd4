import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepError, stepErrorKind } from '../../src/runtime/helper.js';

test("a helper step's errno gives its kind: EPERM/EACCES Forbidden, ENOENT NotFound, the rest as fits", () => {
  const table: Array<[string, string]> = [
    ['EPERM', 'Forbidden'],
    ['EACCES', 'Forbidden'],
    ['EROFS', 'Forbidden'],
    ['ENOENT', 'NotFound'],
    ['EBUSY', 'Conflict'],
    ['ENOMEM', 'Unavailable'],
    ['EAGAIN', 'Unavailable'],
    ['ENOSYS', 'NotImplemented'],
    ['EINVAL', 'InvalidArgument'],
    ['ENOEXEC', 'InvalidArgument'],
    ['EUNKNOWN', 'InvalidArgument'],
  ];
  for (const [errno, kind] of table) assert.equal(stepErrorKind(errno), kind, errno);
  const e = new StepError('exec', 'EACCES', 'exec: /etc/passwd: permission denied', 126);
  assert.equal(e.kind, 'Forbidden');
  assert.equal(e.code, 'helper_exec');
  assert.equal(e.exitCode, 126);
});
