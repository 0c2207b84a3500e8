/**
 * The one judgement: is this target as expected, and what should the operator do.
 * `check`, the status page and the alert generator all ask this table, so a port
 * cannot be fine on the page and failing in check.
 */
import { STATE_GUIDE } from '../probe/states.js';
import { PROBE_STATES, type ProbeState } from '../probe/types.js';
import type { ExpectedState, Target } from './types.js';

/**
 * `ok` as expected; `down` expected open and not open; `exposed` expected closed and
 * open; `unknown` the probe could not run (`error`), which proves nothing either way;
 * `neutral` any state will do; `unprobed` no result yet.
 */
export type Verdict = 'ok' | 'down' | 'exposed' | 'unknown' | 'neutral' | 'unprobed';

/** The verdicts that make a required target fail (check exits 1, the page lists it, alerts fire). */
export const FAILING_VERDICTS: ReadonlySet<Verdict> = new Set(['down', 'exposed', 'unknown']);

/** The verdict of each state for each expectation, as data for the alert generator. */
export const VERDICTS: Readonly<Record<ExpectedState, Readonly<Record<ProbeState, Verdict>>>> = {
  open: table((state) => (state === 'open' ? 'ok' : state === 'error' ? 'unknown' : 'down')),
  closed: table((state) => (state === 'open' ? 'exposed' : state === 'error' ? 'unknown' : 'ok')),
  any: table(() => 'neutral'),
};

function table(of: (state: ProbeState) => Verdict): Readonly<Record<ProbeState, Verdict>> {
  return Object.fromEntries(PROBE_STATES.map((state) => [state, of(state)])) as Record<
    ProbeState,
    Verdict
  >;
}

/** The states that give `verdict` under `expected`, in PROBE_STATES order. */
export function statesWithVerdict(expected: ExpectedState, verdict: Verdict): ProbeState[] {
  return PROBE_STATES.filter((state) => VERDICTS[expected][state] === verdict);
}

export interface Judgement {
  readonly verdict: Verdict;
  /** A required target whose verdict fails: check exits 1, the page lists it. */
  readonly failing: boolean;
  /** Not as expected, required or not: check marks it, the page colours it. */
  readonly notAsExpected: boolean;
  /** The operator's next step, in one line; empty when there is none. */
  readonly advice: string;
}

const EXPOSED_ADVICE =
  'it answers from this vantage, where it must not: close it in the firewall or bind it to an internal address';

/** Judges a target's last state (undefined before its first result). */
export function judge(
  target: Pick<Target, 'expected' | 'required'>,
  state: ProbeState | undefined,
): Judgement {
  const verdict = state === undefined ? 'unprobed' : VERDICTS[target.expected][state];
  const notAsExpected = FAILING_VERDICTS.has(verdict);
  return {
    verdict,
    failing: notAsExpected && target.required,
    notAsExpected,
    advice: adviceFor(verdict, state),
  };
}

function adviceFor(verdict: Verdict, state: ProbeState | undefined): string {
  switch (verdict) {
    case 'down':
      return STATE_GUIDE[state ?? 'error'].action;
    case 'exposed':
      return EXPOSED_ADVICE;
    case 'unknown':
      return STATE_GUIDE.error.action;
    case 'ok':
    case 'neutral':
    case 'unprobed':
      return '';
  }
}
