/**
 * A dead host on the link: the kernel gives up on its neighbour (ARP) only about 3 s
 * after the first SYN, past a 2 s probe timeout, so without lingering the probe only
 * ever sees silence. With lingerMs it sees the EHOSTUNREACH that says the host is gone.
 * In a namespace the test makes: a veth whose far end is up and has no address, so ARP
 * requests go out and nothing answers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UNREACHABLE_LINGER_MS } from '../../src/probe/handle-connect.js';
import { createNetns } from '../helpers/netns.js';

describe('lingering for a neighbour that never answers', { timeout: 60_000 }, () => {
  test('a dead on-link address: timeout without linger, EHOSTUNREACH with it', async (t) => {
    const ns = await createNetns('linger');
    t.after(() => ns.close());
    await ns.exec('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    await ns.exec('ip', ['addr', 'add', '198.18.50.1/24', 'dev', 'v0']);
    await ns.exec('ip', ['link', 'set', 'v0', 'up']);
    await ns.exec('ip', ['link', 'set', 'v1', 'up']);
    const probe = async (ip: string, lingerMs: number) => {
      const { code, stdout, stderr } = await ns.runNode('test/fixtures/probe-handle.ts', [
        ip,
        '7000',
        '2000',
        String(lingerMs),
      ]);
      assert.equal(code, 0, stderr);
      return JSON.parse(stdout) as { state: string; error?: string; durationSeconds: number };
    };
    // Two addresses, so the second's neighbour entry is fresh, not FAILED from the first.
    const silent = await probe('198.18.50.2', 0);
    assert.equal(silent.state, 'timeout');
    assert.equal(silent.error, 'ETIMEDOUT');
    const told = await probe('198.18.50.3', UNREACHABLE_LINGER_MS);
    assert.equal(told.state, 'unreachable', JSON.stringify(told));
    assert.equal(told.error, 'EHOSTUNREACH');
    assert.ok(
      told.durationSeconds > 2,
      `the error came after the timeout: ${told.durationSeconds}`,
    );
  });
});
