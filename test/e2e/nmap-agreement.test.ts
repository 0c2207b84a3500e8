/**
 * The acceptance checks of the core exporter: started for real (src/main.ts) inside a
 * network namespace made here, its verdicts must agree with `nmap -sT` on the same
 * ports: open = open, closed = refused, filtered = timeout.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { effectiveCatalog } from '../../src/catalog/overrides.js';
import { CATALOG } from '../../src/catalog/ports.js';
import { parseConfigText } from '../../src/config/index.js';
import { PROBE_STATES } from '../../src/probe/types.js';
import { planTargets } from '../../src/targets/planner.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { readUntil } from '../helpers/wait.js';
import { parseExposition } from '../metrics/exposition.js';

const NMAP_TO_STATE: Readonly<Record<string, string>> = {
  open: 'open',
  closed: 'refused',
  filtered: 'timeout',
};

/** Runs nmap -sT inside the namespace and returns "ip:port" -> open|closed|filtered. */
async function nmapStates(ns: Netns, ips: readonly string[], ports: readonly number[]) {
  const { stdout } = await ns.exec('nmap', [
    '-sT',
    '-Pn',
    '-n',
    '--max-retries',
    '1',
    '--host-timeout',
    '60s',
    '-p',
    [...new Set(ports)].join(','),
    '-oG',
    '-',
    ...ips,
  ]);
  const states = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^Host: (\S+) .*Ports: (.*)$/.exec(line);
    if (!match) continue;
    const [, ip, ports] = match;
    for (const entry of (ports ?? '').split(',')) {
      const [port, state] = entry.trim().split('/');
      if (port && state) states.set(`${ip}:${port}`, state);
    }
  }
  return states;
}

/** Polls /metrics from inside the namespace until `done` says the exposition is complete. */
function scrapeUntil(
  ns: Netns,
  url: string,
  done: (states: Map<string, string>) => boolean,
  deadlineMs: number,
): Promise<Map<string, string>> {
  // A fetch that fails keeps the last states it got; only a complete one ends the wait.
  let states = new Map<string, string>();
  let fetched = false;
  return readUntil(
    async () => {
      const result = await ns.runNode('test/fixtures/fetch.ts', [url]);
      fetched = result.code === 0;
      if (fetched) states = portStates(result.stdout.slice(result.stdout.indexOf('\n') + 1));
      return states;
    },
    (read) => fetched && done(read),
    { timeoutMs: deadlineMs, intervalMs: 500, attempts: 40 },
  );
}

/** "ip:port" -> state name, from imanager_port_state samples. */
function portStates(body: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const sample of parseExposition(body).samples) {
    if (sample.name !== 'imanager_port_state') continue;
    const state = PROBE_STATES[Number(sample.value)] ?? `?${sample.value}`;
    states.set(`${sample.labels.address}:${sample.labels.port}`, state);
  }
  return states;
}

async function startChild(ns: Netns, script: string, args: string[]): Promise<ChildProcess> {
  const child = ns.spawnNode(script, args, { timeoutMs: 120_000 });
  return child;
}

async function waitReady(child: ChildProcess): Promise<void> {
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  assert.match(chunk.toString(), /ready/);
}

describe('exporter verdicts agree with nmap -sT', () => {
  let ns: Netns;
  before(async () => {
    ns = await createNetns('e2e-nmap');
  });
  after(() => ns.close());

  test('with no config, every catalog port of this machine is on /metrics within 20 s, as nmap sees it', async () => {
    const listening = [6443, 2379, 9101, 31100];
    const listener = await startChild(
      ns,
      'test/fixtures/listen.ts',
      listening.map((port) => `0.0.0.0:${port}`),
    );
    await waitReady(listener);
    const exporter = await startChild(ns, 'src/main.ts', []);
    try {
      // Every catalog entry applies to the embedded node, which has every role.
      const expectedKeys = CATALOG.map((entry) => `127.0.0.1:${entry.port}`);
      const states = await scrapeUntil(
        ns,
        'http://127.0.0.1:19101/metrics',
        (s) => expectedKeys.every((key) => s.has(key)),
        20_000,
      );
      assert.deepEqual(
        expectedKeys.filter((key) => !states.has(key)),
        [],
        'catalog ports missing from /metrics after 20 s',
      );
      const nmap = await nmapStates(
        ns,
        ['127.0.0.1'],
        CATALOG.map((entry) => entry.port),
      );
      for (const key of expectedKeys) {
        const seen = nmap.get(key);
        assert.ok(seen, `nmap reported nothing for ${key}`);
        assert.equal(states.get(key), NMAP_TO_STATE[seen], `${key}: nmap says ${seen}`);
      }
      for (const port of listening) assert.equal(states.get(`127.0.0.1:${port}`), 'open');
    } finally {
      exporter.kill('SIGTERM');
      listener.kill('SIGTERM');
      await once(exporter, 'close');
    }
  });

  test('three nodes with open, closed and firewalled ports: every state agrees with nmap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-e2e-'));
    const config = join(dir, 'config.yml');
    const configText = [
      'nodes:',
      '  - { name: master-1, address: 127.0.0.1, roles: [control-plane] }',
      '  - { name: worker-1, address: 127.0.0.2, roles: [worker, license-center] }',
      '  - { name: worker-2, address: 127.0.0.3, roles: [worker, nfs-server, registry] }',
      'kubernetesVersion: "1.28"',
      '',
    ].join('\n');
    await writeFile(config, configText);
    // What the planner says these nodes must have: /metrics must show exactly these.
    const file = parseConfigText(configText, 'config.yml');
    const expectedKeys = planTargets({
      vantage: 'central',
      catalog: effectiveCatalog(file.catalog),
      snapshot: {
        nodes: file.nodes,
        nodePorts: [],
        ...(file.kubernetesVersion !== undefined && { kubernetesVersion: file.kubernetesVersion }),
      },
    }).map((target) => `${target.address}:${target.port}`);
    const open = ['127.0.0.1:6443', '127.0.0.1:2379', '127.0.0.2:9183', '127.0.0.3:2049'];
    // Open behind the firewall: nmap and the exporter must both see a drop, not a listener.
    const dropped = ['127.0.0.1:2380', '127.0.0.2:3307', '127.0.0.3:5000', '127.0.0.3:10250'];
    const listener = await startChild(ns, 'test/fixtures/listen.ts', [...open, ...dropped]);
    await waitReady(listener);
    for (const spec of dropped) {
      const [ip, port] = spec.split(':') as [string, string];
      await ns.dropTcp(ip, Number(port));
    }
    const exporter = await startChild(ns, 'src/main.ts', [
      `--config.file=${config}`,
      '--web.listen-address=127.0.0.1:19102',
      '--probe.interval=3s',
      '--probe.timeout=1s',
    ]);
    try {
      const states = await scrapeUntil(
        ns,
        'http://127.0.0.1:19102/metrics',
        (s) =>
          expectedKeys.every((key) => s.has(key)) &&
          dropped.every((key) => s.get(key) === 'timeout'),
        20_000,
      );
      assert.deepEqual([...states.keys()].sort(), [...expectedKeys].sort());
      for (const key of open) assert.equal(states.get(key), 'open', key);
      for (const key of dropped) assert.equal(states.get(key), 'timeout', key);
      const ips = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
      const ports = [...new Set([...states.keys()].map((key) => Number(key.split(':')[1])))];
      const nmap = await nmapStates(ns, ips, ports);
      for (const [key, state] of states) {
        const seen = nmap.get(key);
        assert.ok(seen, `nmap reported nothing for ${key}`);
        assert.equal(state, NMAP_TO_STATE[seen], `${key}: nmap says ${seen}, exporter ${state}`);
      }
    } finally {
      exporter.kill('SIGTERM');
      listener.kill('SIGTERM');
      await once(exporter, 'close');
    }
  });
});
