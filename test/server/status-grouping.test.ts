import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type GroupKey, groupItems } from '../../src/server/status/grouping.js';

const k = (node: string, port: number, cause = 'down/refused'): GroupKey => ({ node, port, cause });
const shape = (items: GroupKey[], down: string[] = []) =>
  groupItems(
    items,
    (i) => i,
    (node) => down.includes(node),
  ).map(
    (g) =>
      `${g.kind} ${g.node ?? '-'} ${g.port ?? '-'} ${g.cause} ${g.items.length}${g.nodeDown ? ' down' : ''}`,
  );

describe('groupItems', () => {
  it('makes a node where nothing answers one row, whatever its causes', () => {
    assert.deepEqual(
      shape(
        [k('a', 1, 'down/timeout'), k('a', 2, 'down/unreachable'), k('a', 3, 'down/unreachable')],
        ['a'],
      ),
      ['node a - down/unreachable 3 down'],
    );
  });

  it('makes a port failing one way on several nodes one row, before node rows', () => {
    assert.deepEqual(shape([k('a', 30001), k('b', 30001), k('a', 9101), k('a', 9100)]), [
      'port - 30001 down/refused 2',
      'node a - down/refused 2',
    ]);
  });

  it('keeps causes apart', () => {
    assert.deepEqual(shape([k('a', 1, 'down/refused'), k('b', 1, 'down/timeout')]), [
      'target a 1 down/refused 1',
      'target b 1 down/timeout 1',
    ]);
  });

  it('does not call two IPs of one node a port failing on several nodes', () => {
    assert.deepEqual(shape([k('a', 6443), k('a', 6443)]), ['node a - down/refused 2']);
  });

  it('is empty for nothing', () => {
    assert.deepEqual(shape([]), []);
  });
});
