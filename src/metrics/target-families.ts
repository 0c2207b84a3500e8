/**
 * The four per-target families (imanager_port_up, _state, _connect_duration_seconds,
 * _last_change_timestamp_seconds) written as bytes, copied from the label bytes the
 * store built when each target was set: a scrape escapes and encodes nothing. Targets
 * without a result yet have no series, so a restart does not page with a false
 * imanager_port_up 0. Plain typed arrays in and out, so the render thread
 * (render-worker.ts) runs this on memory it shares with the store and the scrape.
 */
import { PROBE_STATES } from '../probe/types.js';
import { UNPROBED } from '../results/store.js';
import { METRICS, type MetricName } from './names.js';

/** The label columns a render reads: the store's, shared with the render thread. */
export interface LabelColumns {
  readonly size: number;
  /** Every row's escaped label text, end to end, as UTF-8. */
  readonly labelBytes: Uint8Array;
  /** Where row i's labels start in labelBytes; entry `size` is where the last ends. */
  readonly labelStart: Uint32Array;
  /** Where row i's identifying-labels prefix ends in labelBytes. */
  readonly identifyingEnd: Uint32Array;
}

/** The per-target values one scrape renders: the store's columns at one instant. */
export interface TargetValues {
  readonly state: Uint8Array;
  readonly durationSeconds: Float64Array;
  readonly lastChangeMs: Float64Array;
}

function header(name: MetricName): string {
  const spec = METRICS[name];
  return `# HELP ${name} ${spec.help}\n# TYPE ${name} ${spec.type}\n`;
}

/** The per-target families, in output order. */
const FAMILIES = ['up', 'state', 'duration', 'change'] as const;
type Family = (typeof FAMILIES)[number];

const HEADERS: Readonly<Record<Family, Buffer>> = {
  up: Buffer.from(header('imanager_port_up')),
  state: Buffer.from(`\n${header('imanager_port_state')}`),
  duration: Buffer.from(`\n${header('imanager_port_connect_duration_seconds')}`),
  change: Buffer.from(`\n${header('imanager_port_last_change_timestamp_seconds')}`),
};
const OPEN: Readonly<Record<Family, Buffer>> = {
  up: Buffer.from('imanager_port_up{'),
  state: Buffer.from('imanager_port_state{'),
  duration: Buffer.from('imanager_port_connect_duration_seconds{'),
  change: Buffer.from('imanager_port_last_change_timestamp_seconds{'),
};
/** `} <state>\n` per state code; imanager_port_up is 1 for code 0 (open) only. */
const STATE_LINE_END = PROBE_STATES.map((_, code) => Buffer.from(`} ${code}\n`));
const UP_LINE_END = PROBE_STATES.map((_, code) => Buffer.from(`} ${code === 0 ? 1 : 0}\n`));
/** `-1.7976931348623157e+308`: the longest a JavaScript number prints. */
const MAX_NUMBER_LENGTH = 24;
/** Bytes of one target's four lines beside its label bytes. */
const LINE_OVERHEAD =
  OPEN.up.length +
  OPEN.state.length +
  OPEN.duration.length +
  OPEN.change.length +
  2 * 4 +
  2 * (3 + MAX_NUMBER_LENGTH);
const HEADER_BYTES =
  HEADERS.up.length + HEADERS.state.length + HEADERS.duration.length + HEADERS.change.length;

/** The most bytes the four families can take for these values. */
export function targetFamiliesBound(t: LabelColumns, v: TargetValues): number {
  const { labelStart, identifyingEnd } = t;
  let bound = HEADER_BYTES;
  for (let i = 0; i < t.size; i++) {
    if (v.state[i] === UNPROBED) continue;
    const start = labelStart[i] as number;
    bound +=
      LINE_OVERHEAD +
      2 * ((labelStart[i + 1] as number) - start) +
      2 * ((identifyingEnd[i] as number) - start);
  }
  return bound;
}

/** How one family's line for a row is written: its name, its labels, its value. */
interface FamilyLine {
  readonly open: Buffer;
  /** The state families carry every label; the timing ones only the identifying labels. */
  readonly allLabels: boolean;
  /** Writes `} <value>\n` for row i; returns the new end. */
  end(out: Uint8Array, pos: number, v: TargetValues, i: number): number;
}

const LINES: Readonly<Record<Family, FamilyLine>> = {
  up: {
    open: OPEN.up,
    allLabels: true,
    end: (out, pos, v, i) => put(out, pos, UP_LINE_END[v.state[i] as number] as Buffer),
  },
  state: {
    open: OPEN.state,
    allLabels: true,
    end: (out, pos, v, i) => put(out, pos, STATE_LINE_END[v.state[i] as number] as Buffer),
  },
  duration: {
    open: OPEN.duration,
    allLabels: false,
    end: (out, pos, v, i) => putValue(out, pos, v.durationSeconds[i] as number),
  },
  change: {
    open: OPEN.change,
    allLabels: false,
    end: (out, pos, v, i) => putValue(out, pos, (v.lastChangeMs[i] as number) / 1000),
  },
};

/** Writes the lines of rows [from, to) of one family at `pos`; returns the new end. */
function writeRows(
  line: FamilyLine,
  out: Uint8Array,
  pos: number,
  t: LabelColumns,
  v: TargetValues,
  from: number,
  to: number,
): number {
  const { labelBytes, labelStart } = t;
  const ends = line.allLabels ? labelStart.subarray(1) : t.identifyingEnd;
  for (let i = from; i < to; i++) {
    if (v.state[i] === UNPROBED) continue;
    pos = put(out, pos, line.open);
    pos = copy(out, pos, labelBytes, labelStart[i] as number, ends[i] as number);
    pos = line.end(out, pos, v, i);
  }
  return pos;
}

/** The four families for every row, in one go; returns the bytes written to `out`. */
export function writeTargetFamilies(out: Uint8Array, t: LabelColumns, v: TargetValues): number {
  let pos = 0;
  for (const family of FAMILIES) {
    pos = put(out, pos, HEADERS[family]);
    pos = writeRows(LINES[family], out, pos, t, v, 0, t.size);
  }
  return pos;
}

/** Rows written between two looks at the clock. */
const ROWS_PER_CHECK = 512;

/**
 * writeTargetFamilies in slices, letting the event loop turn every `sliceMs`: the path
 * for a scrape when the render thread is not there.
 */
export async function writeTargetFamiliesSliced(
  out: Uint8Array,
  t: LabelColumns,
  v: TargetValues,
  sliceMs: number,
): Promise<number> {
  let pos = 0;
  let sliceStarted = performance.now();
  for (const family of FAMILIES) {
    pos = put(out, pos, HEADERS[family]);
    const line = LINES[family];
    for (let row = 0; row < t.size; ) {
      const end = Math.min(t.size, row + ROWS_PER_CHECK);
      pos = writeRows(line, out, pos, t, v, row, end);
      row = end;
      if (performance.now() - sliceStarted >= sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStarted = performance.now();
      }
    }
  }
  return pos;
}

function put(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  out.set(bytes, pos);
  return pos + bytes.length;
}

function copy(out: Uint8Array, pos: number, from: Uint8Array, start: number, end: number): number {
  out.set(from.subarray(start, end), pos);
  return pos + end - start;
}

/** `} <value>\n`, the value as the text format spells it (ASCII only). */
function putValue(out: Uint8Array, pos: number, v: number): number {
  const text = Number.isFinite(v) ? `${v}` : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  out[pos++] = 0x7d; // }
  out[pos++] = 0x20;
  for (let j = 0; j < text.length; j++) out[pos++] = text.charCodeAt(j);
  out[pos++] = 0x0a;
  return pos;
}
