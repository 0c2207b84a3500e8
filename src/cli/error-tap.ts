/**
 * A logger that remembers the last failure it was told of, in words, so a command can
 * show it on its spinner and in its one-line failure instead of pointing at log lines.
 * Lines are passed on to the real logger only when `forward` says so (not while a
 * spinner owns the terminal line).
 */
import type { LogFields, Logger } from '../util/log.js';

export interface ErrorTap extends Logger {
  /** `cannot list nodes: connect ECONNREFUSED 127.0.0.1:6443`, or undefined before any. */
  lastError(): string | undefined;
}

/** `Kubernetes discovery: cannot list nodes; retrying with backoff` + error -> words. */
function inWords(msg: string, fields: LogFields | undefined): string {
  const what = msg
    .replace(/^Kubernetes discovery: /, '')
    .replace(/;.*$/, '')
    .replace(/^retry failed$/, '');
  const error = typeof fields?.error === 'string' ? fields.error : undefined;
  const verb = typeof fields?.verb === 'string' ? fields.verb : undefined;
  if (what === '' && verb && error) return `cannot ${verb}: ${error}`;
  return error && !what.includes(error) ? `${what}: ${error}` : what;
}

export function errorTap(logger: Logger, forward: () => boolean): ErrorTap {
  let last: string | undefined;
  const record = (msg: string, fields?: LogFields) => {
    if (fields && 'error' in fields) last = inWords(msg, fields);
  };
  const tap = (bound: Logger): ErrorTap => ({
    debug(msg, fields) {
      record(msg, fields);
      if (forward()) bound.debug(msg, fields);
    },
    info(msg, fields) {
      if (forward()) bound.info(msg, fields);
    },
    warn(msg, fields) {
      last = inWords(msg, fields);
      if (forward()) bound.warn(msg, fields);
    },
    error(msg, fields) {
      last = inWords(msg, fields);
      if (forward()) bound.error(msg, fields);
    },
    child(fields) {
      return tap(bound.child(fields));
    },
    lastError: () => last,
  });
  return tap(logger);
}
