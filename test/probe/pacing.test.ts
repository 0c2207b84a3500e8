/**
 * Pacing per IP: the bucket that keeps a node under the kernel's ICMP rate limit, the
 * cap on probes in flight in a burst, and the scheduler holding back one IP's probes
 * while the others go, on a fake clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressPacer, mayBeRateLimited } from '../../src/probe/pacing.js';
import { Scheduler } from '../../src/probe/scheduler.js';
import type { ProbeJob, ProbeResult } from '../../src/probe/types.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const REJECTED: ProbeResult = { state: 'rejected', durationSeconds: 0.0003, error: 'EHOSTUNREACH' };
const OPEN: ProbeResult = { state: 'open', durationSeconds: 0.0003 };

describe('AddressPacer', () => {
  test('answers the kernel may rate limit spend a token; opens, timeouts and local errors do not', () => {
    assert.equal(mayBeRateLimited(REJECTED), true);
    assert.equal(
      mayBeRateLimited({ state: 'refused', durationSeconds: 0, error: 'ECONNREFUSED' }),
      true,
    );
    assert.equal(mayBeRateLimited(OPEN), false);
    assert.equal(
      mayBeRateLimited({ state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' }),
      false,
    );
    assert.equal(
      mayBeRateLimited({
        state: 'unreachable',
        durationSeconds: 0,
        error: 'ENETUNREACH',
        local: true,
      }),
      false,
    );
  });

  test('after a burst of rejects an IP waits for its bucket; another IP does not', () => {
    const pacer = new AddressPacer({ burst: 4, refillMs: 1000 });
    for (let i = 0; i < 4; i++) {
      assert.equal(pacer.waitMs('198.18.0.1', 0), 0);
      pacer.started('198.18.0.1', 0);
      pacer.finished('198.18.0.1', REJECTED, 0);
    }
    assert.equal(pacer.waitMs('198.18.0.1', 0), 1000);
    assert.equal(pacer.waitMs('198.18.0.1', 999), 1);
    assert.equal(pacer.waitMs('198.18.0.1', 1000), 0);
    assert.equal(pacer.waitMs('198.18.0.2', 0), 0);
  });

  test('an IP whose ports answer never waits', () => {
    const pacer = new AddressPacer({ burst: 4, refillMs: 1000 });
    for (let i = 0; i < 100; i++) {
      assert.equal(pacer.waitMs('198.18.0.1', 0), 0);
      pacer.started('198.18.0.1', 0);
      pacer.finished('198.18.0.1', OPEN, 0);
    }
  });

  test('loopback is never held for ICMP (the kernel does not limit it), only capped in flight', () => {
    const pacer = new AddressPacer({ burst: 2, refillMs: 1000, burstInFlight: 3 });
    for (let i = 0; i < 10; i++) {
      pacer.started('127.0.0.5', 0);
      pacer.finished('127.0.0.5', REJECTED, 0);
    }
    assert.equal(pacer.waitMs('127.0.0.5', 0, 3), 0);
    for (let i = 0; i < 3; i++) pacer.started('127.0.0.5', 0);
    assert.equal(pacer.waitMs('127.0.0.5', 0, 3), Number.POSITIVE_INFINITY);
  });
});

describe('the scheduler with pacing', () => {
  function job(ip: string, i: number): ProbeJob {
    return { key: `${ip}|${i}`, node: ip, ip };
  }

  test('a burst paces a rejecting node to its bucket and lets the others through', async () => {
    const clock = new FakeClock();
    const started: { ip: string; at: number }[] = [];
    const scheduler = new Scheduler<ProbeJob>({
      intervalMs: 60_000,
      timeoutMs: 2000,
      concurrency: 100,
      clock,
      spread: false,
      pacer: new AddressPacer({ burst: 4, refillMs: 1000, burstInFlight: 6 }),
      probe: async (j) => {
        started.push({ ip: j.ip, at: clock.monotonic() });
        return j.ip === '198.18.0.1' ? REJECTED : OPEN;
      },
      onResult: () => {},
    });
    const jobs = [
      ...Array.from({ length: 10 }, (_, i) => job('198.18.0.1', i)),
      ...Array.from({ length: 10 }, (_, i) => job('198.18.0.2', i)),
    ];
    scheduler.setTargets(jobs);
    const run = scheduler.runOnce();
    await settle();
    // The open node: all ten at once, in slots of six. The rejecting one: a burst, then waits.
    assert.equal(started.filter((s) => s.ip === '198.18.0.2').length, 10);
    const early = started.filter((s) => s.ip === '198.18.0.1').length;
    assert.ok(early >= 4 && early <= 6, `burst of ${early}`);
    for (let t = 0; t < 20; t++) await clock.advance(1000);
    const stats = await run;
    const rejecting = started.filter((s) => s.ip === '198.18.0.1').map((s) => s.at);
    assert.equal(rejecting.length, 10);
    // After the burst, at most one a second.
    const later = rejecting.slice(early);
    for (let i = 1; i < later.length; i++) {
      assert.ok((later[i] as number) - (later[i - 1] as number) >= 1000, JSON.stringify(rejecting));
    }
    assert.equal(stats.pacedIps, 1);
    assert.ok(stats.paced > 0);
    await scheduler.stop();
  });

  test('a burst over many IPs keeps both caps, each IP in order, and ends with every probe', async () => {
    // Both limits bind: 40 IPs x 3 in flight is more than 50 slots. Probes end in a
    // scrambled order, a few at a time, so slots free on any IP, held-back ones included.
    const clock = new FakeClock();
    const ips = Array.from({ length: 40 }, (_, i) => `127.0.2.${i + 1}`);
    const jobs = ips.flatMap((ip) => Array.from({ length: 12 }, (_, i) => job(ip, i)));
    const pending: { ip: string; resolve: (result: ProbeResult) => void }[] = [];
    const inFlight = new Map<string, number>();
    const order = new Map<string, number[]>();
    let most = 0;
    let mostPerIp = 0;
    const scheduler = new Scheduler<ProbeJob>({
      intervalMs: 60_000,
      timeoutMs: 2000,
      concurrency: 50,
      clock,
      spread: false,
      pacer: new AddressPacer({ burstInFlight: 3 }),
      probe: (j) => {
        const count = (inFlight.get(j.ip) ?? 0) + 1;
        inFlight.set(j.ip, count);
        mostPerIp = Math.max(mostPerIp, count);
        most = Math.max(most, pending.length + 1);
        order.set(j.ip, [...(order.get(j.ip) ?? []), Number(j.key.split('|')[1])]);
        return new Promise((resolve) => pending.push({ ip: j.ip, resolve }));
      },
      onResult: () => {},
    });
    scheduler.setTargets(jobs);
    const run = scheduler.runOnce();
    await settle();
    let seed = 7;
    for (let round = 0; round < 2000 && pending.length > 0; round++) {
      for (let k = 0; k < 1 + (round % 4) && pending.length > 0; k++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const [done] = pending.splice(seed % pending.length, 1);
        if (!done) break;
        inFlight.set(done.ip, (inFlight.get(done.ip) ?? 1) - 1);
        done.resolve(OPEN);
      }
      await settle();
    }
    // Every probe launched (a stalled dispatch would leave the run pending forever).
    assert.equal([...order.values()].flat().length, jobs.length);
    const stats = await run;
    assert.equal(stats.probes, jobs.length);
    assert.equal(most, 50);
    assert.equal(mostPerIp, 3);
    for (const ip of ips) {
      assert.deepEqual(order.get(ip), [...Array(12).keys()].sort(), ip);
    }
    await scheduler.stop();
  });

  test('a spread cycle holds a rejecting node back only until its window ends', async () => {
    const clock = new FakeClock();
    const started: number[] = [];
    const scheduler = new Scheduler<ProbeJob>({
      intervalMs: 5000,
      timeoutMs: 1000,
      concurrency: 100,
      clock,
      pacer: new AddressPacer({ burst: 2, refillMs: 1000 }),
      probe: async () => {
        started.push(clock.monotonic());
        return REJECTED;
      },
      onResult: () => {},
    });
    scheduler.setTargets(Array.from({ length: 20 }, (_, i) => job('198.18.0.3', i)));
    scheduler.start();
    for (let t = 0; t < 50; t++) await clock.advance(100);
    // The window is 4 s: all 20 started by then, though the bucket alone would take 18 s.
    assert.equal(started.filter((at) => at <= 4000).length, 20);
    await scheduler.stop();
  });
});
