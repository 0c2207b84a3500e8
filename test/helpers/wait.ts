/**
 * The one way tests wait for something that nothing announces (a metric, a log line,
 * Prometheus's view): try, pause, try again, within a bound; fail naming what was
 * awaited. Where an event or a fake clock can tell, tests use that instead.
 */

export interface EventuallyOptions {
  /** What is awaited, in words; the failure names it. */
  readonly what: string;
  /** Give up once this long has passed. */
  readonly timeoutMs: number;
  /** Pause between tries. Default 100 ms. */
  readonly intervalMs?: number;
  /** Give up after this many tries as well, however fast they return. Default no count bound. */
  readonly attempts?: number;
  /** More words for the failure, read when it happens (the tail of a log, say). */
  readonly detail?: () => string;
  /** A throw from `check` fails the wait at once, instead of counting as "not yet". Default false. */
  readonly throwsAreFinal?: boolean;
}

/**
 * The first value `check` returns that is not undefined. A throw from `check` counts as
 * "not yet" (unless throwsAreFinal), and the last one is named in the failure.
 */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  options: EventuallyOptions,
): Promise<T> {
  const { what, timeoutMs, intervalMs = 100, attempts = Number.POSITIVE_INFINITY } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (options.throwsAreFinal) throw error;
      last = error;
    }
    if (Date.now() >= deadline || attempt >= attempts) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const bound = Date.now() >= deadline ? `${timeoutMs} ms` : `${attempts} tries`;
  const lastError = last === undefined ? '' : ` (last error: ${String(last)})`;
  const detail = options.detail ? `\n${options.detail()}` : '';
  throw new Error(`not within ${bound}: ${what}${lastError}${detail}`);
}

/** eventually for a condition: resolves once `done` holds. */
export async function until(
  done: () => boolean | Promise<boolean>,
  options: EventuallyOptions,
): Promise<void> {
  await eventually(async () => ((await done()) ? true : undefined), options);
}
