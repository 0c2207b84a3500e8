/**
 * How many probes may be in flight right now. Normally the configured concurrency;
 * when probes fail because this process ran out of file descriptors, it halves, then
 * grows back by about one probe per round of successes, as TCP's congestion window
 * does, but for the rest of the cycle no higher than just below where it failed. Each
 * new cycle lifts that ceiling, so descriptors that came free are found again. A
 * lasting shortage costs a probe or two per cycle, not a cycle of `error`s, and the
 * descriptors the probes leave free keep /metrics answering.
 */

/** Errors that mean this process, not the target, lacked what a connect needs. */
export const RESOURCE_EXHAUSTED: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE']);

/** What happened to the limit since the last report; one log line per cycle. */
export interface LimitReport {
  /** Probes that failed for want of a descriptor. */
  readonly exhausted: number;
  /** Times the limit was halved. */
  readonly backoffs: number;
  /** The lowest the limit went. */
  readonly lowest: number;
  /** The limit now. */
  readonly current: number;
  /** The configured concurrency. */
  readonly max: number;
}

export class ConcurrencyLimit {
  readonly max: number;
  /** Fractional, so growth can be one per round of `current` successes. */
  #current: number;
  /** Where growth stops until the next cycle: just below the last shortage. */
  #ceiling: number;
  #launches = 0;
  /** Probes launched before this ran under a higher limit: their failures are old news. */
  #backedOffAt = 0;
  #exhausted = 0;
  #backoffs = 0;
  #lowest: number;

  constructor(max: number) {
    this.max = max;
    this.#current = max;
    this.#ceiling = max;
    this.#lowest = max;
  }

  /** A cycle starts: the limit may grow past the last shortage again, one probe at a time. */
  newCycle(): void {
    this.#ceiling = this.max;
  }

  /** Probes that may be in flight now. */
  get current(): number {
    return Math.floor(this.#current);
  }

  /** Called at each launch; the number it returns goes back to `finished`. */
  launched(): number {
    return this.#launches++;
  }

  /** A probe launched as `launch` finished; `exhausted` when it could not get a descriptor. */
  finished(launch: number, exhausted: boolean): void {
    if (exhausted) {
      this.#exhausted++;
      // Probes launched together fail together: halve once for the lot, not once each.
      if (launch < this.#backedOffAt) return;
      this.#ceiling = Math.max(1, this.current - 1);
      this.#current = Math.max(1, Math.floor(this.#current / 2));
      this.#backedOffAt = this.#launches;
      this.#backoffs++;
      this.#lowest = Math.min(this.#lowest, this.current);
      return;
    }
    if (this.#current < this.#ceiling) {
      this.#current = Math.min(this.#ceiling, this.#current + 1 / Math.floor(this.#current));
    }
  }

  /** What happened since the last call, or undefined when nothing ran short. */
  takeReport(): LimitReport | undefined {
    if (this.#exhausted === 0) return undefined;
    const report: LimitReport = {
      exhausted: this.#exhausted,
      backoffs: this.#backoffs,
      lowest: this.#lowest,
      current: this.current,
      max: this.max,
    };
    this.#exhausted = 0;
    this.#backoffs = 0;
    this.#lowest = this.current;
    return report;
  }
}
