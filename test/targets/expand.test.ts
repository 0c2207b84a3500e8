/** Expanding planned targets by their names' answers, from literals. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AddressAnswer, expandTargets } from '../../src/targets/expand.js';
import { catalogTarget } from '../results/targets.js';

describe('expandTargets', () => {
  const literal = catalogTarget({ node: 'lit', address: '198.18.0.1' });
  const dual = catalogTarget({ node: 'dual', address: 'dual.test' });
  const broken = catalogTarget({ node: 'broken', address: 'broken.test' });
  const waiting = catalogTarget({ node: 'waiting', address: 'waiting.test' });
  const answers: Record<string, AddressAnswer> = {
    'dual.test': { ips: ['198.18.0.2', 'fd00:7e57::2'] },
    'broken.test': { error: 'ENOTFOUND' },
    'waiting.test': { pending: true },
  };
  const { targets, probed } = expandTargets([literal, dual, broken, waiting], (a) => {
    const answer = answers[a];
    assert.ok(answer, `asked for ${a}`);
    return answer;
  });

  test('an IP literal passes as it is, without asking', () => {
    assert.equal(targets[0], literal);
  });

  test('a dual-stack name is one target per IP, keyed by its IP, address kept', () => {
    const ofDual = targets.filter((t) => t.node === 'dual');
    assert.deepEqual(
      ofDual.map((t) => [t.address, t.ip]),
      [
        ['dual.test', '198.18.0.2'],
        ['dual.test', 'fd00:7e57::2'],
      ],
    );
    assert.notEqual(ofDual[0]?.key, ofDual[1]?.key);
    assert.ok(ofDual.every((t) => t.key.includes(t.ip)));
  });

  test('a name that failed is one target with no IP, probed (to say why); a pending one is not probed', () => {
    const ofBroken = targets.filter((t) => t.node === 'broken');
    assert.deepEqual(
      ofBroken.map((t) => t.ip),
      [''],
    );
    assert.ok(probed.includes(ofBroken[0] as (typeof probed)[number]));
    const ofWaiting = targets.filter((t) => t.node === 'waiting');
    assert.equal(ofWaiting.length, 1);
    assert.ok(!probed.some((t) => t.node === 'waiting'));
  });
});
