import { DEFAULT_NODEPORT_RANGE } from '../catalog/ports.js';
import type { Category, PortRange } from '../catalog/types.js';
import type { ClusterNode, NodePort } from '../discovery/types.js';
import { targetLabelText } from '../metrics/labels.js';
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

/** The latest ICMP echo result for one node address. */
export interface IcmpEntry extends IcmpResult {
  readonly vantage: string;
  readonly node: string;
  readonly address: string;
  readonly probedAtMs: number;
}

export interface NodePortSnapshot {
  readonly nodePorts: readonly NodePort[];
  /** The range the cluster allocates NodePorts from. */
  readonly range: PortRange;
}

/**
 * The store in columns, one row per target, for the collector's scrape-time loop.
 * Row order is the order of setTargets. Valid until the next setTargets, which
 * replaces the columns; read it again at each scrape.
 */
export interface TargetTable {
  readonly size: number;
  readonly targets: readonly Target[];
  /**
   * Every target's escaped label text (see metrics/labels.ts) as UTF-8, end to end,
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
}

/**
 * The latest result per target key. Columns of typed arrays and one buffer of label
 * bytes instead of objects per target: 100,000 targets cost a few MB of numbers and
 * one off-heap buffer for their labels, and a record is a map lookup and a few
 * stores, with no allocation.
 */
export class ResultStore {
  private table: Columns = emptyTable();
  private slotOf = new Map<string, number>();
  private byCategory = new Map<Category, number>();
  /** `node\0address` -> vantage, for every node address some target names. */
  private icmpVantage = new Map<string, string>();
  private icmp = new Map<string, IcmpEntry>();
  private nodeList: readonly ClusterNode[] = [];
  private nodePortInfo: NodePortSnapshot = { nodePorts: [], range: DEFAULT_NODEPORT_RANGE };

  /**
   * Replace the target set. New targets are known but unprobed until their first
   * result; results of targets that stay are kept; removed targets and their
   * results (and ICMP results of node addresses no target names) go at once, so
   * their series vanish from the next scrape. A repeated key keeps its first target.
   */
  setTargets(targets: readonly Target[]): void {
    const old = this.table;
    const n = targets.length;
    const slotOf = new Map<string, number>();
    const kept: Target[] = [];
    const byCategory = new Map<Category, number>();
    const icmpVantage = new Map<string, string>();
    const labels = new LabelBuffer(old.labelBytes.length || n * 256);
    const labelStart = new Uint32Array(n + 1);
    const identifyingEnd = new Uint32Array(n);
    const state = new Uint8Array(n).fill(UNPROBED);
    const durationSeconds = new Float64Array(n);
    const probedAtMs = new Float64Array(n);
    const lastChangeMs = new Float64Array(n);
    const error: (string | undefined)[] = [];
    let lastNode: string | undefined;
    let lastAddress: string | undefined;

    for (const t of targets) {
      if (slotOf.has(t.key)) continue;
      const row = kept.length;
      slotOf.set(t.key, row);
      kept.push(t);
      byCategory.set(t.category, (byCategory.get(t.category) ?? 0) + 1);
      // Targets come grouped by node: one key per node, not one per target.
      if (t.node !== lastNode || t.address !== lastAddress) {
        lastNode = t.node;
        lastAddress = t.address;
        const nodeKey = `${t.node}\0${t.address}`;
        if (!icmpVantage.has(nodeKey)) icmpVantage.set(nodeKey, t.vantage);
      }

      const oldRow = this.slotOf.get(t.key);
      const before = oldRow === undefined ? undefined : old.targets[oldRow];
      labelStart[row] = labels.length;
      if (oldRow !== undefined && before && sameLabels(before, t)) {
        const from = old.labelStart[oldRow] as number;
        labels.copyFrom(old.labelBytes, from, old.labelStart[oldRow + 1] as number);
        identifyingEnd[row] =
          (labelStart[row] as number) + (old.identifyingEnd[oldRow] as number) - from;
      } else {
        // Written at once, so the strings die young instead of living through the loop.
        const text = targetLabelText(t);
        labels.write(text.identifying);
        identifyingEnd[row] = labels.length;
        labels.write(text.rest);
      }
      if (oldRow !== undefined) {
        state[row] = old.state[oldRow] as number;
        durationSeconds[row] = old.durationSeconds[oldRow] as number;
        probedAtMs[row] = old.probedAtMs[oldRow] as number;
        lastChangeMs[row] = old.lastChangeMs[oldRow] as number;
      }
      error.push(oldRow === undefined ? undefined : old.error[oldRow]);
    }

    const size = kept.length;
    labelStart[size] = labels.length;
    this.table = {
      size,
      targets: kept,
      labelBytes: labels.bytes(),
      labelStart: labelStart.subarray(0, size + 1),
      identifyingEnd: identifyingEnd.subarray(0, size),
      state: state.subarray(0, size),
      durationSeconds: durationSeconds.subarray(0, size),
      probedAtMs: probedAtMs.subarray(0, size),
      lastChangeMs: lastChangeMs.subarray(0, size),
      error,
    };
    this.slotOf = slotOf;
    this.byCategory = byCategory;
    this.icmpVantage = icmpVantage;
    for (const key of this.icmp.keys()) {
      if (!icmpVantage.has(key)) this.icmp.delete(key);
    }
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
   * Keep the latest ICMP echo result of a node address. Ignored (returns false) when
   * no target names that address; the series takes the vantage of those targets.
   */
  recordIcmp(node: string, address: string, result: IcmpResult, atMs = Date.now()): boolean {
    const key = `${node}\0${address}`;
    const vantage = this.icmpVantage.get(key);
    if (vantage === undefined) return false;
    const entry: IcmpEntry =
      result.rttSeconds === undefined
        ? { vantage, node, address, up: result.up, probedAtMs: atMs }
        : {
            vantage,
            node,
            address,
            up: result.up,
            rttSeconds: result.rttSeconds,
            probedAtMs: atMs,
          };
    this.icmp.set(key, entry);
    return true;
  }

  setNodes(nodes: readonly ClusterNode[]): void {
    this.nodeList = nodes;
  }

  setNodePorts(nodePorts: readonly NodePort[], range: PortRange): void {
    this.nodePortInfo = { nodePorts, range };
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

  nodes(): readonly ClusterNode[] {
    return this.nodeList;
  }

  nodePorts(): NodePortSnapshot {
    return this.nodePortInfo;
  }
}

/** UTF-8 bytes appended end to end, growing by doubling. */
class LabelBuffer {
  private buf: Buffer;
  length = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 1024));
  }

  write(text: string): void {
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    this.reserve(text.length * 3);
    this.length += this.buf.write(text, this.length);
  }

  copyFrom(source: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    this.length += source.copy(this.buf, this.length, start, end);
  }

  /** The bytes written, in a buffer of their own size. */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }

  private reserve(more: number): void {
    if (this.length + more <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + more));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }
}

function emptyTable(): Columns {
  return {
    size: 0,
    targets: [],
    labelBytes: Buffer.alloc(0),
    labelStart: new Uint32Array(1),
    identifyingEnd: new Uint32Array(0),
    state: new Uint8Array(0),
    durationSeconds: new Float64Array(0),
    probedAtMs: new Float64Array(0),
    lastChangeMs: new Float64Array(0),
    error: [],
  };
}

/** True when two targets have the same label text; saves escaping again at every re-plan. */
function sameLabels(a: Target, b: Target): boolean {
  if (a === b) return true;
  return (
    a.vantage === b.vantage &&
    a.node === b.node &&
    a.address === b.address &&
    a.port === b.port &&
    a.protocol === b.protocol &&
    a.category === b.category &&
    a.component === b.component &&
    a.portName === b.portName &&
    a.scope === b.scope &&
    a.required === b.required &&
    a.expected === b.expected &&
    a.nodePort?.namespace === b.nodePort?.namespace &&
    a.nodePort?.service === b.nodePort?.service &&
    a.nodePort?.group === b.nodePort?.group
  );
}
