/**
 * The one way tests wait for something that nothing announces (a metric, a log line,
 * Prometheus's view): try, pause, try again, within a bound. `eventually` fails naming
 * what was awaited; `readUntil` hands the last reading to the caller's assertion. Where
 * an event or a fake clock can tell, tests use that instead.
 */

/** How long and how often to try: bounded in time, in tries, or both, never neither. */
export type PollBounds = {
  /** Pause between tries. Default 100 ms. */
  readonly intervalMs?: number;
} & (
  | {
      /** Give up once this long has passed. */
      readonly timeoutMs: number;
      /** Give up after this many tries as well, however fast they return. */
      readonly attempts?: number;
    }
  | { readonly timeoutMs?: number; readonly attempts: number }
);

export type EventuallyOptions = PollBounds & {
  /** What is awaited, in words; the failure names it. */
  readonly what: string;
  /** More words for the failure, read when it happens (the tail of a log, say). */
  readonly detail?: () => string;
  /** A throw from `check` fails the wait at once, instead of counting as "not yet". Default false. */
  readonly throwsAreFinal?: boolean;
};

/** Why a poll stopped without a value: the bound it reached. */
type Exhausted = { readonly bound: string };

/** Runs `attempt` until it returns a value, or a bound is reached. */
async function poll<T>(
  attempt: () => Promise<T | undefined>,
  bounds: PollBounds,
): Promise<{ readonly value: T } | Exhausted> {
  const {
    timeoutMs = Number.POSITIVE_INFINITY,
    intervalMs = 100,
    attempts = Number.POSITIVE_INFINITY,
  } = bounds;
  const deadline = Date.now() + timeoutMs;
  for (let tries = 1; ; tries++) {
    const value = await attempt();
    if (value !== undefined) return { value };
    if (Date.now() >= deadline) return { bound: `${timeoutMs} ms` };
    if (tries >= attempts) return { bound: `${attempts} tries` };
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The first value `check` returns that is not undefined. A throw from `check` counts as
 * "not yet" (unless throwsAreFinal), and the last one is named in the failure.
 */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  options: EventuallyOptions,
): Promise<T> {
  let last: unknown;
  const result = await poll(async () => {
    try {
      return await check();
    } catch (error) {
      if (options.throwsAreFinal) throw error;
      last = error;
      return undefined;
    }
  }, options);
  if ('value' in result) return result.value;
  const lastError = last === undefined ? '' : ` (last error: ${String(last)})`;
  const detail = options.detail ? `\n${options.detail()}` : '';
  throw new Error(`not within ${result.bound}: ${options.what}${lastError}${detail}`);
}

/** eventually for a condition: resolves once `done` holds. */
export async function until(
  done: () => boolean | Promise<boolean>,
  options: EventuallyOptions,
): Promise<void> {
  await eventually(async () => ((await done()) ? true : undefined), options);
}

/**
 * Reads until `done` holds of the reading, within the bounds, and resolves with the last
 * reading either way: the caller's assertion judges it and says what it shows. A throw
 * from `read` fails at once.
 */
export async function readUntil<T>(
  read: () => Promise<T>,
  done: (reading: T) => boolean,
  bounds: PollBounds,
): Promise<T> {
  let last: T | undefined;
  const result = await poll(async () => {
    const reading = await read();
    last = reading;
    return done(reading) ? { reading } : undefined;
  }, bounds);
  // Every try reads, so a poll that stopped has a last reading.
  return 'value' in result ? result.value.reading : (last as T);
}
