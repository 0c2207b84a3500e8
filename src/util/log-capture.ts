/**
 * While the exporter runs, stderr is a JSON log: one object per line, for log shippers
 * with no parser. Node prints its own warnings (MaxListenersExceeded, deprecations) as
 * plain text, and a library may call console.*; both are turned into log lines here.
 */
import { format } from 'node:util';
import type { Logger } from './log.js';

/** The fields of a warning worth a log line. */
function warningFields(warning: Error): Record<string, unknown> {
  const { code } = warning as NodeJS.ErrnoException;
  return { name: warning.name, message: warning.message, ...(code !== undefined && { code }) };
}

/**
 * Before any logger exists (while the modules load): warnings as JSON lines of the same
 * shape. captureProcessOutput takes over once the logger is made.
 */
export function captureWarningsEarly(): void {
  // Node's own printer is a plain 'warning' listener; without it nothing prints but ours.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const record = { ts: new Date().toISOString(), level: 'warn', msg: 'node warning' };
    process.stderr.write(`${JSON.stringify({ ...record, ...warningFields(warning) })}\n`);
  });
}

/** Routes process warnings and console output through `logger` from now on. */
export function captureProcessOutput(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => logger.warn('node warning', warningFields(warning)));
  const asLog =
    (level: 'info' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      logger[level]('console output', { text: format(...args) });
  console.log = asLog('info');
  console.info = asLog('info');
  console.warn = asLog('warn');
  console.error = asLog('error');
  console.debug = (...args: unknown[]) => logger.debug('console output', { text: format(...args) });
}
