/**
 * Where a one-shot command writes and what it knows of its terminal. Commands take
 * this instead of touching `process`, so tests run them in-process with a TTY or a
 * pipe of their choosing.
 */

export interface OutputStream {
  write(text: string): void;
  /** True on a terminal: colour on stdout, a progress bar on stderr. */
  readonly isTTY?: boolean;
}

export interface CommandIo {
  /** The report: the table, JSON or Markdown, and nothing else. */
  readonly stdout: OutputStream;
  /** Progress, notices and warnings, so stdout stays clean for scripts. */
  readonly stderr: OutputStream;
  /** Read for NO_COLOR. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborts on SIGINT or SIGTERM: preflight --listen releases its ports early. */
  readonly signal?: AbortSignal;
}

/** This process's streams; the signal aborts on the first SIGINT or SIGTERM. */
export function processIo(): CommandIo {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    stdout: {
      write: (text) => process.stdout.write(text),
      isTTY: process.stdout.isTTY === true,
    },
    stderr: {
      write: (text) => process.stderr.write(text),
      isTTY: process.stderr.isTTY === true,
    },
    env: process.env,
    signal: abort.signal,
  };
}

/** Colour on a terminal, unless NO_COLOR is set to anything but the empty string (no-color.org). */
export function wantsColour(stream: OutputStream, env: CommandIo['env']): boolean {
  const noColour = env.NO_COLOR;
  return stream.isTTY === true && (noColour === undefined || noColour === '');
}
