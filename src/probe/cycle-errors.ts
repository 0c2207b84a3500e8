/**
 * Why port probes failed with `error` in one cycle (no descriptor, no local address, a
 * name that does not resolve): the exporter's side, not the network's. Logged once per
 * reason at the cycle's end, with a count, not once per probe: a full descriptor table
 * fails thousands of probes a cycle.
 */
import type { Logger } from '../util/log.js';
import type { ProbeResult } from './types.js';

export class CycleErrors {
  readonly #probes = new Map<string, number>();

  /** Counts the result when it is an `error`. */
  note(result: ProbeResult): void {
    if (result.state !== 'error') return;
    const reason = result.error ?? 'unknown';
    this.#probes.set(reason, (this.#probes.get(reason) ?? 0) + 1);
  }

  /** A new cycle starts: nothing counted yet. */
  clear(): void {
    this.#probes.clear();
  }

  /** One warning per reason counted since the last clear(). */
  report(logger: Logger): void {
    for (const [reason, probes] of this.#probes) {
      logger.warn('probes failed without reaching the network', { reason, probes });
    }
  }
}
