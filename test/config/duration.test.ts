import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration', () => {
  const GOOD: ReadonlyArray<readonly [string, number]> = [
    ['500ms', 500],
    ['15s', 15_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['1y', 31_536_000_000],
    ['1m0s', 60_000],
    ['1s500ms', 1500],
    ['90s', 90_000],
  ];
  for (const [text, ms] of GOOD) {
    it(`${text} is ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }

  const BAD = [
    '',
    '0',
    '0s',
    '0ms',
    '-5s',
    '15',
    '1.5s',
    'fast',
    '30s1m',
    '1s1s',
    ' 15s',
    '15 s',
    '15S',
    's',
    '1h 30m',
    '99999999999999999y',
  ];
  for (const text of BAD) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseDuration(text), undefined));
  }
});

describe('formatDuration', () => {
  it('writes the shortest text that parses back', () => {
    for (const ms of [1, 500, 1000, 1500, 15_000, 90_000, 5_400_000, 86_400_000, 90_061_001]) {
      const text = formatDuration(ms);
      assert.equal(parseDuration(text), ms, text);
    }
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(2000), '2s');
  });
});
