/**
 * The cluster's vocabulary that config names and discovery reads: a node, the discovery
 * modes, IP families, node address types, NodePort groups and optional reads. Defined here, once,
 * so config can check a file without importing discovery, and discovery can read the
 * cluster without importing config. Imports nothing but the catalog's roles.
 */
import type { Role } from '../catalog/types.js';

/** A node as the planner sees it, whichever source found it (or the config file listed). */
export interface ClusterNode {
  readonly name: string;
  /**
   * Where probes go, first the preferred: IPv4 or IPv6 literals, or host names resolved
   * beside probing. Never empty. A dual-stack Kubernetes node lists an InternalIP of
   * each family.
   */
  readonly addresses: readonly string[];
  readonly roles: readonly Role[];
  /** False when Kubernetes reports the node NotReady; static nodes are always ready. */
  readonly ready: boolean;
  /** Empty when unknown (static nodes). */
  readonly kubeletVersion: string;
}

/**
 * `--discovery`, where nodes and NodePorts come from: auto uses Kubernetes when a
 * cluster config is found, else the static nodes.
 */
export const DISCOVERY_MODES = ['auto', 'kubernetes', 'static'] as const;
export type DiscoveryMode = (typeof DISCOVERY_MODES)[number];

/**
 * IP families: which of a node's addresses, and which answers of a name, are probed
 * (`ipFamilies` in the config; both by default, since a port open on one family and
 * dropped on the other is exactly what an operator must see).
 */
export const IP_FAMILIES = ['ipv4', 'ipv6'] as const;
export type IpFamily = (typeof IP_FAMILIES)[number];

/** The types of a Kubernetes node's addresses, in the default order of preference. */
export const NODE_ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname'] as const;
export type NodeAddressType = (typeof NODE_ADDRESS_TYPES)[number];

/** The iManager groups a NodePort belongs to. */
export const NODE_PORT_GROUPS = ['basic-service', 'gis-environment', 'other'] as const;
export type NodePortGroup = (typeof NODE_PORT_GROUPS)[number];

/**
 * What discovery reads beyond nodes, Services and EndpointSlices, each with a read right
 * of its own (the chart's `rbac.detect.*`). Forbidden, each is one warning line, and
 * everything else goes on as without it.
 * - `pods` (list, watch pods): roles from what runs where (discovery/kubernetes/pods.ts).
 * - `namespaces` (list, watch namespaces): iManager's marks on namespaces (groups.ts).
 * - `network` (get the calico-node and kube-proxy DaemonSets, calico-config ConfigMap,
 *   the operator's Installation): Calico's mode and kube-proxy (network.ts).
 */
export const DETECTIONS = ['pods', 'namespaces', 'network'] as const;
export type Detection = (typeof DETECTIONS)[number];

/** A DNS-1123 label: what Kubernetes accepts as a namespace name. */
export const NAMESPACE_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * A DNS-1123 subdomain, lowercase labels joined by dots, as a pattern to build on (node
 * names, label key prefixes); unanchored, without the 253-character limit.
 */
export const DNS_SUBDOMAIN_PATTERN =
  '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*';

const NODE_NAME = new RegExp(`^${DNS_SUBDOMAIN_PATTERN}$`);

/** A Kubernetes node name: a DNS-1123 subdomain of at most 253 characters. */
export function isNodeName(text: string): boolean {
  return text.length <= 253 && NODE_NAME.test(text);
}
