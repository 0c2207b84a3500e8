/**
 * A static node whose name does not resolve: its targets are `error` with the
 * resolver's reason, logged once per cycle, and every other node is probed as before.
 * Inside a network namespace made here, so no DNS query leaves the machine (the
 * namespace has only its loopback: the lookup fails at once with EAI_AGAIN).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROBE_STATES } from '../../src/probe/types.js';
import { exporterInNetns, listenInNetns, scrapeInNetnsUntil, stopChild } from '../e2e/in-netns.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import type { Sample } from '../metrics/exposition.js';
import { parseLog } from './exporter.js';

const INTERVAL_MS = 1500;
const URL = 'http://127.0.0.1:19101/metrics';
/** Worker ports in the catalog: kubelet 10250 listens, the rest are refused. */
const LISTENING = 10250;

const stateOf = (samples: readonly Sample[], node: string) =>
  new Map(
    samples
      .filter((s) => s.name === 'imanager_port_state' && s.labels.node === node)
      .map((s) => [s.labels.port, PROBE_STATES[Number(s.value)]]),
  );

describe('a static node name that does not resolve', { timeout: 120_000 }, () => {
  let ns: Netns;
  let dir: string;
  let listener: ChildProcess;
  let exporter: ChildProcess;
  let log = '';

  before(async () => {
    ns = await createNetns('faults-dns');
    dir = await mkdtemp(join(tmpdir(), 'ipe-faults-dns-'));
    const config = join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'nodes:',
        '  - { name: good, address: 127.0.0.1, roles: [worker] }',
        // RFC 6761: .invalid never resolves; and here no resolver is reachable anyway.
        '  - { name: ghost, address: ghost-node.invalid, roles: [worker] }',
        '',
      ].join('\n'),
    );
    listener = await listenInNetns(ns, [`127.0.0.1:${LISTENING}`]);
    exporter = exporterInNetns(ns, [
      `--config.file=${config}`,
      '--web.listen-address=127.0.0.1:19101',
      `--probe.interval=${INTERVAL_MS}ms`,
      '--probe.timeout=500ms',
      '--probe.icmp=off',
    ]);
    exporter.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
  });

  after(async () => {
    if (exporter) await stopChild(exporter);
    if (listener) await stopChild(listener);
    await ns?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('marks its targets error, names the reason once per cycle, leaves the others alone', async () => {
    const samples = await scrapeInNetnsUntil(
      ns,
      URL,
      (s) => stateOf(s, 'ghost').size > 0 && stateOf(s, 'good').get(String(LISTENING)) === 'open',
      30_000,
    );
    const ghost = stateOf(samples, 'ghost');
    const good = stateOf(samples, 'good');
    assert.ok(ghost.size > 0, `no series for the unresolvable node:\n${log}`);
    assert.deepEqual([...ghost.keys()].sort(), [...good.keys()].sort(), 'the same worker ports');
    for (const [port, state] of ghost) assert.equal(state, 'error', `ghost:${port}`);
    for (const [port, state] of good) {
      assert.equal(state, port === String(LISTENING) ? 'open' : 'refused', `good:${port}`);
    }
    const up = samples.filter((s) => s.name === 'imanager_port_up' && s.labels.node === 'ghost');
    assert.ok(up.every((s) => s.value === '0'));
    assert.equal(up[0]?.labels.address, 'ghost-node.invalid', 'the address as configured');

    // A few more cycles, then count: one line per cycle with the reason, not one per probe.
    await scrapeInNetnsUntil(ns, URL, () => false, 3 * INTERVAL_MS);
    const lines = parseLog(log);
    const reasons = lines.filter((l) => l.msg === 'probes failed without reaching the network');
    assert.ok(reasons.length >= 2, `expected a reason line per cycle, got:\n${log}`);
    for (const line of reasons) {
      assert.match(String(line.reason), /^(ENOTFOUND|EAI_AGAIN)$/, JSON.stringify(line));
      assert.equal(line.probes, ghost.size, 'one line counts every probe of the node');
    }
    // Once per cycle: lines at least half an interval apart, never a burst.
    const times = reasons.map((l) => Date.parse(String(l.ts)));
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] as number) - (times[i - 1] as number);
      assert.ok(gap >= INTERVAL_MS / 2, `two reason lines ${gap} ms apart`);
    }
    assert.equal(lines.filter((l) => l.level === 'unparsed').length, 0, log);
  });
});
