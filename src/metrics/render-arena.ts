/**
 * The memory one scrape renders into in the loop: the copy of the values, and the
 * output buffer when the loop writes the body itself (no render thread, or one that
 * failed). Kept from scrape to scrape, so a scrape writes into pages already mapped:
 * fresh pages cost a fault each (and the kernel zeroes them), about 1 KB per target,
 * and here the loop would pay them. The values are shared memory, so the render
 * thread reads them in place; the thread's output is its own (render-output.ts).
 */
import type { LabelColumns, TargetValues } from './target-families.js';

/** The store's value columns, of which a render copies the first `size` rows. */
export interface ValueColumns extends TargetValues {
  readonly size: number;
}

export class RenderArena {
  #out: Buffer = Buffer.alloc(0);
  #state: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #durationSeconds: Float64Array<ArrayBufferLike> = new Float64Array(0);
  #lastChangeMs: Float64Array<ArrayBufferLike> = new Float64Array(0);

  /** The values of `t` at this instant: one scrape shows one instant. */
  snapshot(t: ValueColumns): TargetValues {
    const n = t.size;
    if (this.#state.length < n || this.#state.length > 2 * n + 1024) {
      const capacity = Math.ceil(n * 1.25);
      this.#state = new Uint8Array(new SharedArrayBuffer(capacity));
      this.#durationSeconds = new Float64Array(new SharedArrayBuffer(8 * capacity));
      this.#lastChangeMs = new Float64Array(new SharedArrayBuffer(8 * capacity));
    }
    this.#state.set(t.state.subarray(0, n));
    this.#durationSeconds.set(t.durationSeconds.subarray(0, n));
    this.#lastChangeMs.set(t.lastChangeMs.subarray(0, n));
    return {
      state: this.#state.subarray(0, n),
      durationSeconds: this.#durationSeconds.subarray(0, n),
      lastChangeMs: this.#lastChangeMs.subarray(0, n),
    };
  }

  /**
   * A buffer of at least `bytes`, with 5% to spare so that a few more targets need no
   * new one (the bound is already a few percent above what a render writes).
   */
  reserve(bytes: number): Buffer {
    if (this.#out.length < bytes || this.#out.length > 1.5 * bytes + 65536) {
      this.#out = Buffer.from(new SharedArrayBuffer(Math.ceil(bytes * 1.05)));
    }
    return this.#out;
  }
}

/** True when the render thread can read these columns where they are, without a copy. */
export function isShared(t: LabelColumns): boolean {
  return (
    t.labelBytes.buffer instanceof SharedArrayBuffer &&
    t.labelStart.buffer instanceof SharedArrayBuffer &&
    t.identifyingEnd.buffer instanceof SharedArrayBuffer
  );
}
