/**
 * `check`: one pass over every target, through the exporter's own path (config ->
 * source -> planner -> scheduler -> prober), then a report. Exit 0 when every required
 * port is as expected, 1 when one is not or discovery could not see the cluster.
 */
import { effectiveCatalog } from '../../catalog/overrides.js';
import type { ExporterConfig } from '../../config/index.js';
import { selectSource } from '../../discovery/select.js';
import type { DiscoverySnapshot, Source } from '../../discovery/types.js';
import { createTargetProber, type TargetProber } from '../../probe/run.js';
import { Scheduler } from '../../probe/scheduler.js';
import { planTargets } from '../../targets/planner.js';
import { type Clock, systemClock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { EXIT_FAILED, EXIT_OK } from '../exit.js';
import { type CommandIo, wantsColour } from '../io.js';
import { createProgress } from '../progress.js';
import {
  type CheckedTarget,
  type CheckReport,
  isOk,
  renderCheckMarkdown,
  renderCheckText,
  toCheckJson,
} from './report.js';

/** How long check waits for discovery's first snapshot: a first list of a big cluster. */
export const DISCOVERY_TIMEOUT_MS = 30_000;

export interface CheckOptions {
  readonly logger: Logger;
  /** Default DISCOVERY_TIMEOUT_MS. */
  readonly discoveryTimeoutMs?: number;
  /** Default selectSource; tests hand in a source of their own. */
  readonly source?: Source;
  readonly prober?: TargetProber;
  readonly clock?: Clock;
}

export type CheckErrorCode = 'DISCOVERY_FAILED' | 'NOTHING_TO_CHECK';

/** Check could not run to a verdict; the message is the one line the user sees. */
export class CheckError extends Error {
  override readonly name = 'CheckError';
  constructor(
    readonly code: CheckErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Runs the check and prints it; resolves with the exit status. */
export async function runCheck(
  config: ExporterConfig,
  io: CommandIo,
  options: CheckOptions,
): Promise<number> {
  let report: CheckReport;
  try {
    report = await collectCheck(config, { ...options, progressTo: io.stderr });
  } catch (error) {
    if (!(error instanceof CheckError)) throw error;
    io.stderr.write(`check: ${error.message}\n`);
    return EXIT_FAILED;
  }
  const output = config.commandFlags?.output ?? 'table';
  if (output === 'json') {
    io.stdout.write(`${JSON.stringify(toCheckJson(report), null, 2)}\n`);
  } else if (output === 'markdown') {
    io.stdout.write(renderCheckMarkdown(report));
  } else {
    io.stdout.write(renderCheckText(report, { colour: wantsColour(io.stdout, io.env) }));
  }
  return isOk(report) ? EXIT_OK : EXIT_FAILED;
}

/**
 * Discovers, plans and probes once. Throws CheckError DISCOVERY_FAILED when no
 * snapshot arrives in time, NOTHING_TO_CHECK when the plan is empty.
 */
export async function collectCheck(
  config: ExporterConfig,
  options: CheckOptions & { readonly progressTo?: CommandIo['stderr'] },
): Promise<CheckReport> {
  const clock = options.clock ?? systemClock;
  const source = options.source ?? selectSource(config, { logger: options.logger });
  const timeoutMs = options.discoveryTimeoutMs ?? DISCOVERY_TIMEOUT_MS;
  let snapshot: DiscoverySnapshot | undefined;
  try {
    snapshot = await firstSnapshot(source, timeoutMs, clock);
  } finally {
    await source.stop();
  }
  if (!snapshot) {
    throw new CheckError(
      'DISCOVERY_FAILED',
      `discovery failed: the ${source.name} source listed no nodes within ${timeoutMs / 1000} s (see the log lines above)`,
    );
  }
  const discovery = source.status();
  const targets = planTargets({
    vantage: config.vantage,
    catalog: effectiveCatalog(config.catalog),
    snapshot,
    shard: config.shard,
    meshPeers: config.meshPeers,
  });
  if (targets.length === 0) {
    const why =
      snapshot.nodes.length === 0 ? `the ${source.name} source found no nodes` : 'no port applies';
    throw new CheckError('NOTHING_TO_CHECK', `nothing to check: ${why}`);
  }

  const prober = options.prober ?? createTargetProber();
  const progress = createProgress(
    options.progressTo ?? { write() {} },
    targets.length,
    'ports probed',
  );
  const checked: CheckedTarget[] = [];
  const { intervalMs, timeoutMs: probeTimeoutMs, concurrency } = config.probe;
  const scheduler = new Scheduler({
    intervalMs,
    timeoutMs: probeTimeoutMs,
    concurrency,
    clock,
    logger: options.logger,
    spread: false,
    probe: (target, timeout) => prober.probe(target, timeout),
    onCycleStart: (cycle) => prober.prepare(cycle),
    onResult: (target, result) => {
      checked.push({ target, result });
      progress.update(checked.length);
    },
  });
  scheduler.setTargets(targets);
  let stats: Awaited<ReturnType<Scheduler['runOnce']>>;
  try {
    stats = await scheduler.runOnce();
  } finally {
    progress.finish();
    await scheduler.stop();
  }
  return {
    vantage: config.vantage,
    discovery,
    nodes: snapshot.nodes,
    checked,
    durationSeconds: stats.durationSeconds,
  };
}

/** The source's first snapshot, or undefined when none came within the timeout. */
async function firstSnapshot(
  source: Source,
  timeoutMs: number,
  clock: Clock,
): Promise<DiscoverySnapshot | undefined> {
  let arrived!: (snapshot: DiscoverySnapshot) => void;
  const first = new Promise<DiscoverySnapshot>((resolve) => {
    arrived = resolve;
  });
  await source.start((snapshot) => arrived(snapshot));
  const timeout = new AbortController();
  const expired = clock.sleep(timeoutMs, timeout.signal).then(() => undefined);
  try {
    return await Promise.race([first, expired]);
  } finally {
    timeout.abort();
  }
}
