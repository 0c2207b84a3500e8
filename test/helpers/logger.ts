/** A logger whose lines a test reads back, parsed. */
import { createLogger, type Logger, type LogLevel } from '../../src/util/log.js';

export interface LogRecord {
  readonly level: LogLevel;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export function collectingLogger(level: LogLevel = 'debug'): {
  readonly logger: Logger;
  readonly lines: LogRecord[];
} {
  const lines: LogRecord[] = [];
  const logger = createLogger({
    level,
    write: (line) => lines.push(JSON.parse(line) as LogRecord),
  });
  return { logger, lines };
}
