/**
 * The one-shot commands: check, preflight, catalog, firewall. main hands over the
 * loaded config when it names a command; the command writes its report and returns
 * the exit status. Bad input throws ConfigError, which main prints in one line (exit 2).
 */
import type { ExporterConfig } from '../config/index.js';
import { createLogger, type LogLevel } from '../util/log.js';
import { runCatalog } from './catalog.js';
import { runCheck } from './check/run.js';
import { EXIT_OK } from './exit.js';
import { runFirewall } from './firewall.js';
import type { CommandIo } from './io.js';
import { runPreflight } from './preflight/run.js';

export { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK } from './exit.js';
export { type CommandIo, type OutputStream, processIo } from './io.js';

/**
 * A command prints its own words; log lines (JSON, on stderr) only from warnings up,
 * unless --log.level asks for debug or error only.
 */
function commandLogLevel(level: LogLevel): LogLevel {
  return level === 'debug' || level === 'error' ? level : 'warn';
}

/** Runs the config's command; resolves with the process's exit status. */
export async function runCommand(config: ExporterConfig, io: CommandIo): Promise<number> {
  const logger = createLogger({
    level: commandLogLevel(config.logLevel),
    write: (line) => io.stderr.write(line),
  }).child({ command: config.command });
  switch (config.command) {
    case 'check':
      return runCheck(config, io, { logger });
    case 'preflight':
      return runPreflight(config, io);
    case 'catalog':
      return runCatalog(config, io);
    case 'firewall':
      return runFirewall(config, io);
    case undefined:
      return EXIT_OK;
  }
}
