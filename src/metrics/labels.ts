import type { LabelEncoder, TargetLabelText } from '../results/store.js';
import type { Target } from '../targets/types.js';
import { IDENTIFYING_LABELS, NODEPORT_LABELS, PORT_TARGET_LABELS } from './names.js';

const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value as the Prometheus text format wants it between quotes. */
export function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

type PortTargetLabel = (typeof PORT_TARGET_LABELS)[number];
type NodePortLabel = (typeof NODEPORT_LABELS)[number];
type NodePortOf = NonNullable<Target['nodePort']>;

/** A label's Target field: the label in camelCase (`port_name` is `portName`). */
type FieldOf<L extends string> = L extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<FieldOf<Tail>>}`
  : L;
type TargetField = FieldOf<PortTargetLabel> & keyof Target;
/**
 * A compile error when a label of the contract's target families (names.ts) has no
 * Target field of its name: a label is added in names.ts and on Target, nowhere else.
 */
const EVERY_LABEL_IS_A_FIELD: FieldOf<PortTargetLabel> extends keyof Target ? true : never = true;
void EVERY_LABEL_IS_A_FIELD;

function fieldOf(label: PortTargetLabel): TargetField {
  return label.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()) as TargetField;
}

/** Each label of the target families as read from a target, for the text and the comparison. */
const TARGET_LABEL_VALUE = Object.fromEntries(
  PORT_TARGET_LABELS.map((label) => {
    const field = fieldOf(label);
    return [label, (t: Target) => t[field] as string | number | boolean];
  }),
) as Readonly<Record<PortTargetLabel, (t: Target) => string | number | boolean>>;

const NODEPORT_LABEL_VALUE: Readonly<Record<NodePortLabel, (p: NodePortOf) => string>> = {
  k8s_namespace: (p) => p.namespace,
  k8s_service: (p) => p.service,
  group: (p) => p.group,
};

const IDENTIFYING: ReadonlySet<string> = new Set(IDENTIFYING_LABELS);
const DETAIL_LABELS = PORT_TARGET_LABELS.filter((label) => !IDENTIFYING.has(label));

const TARGET_VALUES = PORT_TARGET_LABELS.map((label) => TARGET_LABEL_VALUE[label]);
const NODEPORT_VALUES = NODEPORT_LABELS.map((label) => NODEPORT_LABEL_VALUE[label]);

function pair(name: string, value: string | number | boolean): string {
  return `${name}="${escapeLabelValue(String(value))}"`;
}

/** Built when a target is set, never at a scrape, so clarity wins over speed here. */
export function targetLabelText(t: Target): TargetLabelText {
  const identifying = IDENTIFYING_LABELS.map((l) => pair(l, TARGET_LABEL_VALUE[l](t))).join(',');
  let rest = '';
  for (const label of DETAIL_LABELS) rest += `,${pair(label, TARGET_LABEL_VALUE[label](t))}`;
  const nodePort = t.nodePort;
  if (nodePort) {
    for (const label of NODEPORT_LABELS)
      rest += `,${pair(label, NODEPORT_LABEL_VALUE[label](nodePort))}`;
  }
  return { identifying, rest };
}

/** True when two targets have the same label text, read without building it. */
export function sameTargetLabels(a: Target, b: Target): boolean {
  if (a === b) return true;
  for (const value of TARGET_VALUES) if (value(a) !== value(b)) return false;
  const pa = a.nodePort;
  const pb = b.nodePort;
  if (pa === undefined || pb === undefined) return pa === pb;
  for (const value of NODEPORT_VALUES) if (value(pa) !== value(pb)) return false;
  return true;
}

/** The exposition's label text, for the store that keeps it per target. */
export const EXPOSITION_LABELS: LabelEncoder = {
  encode: targetLabelText,
  same: sameTargetLabels,
};
