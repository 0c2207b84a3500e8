/**
 * The probing pipeline that the exporter and `check` share: a discovery snapshot is
 * planned into targets, the targets are expanded by their names' answers, the jobs of
 * a cycle (port probes and one echo per node IP) are probed, each raw result is judged
 * with the evidence about its host, and the store keeps what was found (the exporter's;
 * check keeps its own results and hands in NO_RESULTS).
 *
 *   snapshot -> planTargets -> expandTargets (NameCache answers) -> jobs
 *            -> Scheduler -> probe (TCP prober or pool; EchoStage) -> HostEvidence
 *            -> ResultStore
 *
 * buildPipeline makes it from a config, with the caller's store, probe threads and
 * ICMP stage, the same way for both.
 *
 * The exporter runs cycles forever and judges each result as it arrives; check runs
 * one cycle and judges every result at the end, when the evidence of the whole pass is
 * in (a dead host's first probe times out before its EHOSTUNREACH arrives).
 */

import { isIP } from 'node:net';
import { type CatalogSettings, effectiveCatalog } from './catalog/overrides.js';
import type { PortRange } from './catalog/types.js';
import type { ExporterConfig } from './config/index.js';
import type { IpFamily } from './discovery/families.js';
import type { DiscoverySnapshot } from './discovery/types.js';
import { CycleErrors } from './probe/cycle-errors.js';
import { type EchoJob, EchoStage } from './probe/echo.js';
import { HostEvidence, withState } from './probe/evidence.js';
import { UNREACHABLE_LINGER_MS } from './probe/handle-connect.js';
import { IcmpPinger } from './probe/icmp.js';
import { NameCache, type NameCacheOptions } from './probe/names.js';
import { createProbePool, type ProbePool, workerCount } from './probe/pool.js';
import { PROBERS } from './probe/registry.js';
import { type ProbeRoute, routeProbes } from './probe/route.js';
import type { ProbeResult, Prober } from './probe/types.js';
import type { ResultStore } from './results/store.js';
import { expandTargets } from './targets/expand.js';
import { IncrementalPlanner, type PlanChange } from './targets/incremental.js';
import type { Shard } from './targets/spread.js';
import type { Target, Vantage } from './targets/types.js';
import { type Clock, systemClock } from './util/clock.js';
import type { Logger } from './util/log.js';

/** What a cycle probes. */
export type CycleJob = Target | EchoJob;

export function isEcho(job: CycleJob): job is EchoJob {
  return (job as EchoJob).kind === 'echo';
}

/** The settings the pipeline plans with; a reload hands it new ones. */
export interface PlanSettings {
  readonly vantage: Vantage;
  readonly catalog: CatalogSettings;
  readonly shard?: Shard;
  readonly meshPeers?: number;
  readonly ipFamilies: readonly IpFamily[];
  readonly nodePortRange: PortRange;
}

/** What the pipeline tells a store: the ResultStore's writing side. */
export type ResultSink = Pick<
  ResultStore,
  'setTargets' | 'applyChange' | 'setResolutions' | 'record' | 'recordIcmp'
>;

/**
 * A sink that keeps nothing, for check: it reports from the results it collects itself
 * and serves no /metrics, and setting a store's rows for 21,000 targets took 37 ms of
 * its planning in a CPU profile. Every change "applies", so a churn event costs nothing
 * here either.
 */
export const NO_RESULTS: ResultSink = {
  setTargets() {},
  applyChange: () => true,
  setResolutions() {},
  record: () => false,
  recordIcmp: () => false,
};

export interface PipelineOptions {
  readonly settings: PlanSettings;
  readonly store: ResultSink;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The TCP prober; default PROBERS.tcp (the pool's, with --probe.workers). */
  readonly tcp?: Prober;
  /** The ICMP stage; absent or not opened: no echo jobs. */
  readonly echo?: EchoStage;
  /** The name cache's timing; the families come from the settings. */
  readonly names?: Omit<NameCacheOptions, 'ipFamilies' | 'clock' | 'logger'>;
  /** Called with every judged result (counting). */
  readonly onJudged?: (job: CycleJob, result: ProbeResult) => void;
}

export class ProbePipeline {
  readonly #options: PipelineOptions;
  readonly #store: ResultSink;
  readonly #names: NameCache;
  readonly #tcp: Prober;
  readonly #echo: EchoStage;
  readonly #errors = new CycleErrors();
  readonly evidence = new HostEvidence();
  #settings: PlanSettings;
  #snapshot: DiscoverySnapshot | undefined;
  readonly #planner = new IncrementalPlanner();
  #planned: readonly Target[] = [];
  /** The distinct (node, address) pairs of the plan: names, resolutions and echoes come from these. */
  #addresses: readonly { vantage: string; node: string; address: string }[] = [];
  /** True when every planned address is an IP literal: expansion by names changes nothing. */
  #allLiterals = true;
  #lastChange: PlanChange | undefined;
  /** Bumped when the plan changes; with the names' version it says when to expand again. */
  #planVersion = 0;
  #expandedAt: { plan: number; names: number } | undefined;
  #jobs: readonly CycleJob[] = [];

  constructor(options: PipelineOptions) {
    this.#options = options;
    this.#settings = options.settings;
    this.#store = options.store;
    this.#tcp = options.tcp ?? PROBERS.tcp;
    this.#echo = options.echo ?? new EchoStage();
    this.#names = new NameCache({
      ...options.names,
      ipFamilies: options.settings.ipFamilies,
      ...(options.clock && { clock: options.clock }),
      logger: options.logger,
    });
  }

  /**
   * The discovery snapshot the targets were planned from: the nodes and NodePorts the
   * collector and the status page show. Undefined before the first.
   */
  get snapshot(): DiscoverySnapshot | undefined {
    return this.#snapshot;
  }

  /** The settings the targets were planned with (a reload replaces them). */
  get settings(): PlanSettings {
    return this.#settings;
  }

  /**
   * Opens the ICMP stage (throws ICMP_UNAVAILABLE in mode `on` without the right): echo
   * jobs from the next cycle on where it works. True when it does.
   */
  openEcho(): boolean {
    const was = this.#echo.enabled;
    const enabled = this.#echo.open();
    if (enabled !== was) this.#planVersion++;
    return enabled;
  }

  /** New settings (a reload): the next cycle plans with them. */
  setSettings(settings: PlanSettings): void {
    this.#settings = settings;
    if (this.#snapshot) this.setSnapshot(this.#snapshot);
  }

  /**
   * A snapshot from discovery: planned now, probed from the next cycle on. Only the
   * nodes and NodePorts that changed are planned again (targets/incremental.ts).
   */
  setSnapshot(snapshot: DiscoverySnapshot): void {
    this.#snapshot = snapshot;
    const settings = this.#settings;
    const change = this.#planner.update({
      vantage: settings.vantage,
      catalog: effectiveCatalog(settings.catalog),
      snapshot,
      ...(settings.shard && { shard: settings.shard }),
      ...(settings.meshPeers !== undefined && { meshPeers: settings.meshPeers }),
    });
    this.#lastChange = change;
    if (change.unchanged) return;
    this.#planned = change.targets;
    this.#addresses = this.#planner.nodeAddresses();
    this.#allLiterals = this.#addresses.every((a) => isIP(a.address) !== 0);
    this.#planVersion++;
    this.#names.setNames(this.#addresses.map((a) => a.address));
    if (!this.#applyChange(change)) this.#expand();
  }

  /**
   * A churn event over IP literals: the store changes the rows of what changed, and the
   * jobs are the plan itself. False where the whole set must go through #expand.
   */
  #applyChange(change: PlanChange): boolean {
    const names = this.#names.version;
    if (change.whole || !this.#allLiterals || this.#expandedAt === undefined) return false;
    if (this.#expandedAt.names !== names) return false;
    if (!this.#store.applyChange(change.removed, change.added)) return false;
    this.#expandedAt = { plan: this.#planVersion, names };
    this.#store.setResolutions(
      this.#addresses.map((a) => ({ ...a, up: this.#names.resolves(a.address) })),
    );
    this.#jobs = this.#echo.enabled ? [...this.#planned, ...this.#echoJobs()] : this.#planned;
    return true;
  }

  /** What the last snapshot cost to plan: how much of it was planned again (tests read it). */
  get lastPlanChange(): PlanChange | undefined {
    return this.#lastChange;
  }

  /** Waits (at most `withinMs`) until every name has had a first answer. */
  namesSettled(withinMs: number): Promise<void> {
    return this.#names.settled(withinMs);
  }

  /** The planned targets (before expansion by names), for check's report. */
  get planned(): readonly Target[] {
    return this.#planned;
  }

  /** The jobs of the next cycle; the same array while nothing changed. */
  jobsForCycle = (): readonly CycleJob[] => {
    this.#expand();
    return this.#jobs;
  };

  /** A new cycle starts: this cycle's evidence becomes the last cycle's. */
  newCycle(): void {
    this.evidence.newCycle();
    this.#errors.clear();
  }

  /** The cycle ended: why its probes failed on this side, once per reason (exporter path). */
  endCycle(): void {
    this.#errors.report(this.#options.logger);
  }

  #expand(): void {
    const at = { plan: this.#planVersion, names: this.#names.version };
    if (this.#expandedAt?.plan === at.plan && this.#expandedAt.names === at.names) return;
    this.#expandedAt = at;
    // IP literals (every Kubernetes node address) expand to themselves: no walk over the targets.
    const expansion = this.#allLiterals
      ? { targets: this.#planned, probed: this.#planned }
      : expandTargets(this.#planned, (address) => this.#names.answer(address));
    this.#store.setTargets(expansion.targets);
    this.#store.setResolutions(
      this.#addresses.map((a) => ({ ...a, up: this.#names.resolves(a.address) })),
    );
    this.#jobs = this.#echo.enabled ? [...expansion.probed, ...this.#echoJobs()] : expansion.probed;
  }

  /** One echo per distinct node IP the cycle probes. */
  #echoJobs(): EchoJob[] {
    return this.#echo.jobs(
      this.#addresses.map((a) => {
        if (isIP(a.address) !== 0) return { ...a, ips: [a.address] };
        const answer = this.#names.answer(a.address);
        return { ...a, ips: 'ips' in answer ? answer.ips : [] };
      }),
    );
  }

  /** Probes one job; never rejects. */
  probe = (job: CycleJob, timeoutMs: number): Promise<ProbeResult> => {
    if (isEcho(job)) return this.#echo.probe(job, timeoutMs);
    if (job.ip === '') {
      const answer = this.#names.answer(job.address);
      const error = 'error' in answer ? answer.error : 'EUNRESOLVED';
      return Promise.resolve({ state: 'error', durationSeconds: 0, error });
    }
    // A host not known to be up gets the time to say it is gone (EHOSTUNREACH).
    const lingerMs = this.evidence.judge(job.ip) === 'up' ? 0 : UNREACHABLE_LINGER_MS;
    return this.#tcp({ ip: job.ip, port: job.port, timeoutMs, lingerMs });
  };

  /** The exporter's path: judge the raw result now and keep it. */
  record = (job: CycleJob, raw: ProbeResult, atMs: number): ProbeResult => {
    if (isEcho(job)) {
      this.evidence.noteEcho(job.ip, raw.state);
      this.#store.recordIcmp(
        job,
        raw.state === 'open' ? { up: true, rttSeconds: raw.durationSeconds } : { up: false },
        atMs,
      );
      this.#options.onJudged?.(job, raw);
      return raw;
    }
    const judged = withState(raw, this.evidence.classify(job.ip, raw));
    this.#store.record(job, judged, atMs);
    this.#errors.note(judged);
    this.#options.onJudged?.(job, judged);
    return judged;
  };

  stop(): void {
    this.#names.stop();
  }
}

/** What the pipeline plans with, from a config. */
export function planSettings(config: ExporterConfig): PlanSettings {
  return {
    vantage: config.vantage,
    catalog: config.catalog,
    shard: config.shard,
    ...(config.meshPeers !== undefined && { meshPeers: config.meshPeers }),
    ipFamilies: config.ipFamilies,
    nodePortRange: config.nodePortRange,
  };
}

/** How long a burst waits for the probe threads to start: each loads its modules. */
const THREADS_START_WAIT_MS = 5_000;

export interface BuildOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The name cache's timing; see PipelineOptions.names. */
  readonly names?: PipelineOptions['names'];
  readonly onJudged?: PipelineOptions['onJudged'];
  /** Where the results land: the exporter's ResultStore, or NO_RESULTS. */
  readonly store: ResultSink;
  /** True while the main loop has work in hand: probes go to the threads (route.ts). */
  readonly mainThreadBusy?: () => boolean;
  /**
   * A one-shot pass (check): every TCP probe goes to the threads where there are any. Its
   * pass is one burst, launched in a few long loop turns, and on the main thread each
   * connect's time took in the launches after it: check's were p50 6.9 ms off on the test
   * bed's veths (bench/connect-latency.ts, the 03:19 run), on the threads 0.18 ms (19:47).
   */
  readonly oneShot?: boolean;
}

/** A pipeline with the parts it was built with; close() ends them all. */
export interface BuiltPipeline {
  readonly pipeline: ProbePipeline;
  /** The probe threads (--probe.workers), started at once so they load while discovery lists. */
  readonly pool: ProbePool | undefined;
  /** Where TCP probes ran, when both the main thread and the threads take them. */
  readonly route: ProbeRoute | undefined;
  /**
   * Resolves once every probe thread has started (each loads its modules), or after
   * THREADS_START_WAIT_MS: a burst that began meanwhile ran on the threads that were up,
   * beside the others' loading, and its connect times took in the wait for a core.
   */
  threadsStarted(): Promise<void>;
  /** Stops the names and the ICMP stage, then the threads: after the scheduler stopped. */
  close(): Promise<void>;
}

/**
 * The pipeline of a config, as the exporter and check run it: into the given store, the
 * TCP probe threads where --probe.workers asks for them, the ICMP stage in the configured mode (not
 * opened yet: openEcho()).
 */
export function buildPipeline(config: ExporterConfig, options: BuildOptions): BuiltPipeline {
  const { logger } = options;
  const workers = workerCount(config.probe.workers);
  const pool = workers > 0 ? createProbePool({ workers, logger }) : undefined;
  // With threads, a slow steady pace still probes on the main thread: see route.ts.
  const rate = config.probe.mainThreadRate;
  const route =
    pool && rate > 0 && !options.oneShot
      ? routeProbes({
          main: PROBERS.tcp,
          pool: pool.probe,
          mainBelowPerSecond: rate,
          ...(options.mainThreadBusy && { workInHand: options.mainThreadBusy }),
        })
      : undefined;
  logger.debug('tcp probes', {
    workerThreads: workers,
    // Up to this many a second on the main thread while it is idle; 0: threads only.
    mainThreadProbesPerSecond: route ? rate : workers > 0 ? 0 : 'all',
  });
  const echo = new EchoStage(new IcmpPinger({ mode: config.probe.icmp, logger }));
  const pipeline = new ProbePipeline({
    settings: planSettings(config),
    store: options.store,
    logger,
    ...(options.clock && { clock: options.clock }),
    ...(pool && { tcp: route?.probe ?? pool.probe }),
    echo,
    ...(options.names && { names: options.names }),
    ...(options.onJudged && { onJudged: options.onJudged }),
  });
  const clock = options.clock ?? systemClock;
  return {
    pipeline,
    pool,
    route,
    threadsStarted: async () => {
      if (!pool) return;
      const abort = new AbortController();
      await Promise.race([pool.whenStarted(), clock.sleep(THREADS_START_WAIT_MS, abort.signal)]);
      abort.abort();
    },
    close: async () => {
      pipeline.stop();
      echo.close();
      route?.stop();
      await pool?.close();
    },
  };
}
