/**
 * The render thread's output memory: one reserved range of address space that a render
 * commits and fills, and that goes back to the kernel between scrapes.
 *
 * At 100,000 targets the body is 82 MB. Kept mapped from scrape to scrape (as the loop's
 * arena keeps its buffer), it is a fifth of the process's RSS all the time, for the
 * one or two seconds in fifteen that a scrape needs it. The fresh pages a render then
 * faults in cost the render thread, not the event loop, so the thread gives them back:
 * a resizable ArrayBuffer keeps its reservation when shrunk to 0 bytes, and V8 decommits
 * the pages it no longer covers (mprotect, then madvise(MADV_DONTNEED) on Linux), so
 * RSS falls at once instead of at some later garbage collection. The buffer crosses
 * between the threads by transfer, never copied: a transferred buffer stays resizable.
 */

/** Room to grow: a few more targets next time still fit the reservation. */
const HEADROOM = 1.25;

/**
 * ES2024's resizable ArrayBuffer, in V8 since 11.1 and so in Node 20. Declared here,
 * not by lib ES2024, which also declares transfer() and `detached`: Node 20 has neither.
 */
export interface ResizableArrayBuffer extends ArrayBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  resize(bytes: number): void;
}

const Resizable = ArrayBuffer as unknown as new (
  bytes: number,
  options: { maxByteLength: number },
) => ResizableArrayBuffer;

export class OutputReservation {
  #spare: ResizableArrayBuffer | undefined;

  /** A buffer of exactly `bytes`, in the spare reservation when it fits. */
  take(bytes: number): ResizableArrayBuffer {
    const spare = this.#spare;
    this.#spare = undefined;
    // More than twice too big: address space, not memory, but let it go all the same.
    const fits = spare && bytes <= spare.maxByteLength && spare.maxByteLength <= 2 * bytes + 65536;
    const out = fits ? spare : new Resizable(0, { maxByteLength: Math.ceil(bytes * HEADROOM) });
    out.resize(bytes);
    return out;
  }

  /**
   * `out` is no longer read (a body that every scrape has sent): its pages go back to
   * the kernel and its reservation is kept for the next render.
   */
  giveBack(out: ResizableArrayBuffer): void {
    // Detached (transferred away again) reads as 0 bytes of reservation.
    if (!out.resizable || out.maxByteLength === 0) return;
    out.resize(0);
    // Overlapping scrapes had a second buffer: its address space goes to the collector.
    this.#spare ??= out;
  }

  /** The spare reservation's committed and reserved bytes; undefined when there is none. */
  get spare(): { readonly committed: number; readonly reserved: number } | undefined {
    const spare = this.#spare;
    return spare && { committed: spare.byteLength, reserved: spare.maxByteLength };
  }
}
