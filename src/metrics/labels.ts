import type { Target } from '../targets/types.js';

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

export function targetLabelText(t: Target): TargetLabelText {
  const identifying =
    `vantage="${escapeLabelValue(t.vantage)}",node="${escapeLabelValue(t.node)}"` +
    `,address="${escapeLabelValue(t.address)}",port="${t.port}",protocol="${escapeLabelValue(t.protocol)}"`;
  let rest =
    `,category="${escapeLabelValue(t.category)}"` +
    `,component="${escapeLabelValue(t.component)}",port_name="${escapeLabelValue(t.portName)}"` +
    `,scope="${escapeLabelValue(t.scope)}",required="${t.required}",expected="${escapeLabelValue(t.expected)}"`;
  if (t.nodePort) {
    rest +=
      `,k8s_namespace="${escapeLabelValue(t.nodePort.namespace)}"` +
      `,k8s_service="${escapeLabelValue(t.nodePort.service)}",group="${escapeLabelValue(t.nodePort.group)}"`;
  }
  return { identifying, rest };
}
