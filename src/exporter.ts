/**
 * The running exporter: sources feed the planner, the planner feeds the scheduler,
 * the scheduler's results land in the store, and the server renders the store.
 * Every stage is built elsewhere; this module only connects them, so tests can run
 * the whole exporter in-process through the same path as main.
 */
import { type ExporterConfig, reloadConfig } from './config-load.js';
import type { Source } from './discovery/types.js';
import { createMetrics, type Metrics } from './metrics/collector.js';
import { type CycleJob, isEcho, type PlanSettings, ProbePipeline } from './pipeline.js';
import {
  type DescriptorPlan,
  FD_RESERVE,
  planDescriptors,
  readFdBudget,
} from './probe/fd-budget.js';
import { UNREACHABLE_LINGER_MS } from './probe/handle-connect.js';
import { IcmpPinger } from './probe/icmp.js';
import { createProbePool, type ProbePool, workerCount } from './probe/pool.js';
import { type CycleStats, Scheduler } from './probe/scheduler.js';
import type { ProbeResult } from './probe/types.js';
import { ResultStore } from './results/store.js';
import { createApp, type ServerHandle, startServer } from './server/app.js';
import { DEFAULT_HTTP_LIMITS, quarterOf, type WebConfigEvent } from './server/security.js';
import { StatusData } from './server/status/latest.js';
import { loadWebConfig } from './server/web-config.js';
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
 * The configured concurrency and HTTP connection cap, or less of each so that both fit
 * the open-files limit beside FD_RESERVE: /metrics must answer most when probes fail,
 * and a flood of connections must not take the probes' descriptors. Logs one warning
 * when either is lowered; throws OPEN_FILES_TOO_LOW where nothing fits.
 */
function fitToOpenFilesLimit(configured: number, logger: Logger): DescriptorPlan {
  const budget = readFdBudget();
  const plan = planDescriptors(
    { probes: configured, connections: DEFAULT_HTTP_LIMITS.maxConnections },
    budget,
  );
  if (plan.lowered) {
    logger.warn('probe concurrency lowered to fit the open-files limit', {
      configured,
      concurrency: plan.probes,
      connections: plan.connections,
      openFilesLimit: budget.softLimit,
      open: budget.open,
      reserve: FD_RESERVE,
      hint: 'raise the limit (ulimit -n, LimitNOFILE=) or lower --probe.concurrency',
    });
  }
  return plan;
}

/** A served certificate closer than this to its notAfter is warned about at each (re)load. */
export const CERTIFICATE_WARNING_MS = 14 * 86_400_000;

/** How long start() waits for discovery's first snapshot before it probes what it has. */
export const FIRST_SNAPSHOT_WAIT_MS = 10_000;
/** How long the first cycle waits for the probe threads to start (each loads its modules). */
const POOL_START_WAIT_MS = 5_000;
/** How long the first cycle waits for names to get their first answer. */
const FIRST_NAMES_WAIT_MS = 1_000;

export class Exporter {
  readonly store = new ResultStore();
  /** The status page's snapshots, taken at each cycle's end so a page request never walks the store. */
  readonly #statusData: StatusData;
  readonly metrics: Metrics;
  readonly #options: ExporterOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler<CycleJob>;
  readonly #pinger: IcmpPinger;
  readonly #pipeline: ProbePipeline;
  /** With worker threads (--probe.workers, auto on more than one core): where TCP probes run. */
  readonly #pool: ProbePool | undefined;
  /** Why probes failed with `error` this cycle, logged once per cycle, not once per probe. */
  #cycleErrors = new Map<string, number>();
  #config: ExporterConfig;
  #source: Source;
  /** Resolves with discovery's first snapshot. */
  #firstSnapshot!: () => void;
  readonly #snapshotArrived = new Promise<void>((resolve) => {
    this.#firstSnapshot = resolve;
  });
  /** Set when probing starts: the first snapshot came, or the wait for it ended. */
  #probingStarted = false;
  /** Reloads run one at a time: a SIGHUP during a POST /-/reload waits its turn. */
  #reloading: Promise<unknown> = Promise.resolve();
  #server: ServerHandle | undefined;
  /** How the open-files limit is split between probes and HTTP connections. */
  readonly #descriptors: DescriptorPlan;

  constructor(options: ExporterOptions) {
    // First: a limit too low to run stops the start before anything is said or opened.
    this.#descriptors = fitToOpenFilesLimit(options.config.probe.concurrency, options.logger);
    this.#options = options;
    this.#config = options.config;
    this.#clock = options.clock ?? systemClock;
    this.#source = options.createSource(options.config);
    this.#logger = options.logger;
    this.#statusData = new StatusData(this.store, { now: () => this.#clock.now() });
    this.metrics = createMetrics({
      version: options.version,
      store: this.store,
      sourceStatus: () => [this.#source.status()],
      logger: options.logger,
    });
    this.#pinger = new IcmpPinger({ mode: options.config.probe.icmp, logger: options.logger });
    const workers = workerCount(options.config.probe.workers);
    this.#pool = workers > 0 ? createProbePool({ workers, logger: options.logger }) : undefined;
    options.logger.debug('tcp probes', { workerThreads: workers });
    const { intervalMs, timeoutMs } = options.config.probe;
    this.#pipeline = new ProbePipeline({
      settings: planSettings(options.config),
      store: this.store,
      logger: options.logger,
      clock: this.#clock,
      ...(this.#pool && { tcp: this.#pool.probe }),
      pinger: this.#pinger,
      names: { refreshMs: Math.max(intervalMs, 5_000) },
      onJudged: (job, result) => this.#onJudged(job, result),
    });
    const concurrency = this.#descriptors.probes;
    this.#scheduler = new Scheduler<CycleJob>({
      intervalMs,
      timeoutMs,
      concurrency,
      clock: this.#clock,
      logger: options.logger,
      jobsForCycle: this.#pipeline.jobsForCycle,
      probe: this.#pipeline.probe,
      onResult: (job, raw, atMs) => this.#pipeline.record(job, raw, atMs),
      onCycleStart: () => this.#onCycleStart(),
      onCycleEnd: (stats) => this.#onCycleEnd(stats),
      burstFirstCycle: true,
      lingerMs: UNREACHABLE_LINGER_MS,
      // The first burst may wait for a node's ICMP budget, but not past one interval.
      burstPacingLimitMs: Math.max(0, intervalMs - timeoutMs),
    });
  }

  /**
   * True once a full cycle has run over what discovery found (or over what there was
   * when the wait for discovery ended): /-/ready answers 200 from then on.
   */
  get ready(): boolean {
    return this.#readyCycles > 0;
  }

  #readyCycles = 0;

  /** The URL the server listens on, once started. */
  get url(): string | undefined {
    return this.#server?.url;
  }

  /**
   * Opens ICMP (which throws ICMP_UNAVAILABLE in mode `on` without the right), starts
   * the sources, listens, waits (bounded) for discovery's first snapshot, then starts
   * probing. A source that cannot reach its API still starts: it reports itself down
   * and keeps retrying.
   */
  async start(): Promise<void> {
    // A web config that cannot serve stops the start before anything else runs.
    const webConfigFile = this.#config.web.configFile;
    if (webConfigFile !== undefined) loadWebConfig(webConfigFile);
    const icmp = this.#pinger.open();
    this.metrics.setIcmpEnabled(icmp.enabled);
    // The files were loaded (by main) just before: that first load counts as a success.
    this.metrics.setConfigReloadSuccessTime(this.#clock.now() / 1000);
    this.#pipeline.setEchoEnabled(icmp.enabled);
    await this.#startSource(this.#source);
    const app = createApp({
      metrics: this.metrics,
      readiness: () => this.ready,
      version: this.#options.version,
      logger: this.#logger,
      status: {
        store: this.store,
        data: this.#statusData,
        // Read at each request: a reload may change the interval, the vantage or the source.
        intervalSeconds: () => this.#config.probe.intervalMs / 1000,
        now: () => this.#clock.now(),
        vantage: () => this.#config.vantage,
        discovery: () => this.#source.status(),
      },
      // Off by default, as in Prometheus: anyone who reaches the port could trigger it.
      ...(this.#config.web.enableLifecycle && { reload: () => this.reload() }),
    });
    const { host, port } = this.#config.listen;
    this.#server = await startServer(app, {
      ...(host !== undefined && { host }),
      port,
      ...(webConfigFile !== undefined && { webConfigFile }),
      limits: {
        maxConnections: this.#descriptors.connections,
        maxConnectionsPerSource: quarterOf(this.#descriptors.connections),
      },
      logger: this.#logger,
      onWebConfig: this.#onWebConfig,
    });
    this.#logger.info('listening', { url: this.#server.url });
    // The first cycle is a burst over every target: it must not run over none because
    // the first list of a big cluster took a second.
    await this.#waitForFirstSnapshot();
    await this.#pipeline.namesSettled(FIRST_NAMES_WAIT_MS);
    // The probe threads have been starting since the constructor; a first cycle that
    // waited for them would end late and bring the second one forward.
    await this.#poolStarted();
    this.#probingStarted = true;
    // After the server is up, so the first cycle's connect times are not inflated by
    // start-up work on the same event loop.
    this.#scheduler.start();
    this.#logger.info('probing', { targets: this.store.size });
  }

  async #poolStarted(): Promise<void> {
    if (!this.#pool) return;
    const abort = new AbortController();
    const waited = this.#clock.sleep(POOL_START_WAIT_MS, abort.signal);
    await Promise.race([this.#pool.whenStarted(), waited]);
    abort.abort();
  }

  async #waitForFirstSnapshot(): Promise<void> {
    const abort = new AbortController();
    const waited = this.#clock.sleep(FIRST_SNAPSHOT_WAIT_MS, abort.signal).then(() => false);
    const arrived = await Promise.race([this.#snapshotArrived.then(() => true), waited]);
    abort.abort();
    if (!arrived) {
      this.#logger.warn('discovery has no snapshot yet; probing what is known meanwhile', {
        source: this.#source.name,
        waitedSeconds: FIRST_SNAPSHOT_WAIT_MS / 1000,
      });
    }
  }

  /** Stops probing, discovery and the server; resolves when all are down. */
  async stop(): Promise<void> {
    await Promise.all([
      // The pool after the scheduler: the probes in flight finish on it first.
      this.#scheduler.stop().then(() => this.#pool?.close()),
      this.#server?.close(),
      this.#source.stop(),
    ]);
    this.#pipeline.stop();
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
    // The web config first: its refusal is logged where it is read, and counts too.
    this.#server?.refreshWebConfig();
    this.#warnIfCertificateExpires();
    let next: ExporterConfig;
    let source: Source;
    try {
      next = await reloadConfig(this.#config);
      // A kubeconfig that no longer loads is refused like a bad config file.
      source = this.#options.createSource(next);
    } catch (err) {
      this.#logger.error('configuration reload refused; the running configuration stays', {
        reason: err instanceof Error ? err.message : String(err),
      });
      this.#noteLoad('config', false);
      throw err;
    }
    const previous = this.#source;
    this.#config = next;
    this.#source = source;
    await previous.stop();
    // A static source reports at once; a Kubernetes one keeps the last snapshot until
    // its first list, so the targets never empty in between.
    this.#pipeline.setSettings(planSettings(next));
    await this.#startSource(source);
    this.#noteLoad('config', true);
    this.#logger.info('configuration reloaded', { file: next.configFile });
  }

  /**
   * The config file (with the kubeconfig it names) and the web config are loaded
   * apart; imanager_config_last_reload_successful is 1 only while the last load of each
   * was good, and the timestamp moves only then.
   */
  #noteLoad(part: 'config' | 'web', ok: boolean): void {
    this.#loadsGood[part] = ok;
    const all = this.#loadsGood.config && this.#loadsGood.web;
    this.metrics.setConfigReloadSuccessful(all);
    if (all && ok) this.metrics.setConfigReloadSuccessTime(this.#clock.now() / 1000);
  }

  readonly #loadsGood = { config: true, web: true };
  /** The served certificate's notAfter, Unix ms; undefined without TLS. */
  #certificateNotAfterMs: number | undefined;

  #onWebConfig = (event: WebConfigEvent): void => {
    this.#noteLoad('web', event.ok);
    if (!event.ok) return;
    this.#certificateNotAfterMs = event.loaded.tls?.certificateNotAfterMs;
    const notAfter = this.#certificateNotAfterMs;
    this.metrics.setWebCertificateExpiry(notAfter === undefined ? undefined : notAfter / 1000);
    this.#warnIfCertificateExpires();
  };

  /** At each load and reload: a certificate that has expired, or will within 14 days. */
  #warnIfCertificateExpires(): void {
    const notAfter = this.#certificateNotAfterMs;
    if (notAfter === undefined) return;
    const leftMs = notAfter - this.#clock.now();
    if (leftMs > CERTIFICATE_WARNING_MS) return;
    const fields = {
      file: this.#config.web.configFile,
      notAfter: new Date(notAfter).toISOString(),
      daysLeft: Math.floor(leftMs / 86_400_000),
      hint: 'renew it: the file is re-read at the next connection, no restart needed',
    };
    if (leftMs <= 0) this.#logger.warn('the served TLS certificate has expired', fields);
    else this.#logger.warn('the served TLS certificate expires within 14 days', fields);
  }

  #startSource(source: Source): Promise<void> {
    return source.start((snapshot) => {
      // A source replaced by a reload may still deliver; only the current one counts.
      if (source !== this.#source) return;
      this.#pipeline.setSnapshot(snapshot);
      this.#firstSnapshot();
      this.#logger.debug('targets planned', {
        targets: this.store.size,
        nodes: snapshot.nodes.length,
        nodePorts: snapshot.nodePorts.length,
      });
    });
  }

  #onCycleStart(): void {
    this.#pipeline.newCycle();
    this.#cycleErrors.clear();
  }

  #onJudged(job: CycleJob, result: ProbeResult): void {
    this.metrics.countProbe(isEcho(job) ? 'icmp' : job.protocol, result.state);
    if (result.state === 'error' && !isEcho(job)) {
      const reason = result.error ?? 'unknown';
      this.#cycleErrors.set(reason, (this.#cycleErrors.get(reason) ?? 0) + 1);
    }
  }

  #onCycleEnd(stats: CycleStats): void {
    if (this.#probingStarted) this.#readyCycles++;
    this.metrics.setCycleDuration(stats.durationSeconds);
    this.#statusData.capture().catch((err: unknown) => {
      this.#logger.error('status page snapshot failed; the page shows the previous one', { err });
    });
    for (const [reason, probes] of this.#cycleErrors) {
      this.#logger.warn('probes failed without reaching the network', { reason, probes });
    }
    if (stats.overran) {
      this.#logger.warn('probe cycle took longer than the interval', {
        durationSeconds: stats.durationSeconds,
        intervalSeconds: this.#config.probe.intervalMs / 1000,
        probes: stats.probes,
        ...(stats.pacedIps > 0 && {
          pacedIps: stats.pacedIps,
          why: "held to the nodes' ICMP rate limit (about 1 error a second per peer): raise --probe.interval, or net.ipv4.icmp_ratelimit on the nodes",
        }),
      });
    }
  }
}

/** What the pipeline plans with, from the running config. */
function planSettings(config: ExporterConfig): PlanSettings {
  return {
    vantage: config.vantage,
    catalog: config.catalog,
    shard: config.shard,
    ...(config.meshPeers !== undefined && { meshPeers: config.meshPeers }),
    ipFamilies: config.ipFamilies,
    nodePortRange: config.nodePortRange,
  };
}
