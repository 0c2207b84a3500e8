/**
 * A command prints its own words; log lines (JSON, on stderr) only from warnings up,
 * unless --log.level asks for debug or error only.
 */
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import type { CommandIo } from './io.js';

export function commandLogger(level: LogLevel, io: CommandIo, command: string): Logger {
  return createLogger({
    level: level === 'debug' || level === 'error' ? level : 'warn',
    write: (line) => io.stderr.write(line),
  }).child({ command });
}
