/**
 * The status page's copy of the store, taken once per probe cycle (at its end), so a
 * page request never walks the whole store on the event loop the probes share. The
 * copy is taken in slices of SLICE_ROWS rows, one loop turn each: at 100,000 targets no
 * single step holds the loop for more than a few milliseconds.
 *
 * Taking copies in a row also tells what the store alone cannot: whether a target's
 * state changed while this process watched (else "since" is "since start"), and which
 * failing targets recovered (the page lists the last hour's).
 */
import type { ClusterNode } from '../../discovery/types.js';
import { PROBE_STATES, type ProbeState } from '../../probe/types.js';
import type { IcmpEntry, ResultStore, TargetTable } from '../../results/store.js';
import type { Target } from '../../targets/types.js';
import { FAILING_VERDICTS, VERDICTS, type Verdict } from '../../targets/verdict.js';

/** The parts of the store the page reads. */
export type StatusStore = Pick<ResultStore, 'leaseColumns' | 'icmpResults'>;

/** Rows copied per loop turn. */
export const SLICE_ROWS = 1024;
/** Recoveries older than this leave the page. */
export const RECOVERY_WINDOW_MS = 3_600_000;
/** At most this many recoveries are kept, newest first: a flapping cluster must not grow memory. */
export const MAX_RECOVERIES = 2000;

/** Index into PROBE_STATES, or UNPROBED_CODE before a target's first result. */
export const UNPROBED_CODE = 255;

export const VERDICT_CODES: readonly Verdict[] = [
  'ok',
  'down',
  'exposed',
  'unknown',
  'neutral',
  'unprobed',
];
const VERDICT_INDEX: ReadonlyMap<Verdict, number> = new Map(VERDICT_CODES.map((v, i) => [v, i]));
const UNPROBED_VERDICT = VERDICT_CODES.indexOf('unprobed');
/**
 * VERDICTS (the one judgement's table) as codes: [expected][state code]. judge() would
 * allocate an object per row; this is the same table, read without one.
 */
const VERDICT_OF: Readonly<Record<string, Uint8Array>> = Object.fromEntries(
  Object.entries(VERDICTS).map(([expected, byState]) => [
    expected,
    Uint8Array.from(PROBE_STATES, (state) => VERDICT_INDEX.get(byState[state]) ?? 0),
  ]),
);
const FAILING_CODE = Uint8Array.from(VERDICT_CODES, (v) => (FAILING_VERDICTS.has(v) ? 1 : 0));
const OK_CODE = VERDICT_CODES.indexOf('ok');

/** A required target that answers as expected again. */
export interface Recovery {
  readonly target: Target;
  /** What it failed with. */
  readonly wasState: ProbeState;
  readonly wasVerdict: 'down' | 'exposed' | 'unknown';
  /** When it started failing (as far as this process saw). */
  readonly failedSinceMs: number;
  /** When it answered as expected again. */
  readonly recoveredAtMs: number;
}

/** The store at one moment, as the page reads it. Rows are the store's row order. */
export interface StatusSnapshot {
  /** When the copy was finished (wall-clock ms). */
  readonly takenAtMs: number;
  /** When the first copy was taken: a state unchanged since then is "since start". */
  readonly firstTakenAtMs: number;
  readonly targets: readonly Target[];
  /** PROBE_STATES index or UNPROBED_CODE. */
  readonly state: Uint8Array;
  /** VERDICT_CODES index, from the shared judgement. */
  readonly verdict: Uint8Array;
  /** 1 for a required target not as expected: the page lists it. */
  readonly failing: Uint8Array;
  /** 1 when this process saw the state change after the target's first result. */
  readonly changed: Uint8Array;
  readonly durationSeconds: Float64Array;
  readonly probedAtMs: Float64Array;
  readonly lastChangeMs: Float64Array;
  readonly error: readonly (string | undefined)[];
  readonly nodes: readonly ClusterNode[];
  /** The first ICMP entry per node name. */
  readonly icmp: ReadonlyMap<string, IcmpEntry>;
  /** Recoveries of the last hour, newest first. */
  readonly recoveries: readonly Recovery[];
}

/**
 * Copies the store, slice by slice, comparing each row with `previous` (the last copy)
 * for changes and recoveries. `firstTakenAtMs` is kept from `previous`.
 */
export async function takeSnapshot(
  store: StatusStore,
  previous: StatusSnapshot | undefined,
  options: {
    readonly now: () => number;
    readonly yieldTurn: () => Promise<void>;
    /** The nodes discovery found, read once the rows are copied. */
    readonly nodes: () => readonly ClusterNode[];
  },
): Promise<StatusSnapshot> {
  const lease = store.leaseColumns();
  try {
    const next = await copyTable(lease.table, previous, options.yieldTurn);
    const takenAtMs = options.now();
    const icmp = new Map<string, IcmpEntry>();
    for (const entry of store.icmpResults()) {
      if (!icmp.has(entry.node)) icmp.set(entry.node, entry);
    }
    return {
      ...next.columns,
      takenAtMs,
      firstTakenAtMs: previous?.firstTakenAtMs ?? takenAtMs,
      nodes: options.nodes(),
      icmp,
      recoveries: keepRecent(next.recovered, previous?.recoveries ?? [], takenAtMs),
    };
  } finally {
    lease.release();
  }
}

type Columns = Omit<
  StatusSnapshot,
  'takenAtMs' | 'firstTakenAtMs' | 'nodes' | 'icmp' | 'recoveries'
>;

/** Copies the columns slice by slice, judging each row and comparing it with `previous`. */
async function copyTable(
  table: TargetTable,
  previous: StatusSnapshot | undefined,
  yieldTurn: () => Promise<void>,
): Promise<{ columns: Columns; recovered: Recovery[] }> {
  const n = table.size;
  const targets = table.targets;
  const state = new Uint8Array(n);
  const verdict = new Uint8Array(n);
  const failing = new Uint8Array(n);
  const changed = new Uint8Array(n);
  const durationSeconds = new Float64Array(n);
  const probedAtMs = new Float64Array(n);
  const lastChangeMs = new Float64Array(n);
  const error: (string | undefined)[] = new Array(n);
  const recovered: Recovery[] = [];
  const before = previous ? await rowsOfPrevious(previous, targets, yieldTurn) : undefined;

  for (let start = 0; start < n; start += SLICE_ROWS) {
    if (start > 0) await yieldTurn();
    // Read the live columns now: a setTargets during the wait replaced the table, but
    // the lease keeps this one's memory, and record() writes into it in place.
    const end = Math.min(n, start + SLICE_ROWS);
    for (let row = start; row < end; row++) {
      const target = targets[row] as Target;
      const code = table.state[row] as number;
      const probed = code !== UNPROBED_CODE;
      const judged = probed
        ? ((VERDICT_OF[target.expected] as Uint8Array)[code] as number)
        : UNPROBED_VERDICT;
      state[row] = code;
      verdict[row] = judged;
      failing[row] = target.required && probed ? (FAILING_CODE[judged] as number) : 0;
      durationSeconds[row] = table.durationSeconds[row] as number;
      probedAtMs[row] = table.probedAtMs[row] as number;
      lastChangeMs[row] = table.lastChangeMs[row] as number;
      error[row] = table.error[row];
      const was = before?.(row);
      if (previous && was !== undefined && was >= 0) {
        const wasCode = previous.state[was] as number;
        changed[row] =
          (previous.changed[was] as number) |
          (wasCode !== UNPROBED_CODE && wasCode !== code ? 1 : 0);
        if (previous.failing[was] === 1 && failing[row] === 0 && probed && judged === OK_CODE) {
          recovered.push({
            target,
            wasState: PROBE_STATES[wasCode] as ProbeState,
            wasVerdict: VERDICT_CODES[previous.verdict[was] as number] as Recovery['wasVerdict'],
            failedSinceMs: previous.lastChangeMs[was] as number,
            recoveredAtMs: lastChangeMs[row] as number,
          });
        }
      }
    }
  }
  return {
    columns: {
      targets,
      state,
      verdict,
      failing,
      changed,
      durationSeconds,
      probedAtMs,
      lastChangeMs,
      error,
    },
    recovered,
  };
}

/**
 * Row in `previous` of each row of `targets`, or -1. The same target set in the same
 * order (the common case: nothing was re-planned) needs no map of keys.
 */
async function rowsOfPrevious(
  previous: StatusSnapshot,
  targets: readonly Target[],
  yieldTurn: () => Promise<void>,
): Promise<(row: number) => number> {
  const old = previous.targets;
  if (old === targets) return (row) => row;
  let aligned = old.length === targets.length;
  for (let i = 0; aligned && i < targets.length; i++) {
    if (i > 0 && i % SLICE_ROWS === 0) await yieldTurn();
    aligned = (old[i] as Target).key === (targets[i] as Target).key;
  }
  if (aligned) return (row) => row;
  const rowOf = new Map<string, number>();
  for (let i = 0; i < old.length; i++) {
    if (i > 0 && i % SLICE_ROWS === 0) await yieldTurn();
    rowOf.set((old[i] as Target).key, i);
  }
  return (row) => rowOf.get((targets[row] as Target).key) ?? -1;
}

function keepRecent(
  fresh: readonly Recovery[],
  kept: readonly Recovery[],
  nowMs: number,
): Recovery[] {
  const all = [...fresh].sort((a, b) => b.recoveredAtMs - a.recoveredAtMs);
  for (const r of kept) {
    if (all.length >= MAX_RECOVERIES) break;
    if (nowMs - r.recoveredAtMs <= RECOVERY_WINDOW_MS) all.push(r);
  }
  return all.slice(0, MAX_RECOVERIES);
}
