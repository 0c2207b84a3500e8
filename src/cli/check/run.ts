/**
 * `check`: one pass over every target, through the exporter's own pipeline (config ->
 * source -> planner -> names -> scheduler -> prober -> evidence), then a report. Exit 0
 * when every required port is as expected, 1 when one is not or discovery could not
 * see the cluster.
 *
 * It judges every result at the end of the pass, with the evidence of the whole pass
 * about each host: a dead host's first probe times out before its EHOSTUNREACH comes,
 * and the exporter, which judges as results arrive, gets it right from its second
 * cycle; check has only the one. It paces each node as the exporter does, so a node's
 * ICMP rate limit can make it take longer, never change a verdict.
 */
import { ConfigError, type ExporterConfig } from '../../config/index.js';
import { selectSource } from '../../discovery/select.js';
import type { DiscoverySnapshot, Source } from '../../discovery/types.js';
import {
  buildPipeline,
  type CycleJob,
  isEcho,
  NO_RESULTS,
  type ProbePipeline,
} from '../../pipeline.js';
import { withState } from '../../probe/evidence.js';
import { UNREACHABLE_LINGER_MS } from '../../probe/handle-connect.js';
import { AddressPacer } from '../../probe/pacing.js';
import { Scheduler } from '../../probe/scheduler.js';
import type { ProbeResult } from '../../probe/types.js';
import type { Target } from '../../targets/types.js';
import { type Clock, systemClock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import { errorTap } from '../error-tap.js';
import { EXIT_FAILED, EXIT_OK } from '../exit.js';
import { firstSnapshot } from '../first-snapshot.js';
import { type CommandIo, isLiveTerminal, wantsColour } from '../io.js';
import { commandLogger } from '../logger.js';
import { createProgress } from '../progress.js';
import { startSpinner } from '../spinner.js';
import type { CheckCommandOptions } from './command.js';
import { notProbed } from './not-probed.js';
import {
  type CheckedTarget,
  type CheckReport,
  isOk,
  renderCheckJson,
  renderCheckMarkdown,
  renderCheckText,
  toCheckJson,
} from './report.js';

/** How long check waits for discovery's first snapshot: a first list of a big cluster. */
export const DISCOVERY_TIMEOUT_MS = 30_000;

/** How long check waits for its names: each lookup gives up after 5 s, a few at a time. */
const NAMES_TIMEOUT_MS = 60_000;

export interface CheckOptions {
  /** Default: warnings and errors as JSON lines on stderr (commandLogger). */
  readonly logger: Logger;
  /** Default DISCOVERY_TIMEOUT_MS. */
  readonly discoveryTimeoutMs?: number;
  /** Default selectSource; tests hand in a source of their own. */
  readonly source?: Source;
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
  command: CheckCommandOptions,
  io: CommandIo,
  overrides: Partial<CheckOptions> = {},
): Promise<number> {
  const { config } = command;
  const options: CheckOptions = {
    logger: commandLogger(config.logLevel, io, 'check'),
    ...overrides,
  };
  let report: CheckReport;
  try {
    report = await collectCheck(config, { ...options, io });
  } catch (error) {
    if (!(error instanceof CheckError)) throw error;
    io.stderr.write(`check: ${error.message}\n`);
    return EXIT_FAILED;
  }
  const { output } = command;
  if (output === 'json') {
    io.stdout.write(renderCheckJson(toCheckJson(report)));
  } else if (output === 'markdown') {
    io.stdout.write(renderCheckMarkdown(report));
  } else {
    io.stdout.write(
      renderCheckText(report, {
        colour: wantsColour(io.stdout, io.env, command.color),
        failuresOnly: command.failuresOnly,
        ...(io.stdout.columns !== undefined && { width: io.stdout.columns }),
      }),
    );
  }
  return isOk(report) ? EXIT_OK : EXIT_FAILED;
}

/**
 * Discovers, plans and probes once. Throws CheckError DISCOVERY_FAILED when no
 * snapshot arrives in time, NOTHING_TO_CHECK when the plan is empty.
 */
export async function collectCheck(
  config: ExporterConfig,
  options: CheckOptions & { readonly io?: Pick<CommandIo, 'stderr' | 'env'> },
): Promise<CheckReport> {
  const clock = options.clock ?? systemClock;
  const io = options.io ?? { stderr: { write() {} }, env: {} };
  // The spinner owns the terminal line while discovery is awaited: the source's log lines
  // would break it, and its last error is shown in words on it instead.
  const live = isLiveTerminal(io.stderr, io.env);
  const tap = errorTap(options.logger, () => !live);
  const source = options.source ?? selectSource(config, { logger: tap });
  const timeoutMs = options.discoveryTimeoutMs ?? DISCOVERY_TIMEOUT_MS;
  // Built first, so the probe threads load their modules while discovery lists the cluster.
  const built = buildPipeline(config, {
    logger: options.logger,
    clock,
    // A one-shot asks every name once, more at a time than the exporter's background loop.
    names: { parallel: 8 },
    // It reports from the results it collects below: no store, no label text.
    store: NO_RESULTS,
    // Its one pass is a burst: on the threads, where connect times stay the network's.
    oneShot: true,
  });
  const { pipeline } = built;
  const spinner = startSpinner(io, clock, () => {
    const last = tap.lastError();
    return `waiting for the ${source.name} source to list the nodes${last ? `; last error: ${last}` : ''}`;
  });
  let snapshot: DiscoverySnapshot | undefined;
  try {
    snapshot = await firstSnapshot(source, timeoutMs, clock);
  } catch (error) {
    await built.close();
    throw error;
  } finally {
    spinner.stop();
    await source.stop();
  }
  if (!snapshot) {
    await built.close();
    const last = tap.lastError();
    throw new CheckError(
      'DISCOVERY_FAILED',
      `discovery failed: the ${source.name} source listed no nodes within ${timeoutMs / 1000} s${last ? `; last error: ${last}` : ' (no error was reported)'}`,
    );
  }
  try {
    checkVantage(config.vantage, snapshot);
  } catch (error) {
    await built.close();
    throw error;
  }
  const discovery = source.status();
  try {
    pipeline.openEcho();
    pipeline.setSnapshot(snapshot);
    if (pipeline.planned.length === 0) {
      const why =
        snapshot.nodes.length === 0
          ? `the ${source.name} source found no nodes`
          : 'no port applies';
      throw new CheckError('NOTHING_TO_CHECK', `nothing to check: ${why}`);
    }
    await pipeline.namesSettled(NAMES_TIMEOUT_MS);
    // A pass begun beside a thread still loading its modules waited for a core: its
    // connect times were p95 3-4 ms off on the test bed (bench/connect-latency.ts). At
    // scale the threads are up long before discovery's list is in.
    await built.threadsStarted();
    const report = await probeOnce(
      config,
      pipeline,
      // A TERM=dumb terminal gets no \r frames, as a pipe gets none.
      { ...options, clock, ...(live && { progressTo: io.stderr }) },
      discovery,
      snapshot,
    );
    return { ...report, notProbed: notProbed(config.catalog, snapshot, pipeline.planned) };
  } finally {
    await built.close();
  }
}

/** One cycle over the pipeline's jobs, every result judged at its end. */
async function probeOnce(
  config: ExporterConfig,
  pipeline: ProbePipeline,
  options: CheckOptions & { readonly clock: Clock; readonly progressTo?: CommandIo['stderr'] },
  discovery: CheckReport['discovery'],
  snapshot: DiscoverySnapshot,
): Promise<CheckReport> {
  const jobs = pipeline.jobsForCycle();
  const ports = jobs.filter((job): job is Target => !isEcho(job));
  const progress = createProgress(
    options.progressTo ?? { write() {} },
    ports.length,
    'ports probed',
  );
  const raw: { target: Target; result: ProbeResult }[] = [];
  const { intervalMs, timeoutMs: probeTimeoutMs, concurrency } = config.probe;
  const pacer = new AddressPacer();
  const paced = () => {
    const held = pacer.heldBack(options.clock.monotonic());
    return held === 0
      ? ''
      : `${held === 1 ? '1 node' : `${held} nodes`} held to about one rejected port a second, the kernel's ICMP rate limit`;
  };
  const scheduler = new Scheduler<CycleJob>({
    intervalMs,
    timeoutMs: probeTimeoutMs,
    concurrency,
    clock: options.clock,
    logger: options.logger,
    spread: false,
    pacer,
    lingerMs: UNREACHABLE_LINGER_MS,
    jobsForCycle: () => jobs,
    probe: pipeline.probe,
    onResult: (job, result) => {
      if (isEcho(job)) {
        pipeline.evidence.noteEcho(job.ip, result.state);
        return;
      }
      pipeline.evidence.note(job.ip, result);
      raw.push({ target: job, result });
      progress.update(raw.length, paced);
    },
  });
  let stats: Awaited<ReturnType<Scheduler['runOnce']>>;
  try {
    stats = await scheduler.runOnce();
  } finally {
    progress.finish();
    await scheduler.stop();
  }
  // Judged now, with what the whole pass showed of each host.
  const checked: CheckedTarget[] = raw.map(({ target, result }) => ({
    target,
    result: withState(result, pipeline.evidence.stateOf(target.ip, result)),
  }));
  return {
    vantage: config.vantage,
    discovery,
    nodes: snapshot.nodes,
    checked,
    durationSeconds: stats.durationSeconds,
  };
}

/**
 * A vantage that names a node must name one discovery found: probing "from master-9"
 * when there is no master-9 would report what no node sees. Throws ConfigError (exit 2).
 */
function checkVantage(vantage: string, snapshot: DiscoverySnapshot): void {
  if (vantage === 'central' || vantage === 'external') return;
  if (snapshot.nodes.some((node) => node.name === vantage)) return;
  const names = snapshot.nodes.map((node) => node.name);
  const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')}, ...` : names.join(', ');
  throw new ConfigError(
    'FLAG_INVALID',
    `--vantage: expected central, external, or a node discovery found (${shown}), got ${JSON.stringify(vantage)}`,
  );
}
