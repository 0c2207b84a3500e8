import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { goalRows, goalsMarkdown } from '../goals.js';

describe('the goals table', () => {
  test('judges each figure against its goal; a run not made is "not measured"', () => {
    const rows = goalRows({
      'probe-throughput': {
        settings: { targets: 20000 },
        headline: { contender: 'pool', workers: 2, overNmap: 0.85, overBlackbox: 9.5 },
      },
      memory: {
        afterCycles: [
          { targets: 100021, rssMB: 390, cycleSeconds: [9, 14, 16], intervalSeconds: 15 },
        ],
        churn: { growth: -0.04, replans: { medianMs: 25, maxMs: 40 }, targets: 20021 },
      },
    });
    const byGoal = new Map(rows.map((r) => [r.goal, r]));
    const met = (prefix: string) =>
      [...byGoal.values()].find((r) => r.goal.startsWith(prefix))?.met;
    assert.equal(met('engine at 20,000 loopback targets >= 0.8x'), true);
    assert.equal(met('engine at 20,000 >= 10x blackbox'), false);
    assert.equal(met('engine at 20,000: CPU'), null);
    assert.equal(met('engine at 50,000 loopback'), null);
    assert.equal(met('100,000 targets: RSS'), true);
    assert.equal(met('100,000 targets: every cycle'), false);
    assert.equal(met('churn (100 targets'), true);
    assert.equal(met('a churn event'), false);
    const table = goalsMarkdown(rows, 'header');
    assert.match(table, /\| engine at 20,000 >= 10x blackbox_exporter \| 9\.50x \| missed \|/);
    assert.match(table, /\| engine at 50,000 >= 10x blackbox_exporter \| not measured \| - \|/);
  });
});
