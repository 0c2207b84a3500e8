import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { DiscoverySnapshot } from '../../src/discovery/types.js';
import { createMetrics, METRICS_CONTENT_TYPE } from '../../src/metrics/collector.js';
import { METRICS, type MetricSpec, RESERVED_LABELS } from '../../src/metrics/names.js';
import { RenderThread } from '../../src/metrics/render-thread.js';
import type { ResultStore } from '../../src/results/store.js';
import { createLogger } from '../../src/util/log.js';
import { collectingLogger } from '../helpers/logger.js';
import { renderedTargetFamilies, servedTargetFamilies } from '../helpers/scrape.js';
import { newStore } from '../helpers/store.js';
import { catalogTarget, nodePortTarget } from '../results/targets.js';
import { parseExposition } from './exposition.js';

const GOLDEN = new URL('./testdata/metrics.golden.prom', import.meta.url);
const PROMTOOL = '/usr/bin/promtool';
const T0 = 1_700_000_000_000;

/** Every kind of target and all five states; fixed times, so the output is stable. */
function goldenStore(): ResultStore {
  const store = newStore();
  const apiserver = catalogTarget();
  const registry = catalogTarget({
    port: 5000,
    category: 'default',
    component: 'registry',
    portName: 'image-registry',
  });
  const custom = catalogTarget({
    node: 'node-2',
    address: '10.0.0.2',
    port: 8443,
    category: 'custom',
    component: 'a "quoted" C:\\path\nsecond line',
    portName: 'my-port',
    required: false,
  });
  const gis = nodePortTarget();
  const basic = nodePortTarget({
    node: 'node-2',
    address: '10.0.0.2',
    port: 31100,
    component: 'imanager-web',
    portName: '8080',
    nodePort: { namespace: 'imanager', service: 'imanager-web', group: 'basic-service' },
  });
  const exposed = catalogTarget({
    vantage: 'external',
    port: 2379,
    component: 'etcd',
    portName: 'etcd-client',
    expected: 'closed',
  });
  const unprobed = catalogTarget({ node: 'node-3', address: 'fd00::3', port: 10250 });
  store.setTargets([apiserver, registry, custom, gis, basic, exposed, unprobed]);
  store.record(apiserver, { state: 'open', durationSeconds: 0.000734 }, T0);
  store.record(
    registry,
    { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' },
    T0 - 60_000,
  );
  store.record(custom, { state: 'timeout', durationSeconds: 2 }, T0 - 3_600_000);
  store.record(gis, { state: 'unreachable', durationSeconds: 0.5, error: 'EHOSTUNREACH' }, T0 + 1);
  store.record(basic, { state: 'error', durationSeconds: 0, error: 'EMFILE' }, T0 + 123);
  store.record(exposed, { state: 'timeout', durationSeconds: 2 }, T0);
  // The state did not change: the last change stays at T0.
  store.record(apiserver, { state: 'open', durationSeconds: 0.0011 }, T0 + 15_000);
  return store;
}

/** What discovery found, for the node and NodePort families. */
const DISCOVERED: DiscoverySnapshot = {
  nodes: [
    {
      name: 'node-1',
      addresses: ['10.0.0.1'],
      roles: ['worker', 'control-plane', 'etcd'],
      ready: true,
      kubeletVersion: 'v1.28.2',
    },
    {
      name: 'node-2',
      addresses: ['10.0.0.2'],
      roles: ['worker'],
      ready: false,
      kubeletVersion: '',
    },
  ],
  nodePorts: [
    {
      namespace: 'imanager',
      service: 'imanager-web',
      portName: '8080',
      servicePort: 8080,
      nodePort: 31100,
      protocol: 'TCP',
      group: 'basic-service',
      type: 'NodePort',
      trafficPolicy: 'Cluster',
    },
    {
      namespace: 'imanager-gis',
      service: 'gisapp-1a2b',
      portName: 'http',
      servicePort: 8090,
      nodePort: 29999,
      protocol: 'TCP',
      group: 'gis-environment',
      type: 'LoadBalancer',
      trafficPolicy: 'Local',
      readyNodes: ['node-1'],
    },
  ],
};

/** A store with everything the other small families read too: ICMP, resolutions. */
function fullStore(): ResultStore {
  const store = goldenStore();
  store.recordIcmp(
    { node: 'node-1', address: '10.0.0.1', ip: '10.0.0.1' },
    { up: true, rttSeconds: 0.00042 },
    T0,
  );
  store.recordIcmp({ node: 'node-2', address: '10.0.0.2', ip: '10.0.0.2' }, { up: false }, T0);
  store.setResolutions([
    { vantage: 'central', node: 'node-1', address: '10.0.0.1', up: true },
    { vantage: 'central', node: 'node-3', address: 'node-3.cluster.test', up: false },
  ]);
  return store;
}

function fullMetrics(
  store = fullStore(),
  snapshot: () => DiscoverySnapshot | undefined = () => DISCOVERED,
) {
  const metrics = createMetrics({
    version: '1.2.3-test',
    store,
    snapshot,
    nodePortRange: () => ({ min: 30000, max: 32767 }),
    sourceStatus: () => [
      { source: 'kubernetes', up: true, lastSuccessSeconds: 1_700_000_000 },
      { source: 'static', up: false },
    ],
  });
  metrics.countProbe('tcp', 'open');
  metrics.countProbe('tcp', 'timeout');
  metrics.countProbe('icmp', 'open');
  metrics.setCycleDuration(12.5);
  metrics.setIcmpEnabled(true);
  metrics.setConfigReloadSuccessful(false);
  metrics.setConfigReloadSuccessTime(1_700_000_100);
  metrics.setWebCertificateExpiry(1_800_000_000);
  return metrics;
}

function promtoolCheck(text: string) {
  assert.ok(
    existsSync(PROMTOOL),
    `${PROMTOOL} is missing: install the Debian package "prometheus" (apt-get install prometheus)`,
  );
  return spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
}

describe('per-target families', () => {
  it('match the golden file, as served at /metrics', async () => {
    const text = await servedTargetFamilies(goldenStore());
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
    assert.equal(text, readFileSync(GOLDEN, 'utf8'));
  });

  it('pass promtool check metrics', async () => {
    const text = await renderedTargetFamilies(goldenStore());
    const result = promtoolCheck(text);
    assert.equal(`${result.stdout}${result.stderr}`, '');
    assert.equal(result.status, 0);
  });

  it('have headers and no series while nothing is probed', async () => {
    const store = newStore();
    store.setTargets([catalogTarget()]);
    const { types, samples } = parseExposition(await renderedTargetFamilies(store));
    assert.equal(samples.length, 0);
    assert.deepEqual(
      [...types.keys()],
      [
        'imanager_port_up',
        'imanager_port_state',
        'imanager_port_connect_duration_seconds',
        'imanager_port_last_change_timestamp_seconds',
      ],
    );
  });

  it('read back the escaped label values exactly', async () => {
    const { samples } = parseExposition(await renderedTargetFamilies(goldenStore()));
    const custom = samples.find(
      (s) => s.name === 'imanager_port_up' && s.labels.category === 'custom',
    );
    assert.equal(custom?.labels.component, 'a "quoted" C:\\path\nsecond line');
  });

  it('spell values that are not finite the way the text format does', async () => {
    const store = newStore();
    const t = catalogTarget();
    store.setTargets([t]);
    store.record(t, { state: 'error', durationSeconds: Number.NaN }, T0);
    assert.match(await renderedTargetFamilies(store), /_duration_seconds\{[^}]*\} NaN\n/);
    store.record(t, { state: 'error', durationSeconds: Number.POSITIVE_INFINITY }, T0);
    assert.match(await renderedTargetFamilies(store), /_duration_seconds\{[^}]*\} \+Inf\n/);
  });
});

describe('createMetrics().render', () => {
  it('passes promtool check metrics with no findings, process metrics included', async () => {
    const text = (await fullMetrics().render()).toString('utf8');
    assert.match(text, /^process_resident_memory_bytes /m);
    const result = promtoolCheck(text);
    assert.equal(`${result.stdout}${result.stderr}`, '');
    assert.equal(result.status, 0);
  });

  it('exports every family of the contract with exactly its type and labels', async () => {
    const { types, samples } = parseExposition((await fullMetrics().render()).toString('utf8'));
    for (const [name, spec] of Object.entries(METRICS) as [string, MetricSpec][]) {
      assert.equal(types.get(name), spec.type, `# TYPE of ${name}`);
      const series = samples.filter((s) => s.name === name);
      assert.ok(series.length > 0, `${name} has series`);
      const optional = new Set(spec.optionalLabels ?? []);
      const always = spec.labels.filter((l) => !optional.has(l));
      for (const s of series) {
        const labels = Object.keys(s.labels);
        const expected = labels.length === always.length ? always : spec.labels;
        assert.deepEqual(labels, [...expected], `labels of ${name}`);
      }
    }
    for (const name of types.keys()) {
      if (name.startsWith('imanager_')) assert.ok(name in METRICS, `${name} is in the contract`);
    }
  });

  it('has no certificate expiry series without a certificate (a 0 would read as expired)', async () => {
    const metrics = fullMetrics();
    metrics.setWebCertificateExpiry(undefined);
    const { types, samples } = parseExposition((await metrics.render()).toString('utf8'));
    assert.ok(!types.has('imanager_web_certificate_expiry_timestamp_seconds'));
    assert.ok(!samples.some((s) => s.name === 'imanager_web_certificate_expiry_timestamp_seconds'));
    metrics.setWebCertificateExpiry(1_800_000_001);
    const again = parseExposition((await metrics.render()).toString('utf8')).samples;
    assert.equal(
      again.find((s) => s.name === 'imanager_web_certificate_expiry_timestamp_seconds')?.value,
      '1800000001',
    );
  });

  it('gives NodePort targets, and only them, k8s_namespace, k8s_service and group', async () => {
    const { samples } = parseExposition((await fullMetrics().render()).toString('utf8'));
    const up = samples.filter((s) => s.name === 'imanager_port_up');
    for (const s of up) {
      assert.equal(
        'k8s_service' in s.labels,
        s.labels.category === 'nodeport',
        JSON.stringify(s.labels),
      );
    }
    assert.ok(up.some((s) => s.labels.group === 'basic-service'));
  });

  it('has no family with a label Prometheus attaches (service, instance, job, namespace, pod)', async () => {
    const { samples } = parseExposition((await fullMetrics().render()).toString('utf8'));
    for (const s of samples) {
      for (const reserved of RESERVED_LABELS) {
        assert.equal(reserved in s.labels, false, `${s.name} has label ${reserved}`);
      }
    }
    for (const [name, spec] of Object.entries(METRICS) as [string, MetricSpec][]) {
      for (const reserved of RESERVED_LABELS) {
        assert.equal(spec.labels.includes(reserved), false, `${name} declares ${reserved}`);
      }
    }
  });

  it('reports what main records and what the store holds', async () => {
    const { samples } = parseExposition((await fullMetrics().render()).toString('utf8'));
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    assert.equal(value('imanager_probes_total', { prober: 'tcp', state: 'timeout' }), '1');
    assert.equal(value('imanager_probes_total', { prober: 'tcp', state: 'refused' }), '0');
    assert.equal(value('imanager_probes_total', { prober: 'icmp', state: 'open' }), '1');
    assert.equal(value('imanager_probe_cycle_duration_seconds'), '12.5');
    assert.equal(value('imanager_icmp_enabled'), '1');
    assert.equal(value('imanager_config_last_reload_successful'), '0');
    assert.equal(
      value('imanager_exporter_build_info', {
        version: '1.2.3-test',
        nodejs_version: process.versions.node,
      }),
      '1',
    );
    assert.equal(value('imanager_targets', { category: 'fixed' }), '3');
    assert.equal(value('imanager_targets', { category: 'nodeport' }), '2');
    assert.equal(value('imanager_targets', { category: 'custom' }), '1');
    assert.equal(value('imanager_discovery_up', { source: 'static' }), '0');
    assert.equal(
      value('imanager_discovery_last_success_timestamp_seconds', { source: 'kubernetes' }),
      '1700000000',
    );
    assert.equal(
      value('imanager_discovery_last_success_timestamp_seconds', { source: 'static' }),
      undefined,
    );
    assert.equal(
      value('imanager_node_info', {
        node: 'node-1',
        roles: 'control-plane,etcd,worker',
        kubelet_version: 'v1.28.2',
        ready: 'true',
      }),
      '1',
    );
    assert.equal(value('imanager_node_info', { node: 'node-2', ready: 'false' }), '1');
    assert.equal(
      value('imanager_nodeport_info', {
        k8s_namespace: 'imanager-gis',
        k8s_service: 'gisapp-1a2b',
        service_port: '8090',
        node_port: '29999',
        group: 'gis-environment',
        type: 'LoadBalancer',
        traffic_policy: 'Local',
      }),
      '1',
    );
    assert.equal(value('imanager_nodeport_in_range', { node_port: '31100' }), '1');
    assert.equal(value('imanager_nodeport_in_range', { node_port: '29999' }), '0');
    assert.equal(value('imanager_node_icmp_up', { vantage: 'central', node: 'node-1' }), '1');
    assert.equal(value('imanager_node_icmp_up', { node: 'node-2' }), '0');
    assert.equal(value('imanager_node_icmp_rtt_seconds', { node: 'node-1' }), '0.00042');
    assert.equal(value('imanager_node_icmp_rtt_seconds', { node: 'node-2' }), undefined);
  });

  it('follows the store and discovery: removed nodes and targets leave the next scrape', async () => {
    const store = fullStore();
    let discovered = DISCOVERED;
    const metrics = fullMetrics(store, () => discovered);
    discovered = { nodes: [], nodePorts: [] };
    store.setTargets([]);
    const { samples } = parseExposition((await metrics.render()).toString('utf8'));
    const names = new Set(samples.map((s) => s.name));
    for (const gone of [
      'imanager_port_up',
      'imanager_node_info',
      'imanager_nodeport_info',
      'imanager_node_icmp_up',
    ]) {
      assert.equal(names.has(gone), false, gone);
    }
    assert.equal(
      samples.find((s) => s.name === 'imanager_targets' && s.labels.category === 'fixed')?.value,
      '0',
    );
  });

  it('leaves out a family that fails, whole, logs it, and renders the rest', async () => {
    const lines: string[] = [];
    const metrics = createMetrics({
      version: '1',
      store: goldenStore(),
      processMetrics: false,
      logger: createLogger({ write: (line) => lines.push(line) }),
      sourceStatus: () => {
        throw new Error('source table unavailable');
      },
    });
    const text = (await metrics.render()).toString('utf8');
    assert.doesNotMatch(text, /imanager_discovery_up/);
    assert.doesNotMatch(text, /imanager_discovery_last_success_timestamp_seconds/);
    assert.match(text, /^imanager_port_up\{/m);
    assert.match(text, /^imanager_exporter_build_info\{/m);
    assert.equal(promtoolCheck(text).status, 0);
    const logged = lines.map((l) => JSON.parse(l));
    assert.deepEqual(logged.map((l) => [l.level, l.metric, l.err?.message]).sort(), [
      ['error', 'imanager_discovery_last_success_timestamp_seconds', 'source table unavailable'],
      ['error', 'imanager_discovery_up', 'source table unavailable'],
    ]);
  });

  it('names the Prometheus text format 0.0.4 as its content type', () => {
    const metrics = createMetrics({
      version: '1',
      store: newStore(),
      processMetrics: false,
    });
    assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(METRICS_CONTENT_TYPE, metrics.contentType);
  });
});

describe('createMetrics().renderLent', () => {
  /** `n` probed targets on node-1, ports 1..n. */
  function bigStore(n: number): {
    store: ResultStore;
    targets: ReturnType<typeof catalogTarget>[];
  } {
    const store = newStore();
    const targets = Array.from({ length: n }, (_, i) => catalogTarget({ port: i + 1 }));
    store.setTargets(targets);
    for (const t of targets) store.record(t, { state: 'open', durationSeconds: 0.001 }, T0);
    return { store, targets };
  }

  it('renders the same text as render()', async () => {
    const metrics = fullMetrics();
    const lent = await metrics.renderLent();
    const owned = (await metrics.render()).toString('utf8');
    // Process metrics move between two renders (a family appears after the first GC);
    // the rest must not.
    const stable = (text: string) =>
      text
        .split('\n')
        .filter((line) => !/^(# (HELP|TYPE) )?(process|nodejs)_/.test(line) && line !== '')
        .join('\n');
    assert.equal(stable(lent.body.toString('utf8')), stable(owned));
    lent.release();
  });

  /** The golden store's metrics, rendered in the loop (false) or on `renderThread`. */
  const goldenMetrics = (renderThread: false | RenderThread) =>
    createMetrics({ version: '1', store: goldenStore(), processMetrics: false, renderThread });

  it('reuses the memory of a released body, and never of one still lent, in the loop', async () => {
    const metrics = goldenMetrics(false);
    const first = await metrics.renderLent();
    const overlapping = await metrics.renderLent();
    assert.notEqual(overlapping.body.buffer, first.body.buffer);
    const text = first.body.toString('utf8');
    first.release();
    first.release();
    overlapping.release();
    const next = await metrics.renderLent();
    assert.equal(next.body.buffer, first.body.buffer);
    assert.equal(next.body.toString('utf8'), text);
    next.release();
  });

  it("gives the render thread's output back once released, and never one still lent", async () => {
    const thread = new RenderThread();
    const metrics = goldenMetrics(thread);
    const first = await metrics.renderLent();
    const text = first.body.toString('utf8');
    const overlapping = await metrics.renderLent();
    assert.equal(first.body.toString('utf8'), text);
    assert.equal(overlapping.body.toString('utf8'), text);
    first.release();
    first.release();
    // Transferred back to the thread: no view of it here reads a byte any more.
    assert.equal(first.body.length, 0);
    assert.equal(overlapping.body.toString('utf8'), text);
    overlapping.release();
    assert.equal(overlapping.body.length, 0);
    const next = await metrics.renderLent();
    assert.equal(next.body.toString('utf8'), text);
    next.release();
    assert.equal(thread.written, 3);
    await thread.stop();
  });

  it("leaves the caller the thread's output that render() returns", async () => {
    const thread = new RenderThread();
    const metrics = goldenMetrics(thread);
    const owned = await metrics.render();
    const text = owned.toString('utf8');
    (await metrics.renderLent()).release();
    assert.equal(thread.written, 2);
    assert.equal(owned.toString('utf8'), text);
    assert.notEqual(text, '');
    await thread.stop();
  });

  it('lets the event loop turn while it renders many targets in the loop', async () => {
    const { store } = bigStore(3000);
    const metrics = createMetrics({
      version: '1',
      store,
      processMetrics: false,
      renderThread: false,
      renderSliceMs: 0,
    });
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    const lent = await metrics.renderLent();
    assert.equal(turned, true);
    assert.equal(parseExposition(lent.body.toString('utf8')).samples.length > 12_000, true);
    lent.release();
  });

  for (const [where, renderThread] of [
    ['in the loop', false],
    ['on the render thread', new RenderThread()],
  ] as const) {
    it(`shows the results of one instant, though results arrive as it renders ${where}`, async () => {
      const { store, targets } = bigStore(3000);
      const metrics = createMetrics({
        version: '1',
        store,
        processMetrics: false,
        renderThread,
        renderSliceMs: 0,
      });
      const pending = metrics.renderLent();
      // At the render's first turn of the loop, every port closes.
      setImmediate(() => {
        for (const t of targets)
          store.record(t, { state: 'refused', durationSeconds: 0.002 }, T0 + 1);
      });
      const lent = await pending;
      const { samples } = parseExposition(lent.body.toString('utf8'));
      const values = (name: string) =>
        new Set(samples.filter((s) => s.name === name).map((s) => s.value));
      assert.deepEqual(values('imanager_port_up'), new Set(['1']));
      assert.deepEqual(values('imanager_port_state'), new Set(['0']));
      assert.deepEqual(values('imanager_port_connect_duration_seconds'), new Set(['0.001']));
      lent.release();
      // The next scrape shows the new instant.
      const next = await metrics.renderLent();
      assert.match(next.body.toString('utf8'), /^imanager_port_up\{[^}]*port="1",[^}]*\} 0$/m);
      next.release();
    });
  }
});

describe('the /metrics render thread', () => {
  function bigStore(n: number): ResultStore {
    const store = newStore();
    const targets = Array.from({ length: n }, (_, i) => catalogTarget({ port: i + 1 }));
    store.setTargets(targets);
    targets.forEach((t, i) => {
      store.record(t, { state: i % 3 ? 'open' : 'refused', durationSeconds: i / 7 }, T0 + i);
    });
    return store;
  }

  async function renderText(metrics: ReturnType<typeof createMetrics>): Promise<string> {
    const lent = await metrics.renderLent();
    try {
      return lent.body.toString('utf8');
    } finally {
      lent.release();
    }
  }

  it('writes, byte for byte, what the loop writes', async () => {
    for (const store of [goldenStore(), bigStore(5000)]) {
      const thread = new RenderThread();
      const options = { version: '1', store, processMetrics: false } as const;
      const inLoop = await renderText(createMetrics({ ...options, renderThread: false }));
      const onThread = await renderText(createMetrics({ ...options, renderThread: thread }));
      assert.equal(thread.written, 1, 'the thread wrote the per-target families');
      assert.equal(onThread, inLoop);
      await thread.stop();
    }
  });

  it('serves from the loop, and says so once, when the thread dies', async () => {
    const store = bigStore(2000);
    const { logger, lines } = collectingLogger();
    const dying = new RenderThread(() => new Worker('process.exit(3)', { eval: true }));
    const options = { version: '1', store, processMetrics: false, logger } as const;
    const expected = await renderText(createMetrics({ ...options, renderThread: false }));
    const metrics = createMetrics({ ...options, renderThread: dying });
    assert.equal(await renderText(metrics), expected);
    assert.equal(await renderText(metrics), expected);
    assert.equal(dying.usable, false);
    assert.equal(dying.written, 0);
    const warnings = lines.filter((l) => /render thread failed/.test(String(l.msg)));
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(String(warnings[0]?.why), /exited with code 3/);
  });
});
