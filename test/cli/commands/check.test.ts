/**
 * `check` against real listeners on loopback: the table, its colour and progress bar,
 * the JSON document and its shape, the exit statuses; through Kubernetes discovery
 * against the API server double; and the acceptance run inside a network namespace,
 * where every catalog port (6443, 2379, ...) is ours to open or close.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as z from 'zod';
import { CATALOG } from '../../../src/catalog/ports.js';
import { runCheck } from '../../../src/cli/check/run.js';
import { loadConfig } from '../../../src/config/index.js';
import { PROBE_STATES } from '../../../src/probe/types.js';
import { silentLogger } from '../../../src/util/log.js';
import { listenInNetns, stopChild } from '../../e2e/in-netns.js';
import * as cluster from '../../fixtures/kube/cluster.js';
import { KubeApiServer } from '../../helpers/kube-api-server.js';
import { createNetns, type Netns } from '../../helpers/netns.js';
import { captureIo, runInProcess, stripAnsi, writeConfig } from './io.js';

/** The documented shape of `check --output=json`: strict, so a renamed field fails here. */
const STATE = z.enum(PROBE_STATES);
const CHECK_JSON = z.strictObject({
  ok: z.boolean(),
  vantage: z.string(),
  from: z.string(),
  discovery: z.strictObject({ source: z.string(), up: z.boolean() }),
  targets: z.array(
    z.strictObject({
      node: z.string(),
      address: z.string(),
      ip: z.string(),
      port: z.int().min(1).max(65535),
      protocol: z.literal('tcp'),
      portName: z.string(),
      component: z.string(),
      category: z.enum(['fixed', 'default', 'nodeport', 'custom']),
      scope: z.enum(['internal', 'external']),
      expected: z.enum(['open', 'closed', 'any']),
      required: z.boolean(),
      state: STATE,
      asExpected: z.boolean(),
      // null where no connect finished (a timeout, a host down, a name that does not resolve).
      latencySeconds: z.number().min(0).nullable(),
      reason: z.string().min(1),
      error: z.string().optional(),
      roles: z.array(z.string()),
      namespace: z.string().optional(),
      service: z.string().optional(),
      group: z.enum(['basic-service', 'gis-environment', 'other']).optional(),
    }),
  ),
  notProbed: z.array(
    z.strictObject({ ports: z.array(z.string()), nodes: z.array(z.string()), reason: z.string() }),
  ),
  summary: z.strictObject({
    nodes: z.int(),
    targets: z.int(),
    asExpected: z.int(),
    requiredNotAsExpected: z.int(),
    optionalNotAsExpected: z.int(),
    notProbed: z.int(),
    states: z.strictObject(Object.fromEntries(PROBE_STATES.map((s) => [s, z.int()]))),
    durationSeconds: z.number().min(0),
  }),
});
type CheckJson = z.infer<typeof CHECK_JSON>;

function parseCheckJson(text: string): CheckJson {
  return CHECK_JSON.parse(JSON.parse(text));
}

function listen(port: number, host: string): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function portOf(server: Server): number {
  return (server.address() as { port: number }).port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Every catalog entry off, so only the test's own ports on loopback are probed. */
const CATALOG_OFF = `ports:\n${CATALOG.map((e) => `  ${e.id}: { enabled: false }\n`).join('')}`;

describe('check on loopback', () => {
  const servers: Server[] = [];
  let open = 0;
  let closed = 0;
  let closedOptional = 0;
  let failing = '';
  let passing = '';

  before(async () => {
    const first = await listen(0, '127.0.0.1');
    servers.push(first);
    open = portOf(first);
    servers.push(await listen(open, '127.0.0.2'));
    // Ports that were free a moment ago and are closed again: nothing listens there.
    const spare = [await listen(0, '127.0.0.1'), await listen(0, '127.0.0.1')];
    [closed, closedOptional] = spare.map(portOf) as [number, number];
    await Promise.all(spare.map(close));
    const nodes =
      'nodes:\n' +
      '  - { name: node-a, address: 127.0.0.1, roles: [worker] }\n' +
      '  - { name: node-b, address: 127.0.0.2, roles: [worker] }\n';
    const app = `  - { id: app, port: ${open}, roles: all, purpose: "the app" }\n`;
    const metrics = `  - { id: metrics, port: ${closedOptional}, roles: all, required: false }\n`;
    const db = `  - { id: db, port: ${closed}, roles: [worker], purpose: "the database" }\n`;
    failing = await writeConfig(`${nodes}${CATALOG_OFF}customPorts:\n${app}${metrics}${db}`);
    passing = await writeConfig(`${nodes}${CATALOG_OFF}customPorts:\n${app}${metrics}`);
  });
  after(async () => {
    await Promise.all(servers.map(close));
  });

  test('a required port closed: exit 1, JSON names it, optional ones do not count', async () => {
    const result = await runInProcess(['check', `--config.file=${failing}`, '--output=json']);
    assert.equal(result.status, 1);
    const report = parseCheckJson(result.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.targets.length, 6);
    const failed = report.targets.filter((t) => t.required && !t.asExpected);
    assert.deepEqual(
      failed.map((t) => [t.node, t.address, t.port, t.portName, t.state, t.error]),
      [
        ['node-a', '127.0.0.1', closed, 'db', 'refused', 'ECONNREFUSED'],
        ['node-b', '127.0.0.2', closed, 'db', 'refused', 'ECONNREFUSED'],
      ],
    );
    const apps = report.targets.filter((t) => t.portName === 'app');
    assert.deepEqual(
      apps.map((t) => [t.node, t.state, t.asExpected]),
      [
        ['node-a', 'open', true],
        ['node-b', 'open', true],
      ],
    );
    assert.deepEqual(report.summary, {
      ...report.summary,
      nodes: 2,
      targets: 6,
      asExpected: 2,
      requiredNotAsExpected: 2,
      optionalNotAsExpected: 2,
      states: { open: 2, refused: 4, timeout: 0, unreachable: 0, error: 0, rejected: 0 },
    });
    assert.equal(result.stderr, '', 'no progress bar and no log lines on a pipe');
  });

  test('every required port open: exit 0, though an optional one is closed', async () => {
    const result = await runInProcess(['check', `--config.file=${passing}`, '--output=json']);
    assert.equal(result.status, 0, result.stderr);
    const report = parseCheckJson(result.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.summary.optionalNotAsExpected, 2);
  });

  test('the table groups by node and names what is wrong, without colour on a pipe', async () => {
    const result = await runInProcess(['check', `--config.file=${failing}`]);
    assert.equal(result.status, 1);
    const text = result.stdout;
    assert.equal(stripAnsi(text), text, 'colour codes on a pipe');
    const lines = text.split('\n');
    const nodeA = lines.indexOf(lines.find((l) => l.startsWith('node-a  127.0.0.1')) ?? '');
    const nodeB = lines.indexOf(lines.find((l) => l.startsWith('node-b  127.0.0.2')) ?? '');
    assert.ok(nodeA >= 0 && nodeB > nodeA, text);
    assert.match(lines[nodeA] ?? '', /\(worker\)$/);
    assert.match(lines[nodeA + 1] ?? '', /^ +PORT +NAME +EXPECTED +STATE +LATENCY +RESULT$/);
    const row = (port: number, from: number) =>
      lines.slice(from, from + 5).find((l) => new RegExp(`^ +${port} `).test(l)) ?? '';
    assert.match(row(open, nodeA), / app +open +open +\d+\.?\d* ms +ok$/);
    assert.match(row(closed, nodeA), / db +open +refused +- +FAIL nothing listens$/);
    assert.match(
      row(closedOptional, nodeB),
      / metrics +open +refused +- +optional, nothing listens$/,
    );
    assert.match(
      text,
      /^2 nodes, 6 ports checked from this machine in [\d.]+ s: 2 as expected, 2 required not, 2 optional not\.$/m,
    );
    // Each failure once in the summary, grouped by node and cause, before the tables;
    // the ports in ascending order.
    const failedPorts = [
      [closed, `${closed} db`],
      [closedOptional, `${closedOptional} metrics \\(optional\\)`],
    ]
      .sort(([x], [y]) => Number(x) - Number(y))
      .map(([, text]) => text)
      .join(', ');
    const summary = text.slice(0, text.indexOf('node-a  127.0.0.1'));
    assert.match(
      summary,
      new RegExp(
        `^ {2}FAIL node-a \\(127\\.0\\.0\\.1\\): refused: nothing listens: ${failedPorts}$`,
        'm',
      ),
    );
    assert.match(
      summary,
      new RegExp(
        `^ {2}FAIL node-b \\(127\\.0\\.0\\.2\\): refused: nothing listens: ${failedPorts}$`,
        'm',
      ),
    );
    const after = text.slice(text.indexOf('node-a  127.0.0.1'));
    assert.doesNotMatch(after, /^ *FAIL node-/m, 'a failure printed twice');
  });

  test('on a terminal: failures in red, a progress bar on stderr; NO_COLOR turns colour off', async () => {
    const tty = await runInProcess(['check', `--config.file=${failing}`], {
      stdoutIsTTY: true,
      stderrIsTTY: true,
    });
    assert.equal(tty.status, 1);
    assert.ok(tty.stdout.includes('\u001b[1;31mFAIL nothing listens\u001b[22;39m'), tty.stdout);
    assert.ok(tty.stdout.includes('\u001b[33moptional, nothing listens\u001b[39m'), tty.stdout);
    assert.match(tty.stderr, /^\r\[[#.]{30}\] \d+\/6 ports probed/);
    assert.ok(tty.stderr.includes('\r[##############################] 6/6 ports probed'));
    assert.ok(tty.stderr.endsWith('\r\u001b[K'), 'the bar is cleared at the end');

    const noColour = await runInProcess(['check', `--config.file=${failing}`], {
      stdoutIsTTY: true,
      env: { NO_COLOR: '1' },
    });
    assert.equal(stripAnsi(noColour.stdout), noColour.stdout);
    assert.match(noColour.stdout, /FAIL nothing listens/);
  });

  test('--failures-only: the tables hold only what is not as expected', async () => {
    const result = await runInProcess(['check', `--config.file=${failing}`, '--failures-only']);
    assert.equal(result.status, 1);
    assert.doesNotMatch(result.stdout, / ok$/m);
    assert.match(result.stdout, / FAIL nothing listens$/m);
  });

  test('--output=markdown: the failures as a list, one table with a node column, then the counts', async () => {
    const result = await runInProcess(['check', `--config.file=${failing}`, '--output=markdown']);
    assert.equal(result.status, 1);
    const blocks = result.stdout.trimEnd().split('\n\n');
    assert.equal(blocks[0], '**Not as expected**');
    assert.ok(
      blocks[1]?.split('\n').every((line) => line.startsWith('- FAIL ')),
      blocks[1],
    );
    assert.match(blocks.at(-1) ?? '', /^2 nodes, 6 ports checked from this machine/);
    const table = blocks[2]?.split('\n') ?? [];
    assert.equal(
      table[0],
      '| node | address | port | name | expected | state | latency | result |',
    );
    assert.equal(table[1], '| --- | --- | ---: | --- | --- | --- | ---: | --- |');
    assert.equal(table.length, 8);
    assert.ok(table.every((line) => line.startsWith('| ') && line.endsWith(' |')));
  });
  test('on a terminal, the wait for discovery is a spinner naming what it awaits and the last error', async () => {
    const api = await KubeApiServer.start();
    const kubeconfig = await writeConfig(await readFile(await api.writeKubeconfig(), 'utf8'));
    await api.close();
    const config = await loadConfig(['--discovery=kubernetes', `--kubeconfig=${kubeconfig}`]);
    const io = captureIo({ stderrIsTTY: true });
    const options = { config, output: 'table', failuresOnly: false, color: 'auto' } as const;
    const status = await runCheck(options, io, { logger: silentLogger, discoveryTimeoutMs: 2000 });
    assert.equal(status, 1);
    const frames = io
      .stderrText()
      .split('\r')
      .filter(
        (frame) =>
          frame.startsWith('| ') ||
          frame.startsWith('/ ') ||
          frame.startsWith('- ') ||
          frame.startsWith('\\ '),
      );
    assert.ok(frames.length > 0, JSON.stringify(io.stderrText()));
    assert.ok(
      frames.some((frame) =>
        /waiting for the kubernetes source to list the nodes; last error: cannot .*ECONNREFUSED/.test(
          frame,
        ),
      ),
      JSON.stringify(frames),
    );
    // No JSON log line breaks the spinner's line.
    assert.doesNotMatch(io.stderrText(), /\{"level"/);
  });
});

describe('check through Kubernetes discovery', () => {
  test('probes the nodes and NodePorts the API lists, NodePorts with their service', async (t) => {
    const api = await KubeApiServer.start();
    t.after(() => api.close());
    for (const node of cluster.allNodes) api.create('nodes', structuredClone(node));
    for (const service of cluster.allServices) api.create('services', structuredClone(service));
    for (const slice of cluster.allEndpointSlices) {
      api.create('endpointslices', structuredClone(slice));
    }
    const kubeconfig = await api.writeKubeconfig();
    const result = await runInProcess([
      'check',
      '--discovery=kubernetes',
      `--kubeconfig=${kubeconfig}`,
      '--probe.timeout=500ms',
      '--output=json',
    ]);
    // Nothing listens on the fixture's 127.0.10.x nodes.
    assert.equal(result.status, 1);
    const report = parseCheckJson(result.stdout);
    assert.deepEqual(report.discovery, { source: 'kubernetes', up: true });
    assert.deepEqual(
      [...new Set(report.targets.map((t) => t.node))],
      ['k8s-master-1', 'k8s-worker-1', 'k8s-worker-2'],
    );
    const nodePorts = report.targets.filter((t) => t.category === 'nodeport');
    assert.ok(nodePorts.length > 0);
    for (const target of nodePorts) {
      assert.equal(typeof target.namespace, 'string');
      assert.equal(typeof target.service, 'string');
      assert.ok(target.group !== undefined);
    }
    assert.ok(report.targets.some((t) => t.node === 'k8s-master-1' && t.port === 6443));
  });

  test('no answer from the API server: exit 1 and one line saying discovery failed', async () => {
    const api = await KubeApiServer.start();
    // close() removes the double's own copy; keep one that points at the dead port.
    const kubeconfig = await writeConfig(await readFile(await api.writeKubeconfig(), 'utf8'));
    await api.close();
    const config = await loadConfig(['--discovery=kubernetes', `--kubeconfig=${kubeconfig}`]);
    const io = captureIo();
    const options = { config, output: 'table', failuresOnly: false, color: 'auto' } as const;
    const status = await runCheck(options, io, { logger: silentLogger, discoveryTimeoutMs: 1000 });
    assert.equal(status, 1);
    assert.equal(io.stdoutText(), '');
    // The error in words, not a pointer to log lines that were never printed.
    assert.match(
      io.stderrText(),
      /^check: discovery failed: the kubernetes source listed no nodes within 1 s; last error: cannot [^;\n]+ECONNREFUSED 127\.0\.0\.1:\d+\n$/,
    );
  });
});

/**
 * The catalog ports of a control-plane node and a worker expected open from a central
 * vantage (10256, kube-proxy's, optional while kube-proxy is not known to run; 10255,
 * the kubelet's read-only port, expected closed and left so).
 */
const CONTROL_PLANE_PORTS = [6443, 2379, 2380, 10250, 10256, 10259, 10257, 9101, 179, 31234, 31100];
const WORKER_PORTS = [10250, 10256, 9101, 179, 31234, 31100];

describe('check acceptance, in a network namespace', () => {
  let ns: Netns;
  let config = '';
  let listeners: ChildProcess;
  let etcd: ChildProcess;

  before(async () => {
    ns = await createNetns('cli-check');
    config = await writeConfig(
      'kubernetesVersion: "1.28"\n' +
        'nodes:\n' +
        '  - { name: cp-1, address: 127.0.0.1, roles: [control-plane] }\n' +
        '  - { name: worker-1, address: 127.0.0.2, roles: [worker] }\n',
    );
    listeners = await listenInNetns(ns, [
      ...CONTROL_PLANE_PORTS.filter((p) => p !== 2379).map((p) => `127.0.0.1:${p}`),
      ...WORKER_PORTS.map((p) => `127.0.0.2:${p}`),
    ]);
    etcd = await listenInNetns(ns, ['127.0.0.1:2379']);
  });
  after(async () => {
    await stopChild(listeners);
    await stopChild(etcd);
    await ns.close();
  });

  const check = (...args: string[]) =>
    ns.runNode(
      'src/main.ts',
      ['check', `--config.file=${config}`, '--probe.timeout=500ms', ...args],
      {
        timeoutMs: 60_000,
      },
    );

  test('all open: exit 0', async () => {
    const result = await check('--output=json');
    assert.equal(result.code, 0, result.stderr);
    const report = parseCheckJson(result.stdout);
    assert.equal(report.ok, true);
    const probed = (node: string) =>
      report.targets.filter((t) => t.node === node && t.expected === 'open').map((t) => t.port);
    assert.deepEqual(probed('cp-1').sort(), [...CONTROL_PLANE_PORTS].sort());
    assert.deepEqual(probed('worker-1').sort(), [...WORKER_PORTS].sort());
  });

  test('2379 closed and 9101 dropped: exit 1, and both are named', async () => {
    await stopChild(etcd);
    await ns.dropTcp('127.0.0.2', 9101);
    const json = await check('--output=json');
    assert.equal(json.code, 1, json.stderr);
    const report = parseCheckJson(json.stdout);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.targets
        .filter((t) => !t.asExpected)
        .map((t) => [t.node, t.port, t.portName, t.state, t.required]),
      [
        ['cp-1', 2379, 'etcd-client', 'refused', true],
        ['worker-1', 9101, 'node-exporter', 'timeout', true],
      ],
    );

    const table = await check();
    assert.equal(table.code, 1);
    assert.match(
      table.stdout,
      /^ {2}FAIL cp-1 \(127\.0\.0\.1\): refused: nothing listens: 2379 etcd-client$/m,
    );
    assert.match(
      table.stdout,
      /^ {2}FAIL worker-1 \(127\.0\.0\.2\): timeout: dropped on the way: 9101 node-exporter$/m,
    );
    const timedOut = report.targets.find((t) => t.port === 9101 && t.node === 'worker-1');
    assert.equal(timedOut?.latencySeconds, null);
    assert.equal(timedOut?.reason, 'dropped on the way');
  });

  test('bad input: exit 2 with one line', async () => {
    const result = await check('--output=xml');
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'imanager-port-exporter: --output: expected one of table, json, markdown, got "xml"\n',
    );
  });
});
