/**
 * Where a one-shot command writes and what it knows of its terminal. Commands take
 * this instead of touching `process`, so tests run them in-process with a TTY or a
 * pipe of their choosing.
 */

export interface OutputStream {
  write(text: string): void;
  /** True on a terminal: colour on stdout, a progress bar on stderr. */
  readonly isTTY?: boolean;
  /** The terminal's width, when it is one; tables fit it. */
  readonly columns?: number;
}

export interface CommandIo {
  /** The report: the table, JSON or Markdown, and nothing else. */
  readonly stdout: OutputStream;
  /** Progress, notices and warnings, so stdout stays clean for scripts. */
  readonly stderr: OutputStream;
  /** Read for NO_COLOR. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * A signal that aborts on SIGINT or SIGTERM, for a command that must finish its
   * report when stopped (preflight --listen). Asking for it takes over those signals;
   * a command that never asks is killed by them as usual.
   */
  readonly stopSignal?: () => AbortSignal;
}

/** This process's streams and signals. */
export function processIo(): CommandIo {
  let abort: AbortController | undefined;
  const stopSignal = () => {
    if (!abort) {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      abort = controller;
    }
    return abort.signal;
  };
  return {
    stdout: {
      write: (text) => process.stdout.write(text),
      isTTY: process.stdout.isTTY === true,
      ...(process.stdout.columns !== undefined && { columns: process.stdout.columns }),
    },
    stderr: {
      write: (text) => process.stderr.write(text),
      isTTY: process.stderr.isTTY === true,
    },
    env: process.env,
    stopSignal,
  };
}

/**
 * Colour: `--color=always` or `never` as said; with `auto`, NO_COLOR set to anything but
 * the empty string turns it off (no-color.org), FORCE_COLOR (not 0) turns it on, and
 * otherwise a terminal that is not TERM=dumb gets it.
 */
export function wantsColour(
  stream: OutputStream,
  env: CommandIo['env'],
  mode: 'auto' | 'always' | 'never' = 'auto',
): boolean {
  if (mode !== 'auto') return mode === 'always';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  return isLiveTerminal(stream, env);
}

/** A terminal that understands cursor movement: where a spinner or `\r` frame belongs. */
export function isLiveTerminal(stream: OutputStream, env: CommandIo['env']): boolean {
  return stream.isTTY === true && env.TERM !== 'dumb';
}
