/**
 * A test bed for alerting end to end, all inside one network namespace the test made:
 * three nodes on loopback addresses (127.0.1.1-3), with a listener on every port the
 * exporter probes there and a real node exporter on each node's 9101; the real exporter
 * (src/main.ts) in central or DaemonSet mode; a real Prometheus (Debian's, 2.42) with the
 * project's rule file, only the `for` and `keep_firing_for` durations shortened; a real
 * Alertmanager (Debian's, 0.25) with kube-prometheus-stack's default route and inhibit
 * rules plus alerts/alertmanager.yml. A node goes dark by an nftables rule that drops
 * everything sent to its address. The test reaches Prometheus and Alertmanager through
 * Unix sockets (test/fixtures/unix-bridge.ts), since both listen only inside.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { CATALOG } from '../../../src/catalog/ports.js';
import type { ClusterNode } from '../../../src/discovery/types.js';
import { planTargets } from '../../../src/targets/planner.js';
import type { Target } from '../../../src/targets/types.js';
import { requireTool } from '../../alerts/tools.js';
import { createNetns, type Netns } from '../../helpers/netns.js';
import { REPO_ROOT } from '../../helpers/node-child.js';
import { type Daemon, startDaemon } from '../daemon.js';
import { listenInNetns, stopChild } from '../in-netns.js';

export type Mode = 'central' | 'daemonset';

export const NODES: readonly ClusterNode[] = [
  {
    name: 'master-1',
    addresses: ['127.0.1.1'],
    roles: ['control-plane'],
    ready: true,
    kubeletVersion: '',
  },
  {
    name: 'worker-1',
    addresses: ['127.0.1.2'],
    roles: ['worker'],
    ready: true,
    kubeletVersion: '',
  },
  {
    name: 'worker-2',
    addresses: ['127.0.1.3'],
    roles: ['worker'],
    ready: true,
    kubeletVersion: '',
  },
];

const KUBERNETES_VERSION = '1.28';

/**
 * The test's clock: probes every second (the default is 15 s), scrapes and evaluations
 * every second (the chart's are 30 s). Every `for` becomes FOR_SECONDS: past a probe pass,
 * a scrape and an evaluation, so a node's silence is known before its port alerts could
 * fire, and past the time a restart takes; every keep_firing_for KEEP_SECONDS, past
 * FOR_SECONDS and a few scrapes, as the real 3m is past ImanagerExporterDown's 1m.
 */
export const FOR_SECONDS = 8;
export const KEEP_SECONDS = 16;
const PROBE = ['--probe.interval=1s', '--probe.timeout=500ms', '--probe.icmp=off'];

/** Where the central exporter listens: an address that is no node's. */
const CENTRAL_LISTEN = '127.0.0.100:19101';
const EXPORTER_PORT = 19101;
const PROMETHEUS = '127.0.0.1:9090';
const ALERTMANAGER = '127.0.0.1:9093';

export interface Alert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state?: string;
  readonly status?: { readonly state: string; readonly inhibitedBy: readonly string[] };
}

export interface Exporter {
  readonly vantage: string;
  readonly listen: string;
  child: ChildProcess;
}

/** The rule file with its `for` and `keep_firing_for` durations shortened, nothing else. */
function shortenedRules(): string {
  const file = parse(readFileSync(join(REPO_ROOT, 'alerts/imanager-ports.rules.yml'), 'utf8')) as {
    groups: { rules: { alert?: string; for?: string; keep_firing_for?: string }[] }[];
  };
  for (const group of file.groups) {
    for (const rule of group.rules) {
      if (rule.for !== undefined) rule.for = `${FOR_SECONDS}s`;
      if (rule.keep_firing_for !== undefined) rule.keep_firing_for = `${KEEP_SECONDS}s`;
    }
  }
  return stringify(file);
}

/** kube-prometheus-stack's Alertmanager config with our inhibit rules added. */
function alertmanagerConfig(): string {
  const base = parse(
    readFileSync(join(import.meta.dirname, 'kube-prometheus-stack-alertmanager.yml'), 'utf8'),
  ) as { inhibit_rules: unknown[] };
  const ours = parse(readFileSync(join(REPO_ROOT, 'alerts/alertmanager.yml'), 'utf8')) as {
    inhibit_rules: unknown[];
  };
  return stringify({ ...base, inhibit_rules: [...base.inhibit_rules, ...ours.inhibit_rules] });
}

/** GET a JSON document through a Unix socket. */
function getJson<T>(socketPath: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (error) {
          reject(new Error(`${path}: not JSON (HTTP ${res.statusCode})`, { cause: error }));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * How often the alerting tests ask: neither Prometheus nor Alertmanager tells when an
 * alert changes, so polling (test/helpers/wait.ts) is the way.
 */
export const POLL_MS = 250;

/** `alertname{node, port}`, for messages and figures. */
export function describeAlert(alert: Alert): string {
  const { alertname, node, port, instance } = alert.labels;
  const where = [
    node && `node=${node}`,
    port && `port=${port}`,
    !node && instance && `instance=${instance}`,
  ]
    .filter(Boolean)
    .join(',');
  return `${alertname}{${where}}`;
}

export class Bed {
  readonly exporters: Exporter[] = [];
  #ns: Netns | undefined;
  #dir = mkdtempSync(join(tmpdir(), 'ipe-alerting-'));
  #daemons: Daemon[] = [];
  #nodeExporters = new Map<string, Daemon>();
  #listeners: ChildProcess[] = [];
  #closable = new Map<string, ChildProcess>();
  #config = join(this.#dir, 'nodes.yml');
  #dark = new Set<string>();

  constructor(
    readonly mode: Mode,
    /** `address:port` endpoints the test closes later, each with a listener of its own. */
    readonly closable: readonly string[] = [],
  ) {}

  get ns(): Netns {
    if (!this.#ns) throw new Error('the bed is not started');
    return this.#ns;
  }

  get #prometheusSocket() {
    return join(this.#dir, 'prometheus.sock');
  }

  get #alertmanagerSocket() {
    return join(this.#dir, 'alertmanager.sock');
  }

  vantages(): string[] {
    return this.mode === 'central' ? ['central'] : NODES.map((n) => n.name);
  }

  /** Every target some exporter of the bed probes: where listeners must answer. */
  targets(): Target[] {
    return this.vantages().flatMap((vantage) =>
      planTargets({
        vantage,
        catalog: CATALOG,
        snapshot: { nodes: NODES, nodePorts: [], kubernetesVersion: KUBERNETES_VERSION },
        ...(this.mode === 'daemonset' ? { meshPeers: NODES.length } : {}),
      }),
    );
  }

  async start(): Promise<void> {
    const prometheus = requireTool('/usr/bin/prometheus', 'prometheus');
    const alertmanager = requireTool('/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager');
    const nodeExporter = requireTool(
      '/usr/bin/prometheus-node-exporter',
      'prometheus-node-exporter',
    );
    this.#ns = await createNetns(`alerting-${this.mode}`);

    // Listeners on every probed port that must be open, but the node exporters' 9101 and
    // the closable ones: a port that must stay closed (the kubelet's read-only 10255) stays so.
    const endpoints = new Set(
      this.targets()
        .filter((t) => t.port !== 9101 && t.expected === 'open')
        .map((t) => `${t.address}:${t.port}`),
    );
    for (const endpoint of this.closable) endpoints.delete(endpoint);
    this.#listeners.push(await listenInNetns(this.ns, [...endpoints]));
    for (const endpoint of this.closable) {
      this.#closable.set(endpoint, await listenInNetns(this.ns, [endpoint]));
    }
    for (const node of NODES) {
      this.#nodeExporters.set(
        node.name,
        await this.#startNodeExporter(nodeExporter, node.addresses[0] as string),
      );
    }

    writeFileSync(
      this.#config,
      stringify({
        kubernetesVersion: KUBERNETES_VERSION,
        nodes: NODES.map((n) => ({
          name: n.name,
          address: n.addresses[0] as string,
          roles: [...n.roles],
        })),
      }),
    );
    for (const vantage of this.vantages()) {
      const node = NODES.find((n) => n.name === vantage);
      const listen = node ? `${node.addresses[0]}:${EXPORTER_PORT}` : CENTRAL_LISTEN;
      const exporter: Exporter = { vantage, listen, child: this.#spawnExporter(vantage, listen) };
      this.exporters.push(exporter);
    }

    writeFileSync(join(this.#dir, 'rules.yml'), shortenedRules());
    writeFileSync(join(this.#dir, 'alertmanager.yml'), alertmanagerConfig());
    // As the Prometheus Operator's ServiceMonitor would: namespace, pod and service of the
    // target, and a cluster label as a multi-cluster Prometheus adds one.
    const scrape = (job: string, targets: { target: string; pod?: string }[]) => ({
      job_name: job,
      static_configs: targets.map(({ target, pod }) => ({
        targets: [target],
        labels: {
          cluster: 'e2e',
          ...(job === 'imanager-port-exporter'
            ? { namespace: 'monitoring', service: 'ipe-imanager-port-exporter', pod: pod ?? '' }
            : {}),
        },
      })),
    });
    writeFileSync(
      join(this.#dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '800ms', evaluation_interval: '1s' },
        rule_files: [join(this.#dir, 'rules.yml')],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [ALERTMANAGER] }] }] },
        scrape_configs: [
          scrape(
            'imanager-port-exporter',
            this.exporters.map((e) => ({ target: e.listen, pod: `ipe-${e.vantage}` })),
          ),
          scrape(
            'node-exporter',
            NODES.map((n) => ({ target: `${n.addresses[0]}:9101` })),
          ),
        ],
      }),
    );
    mkdirSync(join(this.#dir, 'prometheus-data'));
    mkdirSync(join(this.#dir, 'alertmanager-data'));
    this.#daemons.push(
      await startDaemon(
        this.#inNetns([
          alertmanager,
          `--config.file=${join(this.#dir, 'alertmanager.yml')}`,
          `--storage.path=${join(this.#dir, 'alertmanager-data')}`,
          `--web.listen-address=${ALERTMANAGER}`,
          // One Alertmanager, no gossip.
          '--cluster.listen-address=',
        ]),
        { ready: /Listening/, lifetimeMs: 600_000 },
      ),
    );
    this.#daemons.push(
      await startDaemon(
        this.#inNetns([
          prometheus,
          `--config.file=${join(this.#dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(this.#dir, 'prometheus-data')}`,
          `--web.listen-address=${PROMETHEUS}`,
          // Firing alerts are sent again every second, not every minute.
          '--rules.alert.resend-delay=1s',
        ]),
        { ready: /Server is ready to receive web requests/, lifetimeMs: 600_000 },
      ),
    );
    const bridge = this.ns.spawnNode(
      'test/fixtures/unix-bridge.ts',
      [`${this.#prometheusSocket}=${PROMETHEUS}`, `${this.#alertmanagerSocket}=${ALERTMANAGER}`],
      { timeoutMs: 600_000 },
    );
    this.#listeners.push(bridge);
    const [chunk] = (await once(bridge.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    if (!/ready/.test(chunk.toString())) throw new Error(`unix-bridge: ${chunk.toString()}`);
  }

  #inNetns(argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.ns.name, ...argv];
  }

  #startNodeExporter(binary: string, address: string): Promise<Daemon> {
    return startDaemon(
      this.#inNetns([
        binary,
        `--web.listen-address=${address}:9101`,
        // The figures the dashboards read, and nothing that walks the whole machine.
        '--collector.disable-defaults',
        '--collector.cpu',
        '--collector.meminfo',
        '--collector.filesystem',
      ]),
      { ready: /Listening on/, lifetimeMs: 600_000 },
    );
  }

  #spawnExporter(vantage: string, listen: string): ChildProcess {
    return this.ns.spawnNode(
      'src/main.ts',
      [
        `--config.file=${this.#config}`,
        '--discovery=static',
        `--web.listen-address=${listen}`,
        ...(vantage === 'central' ? [] : [`--vantage=${vantage}`, `--mesh.peers=${NODES.length}`]),
        ...PROBE,
      ],
      { timeoutMs: 600_000 },
    );
  }

  /** Kills an exporter at once, as a node failure or an OOM kill would. */
  async killExporter(exporter: Exporter): Promise<void> {
    if (exporter.child.exitCode !== null || exporter.child.signalCode !== null) return;
    const closed = once(exporter.child, 'close');
    exporter.child.kill('SIGKILL');
    await closed;
  }

  /** Starts a killed exporter again, with the same flags. */
  restartExporter(exporter: Exporter): void {
    exporter.child = this.#spawnExporter(exporter.vantage, exporter.listen);
  }

  /** Everything sent to the node's address is dropped from now on: the node is dark. */
  async darken(node: string): Promise<void> {
    const address = this.#address(node);
    if (this.#dark.size === 0) {
      await this.ns.exec('nft', [
        'add table inet ipe_dark; add chain inet ipe_dark input { type filter hook input priority filter; policy accept; }',
      ]);
    }
    await this.ns.exec('nft', [
      'add',
      'rule',
      'inet',
      'ipe_dark',
      'input',
      'ip',
      'daddr',
      address,
      'drop',
    ]);
    this.#dark.add(node);
  }

  /** The node answers again. */
  async restore(node: string): Promise<void> {
    this.#dark.delete(node);
    await this.ns.exec('nft', ['flush', 'chain', 'inet', 'ipe_dark', 'input']);
    for (const other of this.#dark) {
      await this.ns.exec('nft', [
        'add',
        'rule',
        'inet',
        'ipe_dark',
        'input',
        'ip',
        'daddr',
        this.#address(other),
        'drop',
      ]);
    }
  }

  /** Stops the listener of a closable endpoint: connects there are refused. */
  async close(endpoint: string): Promise<void> {
    const listener = this.#closable.get(endpoint);
    if (!listener) throw new Error(`${endpoint} is not closable`);
    await stopChild(listener);
  }

  async reopen(endpoint: string): Promise<void> {
    this.#closable.set(endpoint, await listenInNetns(this.ns, [endpoint]));
  }

  /** Stops iManager's node exporter on a node: its 9101 refuses, its scrape fails. */
  async stopNodeExporter(node: string): Promise<void> {
    await this.#nodeExporters.get(node)?.stop();
  }

  async startNodeExporter(node: string): Promise<void> {
    const binary = requireTool('/usr/bin/prometheus-node-exporter', 'prometheus-node-exporter');
    this.#nodeExporters.set(node, await this.#startNodeExporter(binary, this.#address(node)));
  }

  #address(node: string): string {
    const found = NODES.find((n) => n.name === node);
    if (!found) throw new Error(`no node ${node}`);
    return found.addresses[0] as string;
  }

  /** Prometheus' alerts, pending and firing. */
  async prometheusAlerts(): Promise<Alert[]> {
    const body = await getJson<{ data: { alerts: Alert[] } }>(
      this.#prometheusSocket,
      '/api/v1/alerts',
    );
    return body.data.alerts;
  }

  async query(
    expr: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const body = await getJson<{
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    }>(this.#prometheusSocket, `/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  }

  /** What would reach the on-call: Alertmanager's active alerts, neither silenced nor inhibited. */
  async pages(): Promise<Alert[]> {
    return getJson<Alert[]>(
      this.#alertmanagerSocket,
      '/api/v2/alerts?active=true&silenced=false&inhibited=false',
    );
  }

  /** Every alert Alertmanager holds, inhibited ones included. */
  async alertmanagerAlerts(): Promise<Alert[]> {
    return getJson<Alert[]>(this.#alertmanagerSocket, '/api/v2/alerts');
  }

  async stop(): Promise<void> {
    for (const d of this.#daemons.reverse()) await d.stop();
    for (const d of this.#nodeExporters.values()) await d.stop();
    await this.#ns?.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
