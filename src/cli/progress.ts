/**
 * A one-line progress bar on a terminal's stderr. Redrawn once per percent, or every
 * half second while the percent stands still (pacing: the note says why), so 20,000
 * probes cost about a hundred writes; nothing at all when stderr is a pipe, where a log
 * would fill with carriage returns.
 */
import type { OutputStream } from './io.js';

export interface Progress {
  /** `done` of the total finished; `note` says why it is slow, read only when the line is drawn. */
  update(done: number, note?: () => string): void;
  /** Clears the line, leaving the terminal as it was. */
  finish(): void;
}

const BAR_WIDTH = 30;
const REDRAW_MS = 500;
const NO_PROGRESS: Progress = { update() {}, finish() {} };

export function createProgress(stream: OutputStream, total: number, label: string): Progress {
  if (stream.isTTY !== true || total <= 0) return NO_PROGRESS;
  let shownPercent = -1;
  let drawnAt = 0;
  let drawn = false;
  return {
    update(done, note) {
      const percent = Math.min(100, Math.floor((done * 100) / total));
      const now = performance.now();
      if (percent === shownPercent && now - drawnAt < REDRAW_MS) return;
      shownPercent = percent;
      drawnAt = now;
      const filled = Math.round((percent * BAR_WIDTH) / 100);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
      const why = note?.() ?? '';
      stream.write(`\r[${bar}] ${done}/${total} ${label}${why ? ` (${why})` : ''}\u001b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}
