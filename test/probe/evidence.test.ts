/**
 * The host evidence, from literals: which raw results make a host up or down, and the
 * state each raw result then gets. The real errnos behind these literals are measured
 * on the namespace test bed (test/e2e/verdicts.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAST_ERROR_SECONDS, HostEvidence } from '../../src/probe/evidence.js';
import type { ProbeResult } from '../../src/probe/types.js';

const IP = '198.18.0.10';
const open: ProbeResult = { state: 'open', durationSeconds: 0.0002 };
const refused: ProbeResult = { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' };
const timeout: ProbeResult = { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' };
const fastHostUnreach: ProbeResult = {
  state: 'unreachable',
  durationSeconds: 0.0003,
  error: 'EHOSTUNREACH',
};
const slowHostUnreach: ProbeResult = {
  state: 'unreachable',
  durationSeconds: 1.9,
  error: 'EHOSTUNREACH',
};
const fastNetUnreach: ProbeResult = {
  state: 'unreachable',
  durationSeconds: 0.0003,
  error: 'ENETUNREACH',
};
const noRoute: ProbeResult = {
  state: 'unreachable',
  durationSeconds: 0.00001,
  error: 'ENETUNREACH',
  local: true,
};
const adminProhibited6: ProbeResult = {
  state: 'rejected',
  durationSeconds: 0.0003,
  error: 'EACCES',
};

describe('HostEvidence', () => {
  test('a firewall reject on a host whose other port answers is rejected, whatever the order', () => {
    for (const order of [
      [fastHostUnreach, open],
      [open, fastHostUnreach],
    ]) {
      const evidence = new HostEvidence();
      const states = order.map((raw) => evidence.classify(IP, raw));
      assert.deepEqual(states, order[0] === open ? ['open', 'rejected'] : ['rejected', 'open']);
    }
  });

  test('net-prohibited (ENETUNREACH from the network) on a host that answers is rejected', () => {
    const evidence = new HostEvidence();
    evidence.classify(IP, refused);
    assert.equal(evidence.classify(IP, fastNetUnreach), 'rejected');
  });

  test('a host whose every port is rejected, fast and never silent, is up: rejected', () => {
    const evidence = new HostEvidence();
    for (let i = 0; i < 5; i++) assert.equal(evidence.classify(IP, fastHostUnreach), 'rejected');
  });

  test('a dead host (silence beside EHOSTUNREACH): unreachable, timeouts included, from the next cycle on', () => {
    const evidence = new HostEvidence();
    // Cycle 1: the probe that starts neighbour resolution times out first.
    const first = [timeout, slowHostUnreach, fastHostUnreach, timeout].map((raw) =>
      evidence.classify(IP, raw),
    );
    assert.deepEqual(first, ['timeout', 'unreachable', 'unreachable', 'unreachable']);
    for (let cycle = 2; cycle <= 3; cycle++) {
      evidence.newCycle();
      const states = [timeout, fastHostUnreach, timeout, slowHostUnreach].map((raw) =>
        evidence.classify(IP, raw),
      );
      assert.deepEqual(states, ['unreachable', 'unreachable', 'unreachable', 'unreachable']);
    }
  });

  test('judged at the end of a pass (check), a dead host reads unreachable on every port', () => {
    const evidence = new HostEvidence();
    const pass = [timeout, timeout, slowHostUnreach, fastHostUnreach];
    for (const raw of pass) evidence.note(IP, raw);
    assert.deepEqual(
      pass.map((raw) => evidence.stateOf(IP, raw)),
      ['unreachable', 'unreachable', 'unreachable', 'unreachable'],
    );
  });

  test('silence alone is a timeout: a drop rule, nothing said of the host', () => {
    const evidence = new HostEvidence();
    assert.equal(evidence.classify(IP, timeout), 'timeout');
    evidence.newCycle();
    assert.equal(evidence.classify(IP, timeout), 'timeout');
  });

  test('a host that answers this cycle is up though the last cycle said down, and the other way', () => {
    const evidence = new HostEvidence();
    for (const raw of [timeout, slowHostUnreach]) evidence.classify(IP, raw);
    evidence.newCycle();
    assert.equal(evidence.classify(IP, open), 'open');
    assert.equal(evidence.classify(IP, fastHostUnreach), 'rejected');
    assert.equal(evidence.classify(IP, timeout), 'timeout');
    // It dies: this cycle's signature wins over the last cycle's answers.
    evidence.newCycle();
    assert.equal(evidence.classify(IP, timeout), 'timeout');
    assert.equal(evidence.classify(IP, slowHostUnreach), 'unreachable');
    assert.equal(evidence.classify(IP, timeout), 'unreachable');
  });

  test('an echo reply is evidence of up; an unanswered echo is silence', () => {
    const up = new HostEvidence();
    up.noteEcho(IP, 'open');
    assert.equal(up.classify(IP, slowHostUnreach), 'rejected');
    const silent = new HostEvidence();
    silent.noteEcho(IP, 'timeout');
    assert.equal(silent.classify(IP, slowHostUnreach), 'unreachable');
    // The echo started neighbour resolution on a dead address; every connect joined
    // late and failed fast. Alone, fast errors read as a reject; beside the silent
    // echo they are the dead host's signature.
    const late = new HostEvidence();
    late.noteEcho(IP, 'timeout');
    for (let i = 0; i < 5; i++) late.note(IP, fastHostUnreach);
    assert.equal(late.stateOf(IP, fastHostUnreach), 'unreachable');
    const noEcho = new HostEvidence();
    for (let i = 0; i < 5; i++) noEcho.note(IP, fastHostUnreach);
    assert.equal(noEcho.stateOf(IP, fastHostUnreach), 'rejected');
    // An echo that could not be sent (ICMP off, no permission) says nothing.
    const failed = new HostEvidence();
    failed.noteEcho(IP, 'error');
    for (let i = 0; i < 5; i++) failed.note(IP, fastHostUnreach);
    assert.equal(failed.stateOf(IP, fastHostUnreach), 'rejected');
  });

  test('no route from here is unreachable, even on a host that answers', () => {
    const evidence = new HostEvidence();
    evidence.classify(IP, open);
    assert.equal(evidence.classify(IP, noRoute), 'unreachable');
  });

  test('ICMPv6 prohibited (EACCES) is rejected whatever is known of the host', () => {
    assert.equal(new HostEvidence().classify(IP, adminProhibited6), 'rejected');
  });

  test('evidence is per IP: one family of a dual-stack name says nothing of the other', () => {
    const evidence = new HostEvidence();
    evidence.classify('198.18.0.11', open);
    assert.equal(evidence.classify('fd00:7e57::11', slowHostUnreach), 'unreachable');
  });

  test('the fast bound lies above an IPv6 reject (1 s, the retransmitted SYN) and below a neighbour failure (3 s)', () => {
    assert.ok(FAST_ERROR_SECONDS > 1.1 && FAST_ERROR_SECONDS < 2.5);
  });
});
