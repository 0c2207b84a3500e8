/**
 * The one judgement, from literals: which states are as expected for each expectation,
 * and that check and the status page, which both ask it, agree on every combination.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { verdictOf as checkVerdict } from '../../src/cli/check/report.js';
import { STATE_GUIDE } from '../../src/probe/states.js';
import { PROBE_STATES, type ProbeState } from '../../src/probe/types.js';
import { StatusData } from '../../src/server/status/latest.js';
import { statusView } from '../../src/server/status-view.js';
import type { ExpectedState, Target } from '../../src/targets/types.js';
import { judge, statesWithVerdict, VERDICTS } from '../../src/targets/verdict.js';
import { newStore } from '../helpers/store.js';

const EXPECTATIONS: readonly ExpectedState[] = ['open', 'closed', 'any'];

function target(expected: ExpectedState, required: boolean): Target {
  return {
    key: `central|cp-1|198.18.0.1|198.18.0.1|tcp|2379|${expected}|${required}`,
    vantage: 'central',
    node: 'cp-1',
    address: '198.18.0.1',
    ip: '198.18.0.1',
    port: 2379,
    protocol: 'tcp',
    category: 'fixed',
    component: 'etcd',
    portName: 'etcd-client',
    scope: 'internal',
    required,
    expected,
  };
}

describe('the judgement', () => {
  test('which states are as expected', () => {
    const asExpected: Record<ExpectedState, Record<ProbeState, boolean>> = {
      open: {
        open: true,
        refused: false,
        timeout: false,
        unreachable: false,
        error: false,
        rejected: false,
      },
      closed: {
        open: false,
        refused: true,
        timeout: true,
        unreachable: true,
        error: false,
        rejected: true,
      },
      any: {
        open: true,
        refused: true,
        timeout: true,
        unreachable: true,
        error: true,
        rejected: true,
      },
    };
    for (const expected of EXPECTATIONS) {
      for (const state of PROBE_STATES) {
        const judgement = judge({ expected, required: true }, state);
        assert.equal(!judgement.notAsExpected, asExpected[expected][state], `${expected} ${state}`);
        assert.equal(judgement.failing, judgement.notAsExpected, `${expected} ${state}`);
      }
    }
  });

  test('an optional target is never failing, whatever its state', () => {
    for (const expected of EXPECTATIONS) {
      for (const state of PROBE_STATES) {
        assert.equal(judge({ expected, required: false }, state).failing, false);
      }
    }
  });

  test('the advice of a port that should answer is the state table’s action', () => {
    for (const state of PROBE_STATES) {
      const { verdict, advice } = judge({ expected: 'open', required: true }, state);
      if (verdict === 'down') assert.equal(advice, STATE_GUIDE[state].action);
    }
    assert.match(judge({ expected: 'closed', required: true }, 'open').advice, /close it/);
    assert.equal(judge({ expected: 'open', required: true }, undefined).verdict, 'unprobed');
  });

  test('statesWithVerdict reads the table the alert generator turns into matchers', () => {
    assert.deepEqual(statesWithVerdict('open', 'down'), [
      'refused',
      'timeout',
      'unreachable',
      'rejected',
    ]);
    assert.deepEqual(statesWithVerdict('closed', 'exposed'), ['open']);
    assert.deepEqual(statesWithVerdict('open', 'unknown'), ['error']);
    assert.equal(Object.keys(VERDICTS).length, 3);
  });

  test('check and the status page agree on every expectation, requirement and state', async () => {
    for (const expected of EXPECTATIONS) {
      for (const required of [true, false]) {
        for (const state of PROBE_STATES) {
          const t = target(expected, required);
          const result = { state, durationSeconds: 0.001, probedAtMs: 1, lastChangeMs: 1 };
          const store = newStore();
          store.setTargets([t]);
          store.record(t, result, 1);
          const data = await new StatusData(store).capture();
          const view = statusView(data, 2, { filter: {}, failingPage: 1, nodePage: 1 });
          const cell = view.matrix?.cells.get('cp-1')?.get(2379);
          const check = checkVerdict({ target: t, result });
          const label = `${expected} ${required} ${state}`;
          assert.equal(cell?.failing, check === 'failed', label);
          assert.equal(view.failing.total, check === 'failed' ? 1 : 0, label);
        }
      }
    }
  });
});
