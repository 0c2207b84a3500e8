import type { Category, Protocol, Scope } from '../catalog/types.js';
import type { NodePortGroup } from '../discovery/types.js';

export type ExpectedState = 'open' | 'closed' | 'any';

/** Where probes are sent from: `central`, `external`, or the name of the probing node. */
export type Vantage = string;

/** One (vantage, node, address, ip, port) to probe, and what it should find there. */
export interface Target {
  /** Stable across cycles and restarts: vantage, node, address, ip, protocol and port. */
  readonly key: string;
  readonly vantage: Vantage;
  readonly node: string;
  /** What the user configured or Kubernetes reported: an IP literal or a host name. */
  readonly address: string;
  /**
   * The IP literal probed: the address itself when it is one, else one answer of the
   * name (a dual-stack name gives a target per family). Empty while the name has no
   * answer: such a target is not sent anywhere, its result says why.
   */
  readonly ip: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly category: Category;
  readonly component: string;
  /** Catalog id, custom port name, or the NodePort's service port name. */
  readonly portName: string;
  readonly scope: Scope;
  readonly required: boolean;
  readonly expected: ExpectedState;
  /** Present on NodePort targets. */
  readonly nodePort?: {
    readonly namespace: string;
    readonly service: string;
    readonly group: NodePortGroup;
  };
}

/** The key that names a target in the store and in sharding. */
export function targetKey(
  t: Pick<Target, 'vantage' | 'node' | 'address' | 'ip' | 'protocol' | 'port'>,
): string {
  return `${t.vantage}|${t.node}|${t.address}|${t.ip}|${t.protocol}|${t.port}`;
}

/**
 * Every target is built here, as one literal with every field, never a spread of
 * another target: V8 gave each spread-built target a hidden class of its own (100,000
 * of them at 100,000 targets: 40 MB of maps, and every read of a target field
 * megamorphic). The optional NodePort field last keeps one hidden class per kind.
 */
export function newTarget(fields: Omit<Target, 'key'>): Target {
  const target: { -readonly [K in keyof Target]: Target[K] } = {
    vantage: fields.vantage,
    node: fields.node,
    address: fields.address,
    ip: fields.ip,
    protocol: fields.protocol,
    key: targetKey(fields),
    port: fields.port,
    category: fields.category,
    component: fields.component,
    portName: fields.portName,
    scope: fields.scope,
    required: fields.required,
    expected: fields.expected,
  };
  // Set, not spread in: a spread allocated an object per NodePort target and went
  // through V8's generic object copy. Every NodePort target takes the same transition.
  if (fields.nodePort !== undefined) target.nodePort = fields.nodePort;
  return target;
}
