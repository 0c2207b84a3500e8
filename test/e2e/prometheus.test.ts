/**
 * End to end against a real Prometheus (Debian's `prometheus`): it scrapes the
 * exporter and a real node exporter on 127.0.0.1:9101 every second and evaluates the
 * real rule file (with every `for` cut to one second). Closing a required port's
 * listener must fire ImanagerRequiredPortClosed through the Prometheus API, reopening
 * it must resolve it, and every dashboard query must parse and, where this set-up has
 * data for it, return some.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { STATE_GUIDE } from '../../src/probe/states.js';
import { requireTool } from '../alerts/tools.js';
import {
  allSelected,
  loadDashboards,
  parseLabelValues,
  queriesOf,
  substitute,
  variableQuery,
} from '../dashboards/queries.js';
import { nodeArgv, REPO_ROOT } from '../helpers/node-child.js';
import { type EventuallyOptions, eventually } from '../helpers/wait.js';
import { type Daemon, freePort, startDaemon } from './daemon.js';

const MAIN = join(REPO_ROOT, 'src/main.ts');
const RULES = join(REPO_ROOT, 'alerts/imanager-ports.rules.yml');
const NODE_EXPORTER_ADDRESS = '127.0.0.1:9101';

// ---------------------------------------------------------------------------------
// The exporter under test: src/main.ts with a static config of this machine.

/** Ports this test owns on 127.0.0.1. */
interface Ports {
  /** A custom required port whose listener the test closes and reopens. */
  readonly required: number;
  /** A custom optional port with nothing behind it. */
  readonly optional: number;
}

/** The node name the config gives 127.0.0.1. */
const NODE = 'localhost';

async function startExporter(
  ports: Ports,
  dir: string,
): Promise<{ address: string; daemon: Daemon }> {
  const config = join(dir, 'exporter.yml');
  writeFileSync(
    config,
    stringify({
      nodes: [{ name: NODE, address: '127.0.0.1', roles: ['worker'] }],
      // Of the catalog, keep only iManager's node exporter: nothing else listens here.
      ports: Object.fromEntries(
        ['kubernetes-ui', 'kubelet', 'calico-bgp', 'imanager-ui'].map((id) => [
          id,
          { enabled: false },
        ]),
      ),
      customPorts: [
        { id: 'e2e-required', port: ports.required, roles: 'all', component: 'e2e-listener' },
        {
          id: 'e2e-optional',
          port: ports.optional,
          roles: 'all',
          required: false,
          component: 'e2e-optional',
        },
      ],
    }),
  );
  const port = await freePort();
  const daemon = await startDaemon(
    nodeArgv(MAIN, [
      `--config.file=${config}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--probe.interval=1s',
      '--probe.timeout=500ms',
    ]),
    { ready: /"msg":"listening"/ },
  );
  return { address: `127.0.0.1:${port}`, daemon };
}

/**
 * Panels and variables with no data in this set-up, and why. Everything else must
 * return data while the required port is closed.
 */
function emptyHere(icmpEnabled: boolean): ReadonlyMap<string, string> {
  const empty = new Map<string, string>();
  // main.ts wires the static source only, and a static config has no NodePorts.
  const noNodePorts = 'no NodePorts without the Kubernetes source';
  for (const key of [
    'imanager-ports-nodeports/NodePorts by node',
    'imanager-ports-nodeports/Services',
    'imanager-ports-nodeports/Allocation',
    'imanager-ports-nodeports/Not as expected, since when',
    'imanager-ports-nodeports/NodePorts not open, over time',
    'imanager-ports-nodeports/variable group',
    'imanager-ports-nodeports/variable k8s_namespace',
    'imanager-ports-overview/variable group',
  ]) {
    empty.set(key, noNodePorts);
  }
  if (!icmpEnabled) empty.set('imanager-ports-nodes/ICMP round trip', 'ICMP is not permitted here');
  return empty;
}

// ---------------------------------------------------------------------------------
// Prometheus, node exporter and the port the test opens and closes.

interface Alert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: string;
}

class PrometheusApi {
  constructor(readonly base: string) {}

  async get<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      for (const value of Array.isArray(v) ? v : [v]) query.append(k, value);
    }
    const response = await fetch(`${this.base}${path}?${query}`);
    const json = (await response.json()) as { status: string; data: T; error?: string };
    if (json.status !== 'success')
      throw new Error(`${path} ${JSON.stringify(params)}: ${json.error}`);
    return json.data;
  }

  query(expr: string) {
    return this.get<{ resultType: string; result: unknown[] }>('/api/v1/query', { query: expr });
  }

  queryRange(expr: string, seconds: number) {
    const end = Date.now() / 1000;
    return this.get<{ result: unknown[] }>('/api/v1/query_range', {
      query: expr,
      start: String(end - seconds),
      end: String(end),
      step: '1',
    });
  }

  async alerts(): Promise<Alert[]> {
    return (await this.get<{ alerts: Alert[] }>('/api/v1/alerts')).alerts;
  }
}

// Prometheus tells nothing when a rule changes state: polling its API is the only way.
const PROMETHEUS_WAIT = (what: string): EventuallyOptions => ({
  what,
  timeoutMs: 30_000,
  intervalMs: 250,
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The rule file with every alert's `for` and `keep_firing_for` cut to one second, so the
 * test need not wait minutes.
 */
function shortenedRules(): string {
  const file = parse(readFileSync(RULES, 'utf8')) as {
    groups: { rules: { alert?: string; for?: string; keep_firing_for?: string }[] }[];
  };
  for (const group of file.groups) {
    for (const rule of group.rules) {
      if (rule.alert !== undefined) rule.for = '1s';
      if (rule.keep_firing_for !== undefined) rule.keep_firing_for = '1s';
    }
  }
  return stringify(file);
}

describe('Prometheus with the rule files and dashboards, end to end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imanager-e2e-'));
  const daemons: Daemon[] = [];
  let listener: Server | undefined;
  let ports: Ports;
  let api: PrometheusApi;

  before(async () => {
    const prometheus = requireTool('/usr/bin/prometheus', 'prometheus');
    const nodeExporter = requireTool(
      '/usr/bin/prometheus-node-exporter',
      'prometheus-node-exporter',
    );
    ports = { required: await freePort(), optional: await freePort() };
    listener = await listen(ports.required);

    daemons.push(
      await startDaemon([nodeExporter, `--web.listen-address=${NODE_EXPORTER_ADDRESS}`], {
        ready: /Listening on/,
      }).catch((error: unknown) => {
        throw new Error(
          `node exporter could not listen on ${NODE_EXPORTER_ADDRESS}: is another one running?`,
          {
            cause: error,
          },
        );
      }),
    );
    const exporter = await startExporter(ports, dir);
    daemons.push(exporter.daemon);

    writeFileSync(join(dir, 'rules.yml'), shortenedRules());
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
        rule_files: [join(dir, 'rules.yml')],
        scrape_configs: [
          // A cluster label, as a multi-cluster Prometheus adds: the dashboards' variable has data.
          {
            job_name: 'imanager-port-exporter',
            static_configs: [{ targets: [exporter.address], labels: { cluster: 'e2e' } }],
          },
          {
            job_name: 'node-exporter',
            static_configs: [{ targets: [NODE_EXPORTER_ADDRESS], labels: { cluster: 'e2e' } }],
          },
        ],
      }),
    );
    mkdirSync(join(dir, 'data'));
    const webPort = await freePort();
    daemons.push(
      await startDaemon(
        [
          prometheus,
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${webPort}`,
        ],
        { ready: /Server is ready to receive web requests/ },
      ),
    );
    api = new PrometheusApi(`http://127.0.0.1:${webPort}`);
    await eventually(async () => {
      const up = await api.query('up == 1');
      const open = await api.query(`imanager_port_up{port="${ports.required}"} == 1`);
      return up.result.length === 2 && open.result.length === 1 ? true : undefined;
    }, PROMETHEUS_WAIT('both jobs scraped and the required port seen open'));
  });

  after(async () => {
    if (listener?.listening) await close(listener);
    for (const d of daemons.reverse()) await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const requiredPortAlerts = async () =>
    (await api.alerts()).filter(
      (a) =>
        a.labels.alertname === 'ImanagerRequiredPortClosed' &&
        a.labels.port === String(ports.required),
    );

  it('loads every rule of the rule file', async () => {
    const { groups } = await api.get<{ groups: { rules: { name: string; health: string }[] }[] }>(
      '/api/v1/rules',
    );
    const rules = groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 11);
    for (const r of rules) assert.equal(r.health, 'ok', r.name);
    assert.deepEqual(await requiredPortAlerts(), [], 'silent while the port is open');
  });

  it('fires ImanagerRequiredPortClosed when the listener closes, saying nothing listens', async () => {
    assert.ok(listener);
    await close(listener);
    const [alert] = await eventually(async () => {
      const firing = (await requiredPortAlerts()).filter((a) => a.state === 'firing');
      return firing.length > 0 ? firing : undefined;
    }, PROMETHEUS_WAIT('ImanagerRequiredPortClosed firing'));
    assert.equal(alert?.labels.severity, 'critical');
    assert.equal(alert?.labels.node, NODE);
    assert.equal(alert?.labels.required, 'true');
    assert.ok(
      (alert?.annotations.description ?? '').includes(`refused: ${STATE_GUIDE.refused.meaning}`),
      alert?.annotations.description,
    );
    assert.match(alert?.annotations.runbook_url ?? '', /#imanagerrequiredportclosed$/);
  });

  it('runs every dashboard query, with data wherever this set-up has some', async () => {
    const icmp = await api.query('imanager_icmp_enabled == 1');
    const empty = emptyHere(icmp.result.length > 0);
    const noData: string[] = [];
    const emptyAsExpected = new Set<string>();
    const check = (key: string, rows: number) => {
      if (rows > 0) return;
      if (empty.has(key)) emptyAsExpected.add(key);
      else noData.push(key);
    };
    for (const { dashboard } of loadDashboards()) {
      const values = { ...allSelected(dashboard), node: NODE, __rate_interval: '5s' };
      for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
        const { selector, label } = parseLabelValues(variableQuery(v));
        const found = await api.get<string[]>(`/api/v1/label/${label}/values`, {
          'match[]': substitute(selector, values),
        });
        check(`${dashboard.uid}/variable ${v.name}`, found.length);
      }
      for (const q of queriesOf(dashboard)) {
        // A query Prometheus cannot parse or run makes api.get throw, naming it.
        const expr = substitute(q.target.expr, values);
        const { result } = q.target.instant
          ? await api.query(expr)
          : await api.queryRange(expr, 30);
        check(`${dashboard.uid}/${q.panel.title}`, result.length);
      }
    }
    assert.deepEqual(noData, [], 'panels without data');
    // An exemption that no longer holds (NodePorts wired, say) must go.
    assert.deepEqual(
      [...empty.keys()].filter((k) => !emptyAsExpected.has(k)),
      [],
      'panels now with data',
    );
  });

  it('resolves it when the listener opens again', async () => {
    listener = await listen(ports.required);
    await eventually(
      async () => ((await requiredPortAlerts()).length === 0 ? true : undefined),
      PROMETHEUS_WAIT('ImanagerRequiredPortClosed resolved'),
    );
  });

  it('pages only for required ports: the closed optional port raises nothing', async () => {
    const closedOptional = await api.query(
      `imanager_port_up{port="${ports.optional}", required="false"} == 0`,
    );
    assert.equal(closedOptional.result.length, 1, 'the optional port is probed and closed');
    const alerts = await api.alerts();
    assert.deepEqual(
      alerts.filter((a) => a.labels.port === String(ports.optional)),
      [],
    );
  });
});
