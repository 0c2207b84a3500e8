/**
 * The deployment modes as the program runs them: the external vantage, which expects
 * internal ports closed, and shards, which split the targets without overlap.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import { planTargets } from '../../src/targets/planner.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import type { Sample } from '../metrics/exposition.js';
import { exporterInNetns, listenInNetns, scrapeInNetnsUntil, stopChild } from './in-netns.js';

const NODES = [
  { name: 'master-1', address: '127.0.0.1', roles: ['control-plane'] as const },
  { name: 'worker-1', address: '127.0.0.2', roles: ['worker'] as const },
  { name: 'worker-2', address: '127.0.0.3', roles: ['worker', 'license-center'] as const },
];

async function writeConfig(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ipe-modes-'));
  const path = join(dir, 'nodes.yml');
  const lines = NODES.map(
    (n) => `  - { name: ${n.name}, address: ${n.address}, roles: [${n.roles.join(', ')}] }`,
  );
  await writeFile(path, ['nodes:', ...lines, 'kubernetesVersion: "1.28"', ''].join('\n'));
  return path;
}

const portUps = (samples: Sample[]) => samples.filter((s) => s.name === 'imanager_port_up');

describe('deployment modes', () => {
  let ns: Netns;
  let config: string;
  before(async () => {
    ns = await createNetns('e2e-modes');
    config = await writeConfig();
  });
  after(() => ns.close());

  test('from the external vantage an answering etcd port is an exposure: up, expected closed', async () => {
    const listener = await listenInNetns(ns, ['127.0.0.1:2379', '127.0.0.1:31100']);
    const exporter = exporterInNetns(ns, [
      `--config.file=${config}`,
      '--vantage=external',
      '--web.listen-address=127.0.0.1:19201',
      '--probe.interval=3s',
      '--probe.timeout=1s',
    ]);
    try {
      const find = (samples: Sample[], port: string) =>
        portUps(samples).find((s) => s.labels.node === 'master-1' && s.labels.port === port);
      const samples = await scrapeInNetnsUntil(
        ns,
        'http://127.0.0.1:19201/metrics',
        (s) => find(s, '2379') !== undefined && find(s, '31100') !== undefined,
        20_000,
      );
      const etcd = find(samples, '2379');
      assert.equal(etcd?.value, '1');
      assert.equal(etcd?.labels.expected, 'closed');
      assert.equal(etcd?.labels.vantage, 'external');
      const ui = find(samples, '31100');
      assert.equal(ui?.value, '1');
      assert.equal(ui?.labels.expected, 'open');
    } finally {
      await stopChild(exporter);
      await stopChild(listener);
    }
  });

  test('shards 0/3, 1/3 and 2/3 over the same nodes probe each target exactly once', async () => {
    const shards = [0, 1, 2].map((index) =>
      exporterInNetns(ns, [
        `--config.file=${config}`,
        `--shard=${index}/3`,
        `--web.listen-address=127.0.0.1:${19210 + index}`,
        '--probe.interval=3s',
        '--probe.timeout=1s',
        '--probe.icmp=off',
      ]),
    );
    try {
      const want = planTargets({
        vantage: 'central',
        catalog: CATALOG,
        snapshot: {
          nodes: NODES.map((n) => ({
            name: n.name,
            addresses: [n.address],
            roles: [...n.roles],
            ready: true,
            kubeletVersion: '',
          })),
          nodePorts: [],
          kubernetesVersion: '1.28',
        },
      }).map((t) => `${t.node}:${t.port}`);
      const probedBy = new Map<string, number[]>();
      let total = 0;
      for (const index of [0, 1, 2]) {
        // A shard is complete once every target it planned (imanager_targets) has a
        // result: the cycle's end alone can come before the last results are stored.
        const samples = await scrapeInNetnsUntil(
          ns,
          `http://127.0.0.1:${19210 + index}/metrics`,
          (s) => {
            const planned = s
              .filter((x) => x.name === 'imanager_targets')
              .reduce((sum, x) => sum + Number(x.value), 0);
            return planned > 0 && portUps(s).length === planned;
          },
          60_000,
        );
        for (const sample of portUps(samples)) {
          const key = `${sample.labels.node}:${sample.labels.port}`;
          probedBy.set(key, [...(probedBy.get(key) ?? []), index]);
          total++;
        }
      }
      assert.deepEqual([...probedBy.keys()].sort(), [...want].sort());
      assert.equal(total, want.length, 'a target was probed by more than one shard');
      const perShard = [0, 1, 2].map(
        (i) => [...probedBy.values()].filter((owners) => owners[0] === i).length,
      );
      assert.ok(
        perShard.every((n) => n > 0),
        `every shard has work: ${perShard}`,
      );
    } finally {
      await Promise.all(shards.map(stopChild));
    }
  });
});
