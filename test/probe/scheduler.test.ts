import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressPacer } from '../../src/probe/pacing.js';
import {
  type CycleStats,
  DEFAULT_TICK_MS,
  interleaveByNode,
  PROBE_GRACE_MS,
  Scheduler,
  SchedulerError,
  type SchedulerOptions,
} from '../../src/probe/scheduler.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { type Target, targetKey } from '../../src/targets/types.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const OPEN: ProbeResult = { state: 'open', durationSeconds: 0.001 };

const nodeIps = new Map<string, string>();
/** Each node its own IP, as in a cluster: pacing is per IP. */
function ipOf(node: string): string {
  let ip = nodeIps.get(node);
  if (ip === undefined) {
    const n = nodeIps.size + 1;
    ip = `198.18.${n >> 8}.${n & 255}`;
    nodeIps.set(node, ip);
  }
  return ip;
}

function target(node: string, port: number): Target {
  const ip = ipOf(node);
  const base = { vantage: 'central', node, address: ip, ip, protocol: 'tcp' as const };
  return {
    ...base,
    key: targetKey({ ...base, port }),
    port,
    category: 'fixed',
    component: 'test',
    portName: `port-${port}`,
    scope: 'internal',
    required: true,
    expected: 'open',
  };
}

/** `count` targets on `nodes` nodes, listed node by node as the planner lists them. */
function targets(nodes: number, portsPerNode: number): Target[] {
  const list: Target[] = [];
  for (let n = 0; n < nodes; n++) {
    for (let p = 0; p < portsPerNode; p++) list.push(target(`node-${n}`, 30000 + p));
  }
  return list;
}

interface Call {
  readonly target: Target;
  readonly timeoutMs: number;
  readonly startedAt: number;
  finishedAt?: number;
  resolve(result?: ProbeResult): void;
  reject(error: unknown): void;
}

/**
 * A probe function that records each start and settles when the test says so, or by
 * itself after `durationMs` of fake time when that is set.
 */
class FakeProbe {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  durationMs: ((call: Call) => number | undefined) | undefined;
  constructor(private readonly clock: FakeClock) {}

  readonly probe = (target: Target, timeoutMs: number): Promise<ProbeResult> => {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<ProbeResult>((resolve, reject) => {
      let settled = false;
      const call: Call = {
        target,
        timeoutMs,
        startedAt: this.clock.monotonic(),
        resolve: (result = OPEN) => {
          if (settled) return;
          settled = true;
          this.inFlight--;
          call.finishedAt = this.clock.monotonic();
          resolve(result);
        },
        reject: (error) => {
          if (settled) return;
          settled = true;
          this.inFlight--;
          call.finishedAt = this.clock.monotonic();
          reject(error);
        },
      };
      this.calls.push(call);
      const duration = this.durationMs?.(call);
      if (duration === 0) call.resolve();
      else if (duration !== undefined) void this.clock.sleep(duration).then(() => call.resolve());
    });
  };

  pending(): Call[] {
    return this.calls.filter((c) => c.finishedAt === undefined);
  }

  startsOf(from: number, to = this.calls.length): number[] {
    return this.calls.slice(from, to).map((c) => c.startedAt);
  }
}

interface Rig {
  readonly clock: FakeClock;
  readonly fake: FakeProbe;
  readonly scheduler: Scheduler<Target>;
  readonly results: { target: Target; result: ProbeResult; finishedAtMs: number }[];
  readonly cycles: CycleStats[];
  readonly cycleTargets: (readonly Target[])[];
}

function rig(options: Partial<SchedulerOptions<Target>> & { targets: readonly Target[] }): Rig {
  const clock = new FakeClock();
  const fake = new FakeProbe(clock);
  const results: Rig['results'] = [];
  const cycles: CycleStats[] = [];
  const cycleTargets: (readonly Target[])[] = [];
  const scheduler = new Scheduler<Target>({
    intervalMs: 1000,
    timeoutMs: 200,
    concurrency: 1000,
    clock,
    // Pacing has tests of its own below; here every IP may take all it is sent.
    pacer: new AddressPacer({ burstInFlight: Number.POSITIVE_INFINITY }),
    probe: fake.probe,
    onResult: (target, result, finishedAtMs) => results.push({ target, result, finishedAtMs }),
    onCycleStart: (list) => {
      cycleTargets.push(list);
    },
    onCycleEnd: (stats) => cycles.push(stats),
    ...options,
  });
  scheduler.setTargets(options.targets);
  return { clock, fake, scheduler, results, cycles, cycleTargets };
}

/** Stops the scheduler, moving fake time on so that probes in flight can finish. */
async function stopAndDrain({ clock, scheduler }: Rig): Promise<void> {
  const stopping = scheduler.stop();
  await clock.advance(10_000);
  await stopping;
}

describe('Scheduler', () => {
  test('spreads the starts of a cycle evenly over the interval less one timeout', async () => {
    const r = rig({ targets: targets(10, 1) });
    const { clock, fake, scheduler, cycles } = r;
    fake.durationMs = () => 5;
    scheduler.start();
    await clock.advance(999);
    // Window 1000 - 200 = 800 ms for 10 targets: one start every 80 ms, from the cycle start.
    assert.deepEqual(fake.startsOf(0), [0, 80, 160, 240, 320, 400, 480, 560, 640, 720]);
    assert.equal(cycles.length, 1);
    assert.equal(cycles[0]?.overran, false);
    assert.equal(cycles[0]?.probes, 10);
    await clock.advance(1000);
    assert.deepEqual(
      fake.startsOf(10),
      [1000, 1080, 1160, 1240, 1320, 1400, 1480, 1560, 1640, 1720],
    );
    await stopAndDrain(r);
  });

  test('launches many targets in ticks, each start within one tick of its due time', async () => {
    const count = 20_000;
    const intervalMs = 15_000;
    const timeoutMs = 2_000;
    const r = rig({
      targets: targets(100, count / 100),
      intervalMs,
      timeoutMs,
      concurrency: 256,
    });
    const { clock, fake, scheduler, cycles } = r;
    let mostSleeps = 0;
    fake.durationMs = () => {
      mostSleeps = Math.max(mostSleeps, clock.pendingSleeps);
      return 0;
    };
    scheduler.start();
    await clock.advance(intervalMs - 1);
    assert.equal(cycles.length, 1);
    assert.equal(fake.calls.length, count);
    const stepMs = (intervalMs - timeoutMs) / count;
    fake.calls.forEach((call, i) => {
      const dueAt = i * stepMs;
      assert.ok(
        call.startedAt >= dueAt && call.startedAt <= dueAt + DEFAULT_TICK_MS,
        `probe ${i} due at ${dueAt} started at ${call.startedAt}`,
      );
    });
    // One wake-up per tick, not one timer per probe.
    const distinctStarts = new Set(fake.startsOf(0)).size;
    assert.ok(
      distinctStarts <= (intervalMs - timeoutMs) / DEFAULT_TICK_MS + 1,
      `${distinctStarts}`,
    );
    assert.ok(mostSleeps <= 1, `at most one pending timer, saw ${mostSleeps}`);
    await stopAndDrain(r);
  });

  test('never has more probes in flight than the concurrency allows, and runs late when full', async () => {
    const r = rig({
      targets: targets(4, 25),
      intervalMs: 1000,
      timeoutMs: 100,
      concurrency: 3,
    });
    const { clock, fake, scheduler, cycles } = r;
    // 100 probes of 50 ms each over 900 ms would want about 6 in flight.
    fake.durationMs = () => 50;
    scheduler.start();
    await clock.advance(3000);
    assert.equal(fake.maxInFlight, 3);
    assert.ok(cycles.length >= 1);
    assert.equal(cycles[0]?.probes, 100);
    // 100 probes x 50 ms / 3 slots = at least 1667 ms: the cycle overran and said so.
    assert.equal(cycles[0]?.overran, true);
    assert.ok((cycles[0]?.durationSeconds ?? 0) > 1);
    await stopAndDrain(r);
  });

  test('a long cycle delays the next to its end, and the one after is back on the interval', async () => {
    const r = rig({
      targets: [target('a', 1), target('b', 2)],
      intervalMs: 1000,
      timeoutMs: 500,
      concurrency: 1,
    });
    const { clock, fake, scheduler, cycles } = r;
    // The first probe takes 1200 ms; the second, due at 250 ms, waits for its slot.
    fake.durationMs = (call) => (fake.calls.indexOf(call) === 0 ? 1200 : 10);
    scheduler.start();
    await clock.advance(1100);
    assert.equal(fake.calls.length, 1, 'the next cycle must not start while this one runs');
    await clock.advance(200);
    assert.deepEqual(fake.startsOf(0, 2), [0, 1200]);
    assert.equal(cycles.length, 1);
    assert.equal(cycles[0]?.overran, true);
    assert.equal(cycles[0]?.durationSeconds, 1.21);
    // Cycle 2 starts when cycle 1 ended (1210), cycle 3 one interval after that.
    await clock.advance(2000);
    assert.deepEqual(fake.startsOf(2, 6), [1210, 1460, 2210, 2460]);
    assert.equal(cycles[1]?.overran, false);
    assert.equal(fake.maxInFlight, 1);
    await stopAndDrain(r);
  });

  test('setTargets during a cycle applies at the next cycle only', async () => {
    const before = targets(4, 1);
    const after = [target('new-a', 7), target('new-b', 8)];
    const r = rig({ targets: before });
    const { clock, fake, scheduler, cycleTargets } = r;
    fake.durationMs = () => 5;
    scheduler.start();
    await clock.advance(250);
    assert.equal(fake.calls.length, 2);
    scheduler.setTargets(after);
    await clock.advance(749);
    const firstCycle = fake.calls.slice(0, 4).map((c) => c.target.key);
    assert.deepEqual(new Set(firstCycle), new Set(before.map((t) => t.key)));
    assert.equal(fake.calls.length, 4);
    await clock.advance(1000);
    const secondCycle = fake.calls.slice(4).map((c) => c.target.key);
    assert.deepEqual(new Set(secondCycle), new Set(after.map((t) => t.key)));
    assert.equal(secondCycle.length, 2);
    assert.deepEqual(
      cycleTargets.map((list) => list.length),
      [4, 2],
    );
    await stopAndDrain(r);
  });

  test('stop() waits for the probes in flight, then nothing more starts', async () => {
    const r = rig({ targets: targets(10, 1) });
    const { clock, fake, scheduler, results } = r;
    scheduler.start();
    await clock.advance(100);
    assert.equal(fake.calls.length, 2);
    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    await clock.advance(50);
    assert.equal(stopped, false, 'stop() must wait for the probes in flight');
    for (const call of fake.pending()) call.resolve();
    await stopping;
    assert.equal(results.length, 2);
    await clock.advance(10_000);
    assert.equal(fake.calls.length, 2);
    assert.equal(clock.pendingSleeps, 0, 'no timer left behind');
    assert.equal(scheduler.ready, false);
    await assert.rejects(scheduler.runOnce(), { code: 'SCHEDULER_STOPPED' });
    assert.throws(() => scheduler.start(), { code: 'SCHEDULER_STOPPED' });
  });

  test('stop() between cycles resolves at once', async () => {
    const r = rig({ targets: targets(2, 1) });
    const { clock, fake, scheduler, cycles } = r;
    fake.durationMs = () => 5;
    scheduler.start();
    await clock.advance(900);
    assert.equal(cycles.length, 1);
    await scheduler.stop();
    await clock.advance(5000);
    assert.equal(fake.calls.length, 2);
    assert.equal(clock.pendingSleeps, 0);
  });

  test('a probe that never settles is given up as an error after its deadline', async () => {
    const r = rig({ targets: [target('a', 1)] });
    const { clock, fake, scheduler, results } = r;
    scheduler.start();
    await settle();
    assert.equal(fake.calls.length, 1);
    const stopping = scheduler.stop();
    await clock.advance(200 + PROBE_GRACE_MS);
    await stopping;
    assert.equal(results.length, 1);
    assert.equal(results[0]?.result.state, 'error');
    assert.equal(results[0]?.result.durationSeconds, (200 + PROBE_GRACE_MS) / 1000);
    // Its late answer is dropped, not reported twice.
    fake.calls[0]?.resolve();
    await settle();
    assert.equal(results.length, 1);
  });

  test('runOnce probes everything at once, as far as the concurrency allows', async () => {
    const r = rig({ targets: targets(6, 5), concurrency: 4 });
    const { clock, fake, scheduler, results } = r;
    const once = scheduler.runOnce();
    await settle();
    assert.equal(fake.calls.length, 4);
    while (fake.pending().length > 0) {
      assert.ok(fake.inFlight <= 4);
      fake.pending()[0]?.resolve();
      await settle();
    }
    const stats = await once;
    assert.equal(stats.probes, 30);
    assert.equal(stats.overran, false);
    assert.equal(fake.maxInFlight, 4);
    assert.equal(results.length, 30);
    // No time passed: nothing waited for a spread slot.
    assert.ok(fake.calls.every((c) => c.startedAt === 0));
    assert.equal(clock.monotonic(), 0);
    assert.equal(scheduler.ready, true);
  });

  test('runOnce with room for all starts every probe at once', async () => {
    const r = rig({ targets: targets(10, 10) });
    const { clock, fake, scheduler } = r;
    const once = scheduler.runOnce();
    await settle();
    assert.equal(fake.inFlight, 100);
    assert.equal(clock.monotonic(), 0);
    for (const call of fake.pending()) call.resolve();
    const stats = await once;
    assert.equal(stats.probes, 100);
  });

  test('spread: false makes the background cycles run as fast as the cap allows', async () => {
    const r = rig({ targets: targets(5, 2), spread: false });
    const { clock, fake, scheduler } = r;
    fake.durationMs = () => 10;
    scheduler.start();
    await clock.advance(100);
    assert.deepEqual(fake.startsOf(0), new Array(10).fill(0));
    await stopAndDrain(r);
  });

  test('burstFirstCycle runs the first cycle at once, then spreads the next', async () => {
    const r = rig({ targets: targets(10, 1), burstFirstCycle: true });
    const { clock, fake, scheduler } = r;
    fake.durationMs = () => 5;
    scheduler.start();
    await clock.advance(999);
    assert.deepEqual(fake.startsOf(0), new Array(10).fill(0));
    await clock.advance(1000);
    assert.deepEqual(
      fake.startsOf(10),
      [1000, 1080, 1160, 1240, 1320, 1400, 1480, 1560, 1640, 1720],
    );
    await stopAndDrain(r);
  });

  test('bursting: while a burst cycle runs; not in a spread one, nor between cycles', async () => {
    const r = rig({ targets: targets(10, 1), burstFirstCycle: true });
    const { clock, fake, scheduler } = r;
    fake.durationMs = () => 5;
    assert.equal(scheduler.bursting, false, 'before the first cycle');
    scheduler.start();
    await clock.advance(1);
    assert.equal(fake.inFlight, 10);
    assert.equal(scheduler.bursting, true, 'the first cycle, in flight');
    await clock.advance(998);
    assert.equal(scheduler.bursting, false, 'after it ended');
    await clock.advance(101);
    assert.ok(fake.calls.length > 10, 'the second cycle has started');
    assert.equal(scheduler.bursting, false, 'a spread cycle');
    await stopAndDrain(r);
    const oneShot = rig({ targets: targets(3, 1), spread: false });
    oneShot.fake.durationMs = () => 5;
    const pass = oneShot.scheduler.runOnce();
    await oneShot.clock.advance(1);
    assert.equal(oneShot.scheduler.bursting, true, 'a pass that is not spread');
    await oneShot.clock.advance(10);
    await pass;
    assert.equal(oneShot.scheduler.bursting, false);
  });

  test('a probe that throws or rejects is reported as state error, and the cycle goes on', async () => {
    const clock = new FakeClock();
    const results: ProbeResult[] = [];
    let calls = 0;
    const scheduler = new Scheduler<Target>({
      intervalMs: 1000,
      timeoutMs: 200,
      concurrency: 10,
      clock,
      probe: async (t) => {
        calls++;
        if (t.port === 1) throw Object.assign(new Error('boom'), { code: 'EMFILE' });
        if (t.port === 2) return Promise.reject(new Error('went wrong'));
        return OPEN;
      },
      onResult: (_t, result) => results.push(result),
    });
    const throwsAtOnce = new Scheduler({
      intervalMs: 1000,
      timeoutMs: 200,
      concurrency: 10,
      clock,
      probe: () => {
        throw new Error('synchronous');
      },
      onResult: (_t, result) => results.push(result),
    });
    scheduler.setTargets([target('a', 1), target('b', 2), target('c', 3)]);
    throwsAtOnce.setTargets([target('d', 4)]);
    const stats = await scheduler.runOnce();
    await throwsAtOnce.runOnce();
    assert.equal(calls, 3);
    assert.equal(stats.probes, 3);
    const byError = results.map((r) => [r.state, r.error]).sort();
    assert.deepEqual(byError, [
      ['error', 'EMFILE'],
      ['error', 'synchronous'],
      ['error', 'went wrong'],
      ['open', undefined],
    ]);
  });

  test('a throwing result handler does not stop the cycle', async () => {
    const clock = new FakeClock();
    let seen = 0;
    const scheduler = new Scheduler({
      intervalMs: 1000,
      timeoutMs: 200,
      concurrency: 2,
      clock,
      probe: async () => OPEN,
      onResult: () => {
        seen++;
        throw new Error('store broke');
      },
    });
    scheduler.setTargets(targets(3, 2));
    const stats = await scheduler.runOnce();
    assert.equal(stats.probes, 6);
    assert.equal(seen, 6);
  });

  test('ready flips once the first cycle has finished', async () => {
    const r = rig({ targets: targets(3, 1) });
    const { clock, fake, scheduler, cycles } = r;
    fake.durationMs = () => 100;
    assert.equal(scheduler.ready, false);
    scheduler.start();
    await clock.advance(600);
    assert.equal(fake.calls.length, 3);
    assert.equal(scheduler.ready, false, 'the last probe is still in flight');
    await clock.advance(100);
    assert.equal(cycles.length, 1);
    assert.equal(scheduler.ready, true);
    await stopAndDrain(r);
  });

  test('reports results with wall-clock finish times, and awaits the cycle start hook', async () => {
    const clock = new FakeClock(0, 1_000_000);
    const finished: number[] = [];
    let hookDone = false;
    const scheduler = new Scheduler({
      intervalMs: 1000,
      timeoutMs: 200,
      concurrency: 10,
      clock,
      probe: async () => {
        assert.equal(hookDone, true, 'probes start after the cycle start hook resolved');
        await clock.sleep(30);
        return OPEN;
      },
      onResult: (_t, _r, finishedAtMs) => finished.push(finishedAtMs),
      onCycleStart: async () => {
        await clock.sleep(50);
        hookDone = true;
      },
    });
    scheduler.setTargets([target('a', 1)]);
    const once = scheduler.runOnce();
    await clock.advance(100);
    await once;
    assert.deepEqual(finished, [1_000_080]);
  });

  test('interleaves targets across nodes in a stable order', async () => {
    const r = rig({ targets: targets(5, 6) });
    const { fake, scheduler } = r;
    fake.durationMs = () => 0;
    await scheduler.runOnce();
    const nodes = fake.calls.map((c) => c.target.node);
    // Equal counts: any five consecutive probes hit five different nodes.
    for (let i = 0; i + 5 <= nodes.length; i++) {
      assert.equal(new Set(nodes.slice(i, i + 5)).size, 5, `probes ${i}-${i + 4}: ${nodes}`);
    }
    await scheduler.runOnce();
    assert.deepEqual(
      fake.calls.slice(30).map((c) => c.target.key),
      fake.calls.slice(0, 30).map((c) => c.target.key),
      'the same order every cycle',
    );
  });
});

describe('interleaveByNode', () => {
  test('depends on the target set, not the order it came in', () => {
    const list = targets(7, 9);
    const reversed = [...list].reverse();
    const shuffled = list.filter((_, i) => i % 2 === 0).concat(list.filter((_, i) => i % 2 === 1));
    const keys = (ts: readonly Target[]) => interleaveByNode(ts).map((t) => t.key);
    assert.deepEqual(keys(reversed), keys(list));
    assert.deepEqual(keys(shuffled), keys(list));
    assert.equal(new Set(keys(list)).size, list.length);
  });

  test('spreads a node with many ports across the whole cycle', () => {
    const list = [...targets(4, 3), ...Array.from({ length: 40 }, (_, p) => target('big', p + 1))];
    const order = interleaveByNode(list);
    const nodes = 5;
    const seen = new Map<string, number>();
    order.forEach((t, index) => {
      const k = seen.get(t.node) ?? 0;
      seen.set(t.node, k + 1);
      const share = order.length / (t.node === 'big' ? 40 : 3);
      // The k-th target of a node sits about k shares into the order; a plain round-robin
      // would leave the big node's last 37 ports in one burst at the end.
      const offBy = Math.abs(index - k * share);
      assert.ok(offBy <= share + nodes, `${t.node} #${k} at ${index}, expected near ${k * share}`);
    });
  });
});

describe('Scheduler options', () => {
  test('rejects bad options with a stable code naming the field and value', () => {
    const base: SchedulerOptions = {
      intervalMs: 1000,
      timeoutMs: 200,
      concurrency: 1,
      probe: async () => OPEN,
      onResult: () => {},
    };
    assert.throws(
      () => new Scheduler({ ...base, concurrency: 0 }),
      (error: unknown) =>
        error instanceof SchedulerError &&
        error.code === 'SCHEDULER_INVALID_OPTIONS' &&
        error.message === 'concurrency: expected an integer of at least 1, got 0',
    );
    assert.throws(() => new Scheduler({ ...base, intervalMs: Number.NaN }), {
      code: 'SCHEDULER_INVALID_OPTIONS',
      message: 'intervalMs: expected a positive number, got NaN',
    });
  });

  test('start() twice is an error', async () => {
    const r = rig({ targets: [] });
    const { scheduler } = r;
    scheduler.start();
    assert.throws(() => scheduler.start(), { code: 'SCHEDULER_ALREADY_STARTED' });
    await stopAndDrain(r);
  });

  test('a cycle with no targets still finishes and counts', async () => {
    const r = rig({ targets: [] });
    const { clock, scheduler, cycles } = r;
    scheduler.start();
    await clock.advance(2500);
    assert.deepEqual(
      cycles.map((c) => c.probes),
      [0, 0, 0],
    );
    assert.equal(scheduler.ready, true);
    await stopAndDrain(r);
  });
});
