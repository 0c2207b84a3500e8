/**
 * @kubernetes/client-node (about a second of loading) is imported only when Kubernetes
 * discovery runs: each command runs in a child under a module hook that records every
 * URL it resolves. And a one-shot's first snapshot does not wait out the debounce.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import { loadConfig } from '../../src/config/index.js';
import { DiscoveryError } from '../../src/discovery/kubernetes/errors.js';
import { loadKubeConfig } from '../../src/discovery/kubernetes/kubeconfig.js';
import { KubernetesSource } from '../../src/discovery/kubernetes/source.js';
import { selectSource } from '../../src/discovery/select.js';
import type { DiscoverySnapshot } from '../../src/discovery/types.js';
import { silentLogger } from '../../src/util/log.js';
import * as cluster from '../fixtures/kube/cluster.js';
import { KubeApiServer } from '../helpers/kube-api-server.js';
import { collect, spawnWithDeadline } from '../helpers/node-child.js';

const RECORDER = new URL('./fixtures/record-loads.mjs', import.meta.url).pathname;
const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const CLIENT = '/node_modules/@kubernetes/client-node/';

/** Runs the program's entry with `args`; its exit status, output and the URLs it loaded. */
async function runRecorded(args: readonly string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'ipe-loads-'));
  const file = join(dir, 'loads.txt');
  await writeFile(file, '');
  const child = spawnWithDeadline(
    [process.execPath, '--import', 'tsx', '--import', RECORDER, MAIN, ...args],
    { env: { RECORD_LOADS_TO: file, KUBECONFIG: '' }, timeoutMs: 30_000 },
  );
  const result = await collect(child);
  const urls = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
  return { ...result, urls, client: urls.filter((url) => url.includes(CLIENT)) };
}

async function staticConfig(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ipe-loads-'));
  const path = join(dir, 'config.yml');
  const catalogOff = CATALOG.map((e) => `  ${e.id}: { enabled: false }\n`).join('');
  // Port 1 on loopback: nothing listens there, so the check ends at once.
  await writeFile(
    path,
    'nodes:\n  - { name: node-a, address: 127.0.0.1, roles: [worker] }\n' +
      `ports:\n${catalogOff}customPorts:\n  - { id: app, port: 1, roles: all }\n`,
  );
  return path;
}

function seeded(api: KubeApiServer): void {
  for (const node of cluster.allNodes) api.create('nodes', structuredClone(node));
  for (const service of cluster.allServices) api.create('services', structuredClone(service));
  for (const slice of cluster.allEndpointSlices) {
    api.create('endpointslices', structuredClone(slice));
  }
}

describe('loading @kubernetes/client-node', { timeout: 120_000 }, () => {
  test('catalog does not load it', async () => {
    const run = await runRecorded(['catalog']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      run.urls.some((url) => url.endsWith('/src/cli/catalog.ts')),
      'the recorder works',
    );
    assert.deepEqual(run.client, []);
  });

  test('check of static nodes does not load it', async () => {
    const run = await runRecorded(['check', `--config.file=${await staticConfig()}`]);
    // Port 1 is refused where it is expected open: a finished check with a finding.
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /refused/);
    assert.deepEqual(run.client, []);
  });

  test('check through Kubernetes discovery loads it, and works', async (t) => {
    const api = await KubeApiServer.start();
    t.after(() => api.close());
    seeded(api);
    const run = await runRecorded([
      'check',
      '--discovery=kubernetes',
      `--kubeconfig=${await api.writeKubeconfig()}`,
      '--probe.timeout=500ms',
      '--output=json',
    ]);
    // Nothing listens on the fixture's 127.0.10.x nodes.
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as { discovery: unknown; targets: unknown[] };
    assert.deepEqual(report.discovery, { source: 'kubernetes', up: true });
    assert.ok(report.targets.length > 0);
    assert.ok(run.client.length > 0);
  });

  test('a kubeconfig that does not load is still one line and exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-loads-'));
    const bad = join(dir, 'kubeconfig');
    await writeFile(bad, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n');
    const run = await runRecorded(['check', '--discovery=kubernetes', `--kubeconfig=${bad}`]);
    assert.equal(run.code, 2, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', /kubeconfig .*no current context/);
  });
});

describe('the first snapshot', { timeout: 30_000 }, () => {
  test('comes as soon as every first list is in, not after the debounce', async (t) => {
    const api = await KubeApiServer.start();
    t.after(() => api.close());
    seeded(api);
    // A debounce longer than this test may run: only a first snapshot that skips it arrives.
    const source = new KubernetesSource(
      { debounceMs: 600_000, relistIntervalMs: 0, requestTimeoutMs: 5_000 },
      {
        kubeConfig: loadKubeConfig({
          kind: 'file',
          paths: [await api.writeKubeconfig()],
          from: 'flag',
        }),
      },
    );
    t.after(() => source.stop());
    const first = await new Promise<DiscoverySnapshot | 'none'>((resolve) => {
      const timer = setTimeout(() => resolve('none'), 15_000);
      void source.start((snapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      });
    });
    assert.notEqual(first, 'none', 'no snapshot within 15 s');
    assert.deepEqual(
      (first as DiscoverySnapshot).nodes.map((n) => n.name),
      ['k8s-master-1', 'k8s-worker-1', 'k8s-worker-2'],
    );
  });
});

describe('a reload with a kubeconfig that does not load', { timeout: 30_000 }, () => {
  test('is refused at once, as before the lazy import, once the client is loaded', async (t) => {
    const api = await KubeApiServer.start();
    t.after(() => api.close());
    seeded(api);
    const good = await loadConfig([
      '--discovery=kubernetes',
      `--kubeconfig=${await api.writeKubeconfig()}`,
    ]);
    const first = selectSource(good, { logger: silentLogger });
    t.after(() => first.stop());
    await new Promise<void>((resolve) => void first.start(() => resolve()));
    const dir = await mkdtemp(join(tmpdir(), 'ipe-loads-'));
    const bad = join(dir, 'kubeconfig');
    await writeFile(bad, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n');
    const next = await loadConfig(['--discovery=kubernetes', `--kubeconfig=${bad}`]);
    assert.throws(
      () => selectSource(next, { logger: silentLogger }),
      (error: unknown) => {
        return error instanceof DiscoveryError && error.code === 'KUBECONFIG_INVALID';
      },
    );
  });
});
