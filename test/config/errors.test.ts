import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, formatPath, showValue } from '../../src/config/errors.js';

describe('ConfigError', () => {
  it('carries a code and a cause, and keeps its message on one line', () => {
    const cause = new Error('inner');
    const error = new ConfigError('CONFIG_INVALID', 'config.yml: line 1:\n\n  a: [\n  ^\n', {
      cause,
    });
    assert.equal(error.message, 'config.yml: line 1: a: [ ^');
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'ConfigError');
    assert.ok(error instanceof Error);
  });
});

describe('showValue', () => {
  it('shows values as JSON', () => {
    assert.equal(showValue('80a'), '"80a"');
    assert.equal(showValue(80), '80');
    assert.equal(showValue(null), 'null');
    assert.equal(showValue(undefined), 'nothing');
    assert.equal(showValue(['a']), '["a"]');
    assert.equal(showValue('a\nb'), '"a\\nb"');
  });

  it('cuts at 60 characters', () => {
    const shown = showValue('x'.repeat(200));
    assert.equal(shown.length, 60);
    assert.ok(shown.endsWith('...'));
    assert.equal(showValue('x'.repeat(58)).length, 60);
  });
});

describe('formatPath', () => {
  it('writes paths as an operator would', () => {
    assert.equal(formatPath(['nodes', 1, 'roles', 0]), 'nodes[1].roles[0]');
    assert.equal(formatPath(['ports', 'imanager-ui', 'port']), 'ports.imanager-ui.port');
    assert.equal(formatPath(['ports', 'a b']), 'ports["a b"]');
    assert.equal(formatPath([]), '');
  });
});
