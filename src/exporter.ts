/**
 * The running exporter: sources feed the planner, the planner feeds the scheduler,
 * the scheduler's results land in the store, and the server renders the store.
 * Every stage is built elsewhere; this module only connects them, so tests can run
 * the whole exporter in-process through the same path as main.
 */
import { type ExporterConfig, reloadConfig } from './config-load.js';
import type { Source } from './discovery/types.js';
import { createMetrics, type Metrics } from './metrics/collector.js';
import { EXPOSITION_LABELS } from './metrics/labels.js';
import {
  type BuiltPipeline,
  buildPipeline,
  type CycleJob,
  isEcho,
  type ProbePipeline,
  planSettings,
} from './pipeline.js';
import { type DescriptorPlan, fitToOpenFilesLimit } from './probe/fd-budget.js';
import { UNREACHABLE_LINGER_MS } from './probe/handle-connect.js';
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

/** A served certificate closer than this to its notAfter is warned about at each (re)load. */
export const CERTIFICATE_WARNING_MS = 14 * 86_400_000;

/** How long start() waits for discovery's first snapshot before it probes what it has. */
export const FIRST_SNAPSHOT_WAIT_MS = 10_000;
/** How long the first cycle waits for names to get their first answer. */
const FIRST_NAMES_WAIT_MS = 1_000;

export class Exporter {
  readonly store: ResultStore;
  /** The status page's snapshots, taken at each cycle's end so a page request never walks the store. */
  readonly #statusData: StatusData;
  readonly metrics: Metrics;
  readonly #options: ExporterOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler<CycleJob>;
  /** The pipeline with its store, probe threads and ICMP stage. */
  readonly #built: BuiltPipeline;
  readonly #pipeline: ProbePipeline;
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
    this.#descriptors = fitToOpenFilesLimit(
      { probes: options.config.probe.concurrency, connections: DEFAULT_HTTP_LIMITS.maxConnections },
      options.logger,
    );
    this.#options = options;
    this.#config = options.config;
    this.#clock = options.clock ?? systemClock;
    this.#source = options.createSource(options.config);
    this.#logger = options.logger;
    const { intervalMs, timeoutMs } = options.config.probe;
    this.store = new ResultStore({ labels: EXPOSITION_LABELS });
    this.#built = buildPipeline(options.config, {
      store: this.store,
      // A request being served may hold the loop, and a burst cycle (the first) launches
      // in a few long loop turns that late-stamp the connects among them (check's were
      // p50 8 ms off on the main thread): the probes of either go to the threads.
      mainThreadBusy: () => (this.#server?.requestsInFlight() ?? 0) > 0 || this.#scheduler.bursting,
      logger: options.logger,
      clock: this.#clock,
      names: { refreshMs: Math.max(intervalMs, 5_000) },
      onJudged: (job, result) => this.#onJudged(job, result),
    });
    this.#pipeline = this.#built.pipeline;
    this.#statusData = new StatusData(this.store, {
      now: () => this.#clock.now(),
      snapshot: () => this.#pipeline.snapshot,
    });
    this.metrics = createMetrics({
      version: options.version,
      store: this.store,
      snapshot: () => this.#pipeline.snapshot,
      nodePortRange: () => this.#pipeline.settings.nodePortRange,
      sourceStatus: () => [this.#source.status()],
      logger: options.logger,
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

  /** TCP probes run on the main thread and on the threads so far (for tests and benchmarks). */
  get probesRouted(): { readonly main: number; readonly pool: number } | undefined {
    return this.#built.route?.counts;
  }

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
    this.metrics.setIcmpEnabled(this.#pipeline.openEcho());
    // The files were loaded (by main) just before: that first load counts as a success.
    this.metrics.setConfigReloadSuccessTime(this.#clock.now() / 1000);
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
        snapshot: () => this.#pipeline.snapshot,
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
    await this.#built.threadsStarted();
    this.#probingStarted = true;
    // After the server is up, so the first cycle's connect times are not inflated by
    // start-up work on the same event loop.
    this.#scheduler.start();
    this.#logger.info('probing', { targets: this.store.size });
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
      // The pipeline's parts after the scheduler: the probes in flight finish on them first.
      this.#scheduler.stop().then(() => this.#built.close()),
      this.#server?.close(),
      this.#source.stop(),
    ]);
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
  }

  #onJudged(job: CycleJob, result: ProbeResult): void {
    this.metrics.countProbe(isEcho(job) ? 'icmp' : job.protocol, result.state);
  }

  #onCycleEnd(stats: CycleStats): void {
    if (this.#probingStarted) this.#readyCycles++;
    this.metrics.setCycleDuration(stats.durationSeconds);
    this.#statusData.capture().catch((err: unknown) => {
      this.#logger.error('status page snapshot failed; the page shows the previous one', { err });
    });
    this.#pipeline.endCycle();
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
