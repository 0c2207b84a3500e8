/**
 * A one-line spinner on a live terminal's stderr, for a wait whose end is unknown
 * (discovery's first list): what is awaited, for how long, and the last error in words.
 * Nothing on a pipe or a TERM=dumb terminal, where `\r` frames would fill a log.
 */
import type { Clock } from '../util/clock.js';
import { type CommandIo, isLiveTerminal } from './io.js';

export interface Spinner {
  /** Clears the line. */
  stop(): void;
}

const FRAMES = ['|', '/', '-', '\\'];
const FRAME_MS = 125;
const FIRST_FRAME_MS = 400;

export function startSpinner(
  io: Pick<CommandIo, 'stderr' | 'env'>,
  clock: Clock,
  text: () => string,
): Spinner {
  if (!isLiveTerminal(io.stderr, io.env)) return { stop() {} };
  const started = clock.monotonic();
  let frame = 0;
  const draw = () => {
    const seconds = Math.floor((clock.monotonic() - started) / 1000);
    io.stderr.write(`\r${FRAMES[frame % FRAMES.length]} ${text()} (${seconds} s)\u001b[K`);
    frame += 1;
  };
  let drawn = false;
  let timer: NodeJS.Timeout | undefined;
  // A wait that ends at once (static nodes, a quick list) draws nothing.
  const first = setTimeout(() => {
    drawn = true;
    draw();
    timer = setInterval(draw, FRAME_MS);
    timer.unref();
  }, FIRST_FRAME_MS);
  first.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
      if (drawn) io.stderr.write('\r\u001b[K');
    },
  };
}
