import type { Target } from '../targets/types.js';
import { IDENTIFYING_LABELS, NODEPORT_LABELS, PORT_TARGET_LABELS } from './names.js';

const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value as the Prometheus text format wants it between quotes. */
export function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * A target's label text, without braces: the labels of imanager_port_up and
 * imanager_port_state, in the order of PORT_TARGET_LABELS then NODEPORT_LABELS.
 * The identifying labels come first, so the labels of the other per-target families
 * are a prefix of the text and one copy per target serves all four.
 */
export interface TargetLabelText {
  /** IDENTIFYING_LABELS: `vantage="...",...,protocol="..."`. */
  readonly identifying: string;
  /** The other labels, each with its leading comma: `,category="...",...`. */
  readonly rest: string;
}

type PortTargetLabel = (typeof PORT_TARGET_LABELS)[number];
type NodePortLabel = (typeof NODEPORT_LABELS)[number];
type NodePortOf = NonNullable<Target['nodePort']>;

/** Each label of the contract's target families, as read from a target: one place per label. */
const TARGET_LABEL_VALUE: Readonly<Record<PortTargetLabel, (t: Target) => string>> = {
  vantage: (t) => t.vantage,
  node: (t) => t.node,
  address: (t) => t.address,
  ip: (t) => t.ip,
  port: (t) => String(t.port),
  protocol: (t) => t.protocol,
  category: (t) => t.category,
  component: (t) => t.component,
  port_name: (t) => t.portName,
  scope: (t) => t.scope,
  required: (t) => String(t.required),
  expected: (t) => t.expected,
};

const NODEPORT_LABEL_VALUE: Readonly<Record<NodePortLabel, (p: NodePortOf) => string>> = {
  k8s_namespace: (p) => p.namespace,
  k8s_service: (p) => p.service,
  group: (p) => p.group,
};

const IDENTIFYING: ReadonlySet<string> = new Set(IDENTIFYING_LABELS);
const DETAIL_LABELS = PORT_TARGET_LABELS.filter((label) => !IDENTIFYING.has(label));

function pair(name: string, value: string): string {
  return `${name}="${escapeLabelValue(value)}"`;
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
