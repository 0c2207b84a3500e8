/**
 * Ready means probed: with Kubernetes discovery whose first list is slow, /-/ready
 * answers 503 until a full cycle has run over what discovery found, and the moment it
 * answers 200 every planned target already has a series. The real program, against the
 * API server double through a kubeconfig, as in production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import { clusterFromObjects } from '../../src/discovery/kubernetes/objects.js';
import { DEFAULT_KUBERNETES_DISCOVERY_OPTIONS } from '../../src/discovery/kubernetes/options.js';
import { planTargets } from '../../src/targets/planner.js';
import * as cluster from '../fixtures/kube/cluster.js';
import { KubeApiServer } from '../helpers/kube-api-server.js';
import { nodeArgv } from '../helpers/node-child.js';
import { parseExposition } from '../metrics/exposition.js';
import { type Daemon, startDaemon } from './daemon.js';

/** Long enough that one cycle would run over nothing if probing did not wait for discovery. */
const FIRST_LIST_DELAY_MS = 1500;

describe('readiness with a slow first list', () => {
  let api: KubeApiServer;
  let daemon: Daemon;
  let url: string;

  before(async () => {
    api = await KubeApiServer.start();
    for (const node of cluster.allNodes) api.create('nodes', structuredClone(node));
    for (const service of cluster.allServices) api.create('services', structuredClone(service));
    for (const slice of cluster.allEndpointSlices) {
      api.create('endpointslices', structuredClone(slice));
    }
    api.delay(FIRST_LIST_DELAY_MS, { verb: 'list' });
    daemon = await startDaemon(
      nodeArgv('src/main.ts', [
        `--kubeconfig=${await api.writeKubeconfig()}`,
        '--discovery=kubernetes',
        '--web.listen-address=127.0.0.1:0',
        '--probe.interval=30s',
        '--probe.timeout=500ms',
        '--probe.icmp=off',
      ]),
      { ready: /"msg":"listening","url":"[^"]+"/ },
    );
    const found = /"msg":"listening","url":"([^"]+)"/.exec(daemon.log())?.[1];
    assert.ok(found, 'no listening line');
    url = found;
  });
  after(async () => {
    await daemon?.stop();
    await api?.close();
  });

  test('/-/ready is 503 until the first cycle over the discovered targets, then every target has a series', async () => {
    const objects = clusterFromObjects(
      {
        nodes: cluster.allNodes as never,
        services: cluster.allServices as never,
        endpointSlices: cluster.allEndpointSlices as never,
      },
      DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
    );
    const want = planTargets({
      vantage: 'central',
      catalog: CATALOG,
      snapshot: { ...objects, kubernetesVersion: '1.25' },
    })
      .map((t) => `${t.node}:${t.port}`)
      .sort();
    let notReady = 0;
    // Bounded: the list answers after 1.5 s and the burst cycle takes well under a second.
    for (let attempt = 0; attempt < 300; attempt++) {
      const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(5000) });
      await ready.arrayBuffer();
      if (ready.status === 200) break;
      assert.equal(ready.status, 503);
      notReady++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(notReady > 0, 'not ready while the first list was pending');
    const body = await (await fetch(`${url}/metrics`)).text();
    const ups = parseExposition(body).samples.filter((s) => s.name === 'imanager_port_up');
    assert.deepEqual(ups.map((s) => `${s.labels.node}:${s.labels.port}`).sort(), want);
    // With a 30 s interval, only the burst cycle can have probed them all already.
  });
});
