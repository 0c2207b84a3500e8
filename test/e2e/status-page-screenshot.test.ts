/**
 * The README's screenshot, from a real run of the default set-up: the program itself
 * (src/main.ts) with no flag but a kubeconfig and a listen address, discovering the
 * fixture's kubeadm cluster (three nodes, iManager's NodePorts, all in 30000-32767)
 * from the Kubernetes API double over the real wire protocol, probing listeners on the
 * host's loopback (the nodes are 127.0.40.1-3), rendered by Debian's Chromium.
 *
 * The scene, as an operator meets it: the NotReady worker's kubelet and node exporter
 * are gone (nothing listens there), the GIS environment's iServer has no pod left (its
 * NodePort refuses on every node), and worker-1's kubelet has its read-only port on.
 *
 * Set UPDATE_GOLDEN=1 to write docs/status-page.png.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { CATALOG } from '../../src/catalog/ports.js';
import { clusterFromObjects } from '../../src/discovery/kubernetes/objects.js';
import { DEFAULT_KUBERNETES_DISCOVERY_OPTIONS } from '../../src/discovery/kubernetes/options.js';
import { planTargets } from '../../src/targets/planner.js';
import { VERSION } from '../../src/version.js';
import * as cluster from '../fixtures/kube/cluster.js';
import { KubeApiServer, type KubeObject } from '../helpers/kube-api-server.js';
import { nodeArgv, REPO_ROOT } from '../helpers/node-child.js';
import { until } from '../helpers/wait.js';
import { type Daemon, startDaemon } from './daemon.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'];
const VIEWPORT = { width: 1100, height: 760 };
const ISERVER_NODEPORT = 32145;
const KUBELET_READONLY = 10255;

/** The fixture's objects on 127.0.40.x (127.0.41.x for ExternalIPs), clear of other tests'. */
function moved<T extends KubeObject>(objects: readonly T[]): T[] {
  return JSON.parse(
    JSON.stringify(objects)
      .replaceAll('127.0.10.', '127.0.40.')
      .replaceAll('127.0.20.', '127.0.41.'),
  );
}
const NODES = moved(cluster.allNodes);
const SERVICES = moved(cluster.allServices);
const SLICES = moved(cluster.allEndpointSlices);

/** address:port pairs that answer in the scene. */
function listening(): Set<string> {
  const { nodes, nodePorts } = clusterFromObjects(
    { nodes: NODES as never, services: SERVICES as never, endpointSlices: SLICES as never },
    DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
  );
  const targets = planTargets({
    vantage: 'central',
    catalog: CATALOG,
    snapshot: { nodes, nodePorts, kubernetesVersion: '1.25' },
  });
  const open = new Set<string>();
  for (const t of targets) {
    if (t.protocol !== 'tcp') continue;
    if (t.node === 'k8s-worker-2' || t.port === ISERVER_NODEPORT) continue;
    if (t.expected === 'open') open.add(`${t.address}:${t.port}`);
    if (t.port === KUBELET_READONLY && t.node === 'k8s-worker-1')
      open.add(`${t.address}:${t.port}`);
  }
  return open;
}

async function listen(address: string, port: number): Promise<Server | undefined> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // A wildcard listener of this host holds the port: it answers there anyway.
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen(port, address, () => resolve(server));
  });
}

/** Probes counted on /metrics. */
async function probesDone(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('imanager_probes_total{')) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Waits (at most 40 s) until the probes of a second cycle are in. */
async function secondCycle(url: string): Promise<void> {
  const first = await probesDone(url);
  await until(async () => (await probesDone(url)) >= 2 * first, {
    what: 'a second cycle',
    intervalMs: 200,
    attempts: 200,
    throwsAreFinal: true,
  });
}

describe('the README screenshot of the status page', { timeout: 120_000 }, () => {
  let api: KubeApiServer;
  let exporter: Daemon;
  let url: string;
  const servers: Server[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    }
    for (const pair of listening()) {
      const [address, port] = pair.split(':') as [string, string];
      const server = await listen(address, Number(port));
      if (server) servers.push(server);
    }
    api = await KubeApiServer.start();
    for (const node of NODES) api.create('nodes', node);
    for (const service of SERVICES) api.create('services', service);
    for (const slice of SLICES) api.create('endpointslices', slice);
    exporter = await startDaemon(
      nodeArgv('src/main.ts', [
        `--kubeconfig=${await api.writeKubeconfig()}`,
        '--web.listen-address=127.0.0.1:0',
      ]),
      { ready: /"msg":"listening","url":"[^"]+"/ },
    );
    url = /"msg":"listening","url":"([^"]+)"/.exec(exporter.log())?.[1] ?? '';
    assert.ok(url, exporter.log());
    // Ready after the first full cycle: from then on every target has a result.
    await until(async () => (await fetch(`${url}/-/ready`)).status === 200, {
      what: '/-/ready answering 200',
      intervalMs: 200,
      attempts: 151,
      throwsAreFinal: true,
      detail: () => exporter.log(),
    });
    // The README's picture shows a steady cycle, not the first burst over every target.
    if (process.env.UPDATE_GOLDEN === '1') await secondCycle(url);
  });

  after(async () => {
    await exporter?.stop();
    await api?.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('shows the released version, NodePorts in range and the scene, and is taken', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const dir = await mkdtemp(join(tmpdir(), 'ipe-status-shot-'));
    try {
      const page = await browser.newPage({ viewport: VIEWPORT });
      const response = await page.goto(`${url}/`);
      assert.equal(response?.status(), 200);
      const version = await page.locator('#facts [data-fact=version] dd').textContent();
      assert.equal(version, VERSION);
      assert.doesNotMatch(version ?? '', /e2e|^0\.0\.0/);
      assert.equal(await page.locator('#facts [data-fact=vantage] dd').textContent(), 'central');
      assert.match(
        (await page.locator('#facts [data-fact=discovery] dd').textContent()) ?? '',
        /^kubernetes up/,
      );
      const nodePorts = await page
        .locator('#matrix th.port')
        .evaluateAll((ths) => ths.map((th) => Number(th.getAttribute('data-port'))));
      const inRange = nodePorts.filter((p) => p >= 30000 && p <= 32767);
      assert.ok(inRange.length >= 5, `${nodePorts}`);
      const rows = await page
        .locator('#failing tbody tr')
        .evaluateAll((trs) =>
          trs.map((r) =>
            ['kind', 'node', 'port', 'verdict', 'count']
              .map((a) => r.getAttribute(`data-${a}`) ?? '-')
              .join(' '),
          ),
        );
      assert.ok(rows.includes(`target k8s-worker-1 ${KUBELET_READONLY} exposed 1`), `${rows}`);
      assert.ok(
        rows.some((r) => r.startsWith('node k8s-worker-2 - down')),
        `${rows}`,
      );
      assert.ok(
        rows.some((r) => r.startsWith(`port - ${ISERVER_NODEPORT} down`)),
        `${rows}`,
      );
      const path = join(dir, 'status-page.png');
      await page.screenshot({ path, fullPage: true });
      if (process.env.UPDATE_GOLDEN === '1') {
        await copyFile(path, join(REPO_ROOT, 'docs', 'status-page.png'));
      }
    } finally {
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
