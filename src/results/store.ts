import type { Category } from '../catalog/types.js';
import { PROBE_STATES, type ProbeResult, type ProbeState } from '../probe/types.js';
import type { Target } from '../targets/types.js';

/** The state code of a target that has no result yet. */
export const UNPROBED = 255;

const STATE_CODE: ReadonlyMap<string, number> = new Map(PROBE_STATES.map((s, i) => [s, i]));
const ERROR_CODE = PROBE_STATES.indexOf('error');

/** The latest result of one target. */
export interface TargetResult {
  readonly state: ProbeState;
  readonly durationSeconds: number;
  readonly error?: string;
  /** Wall-clock ms of the probe that gave this result. */
  readonly probedAtMs: number;
  /** Wall-clock ms of the first result with this state. */
  readonly lastChangeMs: number;
}

export interface IcmpResult {
  readonly up: boolean;
  /** Round trip of the echo; absent when none came back. */
  readonly rttSeconds?: number;
}

/** The latest ICMP echo result for one IP of a node address. */
export interface IcmpEntry extends IcmpResult {
  readonly vantage: string;
  readonly node: string;
  readonly address: string;
  readonly ip: string;
  readonly probedAtMs: number;
}

/** Whether a node address resolved at the last attempt (IP literals always do). */
export interface ResolutionEntry {
  readonly vantage: string;
  readonly node: string;
  readonly address: string;
  readonly up: boolean;
}

/**
 * A target's label text, without braces, as the reader of the table wants it (the
 * exposition's escaped `name="value"` pairs, built by the renderer). The identifying labels
 * come first, so the labels of the families that carry only those are a prefix of the
 * text and one copy per target serves them all.
 */
export interface TargetLabelText {
  /** The identifying labels: `vantage="...",...,protocol="..."`. */
  readonly identifying: string;
  /** The other labels, each with its leading comma: `,category="...",...`. */
  readonly rest: string;
}

/**
 * How the store turns a target into its label text. The store keeps the bytes and
 * never reads them; whoever renders them hands it the encoding, so a label is defined
 * where it is rendered.
 */
export interface LabelEncoder {
  /** Called when a target is set, never at a scrape. */
  encode(target: Target): TargetLabelText;
  /** True when `a` and `b` encode to the same text: saves encoding again at a re-plan. */
  same(a: Target, b: Target): boolean;
}

export interface ResultStoreOptions {
  readonly labels: LabelEncoder;
}

/**
 * The store in columns, one row per target, for the collector's scrape-time loop.
 * Row order is the order of setTargets. Valid until the next setTargets, which
 * replaces the columns; read it again at each scrape. A reader that lets the event
 * loop turn while it reads takes a lease (ResultStore.leaseColumns): the store reuses
 * the memory of replaced columns, but never of leased ones.
 */
export interface TargetTable {
  readonly size: number;
  readonly targets: readonly Target[];
  /**
   * Every target's label text (from the store's LabelEncoder) as UTF-8, end to end,
   * built when the target was set: a scrape copies bytes and never escapes or encodes.
   */
  readonly labelBytes: Buffer;
  /** Row i's label text is labelBytes[labelStart[i], labelStart[i + 1]); size + 1 entries. */
  readonly labelStart: Uint32Array;
  /** Where row i's identifying-labels prefix ends in labelBytes. */
  readonly identifyingEnd: Uint32Array;
  /** Index into PROBE_STATES, or UNPROBED. */
  readonly state: Uint8Array;
  readonly durationSeconds: Float64Array;
  readonly probedAtMs: Float64Array;
  readonly lastChangeMs: Float64Array;
  readonly error: readonly (string | undefined)[];
}

/** The table as the store holds it: the error column is written in place. */
interface Columns extends TargetTable {
  readonly error: (string | undefined)[];
  /** The memory its columns are views of. */
  readonly memory: TableMemory;
}

/** A lease on the columns of one moment; see TargetTable. */
export interface ColumnsLease {
  readonly table: TargetTable;
  /** Idempotent. */
  release(): void;
}

/**
 * The latest result per target key. Columns of typed arrays and one buffer of label
 * bytes instead of objects per target: 100,000 targets cost a few MB of numbers and
 * one off-heap buffer for their labels, and a record is a map lookup and a few
 * stores, with no allocation.
 */
export class ResultStore {
  private table: Columns = emptyTable();
  /**
   * The memory of the table before this one, reused by the next setTargets unless
   * leased. Only the memory: the old table's Target objects can go.
   */
  private spare: TableMemory | undefined;
  /** Readers per memory: the fast path of setTargets makes tables that share memory. */
  private readonly leases = new Map<TableMemory, number>();
  private slotOf = new Map<string, number>();
  private byCategory = new Map<Category, number>();
  /** `node\0address\0ip` -> vantage, for every IP of a node address some target names. */
  private icmpVantage = new Map<string, string>();
  /** Targets per icmpVantage key: applyChange drops a key when its last target goes. */
  private icmpTargets = new Map<string, number>();
  private icmp = new Map<string, IcmpEntry>();
  private resolutionList: readonly ResolutionEntry[] = [];
  private readonly labels: LabelEncoder;

  constructor(options: ResultStoreOptions) {
    this.labels = options.labels;
  }

  /**
   * Replace the target set. New targets are known but unprobed until their first
   * result; results of targets that stay are kept; removed targets and their
   * results (and ICMP results of node addresses no target names) go at once, so
   * their series vanish from the next scrape. A repeated key keeps its first target.
   */
  setTargets(targets: readonly Target[]): void {
    const old = this.table;
    if (this.sameRows(targets)) {
      // Nothing a row shows changed (a node's readiness, say): keep every column.
      this.table = { ...old, targets: targets.slice() };
      return;
    }
    const n = targets.length;
    const slotOf = new Map<string, number>();
    const kept: Target[] = [];
    const byCategory = new Map<Category, number>();
    const icmpVantage = new Map<string, string>();
    const icmpTargets = new Map<string, number>();
    let groupKey: string | undefined;
    let groupCount = 0;
    const flushGroup = () => {
      if (groupKey !== undefined) {
        icmpTargets.set(groupKey, (icmpTargets.get(groupKey) ?? 0) + groupCount);
      }
    };
    /** Per kept row: its row in the old table, or -1 for a new target. */
    const oldRowOf = new Int32Array(n);
    /** Per kept row: 1 when its label bytes can be copied from its old row. */
    const sameText = new Uint8Array(n);
    /** Label text of the rows that need it written, in row order. */
    const texts: TargetLabelText[] = [];
    let labelBytes = 0;
    let lastNode: string | undefined;
    let lastAddress: string | undefined;
    let lastIp: string | undefined;

    // First pass: which rows stay, and how many label bytes they need.
    for (const t of targets) {
      if (slotOf.has(t.key)) continue;
      const row = kept.length;
      slotOf.set(t.key, row);
      kept.push(t);
      byCategory.set(t.category, (byCategory.get(t.category) ?? 0) + 1);
      // Targets come grouped by node: one key per node, not one per target.
      if (t.ip !== '') {
        if (t.node !== lastNode || t.address !== lastAddress || t.ip !== lastIp) {
          lastNode = t.node;
          lastAddress = t.address;
          lastIp = t.ip;
          flushGroup();
          groupKey = icmpKey(t.node, t.address, t.ip);
          groupCount = 0;
          if (!icmpVantage.has(groupKey)) icmpVantage.set(groupKey, t.vantage);
        }
        groupCount++;
      }
      const oldRow = this.slotOf.get(t.key);
      oldRowOf[row] = oldRow ?? -1;
      const before = oldRow === undefined ? undefined : old.targets[oldRow];
      if (oldRow !== undefined && before && this.labels.same(before, t)) {
        sameText[row] = 1;
        labelBytes += (old.labelStart[oldRow + 1] as number) - (old.labelStart[oldRow] as number);
      } else {
        const text = this.labels.encode(t);
        texts.push(text);
        labelBytes += Buffer.byteLength(text.identifying) + Buffer.byteLength(text.rest);
      }
    }

    flushGroup();

    // Second pass: the columns, in the memory of the table before last when no one reads it.
    const size = kept.length;
    const memory = this.takeMemory(size, labelBytes);
    const { labels, labelStart, identifyingEnd, state, durationSeconds, probedAtMs, lastChangeMs } =
      memory;
    const error: (string | undefined)[] = new Array(size);
    let pos = 0;
    let nextText = 0;
    for (let row = 0; row < size; row++) {
      labelStart[row] = pos;
      const oldRow = oldRowOf[row] as number;
      if (sameText[row] === 1) {
        const from = old.labelStart[oldRow] as number;
        pos += old.labelBytes.copy(labels, pos, from, old.labelStart[oldRow + 1] as number);
        identifyingEnd[row] =
          (labelStart[row] as number) + (old.identifyingEnd[oldRow] as number) - from;
      } else {
        const text = texts[nextText++] as TargetLabelText;
        pos += labels.write(text.identifying, pos);
        identifyingEnd[row] = pos;
        pos += labels.write(text.rest, pos);
      }
      if (oldRow < 0) {
        state[row] = UNPROBED;
        durationSeconds[row] = 0;
        probedAtMs[row] = 0;
        lastChangeMs[row] = 0;
        error[row] = undefined;
      } else {
        state[row] = old.state[oldRow] as number;
        durationSeconds[row] = old.durationSeconds[oldRow] as number;
        probedAtMs[row] = old.probedAtMs[oldRow] as number;
        lastChangeMs[row] = old.lastChangeMs[oldRow] as number;
        error[row] = old.error[oldRow];
      }
    }
    labelStart[size] = pos;

    this.table = tableOf(memory, size, kept, pos, error);
    this.spare = old.memory;
    this.slotOf = slotOf;
    this.byCategory = byCategory;
    this.icmpVantage = icmpVantage;
    this.icmpTargets = icmpTargets;
    for (const key of this.icmp.keys()) {
      if (!icmpVantage.has(key)) this.icmp.delete(key);
    }
  }

  /**
   * Changes a few rows without walking the set (a churn event): the rows of `removed`
   * go, `added` are appended as new rows, unprobed; a key in both keeps its result, as
   * setTargets keeps it. The rows after the first removed one move up by a few memory
   * moves of the columns and the label bytes. Returns false, changing nothing, where
   * it cannot: a reader leases the columns, or their memory has no room for what is
   * added; the caller then hands setTargets the whole set.
   */
  applyChange(removed: readonly Target[], added: readonly Target[]): boolean {
    const t = this.table;
    if (this.leases.has(t.memory)) return false;
    const removedRows: number[] = [];
    const kept = new Map<string, number>();
    for (const target of removed) {
      const row = this.slotOf.get(target.key);
      if (row === undefined || kept.has(target.key)) continue;
      kept.set(target.key, row);
      removedRows.push(row);
    }
    removedRows.sort((a, b) => a - b);
    const adding: Target[] = [];
    const texts: TargetLabelText[] = [];
    let addedBytes = 0;
    const seen = new Set<string>();
    for (const target of added) {
      // A key already there and not removed is a repeat: the first target keeps it.
      if (seen.has(target.key) || (this.slotOf.has(target.key) && !kept.has(target.key))) continue;
      seen.add(target.key);
      const text = this.labels.encode(target);
      adding.push(target);
      texts.push(text);
      addedBytes += Buffer.byteLength(text.identifying) + Buffer.byteLength(text.rest);
    }
    let removedBytes = 0;
    for (const row of removedRows) {
      removedBytes += (t.labelStart[row + 1] as number) - (t.labelStart[row] as number);
    }
    const { memory } = t;
    const size = t.size - removedRows.length + adding.length;
    const bytes = (t.labelStart[t.size] as number) - removedBytes + addedBytes;
    if (size > memory.state.length || bytes > memory.labels.length) return false;

    // Results of keys that come back, before their rows move.
    const carried = new Map<string, number>();
    for (const target of adding) {
      const row = kept.get(target.key);
      if (row !== undefined) carried.set(target.key, row);
    }
    const carry = [...carried].map(([key, row]) => ({
      key,
      state: t.state[row] as number,
      durationSeconds: t.durationSeconds[row] as number,
      probedAtMs: t.probedAtMs[row] as number,
      lastChangeMs: t.lastChangeMs[row] as number,
      error: t.error[row],
    }));
    const carriedByKey = new Map(carry.map((c) => [c.key, c]));

    const { labels, labelStart, identifyingEnd, state, durationSeconds, probedAtMs, lastChangeMs } =
      memory;
    const targets = t.targets as Target[];
    const error = t.error;
    for (const target of removed) {
      if (!kept.has(target.key)) continue;
      const before = targets[kept.get(target.key) as number] as Target;
      this.byCategory.set(before.category, (this.byCategory.get(before.category) ?? 1) - 1);
      this.slotOf.delete(target.key);
      this.forgetIcmp(before);
    }
    // Where the kept rows' label bytes end once the gaps are closed.
    const keptEnd = (labelStart[t.size] as number) - removedBytes;
    // Close the gaps: each run of kept rows between two removed ones moves up at once.
    let to = removedRows[0] ?? t.size;
    let shift = 0;
    for (let i = 0; i < removedRows.length; i++) {
      const gone = removedRows[i] as number;
      shift += (labelStart[gone + 1] as number) - (labelStart[gone] as number);
      const from = gone + 1;
      const end = removedRows[i + 1] ?? t.size;
      if (end > from) {
        labels.copyWithin(
          (labelStart[from] as number) - shift,
          labelStart[from] as number,
          labelStart[end] as number,
        );
        for (const column of [state, durationSeconds, probedAtMs, lastChangeMs]) {
          column.copyWithin(to, from, end);
        }
        for (let row = from; row < end; row++, to++) {
          labelStart[to] = (labelStart[row] as number) - shift;
          identifyingEnd[to] = (identifyingEnd[row] as number) - shift;
          const moved = targets[row] as Target;
          targets[to] = moved;
          error[to] = error[row];
          this.slotOf.set(moved.key, to);
        }
      }
    }
    let pos = keptEnd;
    targets.length = to;
    error.length = to;
    // The new rows, at the end.
    for (let i = 0; i < adding.length; i++, to++) {
      const target = adding[i] as Target;
      const text = texts[i] as TargetLabelText;
      labelStart[to] = pos;
      pos += labels.write(text.identifying, pos);
      identifyingEnd[to] = pos;
      pos += labels.write(text.rest, pos);
      const back = carriedByKey.get(target.key);
      state[to] = back?.state ?? UNPROBED;
      durationSeconds[to] = back?.durationSeconds ?? 0;
      probedAtMs[to] = back?.probedAtMs ?? 0;
      lastChangeMs[to] = back?.lastChangeMs ?? 0;
      targets[to] = target;
      error[to] = back?.error;
      this.slotOf.set(target.key, to);
      this.byCategory.set(target.category, (this.byCategory.get(target.category) ?? 0) + 1);
      this.noteIcmp(target);
    }
    labelStart[size] = pos;
    for (const [category, count] of this.byCategory) {
      if (count <= 0) this.byCategory.delete(category);
    }
    this.table = tableOf(memory, size, targets, pos, error);
    return true;
  }

  private noteIcmp(t: Target): void {
    if (t.ip === '') return;
    const key = icmpKey(t.node, t.address, t.ip);
    this.icmpTargets.set(key, (this.icmpTargets.get(key) ?? 0) + 1);
    if (!this.icmpVantage.has(key)) this.icmpVantage.set(key, t.vantage);
  }

  private forgetIcmp(t: Target): void {
    if (t.ip === '') return;
    const key = icmpKey(t.node, t.address, t.ip);
    const left = (this.icmpTargets.get(key) ?? 1) - 1;
    if (left > 0) {
      this.icmpTargets.set(key, left);
      return;
    }
    this.icmpTargets.delete(key);
    this.icmpVantage.delete(key);
    this.icmp.delete(key);
  }

  /** True when `targets` are the current rows, in order, each showing the same labels. */
  private sameRows(targets: readonly Target[]): boolean {
    const current = this.table.targets;
    if (targets.length !== current.length || targets.length === 0) return false;
    for (let i = 0; i < targets.length; i++) {
      const before = current[i] as Target;
      const t = targets[i] as Target;
      if (t.key !== before.key || !this.labels.same(before, t)) return false;
    }
    return true;
  }

  /**
   * Memory for a table of `rows` rows and `labelBytes` label bytes: the spare table's,
   * when no reader leases it and it is big enough but not far too big; else new.
   */
  private takeMemory(rows: number, labelBytes: number): TableMemory {
    const spare = this.spare;
    this.spare = undefined;
    const memory = spare && !this.leases.has(spare) ? spare : undefined;
    if (memory?.fits(rows, labelBytes)) return memory;
    return new TableMemory(rows, labelBytes);
  }

  /** The columns, kept intact and unreused until release(): for readers that yield. */
  leaseColumns(): ColumnsLease {
    const table = this.table;
    const { memory } = table;
    this.leases.set(memory, (this.leases.get(memory) ?? 0) + 1);
    let released = false;
    return {
      table,
      release: () => {
        if (released) return;
        released = true;
        const count = (this.leases.get(memory) ?? 1) - 1;
        if (count > 0) this.leases.set(memory, count);
        else this.leases.delete(memory);
      },
    };
  }

  /**
   * Keep the latest result of a target. Ignored (returns false) when the key is no
   * longer in the target set: a probe that was in flight when its target went away
   * must not bring its series back.
   */
  record(target: Pick<Target, 'key'>, result: ProbeResult, atMs: number): boolean {
    const row = this.slotOf.get(target.key);
    if (row === undefined) return false;
    const t = this.table;
    // A state outside the contract is a prober bug; show it as an error, not a gap.
    const code = STATE_CODE.get(result.state) ?? ERROR_CODE;
    if (t.state[row] !== code) t.lastChangeMs[row] = atMs;
    t.state[row] = code;
    t.durationSeconds[row] = result.durationSeconds;
    t.probedAtMs[row] = atMs;
    t.error[row] = result.error;
    return true;
  }

  /**
   * Keep the latest ICMP echo result of one IP of a node address. Ignored (returns
   * false) when no target names it; the series takes the vantage of those targets.
   */
  recordIcmp(
    echo: { readonly node: string; readonly address: string; readonly ip: string },
    result: IcmpResult,
    atMs = Date.now(),
  ): boolean {
    const { node, address, ip } = echo;
    const key = icmpKey(node, address, ip);
    const vantage = this.icmpVantage.get(key);
    if (vantage === undefined) return false;
    const entry: IcmpEntry =
      result.rttSeconds === undefined
        ? { vantage, node, address, ip, up: result.up, probedAtMs: atMs }
        : {
            vantage,
            node,
            address,
            ip,
            up: result.up,
            rttSeconds: result.rttSeconds,
            probedAtMs: atMs,
          };
    this.icmp.set(key, entry);
    return true;
  }

  setResolutions(entries: readonly ResolutionEntry[]): void {
    this.resolutionList = entries;
  }

  resolutions(): readonly ResolutionEntry[] {
    return this.resolutionList;
  }

  /** Number of targets in the set, probed or not. */
  get size(): number {
    return this.table.size;
  }

  has(key: string): boolean {
    return this.slotOf.has(key);
  }

  /** The target set, in the order it was set. */
  targets(): readonly Target[] {
    return this.table.targets;
  }

  /** The latest result of a target; undefined when unknown or not probed yet. */
  result(key: string): TargetResult | undefined {
    const row = this.slotOf.get(key);
    if (row === undefined) return undefined;
    const t = this.table;
    const code = t.state[row] as number;
    const state = PROBE_STATES[code];
    if (state === undefined) return undefined;
    const error = t.error[row];
    const base = {
      state,
      durationSeconds: t.durationSeconds[row] as number,
      probedAtMs: t.probedAtMs[row] as number,
      lastChangeMs: t.lastChangeMs[row] as number,
    };
    return error === undefined ? base : { ...base, error };
  }

  /** The columns, for the collector. */
  columns(): TargetTable {
    return this.table;
  }

  /** Number of targets per category, probed or not. */
  targetsByCategory(): ReadonlyMap<Category, number> {
    return this.byCategory;
  }

  icmpResults(): Iterable<IcmpEntry> {
    return this.icmp.values();
  }
}

/**
 * The typed arrays and label bytes one table's columns are views of, with room to
 * spare: a re-plan that adds a few targets writes into memory already mapped instead
 * of fresh pages (a page fault each, about 1 KB of them per target).
 */
class TableMemory {
  readonly labels: Buffer;
  readonly labelStart: Uint32Array<ArrayBufferLike>;
  readonly identifyingEnd: Uint32Array<ArrayBufferLike>;
  readonly state: Uint8Array;
  readonly durationSeconds: Float64Array;
  readonly probedAtMs: Float64Array;
  readonly lastChangeMs: Float64Array;

  constructor(rows: number, labelBytes: number) {
    const capacity = rows === 0 ? 0 : Math.ceil(rows * 1.125) + 16;
    // Shared memory: the /metrics render thread reads the labels where they are.
    this.labels = Buffer.from(
      new SharedArrayBuffer(labelBytes === 0 ? 0 : Math.ceil(labelBytes * 1.125) + 1024),
    );
    this.labelStart = new Uint32Array(new SharedArrayBuffer(4 * (capacity + 1)));
    this.identifyingEnd = new Uint32Array(new SharedArrayBuffer(4 * capacity));
    this.state = new Uint8Array(capacity);
    this.durationSeconds = new Float64Array(capacity);
    this.probedAtMs = new Float64Array(capacity);
    this.lastChangeMs = new Float64Array(capacity);
  }

  /** Big enough, and not more than twice too big (memory to give back). */
  fits(rows: number, labelBytes: number): boolean {
    const capacity = this.state.length;
    return (
      rows <= capacity &&
      labelBytes <= this.labels.length &&
      capacity <= 2 * rows + 64 &&
      this.labels.length <= 2 * labelBytes + 65536
    );
  }
}

function icmpKey(node: string, address: string, ip: string): string {
  return `${node}\0${address}\0${ip}`;
}

function emptyTable(): Columns {
  const memory = new TableMemory(0, 0);
  return tableOf(memory, 0, [], memory.labels.length, []);
}

/** The first `size` rows of `memory` as a table, with `labelEnd` bytes of label text. */
function tableOf(
  memory: TableMemory,
  size: number,
  targets: readonly Target[],
  labelEnd: number,
  error: (string | undefined)[],
): Columns {
  return {
    size,
    targets,
    labelBytes: memory.labels.subarray(0, labelEnd),
    labelStart: memory.labelStart.subarray(0, size + 1),
    identifyingEnd: memory.identifyingEnd.subarray(0, size),
    state: memory.state.subarray(0, size),
    durationSeconds: memory.durationSeconds.subarray(0, size),
    probedAtMs: memory.probedAtMs.subarray(0, size),
    lastChangeMs: memory.lastChangeMs.subarray(0, size),
    error,
    memory,
  };
}
