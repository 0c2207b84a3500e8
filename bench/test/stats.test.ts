import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { median, perRoundRatio, windowMedians } from '../stats.js';

describe('bench statistics', () => {
  test('perRoundRatio: each round against its own round, then the median', () => {
    const rounds = [
      { contender: 'engine', round: 0, rate: 80 },
      { contender: 'nmap', round: 0, rate: 100 },
      // A neighbour slowed round 1 for both: its ratio stays honest.
      { contender: 'engine', round: 1, rate: 30 },
      { contender: 'nmap', round: 1, rate: 50 },
      { contender: 'engine', round: 2, rate: 90 },
      { contender: 'nmap', round: 2, rate: 100 },
      // A round without its partner is left out.
      { contender: 'engine', round: 3, rate: 1 },
    ];
    assert.deepEqual(
      perRoundRatio(rounds, 'engine', 'nmap', (r) => r.rate),
      { median: 0.8, rounds: [0.8, 0.6, 0.9] },
    );
    assert.deepEqual(
      perRoundRatio(rounds, 'engine', 'blackbox', (r) => r.rate),
      {
        median: null,
        rounds: [],
      },
    );
  });

  test('windowMedians: whole windows only, each its median', () => {
    assert.deepEqual(windowMedians([1, 9, 2, 8, 3, 7, 100], 3), [2, 7]);
    assert.deepEqual(windowMedians([1, 2], 3), []);
    assert.equal(median([3, 1, 2, 10]), 2.5);
  });
});
