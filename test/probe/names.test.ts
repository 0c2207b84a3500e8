/**
 * The name cache: names resolve beside probing, bounded in time and in parallel, keep
 * their last good answer for a while when the resolver fails, and give every answer of
 * a dual-stack name. Time is a fake clock; the lookup is a table or a promise the test
 * holds, so nothing waits on a real resolver but the last two tests.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, test } from 'node:test';
import { type LookupAllFn, NameCache } from '../../src/probe/names.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { collectingLogger } from '../helpers/logger.js';
import { createNetns } from '../helpers/netns.js';

/** A lookup the test drives: each call waits until the test answers it. */
function heldLookup() {
  const calls: {
    host: string;
    answer: (ips: readonly string[]) => void;
    fail: (code: string) => void;
  }[] = [];
  const lookup: LookupAllFn = (host) =>
    new Promise((resolve, reject) => {
      calls.push({
        host,
        answer: resolve,
        fail: (code) => reject(Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code })),
      });
    });
  return { lookup, calls };
}

describe('NameCache', () => {
  test('an IP literal is its own answer, with no lookup', () => {
    const { lookup, calls } = heldLookup();
    const cache = new NameCache({ ipFamilies: ['ipv4', 'ipv6'], lookup, clock: new FakeClock() });
    cache.setNames(['198.18.0.1', 'fd00::1']);
    assert.deepEqual(cache.answer('198.18.0.1'), { ips: ['198.18.0.1'], stale: false });
    assert.deepEqual(cache.answer('fd00::1'), { ips: ['fd00::1'], stale: false });
    assert.equal(calls.length, 0);
    assert.equal(cache.resolves('198.18.0.1'), true);
    cache.stop();
  });

  test('a dual-stack name gives both families; ipFamilies keeps only those asked for', async () => {
    const both = heldLookup();
    const clock = new FakeClock();
    const cache = new NameCache({ ipFamilies: ['ipv4', 'ipv6'], lookup: both.lookup, clock });
    cache.setNames(['dual.test']);
    assert.deepEqual(cache.answer('dual.test'), { pending: true });
    both.calls[0]?.answer(['198.18.0.7', 'fd00::7', '198.18.0.7']);
    await settle();
    assert.deepEqual(cache.answer('dual.test'), { ips: ['198.18.0.7', 'fd00::7'], stale: false });
    cache.stop();

    const v6 = heldLookup();
    const only6 = new NameCache({ ipFamilies: ['ipv6'], lookup: v6.lookup, clock });
    only6.setNames(['dual.test', 'v4only.test']);
    v6.calls[0]?.answer(['198.18.0.7', 'fd00::7']);
    v6.calls[1]?.answer(['198.18.0.8']);
    await settle();
    assert.deepEqual(only6.answer('dual.test'), { ips: ['fd00::7'], stale: false });
    assert.deepEqual(only6.answer('v4only.test'), { error: 'ENODATA' });
    only6.stop();
  });

  test('at most `parallel` lookups run, and a hung one is given up after its timeout', async () => {
    const { lookup, calls } = heldLookup();
    const clock = new FakeClock();
    const cache = new NameCache({
      ipFamilies: ['ipv4'],
      lookup,
      clock,
      parallel: 2,
      timeoutMs: 5000,
    });
    cache.setNames(['a.test', 'b.test', 'c.test']);
    assert.deepEqual(
      calls.map((c) => c.host),
      ['a.test', 'b.test'],
    );
    await clock.advance(5000);
    // Both gave up: an error now, but their threads are still busy, so c.test waits.
    assert.deepEqual(cache.answer('a.test'), { error: 'ETIMEOUT' });
    assert.equal(calls.length, 2);
    calls[0]?.answer(['198.18.0.1']);
    await settle();
    // The late answer is not taken (the name timed out); its thread is free for c.test.
    assert.deepEqual(cache.answer('a.test'), { error: 'ETIMEOUT' });
    assert.deepEqual(
      calls.map((c) => c.host),
      ['a.test', 'b.test', 'c.test'],
    );
    cache.stop();
  });

  test('a failing resolver: the last good answer is probed for staleMs, logged once, then an error', async () => {
    const { lookup, calls } = heldLookup();
    const clock = new FakeClock();
    const log = collectingLogger();
    const cache = new NameCache({
      ipFamilies: ['ipv4'],
      lookup,
      clock,
      refreshMs: 1000,
      staleMs: 10_000,
      logger: log.logger,
    });
    cache.setNames(['node.test']);
    calls[0]?.answer(['198.18.0.9']);
    await settle();
    const before = cache.version;
    for (let i = 1; i <= 5; i++) {
      await clock.advance(1000);
      calls[i]?.fail('EAI_AGAIN');
      await settle();
    }
    assert.deepEqual(cache.answer('node.test'), { ips: ['198.18.0.9'], stale: true });
    assert.equal(cache.resolves('node.test'), false);
    assert.ok(cache.version > before, 'a stale answer is a change cycles must see');
    assert.equal(log.lines.filter((l) => l.msg.includes('last good answer')).length, 1);
    for (let i = 6; i <= 12; i++) {
      await clock.advance(1000);
      calls[i]?.fail('EAI_AGAIN');
      await settle();
    }
    assert.deepEqual(cache.answer('node.test'), { error: 'EAI_AGAIN' });
    assert.ok(log.lines.some((l) => l.msg.includes('no longer probed')));
    cache.stop();
  });

  test('settled() resolves when every name has a first outcome, or at its bound', async () => {
    const { lookup, calls } = heldLookup();
    const clock = new FakeClock();
    const cache = new NameCache({ ipFamilies: ['ipv4'], lookup, clock });
    cache.setNames(['a.test', 'b.test']);
    let done = false;
    void cache.settled(60_000).then(() => {
      done = true;
    });
    calls[0]?.answer(['198.18.0.1']);
    await settle();
    assert.equal(done, false);
    calls[1]?.fail('ENOTFOUND');
    await settle();
    assert.equal(done, true);

    cache.setNames(['a.test', 'b.test', 'never.test']);
    let bounded = false;
    void cache.settled(2000).then(() => {
      bounded = true;
    });
    await clock.advance(2000);
    assert.equal(bounded, true);
    cache.stop();
  });

  test('localhost resolves through the system resolver to loopback', async () => {
    const cache = new NameCache({ ipFamilies: ['ipv4', 'ipv6'] });
    cache.setNames(['localhost']);
    await cache.settled(10_000);
    cache.stop();
    const answer = cache.answer('localhost');
    assert.ok('ips' in answer, JSON.stringify(answer));
    for (const ip of answer.ips) {
      assert.ok(ip === '::1' || (isIP(ip) === 4 && ip.startsWith('127.')), ip);
    }
  });

  test('a real failed lookup gives its code (in a namespace with no route out)', async (t) => {
    const ns = await createNetns('names');
    t.after(() => ns.close());
    const { code, stdout, stderr } = await ns.runNode('test/fixtures/probe-names.ts', [
      'nothing.invalid',
      '::1',
    ]);
    assert.equal(code, 0, stderr);
    const answers = JSON.parse(stdout) as Record<string, { ips?: string[]; error?: string }>;
    assert.match(answers['nothing.invalid']?.error ?? '', /^E[A-Z0-9_]+$/, stdout);
    assert.deepEqual(answers['::1'], { ips: ['::1'], stale: false });
  });
});
