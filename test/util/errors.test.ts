/** errorWithCode: the class it makes keeps the name, code, message and cause it is given. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorWithCode } from '../../src/util/errors.js';

describe('errorWithCode', () => {
  class ExampleError extends errorWithCode<'EXAMPLE_BROKEN'>('ExampleError') {}

  test('an instance carries its name, code, message and cause', () => {
    const cause = new Error('underneath');
    const error = new ExampleError('EXAMPLE_BROKEN', 'it broke', { cause });
    assert.ok(error instanceof ExampleError && error instanceof Error);
    assert.equal(error.name, 'ExampleError');
    assert.equal(error.code, 'EXAMPLE_BROKEN');
    assert.equal(error.message, 'it broke');
    assert.equal(error.cause, cause);
    assert.match(error.stack ?? '', /^ExampleError: it broke\n/);
  });
});
