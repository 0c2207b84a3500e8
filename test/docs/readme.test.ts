/** The README's tables of metrics and states are the data's, not a copy that drifts. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { withBlocks } from '../../scripts/docs/tables.js';

describe('README.md', () => {
  test('its generated tables match src/metrics/names.ts and src/probe/states.ts (npm run docs)', () => {
    const text = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    assert.equal(text, withBlocks(text));
  });
});
