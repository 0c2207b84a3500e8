import type { Clock } from '../../src/util/clock.js';

interface PendingSleep {
  readonly at: number;
  /** Insertion order, so sleeps due at the same moment wake in the order they began. */
  readonly seq: number;
  readonly wake: () => void;
}

/** Resolves once every microtask queued so far (and any they queue) has run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A Clock that moves only when a test calls `advance`. Sleeps wake in time order, and
 * the code under test runs to quiescence between two wakes, as it would between two
 * real timers, so a test sees every effect of a moment before time moves on.
 */
export class FakeClock implements Clock {
  #monotonicMs: number;
  readonly #wallOffsetMs: number;
  #pending: PendingSleep[] = [];
  #seq = 0;
  readonly #sleepWaiters: (() => void)[] = [];

  /**
   * @param startMs the monotonic time at creation.
   * @param wallStartMs what `now()` reads at creation; a fixed date so timestamps are stable.
   */
  constructor(startMs = 0, wallStartMs = Date.UTC(2025, 0, 1)) {
    this.#monotonicMs = startMs;
    this.#wallOffsetMs = wallStartMs - startMs;
  }

  now(): number {
    return this.#wallOffsetMs + this.#monotonicMs;
  }

  monotonic(): number {
    return this.#monotonicMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const entry: PendingSleep = {
        at: this.#monotonicMs + Math.max(0, ms),
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#remove(entry);
        entry.wake();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#insert(entry);
      for (const waiter of this.#sleepWaiters.splice(0)) waiter();
    });
  }

  /** Sleeps not yet woken. */
  get pendingSleeps(): number {
    return this.#pending.length;
  }

  /** When the earliest pending sleep wakes, or undefined when none is pending. */
  nextWakeAt(): number | undefined {
    return this.#pending[0]?.at;
  }

  /** Resolves at the next sleep() call: the code under test reached its next wait. */
  nextSleep(): Promise<void> {
    return new Promise((resolve) => this.#sleepWaiters.push(resolve));
  }

  /** Moves time forward by `ms`, waking each sleep at its own moment, in order. */
  advance(ms: number): Promise<void> {
    return this.advanceTo(this.#monotonicMs + ms);
  }

  /** Moves time forward to the monotonic instant `targetMs`. */
  async advanceTo(targetMs: number): Promise<void> {
    if (targetMs < this.#monotonicMs) {
      throw new Error(`FakeClock cannot go back: at ${this.#monotonicMs}, asked for ${targetMs}`);
    }
    await settle();
    for (;;) {
      const next = this.#pending[0];
      if (next === undefined || next.at > targetMs) break;
      this.#pending.shift();
      this.#monotonicMs = next.at;
      next.wake();
      await settle();
    }
    this.#monotonicMs = targetMs;
    await settle();
  }

  #insert(entry: PendingSleep): void {
    // Sorted by (at, seq); entries arrive mostly in order, so search from the end.
    let i = this.#pending.length;
    while (i > 0) {
      const before = this.#pending[i - 1];
      if (before === undefined || before.at <= entry.at) break;
      i--;
    }
    this.#pending.splice(i, 0, entry);
  }

  #remove(entry: PendingSleep): void {
    const i = this.#pending.indexOf(entry);
    if (i >= 0) this.#pending.splice(i, 1);
  }
}
