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

/**
 * Each label of the contract's target families (names.ts), as read from a target: one
 * place per label, for both the text and the comparison. A label added to names.ts
 * without an entry here is a compile error.
 */
const TARGET_LABEL_VALUE: Readonly<
  Record<PortTargetLabel, (t: Target) => string | number | boolean>
> = {
  vantage: (t) => t.vantage,
  node: (t) => t.node,
  address: (t) => t.address,
  ip: (t) => t.ip,
  port: (t) => t.port,
  protocol: (t) => t.protocol,
  category: (t) => t.category,
  component: (t) => t.component,
  port_name: (t) => t.portName,
  scope: (t) => t.scope,
  required: (t) => t.required,
  expected: (t) => t.expected,
};

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
