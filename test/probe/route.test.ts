import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createProbePool, type ProbePool } from '../../src/probe/pool.js';
import { PROBERS } from '../../src/probe/registry.js';
import { routeProbes } from '../../src/probe/route.js';
import type { ProbeRequest, ProbeResult, Prober } from '../../src/probe/types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A prober that answers at once with `state`, so a test sees who answered. */
const answering =
  (state: ProbeResult['state']): Prober =>
  async () => ({ state, durationSeconds: 0 });

const REQUEST: ProbeRequest = { ip: '127.0.0.1', port: 1, timeoutMs: 100 };

describe('routeProbes', () => {
  test('the main thread takes probes up to the rate, the threads the rest of that second', async () => {
    let clock = 10_000;
    const route = routeProbes({
      main: answering('open'),
      pool: answering('refused'),
      mainBelowPerSecond: 3,
      now: () => clock,
      utilization: () => 0,
    });
    try {
      const first = await Promise.all(Array.from({ length: 5 }, () => route.probe(REQUEST)));
      assert.deepEqual(
        first.map((r) => r.state),
        ['open', 'open', 'open', 'refused', 'refused'],
      );
      // Half a second on, the last second still holds those five.
      clock += 500;
      assert.equal((await route.probe(REQUEST)).state, 'refused');
      // A second and more on, they are forgotten.
      clock += 1001;
      assert.equal((await route.probe(REQUEST)).state, 'open');
      assert.deepEqual({ ...route.counts }, { main: 4, pool: 3 });
    } finally {
      route.stop();
    }
  });

  test('a busy main loop sends every probe to the threads until it is idle again', async () => {
    let utilization = 0.9;
    const route = routeProbes({
      main: answering('open'),
      pool: answering('refused'),
      mainBelowPerSecond: 1000,
      utilization: () => utilization,
    });
    try {
      await sleep(250); // a sample or two
      assert.equal((await route.probe(REQUEST)).state, 'refused');
      utilization = 0.05;
      await sleep(250);
      assert.equal((await route.probe(REQUEST)).state, 'open');
    } finally {
      route.stop();
    }
  });

  test('while the main loop has work in hand, every probe goes to the threads', async () => {
    let serving = true;
    const route = routeProbes({
      main: answering('open'),
      pool: answering('refused'),
      mainBelowPerSecond: 1000,
      utilization: () => 0,
      workInHand: () => serving,
    });
    try {
      assert.equal((await route.probe(REQUEST)).state, 'refused');
      serving = false;
      assert.equal((await route.probe(REQUEST)).state, 'open');
      assert.deepEqual({ ...route.counts }, { main: 1, pool: 1 });
    } finally {
      route.stop();
    }
  });

  test('the loop blocked for 300 ms counts as busy, by the real utilisation', async () => {
    const route = routeProbes({
      main: answering('open'),
      pool: answering('refused'),
      mainBelowPerSecond: 1000,
    });
    try {
      await sleep(150);
      assert.equal((await route.probe(REQUEST)).state, 'open', 'an idle loop probes');
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // Spin: the loop does nothing else, as under a render in the loop.
      }
      await sleep(20); // the overdue sample runs first
      assert.equal((await route.probe(REQUEST)).state, 'refused', 'a busy loop does not');
      await sleep(250);
      assert.equal((await route.probe(REQUEST)).state, 'open', 'idle again');
    } finally {
      route.stop();
    }
  });
});

describe('routeProbes over the real probers', () => {
  let pool: ProbePool;
  let server: Server;
  let openPort = 0;
  let refusedPort = 0;

  before(async () => {
    pool = createProbePool({ workers: 2 });
    await pool.whenStarted();
    server = createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    openPort = (server.address() as { port: number }).port;
    const gone = createServer().listen(0, '127.0.0.1');
    await once(gone, 'listening');
    refusedPort = (gone.address() as { port: number }).port;
    gone.close();
    await once(gone, 'close');
  });

  after(async () => {
    await pool.close();
    server.close();
  });

  test('a slow pace probes on the main thread, a burst on both, with the same verdicts', async () => {
    const route = routeProbes({
      main: PROBERS.tcp,
      pool: pool.probe,
      mainBelowPerSecond: 500,
      // The test runner's own loop is not what is tested here.
      utilization: () => 0,
    });
    try {
      const slow = [];
      for (let i = 0; i < 5; i++) {
        slow.push(await route.probe({ ip: '127.0.0.1', port: openPort, timeoutMs: 2000 }));
      }
      assert.deepEqual(
        slow.map((r) => r.state),
        ['open', 'open', 'open', 'open', 'open'],
      );
      assert.deepEqual({ ...route.counts }, { main: 5, pool: 0 });

      const burst = await Promise.all(
        Array.from({ length: 1500 }, () =>
          route.probe({ ip: '127.0.0.1', port: refusedPort, timeoutMs: 2000 }),
        ),
      );
      assert.ok(
        burst.every((r) => r.state === 'refused' && r.error === 'ECONNREFUSED'),
        'every probe of the burst refused, wherever it ran',
      );
      assert.equal(route.counts.main, 500, 'the main thread took its second');
      assert.equal(route.counts.pool, 1005, 'the threads took the rest');
    } finally {
      route.stop();
    }
  });
});
