/**
 * The page's data: the latest snapshot of the store and its tallies, taken after each
 * probe cycle (the exporter calls capture() at cycle end). A request reads latest();
 * without a capture yet, it waits for a first one, which runs in slices too.
 */
import type { DiscoverySnapshot } from '../../discovery/types.js';
import { type StatusSnapshot, type StatusStore, takeSnapshot } from './snapshot.js';
import { type SnapshotSummary, summarize } from './summary.js';

export interface PageData {
  readonly snapshot: StatusSnapshot;
  readonly summary: SnapshotSummary;
}

export interface StatusDataOptions {
  /** Wall-clock ms. Default Date.now. */
  readonly now?: () => number;
  /** Waits one loop turn between slices. Default setImmediate. */
  readonly yieldTurn?: () => Promise<void>;
  /** Discovery's latest snapshot, for the nodes the page lists. Default: none. */
  readonly snapshot?: () => DiscoverySnapshot | undefined;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class StatusData {
  readonly #store: StatusStore;
  readonly #now: () => number;
  readonly #yield: () => Promise<void>;
  readonly #discovered: () => DiscoverySnapshot | undefined;
  #latest: PageData | undefined;
  #running: Promise<PageData> | undefined;
  #again = false;

  constructor(store: StatusStore, options: StatusDataOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#yield = options.yieldTurn ?? nextTurn;
    this.#discovered = options.snapshot ?? (() => undefined);
  }

  /** The last finished capture; undefined before the first ends. */
  latest(): PageData | undefined {
    return this.#latest;
  }

  /** The last capture, or the first one, waited for. */
  current(): Promise<PageData> {
    return this.#latest ? Promise.resolve(this.#latest) : (this.#running ?? this.capture());
  }

  /**
   * Takes a new snapshot and its tallies. One runs at a time: asked during one, a
   * second runs after it (the first began before whatever asks for this one).
   */
  capture(): Promise<PageData> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = this.#take().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        void this.capture();
      }
    });
    this.#running = run;
    return run;
  }

  async #take(): Promise<PageData> {
    const snapshot = await takeSnapshot(this.#store, this.#latest?.snapshot, {
      now: this.#now,
      yieldTurn: this.#yield,
      nodes: () => this.#discovered()?.nodes ?? [],
    });
    const summary = await summarize(snapshot, this.#yield);
    this.#latest = { snapshot, summary };
    return this.#latest;
  }
}
