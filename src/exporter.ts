/**
 * The running exporter: sources feed the planner, the planner feeds the scheduler,
 * the scheduler's results land in the store, and the server renders the store.
 * Every stage is built elsewhere; this module only connects them, so tests can run
 * the whole exporter in-process through the same path as main.
 */
import { effectiveCatalog } from './catalog/overrides.js';
import { type ExporterConfig, reloadConfig } from './config/index.js';
import type { DiscoverySnapshot, Source } from './discovery/types.js';
import { createMetrics, type Metrics } from './metrics/collector.js';
import { FD_RESERVE, fitConcurrency, readFdBudget } from './probe/fd-budget.js';
import { IcmpPinger } from './probe/icmp.js';
import { createProbePool, type ProbePool } from './probe/pool.js';
import { createTargetProber, type TargetProber } from './probe/run.js';
import { type CycleStats, Scheduler } from './probe/scheduler.js';
import type { ProbeResult } from './probe/types.js';
import { ResultStore } from './results/store.js';
import { createApp, type ServerHandle, startServer } from './server/app.js';
import { loadWebConfig } from './server/web-config.js';
import { planTargets } from './targets/planner.js';
import type { Target } from './targets/types.js';
import { type Clock, systemClock } from './util/clock.js';
import type { Logger } from './util/log.js';

export interface ExporterOptions {
  readonly config: ExporterConfig;
  /**
   * Where nodes and NodePorts come from, for a config: called at start and again after
   * each reload, since a reload may change the static nodes or the discovery rules.
   */
  readonly createSource: (config: ExporterConfig) => Source;
  readonly logger: Logger;
  readonly version: string;
  /** Default the system clock; tests pass a fake one. */
  readonly clock?: Clock;
}

/**
 * The configured concurrency, or less so that probes leave FD_RESERVE descriptors for
 * scrapes and discovery: /metrics must answer most when probes fail.
 */
function fitToOpenFilesLimit(configured: number, logger: Logger): number {
  const budget = readFdBudget();
  const fit = fitConcurrency(configured, budget);
  if (fit.lowered) {
    logger.warn('probe concurrency lowered to fit the open-files limit', {
      configured,
      concurrency: fit.concurrency,
      openFilesLimit: budget.softLimit,
      open: budget.open,
      reserve: FD_RESERVE,
      hint: 'raise the limit (ulimit -n, LimitNOFILE=) or lower --probe.concurrency',
    });
  }
  return fit.concurrency;
}

export class Exporter {
  readonly store = new ResultStore();
  readonly metrics: Metrics;
  readonly #options: ExporterOptions;
  readonly #logger: Logger;
  readonly #scheduler: Scheduler;
  readonly #pinger: IcmpPinger;
  /** Resolves each cycle's hosts once, then probes; the one-shot check shares it. */
  readonly #prober: TargetProber;
  /** With --probe.workers: the threads the TCP probes run on. */
  readonly #pool: ProbePool | undefined;
  #snapshot: DiscoverySnapshot = { nodes: [], nodePorts: [] };
  /** Why probes failed with `error` this cycle, logged once per cycle, not once per probe. */
  #cycleErrors = new Map<string, number>();
  #config: ExporterConfig;
  #source: Source;
  /** Reloads run one at a time: a SIGHUP during a POST /-/reload waits its turn. */
  #reloading: Promise<unknown> = Promise.resolve();
  #server: ServerHandle | undefined;

  constructor(options: ExporterOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#source = options.createSource(options.config);
    this.#logger = options.logger;
    this.metrics = createMetrics({
      version: options.version,
      store: this.store,
      sourceStatus: () => [this.#source.status()],
      logger: options.logger,
    });
    this.#pinger = new IcmpPinger({ mode: options.config.probe.icmp, logger: options.logger });
    const workers = options.config.probe.workers ?? 0;
    this.#pool = workers > 0 ? createProbePool({ workers, logger: options.logger }) : undefined;
    this.#prober = createTargetProber(this.#pool ? { probers: { tcp: this.#pool.probe } } : {});
    const { intervalMs, timeoutMs } = options.config.probe;
    const concurrency = fitToOpenFilesLimit(options.config.probe.concurrency, options.logger);
    this.#scheduler = new Scheduler({
      intervalMs,
      timeoutMs,
      concurrency,
      clock: options.clock ?? systemClock,
      logger: options.logger,
      probe: (target, timeout) => this.#prober.probe(target, timeout),
      onResult: (target, result, atMs) => this.#onResult(target, result, atMs),
      onCycleStart: (targets) => this.#onCycleStart(targets),
      onCycleEnd: (stats) => this.#onCycleEnd(stats),
      burstFirstCycle: true,
    });
  }

  /** True once the first full cycle has finished: /-/ready answers 200 from then on. */
  get ready(): boolean {
    return this.#scheduler.ready;
  }

  /** The URL the server listens on, once started. */
  get url(): string | undefined {
    return this.#server?.url;
  }

  /**
   * Opens ICMP (which throws ICMP_UNAVAILABLE in mode `on` without the right), starts
   * the sources, listens, then starts probing. A source that cannot reach its API
   * still starts: it reports itself down and keeps retrying.
   */
  async start(): Promise<void> {
    // A web config that cannot serve stops the start before anything else runs.
    const webConfigFile = this.#config.web.configFile;
    if (webConfigFile !== undefined) loadWebConfig(webConfigFile);
    const icmp = this.#pinger.open();
    this.metrics.setIcmpEnabled(icmp.enabled);
    await this.#startSource(this.#source);
    const app = createApp({
      metrics: this.metrics,
      readiness: () => this.ready,
      version: this.#options.version,
      logger: this.#logger,
      status: {
        store: this.store,
        // Read at each request: a reload may change the interval.
        intervalSeconds: () => this.#config.probe.intervalMs / 1000,
        now: () => (this.#options.clock ?? systemClock).now(),
      },
      // Off by default, as in Prometheus: anyone who reaches the port could trigger it.
      ...(this.#config.web.enableLifecycle && { reload: () => this.reload() }),
    });
    const { host, port } = this.#config.listen;
    this.#server = await startServer(app, {
      ...(host !== undefined && { host }),
      port,
      ...(webConfigFile !== undefined && { webConfigFile }),
      logger: this.#logger,
    });
    // After the server is up, so the first cycle's connect times are not inflated by
    // start-up work on the same event loop.
    this.#scheduler.start();
    this.#logger.info('listening', { url: this.#server.url, targets: this.store.size });
  }

  /** Stops probing, discovery and the server; resolves when all are down. */
  async stop(): Promise<void> {
    await Promise.all([
      // The pool after the scheduler: the probes in flight finish on it first.
      this.#scheduler.stop().then(() => this.#pool?.close()),
      this.#server?.close(),
      this.#source.stop(),
    ]);
    this.#pinger.close();
  }

  /**
   * Reads the config file again. A good one takes effect at the next cycle; a bad one
   * is refused with a log line, the running config stays, and
   * imanager_config_last_reload_successful goes to 0. Rejects with the reason.
   */
  reload(): Promise<void> {
    const run = this.#reloading.then(() => this.#reload());
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async #reload(): Promise<void> {
    let next: ExporterConfig;
    try {
      next = await reloadConfig(this.#config);
    } catch (err) {
      this.metrics.setConfigReloadSuccessful(false);
      this.#logger.error('configuration reload refused; the running configuration stays', {
        reason: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
    const previous = this.#source;
    const source = this.#options.createSource(next);
    this.#config = next;
    this.#source = source;
    await previous.stop();
    await this.#startSource(source);
    // A static source reports at once; a Kubernetes one keeps the last snapshot until
    // its first list, so the targets never empty in between.
    this.#replan();
    this.metrics.setConfigReloadSuccessful(true);
    this.#logger.info('configuration reloaded', { file: next.configFile });
  }

  #startSource(source: Source): Promise<void> {
    return source.start((snapshot) => {
      // A source replaced by a reload may still deliver; only the current one counts.
      if (source !== this.#source) return;
      this.#snapshot = snapshot;
      this.#replan();
    });
  }

  /** Plans the targets from the latest snapshot; the scheduler takes them at its next cycle. */
  #replan(): void {
    const snapshot = this.#snapshot;
    const targets = planTargets({
      vantage: this.#config.vantage,
      catalog: effectiveCatalog(this.#config.catalog),
      snapshot,
      shard: this.#config.shard,
      meshPeers: this.#config.meshPeers,
    });
    this.store.setTargets(targets);
    this.store.setNodes(snapshot.nodes);
    this.store.setNodePorts(snapshot.nodePorts, this.#config.nodePortRange);
    this.#scheduler.setTargets(targets);
    this.#logger.debug('targets planned', {
      targets: targets.length,
      nodes: snapshot.nodes.length,
      nodePorts: snapshot.nodePorts.length,
    });
  }

  async #onCycleStart(targets: readonly Target[]): Promise<void> {
    await this.#prober.prepare(targets);
    this.#cycleErrors.clear();
    // One echo per node per cycle, beside the port probes rather than ahead of them.
    void this.#pingNodes(targets);
  }

  async #pingNodes(targets: readonly Target[]): Promise<void> {
    const nodes = new Map<string, string>();
    for (const target of targets)
      nodes.set(`${target.node}\u0000${target.address}`, target.address);
    const timeoutMs = this.#config.probe.timeoutMs;
    await Promise.all(
      [...nodes].map(async ([key, address]) => {
        const resolution = this.#prober.resolution(address);
        if (!resolution || 'error' in resolution) return;
        const result = await this.#pinger.ping(resolution.ip, timeoutMs);
        if (result.error === 'icmp disabled') return;
        const node = key.slice(0, key.indexOf('\u0000'));
        this.store.recordIcmp(node, address, result);
        this.metrics.countProbe('icmp', result.up ? 'open' : 'timeout');
      }),
    );
  }

  #onResult(target: Target, result: ProbeResult, atMs: number): void {
    this.store.record(target, result, atMs);
    this.metrics.countProbe(target.protocol, result.state);
    if (result.state === 'error') {
      const reason = result.error ?? 'unknown';
      this.#cycleErrors.set(reason, (this.#cycleErrors.get(reason) ?? 0) + 1);
    }
  }

  #onCycleEnd(stats: CycleStats): void {
    this.metrics.setCycleDuration(stats.durationSeconds);
    for (const [reason, probes] of this.#cycleErrors) {
      this.#logger.warn('probes failed without reaching the network', { reason, probes });
    }
    if (stats.overran) {
      this.#logger.warn('probe cycle took longer than the interval', {
        durationSeconds: stats.durationSeconds,
        intervalSeconds: this.#config.probe.intervalMs / 1000,
        probes: stats.probes,
      });
    }
  }
}
