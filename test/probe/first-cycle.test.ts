/**
 * The exporter's first cycle has targets: start() waits for discovery's first snapshot
 * (at most FIRST_SNAPSHOT_WAIT_MS) before its burst cycle, so a cluster whose first
 * list takes a while is probed in full at once, not a cycle later and spread over it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import type { DiscoverySnapshot, Source } from '../../src/discovery/types.js';
import { Exporter, FIRST_SNAPSHOT_WAIT_MS } from '../../src/exporter.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { collectingLogger } from '../helpers/logger.js';

/** A source whose first snapshot comes when the test says. */
function gatedSource(): { source: Source; deliver(snapshot: DiscoverySnapshot): void } {
  let onChange: ((snapshot: DiscoverySnapshot) => void) | undefined;
  return {
    source: {
      name: 'gated',
      start: async (callback) => {
        onChange = callback;
      },
      stop: async () => {},
      status: () => ({ source: 'gated', up: onChange !== undefined }),
    },
    deliver: (snapshot) => onChange?.(snapshot),
  };
}

function snapshotWith(nodePorts: readonly number[]): DiscoverySnapshot {
  return {
    nodes: [
      {
        name: 'node-a',
        addresses: ['127.0.0.1'],
        roles: ['worker'],
        ready: true,
        kubeletVersion: 'v1.28.2',
      },
      {
        name: 'node-b',
        addresses: ['127.0.0.2'],
        roles: ['worker'],
        ready: true,
        kubeletVersion: 'v1.28.2',
      },
    ],
    nodePorts: nodePorts.map((nodePort, i) => ({
      namespace: 'supermap',
      service: `svc-${i}`,
      portName: 'http',
      servicePort: 80,
      nodePort,
      protocol: 'TCP',
      group: 'gis-environment',
      type: 'NodePort',
      trafficPolicy: 'Cluster',
    })),
    kubernetesVersion: '1.28',
  };
}

const FLAGS = ['--web.listen-address=127.0.0.1:0', '--probe.icmp=off', '--probe.interval=60s'];

describe('the exporter and discovery first snapshot', { timeout: 30_000 }, () => {
  test('a late first snapshot: the first cycle probes every target it planned', async (t) => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const open = (server.address() as { port: number }).port;
    const gated = gatedSource();
    const { logger } = collectingLogger('warn');
    const exporter = new Exporter({
      config: await loadConfig(FLAGS),
      createSource: () => gated.source,
      logger,
      version: '0.0.0-test',
    });
    t.after(() => exporter.stop());
    const cycles: number[] = [];
    const firstCycle = new Promise<void>((resolve) => {
      const setCycleDuration = exporter.metrics.setCycleDuration;
      exporter.metrics.setCycleDuration = (seconds) => {
        setCycleDuration(seconds);
        cycles.push(exporter.store.size);
        resolve();
      };
    });
    let started = false;
    const starting = exporter.start().then(() => {
      started = true;
    });
    // Discovery's first list is slow: nothing is probed meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(started, false, 'start() must wait for the first snapshot');
    assert.equal(exporter.store.size, 0);
    gated.deliver(snapshotWith([open, open + 1]));
    await starting;
    await firstCycle;
    const targets = exporter.store.targets();
    // Both nodes' catalog entries and 2 NodePorts each, all probed by the first cycle.
    assert.ok(targets.filter((target) => target.category === 'nodeport').length === 4);
    const unprobed = targets.filter((target) => exporter.store.result(target.key) === undefined);
    assert.deepEqual(
      unprobed.map((target) => target.key),
      [],
    );
    assert.equal(
      exporter.store.result(`central|node-a|127.0.0.1|127.0.0.1|tcp|${open}`)?.state,
      'open',
    );
    assert.deepEqual(cycles, [targets.length]);
  });

  test('the first cycle, a burst, probes on the threads; the idle main thread takes none', async (t) => {
    const gated = gatedSource();
    const { logger } = collectingLogger('warn');
    const exporter = new Exporter({
      // Both on: the main thread may take up to 2,500 probes a second while it is idle.
      config: await loadConfig([...FLAGS, '--probe.workers=2', '--probe.main-thread-rate=2500']),
      createSource: () => gated.source,
      logger,
      version: '0.0.0-test',
    });
    t.after(() => exporter.stop());
    const firstCycle = new Promise<void>((resolve) => {
      const setCycleDuration = exporter.metrics.setCycleDuration;
      exporter.metrics.setCycleDuration = (seconds) => {
        setCycleDuration(seconds);
        resolve();
      };
    });
    const starting = exporter.start();
    gated.deliver(snapshotWith([30001, 30002]));
    await starting;
    await firstCycle;
    // Launched in a few long loop turns, on the main thread each connect's time would
    // take in the launches after it.
    assert.deepEqual(exporter.probesRouted, { main: 0, pool: exporter.store.size });
    assert.ok(exporter.store.size > 4);
  });

  test(`no snapshot at all: probing starts after ${FIRST_SNAPSHOT_WAIT_MS / 1000} s, with a warning`, async (t) => {
    const clock = new FakeClock();
    const gated = gatedSource();
    const { logger, lines } = collectingLogger('warn');
    const exporter = new Exporter({
      config: await loadConfig(FLAGS),
      createSource: () => gated.source,
      logger,
      version: '0.0.0-test',
      clock,
    });
    t.after(() => exporter.stop());
    let started = false;
    const starting = exporter.start().then(() => {
      started = true;
    });
    // The server listens on a real socket first; then the wait is on the fake clock.
    for (let i = 0; i < 200 && clock.pendingSleeps === 0; i++) await settle();
    await clock.advance(FIRST_SNAPSHOT_WAIT_MS - 1);
    assert.equal(started, false);
    await clock.advance(1);
    for (let i = 0; i < 200 && !started; i++) await settle();
    await starting;
    assert.deepEqual(
      lines.filter((line) => line.level === 'warn').map((line) => [line.msg, line.waitedSeconds]),
      [['discovery has no snapshot yet; probing what is known meanwhile', 10]],
    );
  });
});
