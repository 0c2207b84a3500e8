import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHostName, isNodeAddress, parseListenAddress } from '../../src/config/address.js';

describe('isNodeAddress', () => {
  const GOOD = [
    '10.0.0.1',
    '::1',
    'fd00::10',
    'master-1',
    'worker-1.cluster.example',
    'node.example.',
    'a',
  ];
  const BAD = [
    '',
    '10.0.0.256',
    '1.2.3',
    'http://10.0.0.1',
    '10.0.0.1:22',
    '-node',
    'node-',
    'a b',
    'a..b',
    `${'a'.repeat(64)}.example`,
    '[::1]',
  ];
  for (const text of GOOD)
    it(`takes ${JSON.stringify(text)}`, () => assert.ok(isNodeAddress(text)));
  for (const text of BAD)
    it(`rejects ${JSON.stringify(text)}`, () => assert.ok(!isNodeAddress(text)));

  it('limits a host name to 253 characters', () => {
    const label = 'a'.repeat(63);
    assert.ok(isHostName([label, label, label, 'a'.repeat(61)].join('.')));
    assert.ok(!isHostName([label, label, label, 'a'.repeat(62)].join('.')));
  });
});

describe('parseListenAddress', () => {
  for (const text of [
    '',
    ':',
    '19101',
    'host:',
    ':x',
    '::1:19101',
    '[10.0.0.1]:80',
    '[::1]',
    'a b:80',
    ':65536',
    ':123456',
  ]) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseListenAddress(text), undefined));
  }
});
