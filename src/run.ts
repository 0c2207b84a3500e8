/**
 * The command line, loaded by main.ts: route to a command, or parse the exporter's flags
 * and config, wire the exporter, handle signals. Exit status 2 for bad input (one line, no stack
 * trace), 1 when the exporter cannot run, 0 on a clean stop.
 */
import { ConfigError } from './config/index.js';
import { type ExporterConfig, loadConfig } from './config-load.js';
import { DiscoveryError } from './discovery/kubernetes/errors.js';
import { openFilesTooLowMessage, readOpenFilesLimit } from './probe/fd-budget.js';
import { createLogger, type Logger } from './util/log.js';
import { captureProcessOutput } from './util/log-capture.js';
import { VERSION } from './version.js';

/** How long a stop may take before we exit anyway; orchestrators wait about 30 s. */
const STOP_DEADLINE_MS = 5000;

const PROGRAM = 'imanager-port-exporter';

function fail(status: number, message: string): never {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  process.exit(status);
}

/** An error that is the user's to fix: bad flags, bad config, no cluster config, a right the process lacks. */
function isInputError(err: unknown): err is Error & { code: string } {
  if (err instanceof ConfigError || err instanceof DiscoveryError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ICMP_UNAVAILABLE' || code === 'OPEN_FILES_TOO_LOW';
}

async function runExporter(config: ExporterConfig, logger: Logger): Promise<void> {
  captureProcessOutput(logger);
  // Imported here: a command (catalog, firewall) never loads the Kubernetes client.
  const [{ Exporter }, { selectSource }] = await Promise.all([
    import('./exporter.js'),
    import('./discovery/select.js'),
  ]);
  const exporter = new Exporter({
    config,
    createSource: (current) => selectSource(current, { logger }),
    logger,
    version: VERSION,
  });
  // Handlers first: a signal that arrives while starting still stops cleanly.
  let started: Promise<void> | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    setTimeout(() => {
      logger.error('stop took too long; exiting anyway', { deadlineMs: STOP_DEADLINE_MS });
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    Promise.resolve(started)
      .catch(() => undefined)
      .then(() => exporter.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('stop failed', { err });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // As Prometheus does: SIGHUP re-reads the config file; a bad one is logged and refused.
  process.on('SIGHUP', () => {
    exporter.reload().catch(() => undefined);
  });
  started = exporter.start();
  await started;
}

/** A word in argv that is not a flag or a flag's value: a command (cli/ knows which). */
function mayNameCommand(argv: readonly string[]): boolean {
  return argv.some((arg) => !arg.startsWith('-'));
}

async function runCli(argv: readonly string[]): Promise<boolean> {
  // Loaded only for a command or help, so the exporter starts no slower for having them.
  const cli = await import('./cli/index.js');
  const command = cli.findCommand(argv);
  if (!command) return false;
  const status = await cli.runCommand(command, argv, cli.processIo());
  // A one-shot is done when its command returns. Exiting once the output is flushed
  // skips the loop's drain and the teardown of its heap (about 10 ms of check's at
  // 21,000 targets). Whatever is still pending (a name lookup given up on) is not
  // waited for.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
  return true;
}

async function main(argv: readonly string[]): Promise<void> {
  if (mayNameCommand(argv)) {
    try {
      if (await runCli(argv)) return;
    } catch (err) {
      if (isInputError(err)) fail(2, err.message);
      throw err;
    }
  }
  let config: ExporterConfig;
  try {
    config = await loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) fail(2, err.message);
    throw err;
  }
  if (config.showHelp) {
    const { globalHelp } = await import('./cli/index.js');
    process.stdout.write(globalHelp());
    return;
  }
  if (config.showVersion) {
    process.stdout.write(`${PROGRAM} ${VERSION} (Node.js ${process.version})\n`);
    return;
  }
  if (config.checkConfig) {
    try {
      // Loaded only here: a start does not pay for it.
      const { checkConfigFiles } = await import('./config-check.js');
      process.stdout.write(`${checkConfigFiles(config).join('\n')}\n`);
      return;
    } catch (err) {
      if (isInputError(err)) fail(2, err.message);
      throw err;
    }
  }
  const logger = createLogger({ level: config.logLevel }).child({});
  try {
    await runExporter(config, logger);
  } catch (err) {
    if (isInputError(err)) fail(2, err.message);
    const message = err instanceof Error ? err.message : String(err);
    logger.error('cannot start', { err });
    fail(1, message);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // A command's modules, loaded late, can still run out of descriptors.
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'EMFILE' || code === 'ENFILE')
    fail(2, openFilesTooLowMessage(readOpenFilesLimit() ?? 0));
  // Last resort: still one line, never a stack trace at the user.
  const message = err instanceof Error ? err.message : String(err);
  fail(1, `unexpected error: ${message}`);
});
