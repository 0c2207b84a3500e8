/**
 * Durations written the way Prometheus writes them (`1h30m`, `15s`, `500ms`), so
 * flags read like the Prometheus configuration next to them.
 */

/** What a message says a duration should look like. */
export const DURATION_EXPECTED = 'a duration such as 15s, 1m30s or 500ms';

const UNIT_MS = {
  y: 365 * 24 * 60 * 60 * 1000,
  w: 7 * 24 * 60 * 60 * 1000,
  d: 24 * 60 * 60 * 1000,
  h: 60 * 60 * 1000,
  m: 60 * 1000,
  s: 1000,
  ms: 1,
} as const;
type Unit = keyof typeof UNIT_MS;

// Prometheus' own grammar (common/model.ParseDuration): units largest first, each at most once.
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNITS_IN_ORDER: readonly Unit[] = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];

/**
 * Milliseconds in a duration, or undefined when the text is not a positive duration:
 * empty, zero, negative, fractional, units out of order, or too large to count exactly.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match || text === '') return undefined;
  let ms = 0;
  UNITS_IN_ORDER.forEach((unit, i) => {
    const amount = match[i + 1];
    if (amount !== undefined) ms += Number(amount) * UNIT_MS[unit];
  });
  if (ms <= 0 || !Number.isSafeInteger(ms)) return undefined;
  return ms;
}

/** Milliseconds as the shortest duration text that parses back to them: 90000 -> `1m30s`. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0) return `${ms}ms`;
  let rest = ms;
  let text = '';
  // Years and weeks read oddly in help text; stop at days.
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const amount = Math.floor(rest / UNIT_MS[unit]);
    if (amount > 0) {
      text += `${amount}${unit}`;
      rest -= amount * UNIT_MS[unit];
    }
  }
  return text;
}
