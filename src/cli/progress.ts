/**
 * A one-line progress bar on a terminal's stderr. Redrawn at most once per percent, so
 * 20,000 probes cost about a hundred writes; nothing at all when stderr is a pipe,
 * where a log would fill with carriage returns.
 */
import type { OutputStream } from './io.js';

export interface Progress {
  /** `done` of the total finished. */
  update(done: number): void;
  /** Clears the line, leaving the terminal as it was. */
  finish(): void;
}

const BAR_WIDTH = 30;
const NO_PROGRESS: Progress = { update() {}, finish() {} };

export function createProgress(stream: OutputStream, total: number, label: string): Progress {
  if (stream.isTTY !== true || total <= 0) return NO_PROGRESS;
  let shownPercent = -1;
  let drawn = false;
  return {
    update(done) {
      const percent = Math.min(100, Math.floor((done * 100) / total));
      if (percent === shownPercent) return;
      shownPercent = percent;
      const filled = Math.round((percent * BAR_WIDTH) / 100);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
      stream.write(`\r[${bar}] ${done}/${total} ${label}\u001b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}
