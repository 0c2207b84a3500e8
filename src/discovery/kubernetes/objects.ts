/**
 * Kubernetes objects to nodes and NodePorts: pure functions over the objects' JSON, as
 * the API server sends them in lists and watch events. Only the fields read here are
 * typed, and every one as possibly missing, because a malformed object must be skipped,
 * never crash discovery.
 */
import { ROLES as ROLE_ORDER, type Role } from '../../catalog/types.js';
import type { IpFamily, NodeAddressType } from '../../kinds/cluster.js';
import { familyAllowed } from '../families.js';
import type { ClusterNode, NodePort } from '../types.js';
import { type GroupDecision, type Grouping, type GroupingOptions, groupingFor } from './groups.js';
import {
  DEFAULT_ROLE_PORTS,
  POD_ROLES,
  type PodObject,
  type RolePort,
  rolesFromPods,
} from './pods.js';
import { type GroupRule, type RoleRule, rolesOf } from './rules.js';

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly name?: string;
  }[];
  readonly resourceVersion?: string;
}

export interface NamespaceObject {
  readonly metadata?: ObjectMeta;
}

export interface NodeObject {
  readonly metadata?: ObjectMeta;
  readonly status?: {
    readonly addresses?: readonly { readonly type?: string; readonly address?: string }[];
    readonly conditions?: readonly { readonly type?: string; readonly status?: string }[];
    readonly nodeInfo?: { readonly kubeletVersion?: string };
  };
}

export interface ServicePortObject {
  readonly name?: string;
  readonly port?: number;
  readonly nodePort?: number;
  readonly protocol?: string;
}

export interface ServiceObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly type?: string;
    readonly externalTrafficPolicy?: string;
    readonly ports?: readonly ServicePortObject[];
  };
}

export interface EndpointSliceObject {
  readonly metadata?: ObjectMeta;
  readonly endpoints?: readonly {
    readonly nodeName?: string;
    readonly conditions?: { readonly ready?: boolean | null };
  }[];
}

/** The label the EndpointSlice controller sets to the name of the slice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Called for each object or port skipped, with the reason; discovery logs it at debug. */
export type SkipReporter = (reason: string, fields: Readonly<Record<string, unknown>>) => void;

export interface NodeParseOptions {
  /**
   * Address types in order of preference: every address of the node's first present
   * type is probed (a dual-stack node reports an InternalIP of each family).
   */
  readonly addressTypes: readonly NodeAddressType[];
  /** The IP families probed; a Hostname address passes whatever it resolves to. */
  readonly ipFamilies: readonly IpFamily[];
  readonly roleRules: readonly RoleRule[];
  readonly onSkip?: SkipReporter;
}

export interface NodePortParseOptions {
  /** The configured group rules; the guesses follow them (groups.ts). */
  readonly groupRules: readonly GroupRule[];
  /**
   * The cluster's grouping (anchor and markers, then rules, then guesses); without one,
   * a Service is grouped by the rules and the guesses alone.
   */
  readonly grouping?: Grouping;
  readonly onSkip?: SkipReporter;
}

/** A non-empty string, or undefined: a field of another type counts as missing. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Labels as a mapping; anything else (an array, a string) as none. */
function labelsOf(meta: ObjectMeta | undefined): ObjectMeta['labels'] {
  const labels = meta?.labels;
  return labels && typeof labels === 'object' && !Array.isArray(labels) ? labels : undefined;
}

/** The node's addresses of one type in the families asked for, in the order reported, once each. */
function addressesOfType(
  reported: readonly { readonly type?: string; readonly address?: string }[],
  type: NodeAddressType,
  families: readonly IpFamily[],
): string[] {
  const found: string[] = [];
  for (const entry of reported) {
    const address = entry?.type === type ? text(entry.address) : undefined;
    if (address === undefined || found.includes(address)) continue;
    if (familyAllowed(address, families)) found.push(address);
  }
  return found;
}

/** A Node object as the planner's node, or undefined (reported) when it has no name or address. */
export function nodeFromObject(
  obj: NodeObject,
  options: NodeParseOptions,
): ClusterNode | undefined {
  const name = text(obj?.metadata?.name);
  if (!name) {
    options.onSkip?.('node without a name', {});
    return undefined;
  }
  const reported = Array.isArray(obj.status?.addresses) ? obj.status.addresses : [];
  let addresses: string[] = [];
  for (const type of options.addressTypes) {
    addresses = addressesOfType(reported, type, options.ipFamilies);
    if (addresses.length > 0) break;
  }
  if (addresses.length === 0) {
    options.onSkip?.('node without an address of the configured types and IP families', {
      node: name,
      addressTypes: options.addressTypes,
      ipFamilies: options.ipFamilies,
    });
    return undefined;
  }
  const conditions = Array.isArray(obj.status?.conditions) ? obj.status.conditions : [];
  const kubeletVersion = obj.status?.nodeInfo?.kubeletVersion;
  return {
    name,
    addresses,
    roles: rolesOf(labelsOf(obj.metadata), options.roleRules),
    ready: conditions.some((c) => c?.type === 'Ready' && c.status === 'True'),
    kubeletVersion: typeof kubeletVersion === 'string' ? kubeletVersion : '',
  };
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * The nodes that answer on a `Local`-policy Service's NodePorts: those hosting an
 * endpoint that is ready. A missing `ready` counts as ready, as the EndpointSlice API
 * says consumers should read it. Slices of other Services are ignored, so callers may
 * pass all slices of the namespace.
 */
export function readyNodesOf(
  namespace: string,
  service: string,
  slices: readonly EndpointSliceObject[],
): string[] {
  const nodes = new Set<string>();
  for (const slice of slices) {
    if (slice?.metadata?.namespace !== namespace) continue;
    if (labelsOf(slice.metadata)?.[SERVICE_NAME_LABEL] !== service) continue;
    for (const endpoint of Array.isArray(slice.endpoints) ? slice.endpoints : []) {
      if (endpoint?.conditions?.ready === false) continue;
      if (typeof endpoint?.nodeName === 'string' && endpoint.nodeName) nodes.add(endpoint.nodeName);
    }
  }
  return [...nodes].sort();
}

/**
 * Every port with a nodePort of a NodePort or LoadBalancer Service; nothing for other
 * types. UDP and SCTP ports are kept with their protocol (the planner probes TCP only).
 * A port without a valid nodePort is skipped and reported: a LoadBalancer with
 * `allocateLoadBalancerNodePorts: false` has none.
 */
export function nodePortsFromService(
  svc: ServiceObject,
  slices: readonly EndpointSliceObject[],
  options: NodePortParseOptions,
): NodePort[] {
  const type = svc?.spec?.type;
  if (type !== 'NodePort' && type !== 'LoadBalancer') return [];
  const namespace = text(svc.metadata?.namespace);
  const service = text(svc.metadata?.name);
  if (!namespace || !service) {
    options.onSkip?.('service without a name or namespace', { namespace, service });
    return [];
  }
  const trafficPolicy = svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster';
  const { group, groupedBy }: GroupDecision = (
    options.grouping ?? groupingFor({ services: [], namespaces: [] }, withoutAnchor(options))
  ).groupOf(svc);
  const readyNodes =
    trafficPolicy === 'Local' ? readyNodesOf(namespace, service, slices) : undefined;
  const ports = Array.isArray(svc.spec?.ports) ? svc.spec.ports : [];
  const result: NodePort[] = [];
  for (const port of ports) {
    const portLabel = text(port?.name) ?? String(port?.port ?? '?');
    if (!isPort(port?.nodePort)) {
      options.onSkip?.('service port without a nodePort', {
        namespace,
        service,
        port: portLabel,
        nodePort: port?.nodePort,
      });
      continue;
    }
    const protocol = PROTOCOLS.find((p) => p === (port.protocol ?? 'TCP'));
    if (!protocol) {
      options.onSkip?.('service port with an unknown protocol', {
        namespace,
        service,
        port: portLabel,
        protocol: port.protocol,
      });
      continue;
    }
    result.push({
      namespace,
      service,
      portName: text(port.name) ?? String(isPort(port.port) ? port.port : port.nodePort),
      servicePort: isPort(port.port) ? port.port : port.nodePort,
      nodePort: port.nodePort,
      protocol,
      group,
      groupedBy,
      type,
      trafficPolicy,
      ...(readyNodes && { readyNodes }),
    });
  }
  return result;
}

/**
 * `major.minor` from the body of GET /version, or undefined. Managed clusters report
 * minors like `28+`, so the digits are taken, and `gitVersion` is the fallback.
 */
export function parseVersion(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const { major, minor, gitVersion } = body as Record<string, unknown>;
  const majorDigits = typeof major === 'string' ? /^\d+/.exec(major)?.[0] : undefined;
  const minorDigits = typeof minor === 'string' ? /^\d+/.exec(minor)?.[0] : undefined;
  if (majorDigits && minorDigits) return `${Number(majorDigits)}.${Number(minorDigits)}`;
  const match = typeof gitVersion === 'string' ? /^v?(\d+)\.(\d+)/.exec(gitVersion) : null;
  return match ? `${Number(match[1])}.${Number(match[2])}` : undefined;
}

/** Grouping by rules and guesses only: no Service holds port 0. */
function withoutAnchor(options: NodePortParseOptions): GroupingOptions {
  return { groupRules: options.groupRules, uiNodePort: 0, basicServiceNodePorts: [] };
}

function compareNodePorts(a: NodePort, b: NodePort): number {
  return (
    a.namespace.localeCompare(b.namespace) ||
    a.service.localeCompare(b.service) ||
    a.nodePort - b.nodePort ||
    a.protocol.localeCompare(b.protocol)
  );
}

export interface ClusterParseOptions
  extends NodeParseOptions,
    Omit<NodePortParseOptions, 'grouping'>,
    Omit<GroupingOptions, 'groupRules'> {
  /** Ports on a node that give it a role when a running pod listens there. Default DEFAULT_ROLE_PORTS. */
  readonly rolePorts?: readonly RolePort[];
}

/**
 * Roles from pods added to the nodes. Labels and role rules win: a role that any node
 * has from them is not given by pods to any other, so an operator who labelled the
 * license center's node is not second-guessed by a stray pod.
 */
function withPodRoles(nodes: ClusterNode[], podRoles: Map<string, Set<Role>>): ClusterNode[] {
  if (podRoles.size === 0) return nodes;
  const claimed = new Set(nodes.flatMap((node) => node.roles.filter((r) => POD_ROLES.includes(r))));
  return nodes.map((node) => {
    const found = podRoles.get(node.name);
    if (!found) return node;
    const added = [...found].filter((role) => !claimed.has(role) && !node.roles.includes(role));
    if (added.length === 0) return node;
    const roles = new Set([...node.roles, ...added]);
    return { ...node, roles: ROLE_ORDER.filter((role) => roles.has(role)) };
  });
}

/**
 * Nodes and NodePorts from whole object sets, sorted so equal inputs give equal
 * snapshots. Slices are matched to their Service by namespace and service-name label;
 * namespaces and pods are optional (their reads may be forbidden): without them the
 * markers on namespaces and the roles from pods are simply not seen.
 */
export function clusterFromObjects(
  objects: {
    readonly nodes: Iterable<NodeObject>;
    readonly services: Iterable<ServiceObject>;
    readonly endpointSlices: Iterable<EndpointSliceObject>;
    readonly namespaces?: Iterable<NamespaceObject>;
    readonly pods?: Iterable<PodObject>;
  },
  options: ClusterParseOptions,
): { nodes: ClusterNode[]; nodePorts: NodePort[] } {
  let nodes: ClusterNode[] = [];
  for (const obj of objects.nodes) {
    const node = nodeFromObject(obj, options);
    if (node) nodes.push(node);
  }
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  nodes = withPodRoles(
    nodes,
    rolesFromPods(objects.pods ?? [], options.rolePorts ?? DEFAULT_ROLE_PORTS),
  );
  const slicesByService = new Map<string, EndpointSliceObject[]>();
  for (const slice of objects.endpointSlices) {
    const service = text(labelsOf(slice?.metadata)?.[SERVICE_NAME_LABEL]);
    if (!service) continue;
    const key = `${text(slice.metadata?.namespace) ?? ''}/${service}`;
    const list = slicesByService.get(key);
    if (list) list.push(slice);
    else slicesByService.set(key, [slice]);
  }
  const services = [...objects.services];
  const grouping = groupingFor({ services, namespaces: objects.namespaces ?? [] }, options);
  const nodePorts: NodePort[] = [];
  for (const svc of services) {
    // text(): a namespace that is not a string (an object without toString) must not throw.
    const key = `${text(svc?.metadata?.namespace) ?? ''}/${text(svc?.metadata?.name) ?? ''}`;
    nodePorts.push(
      ...nodePortsFromService(svc, slicesByService.get(key) ?? [], { ...options, grouping }),
    );
  }
  nodePorts.sort(compareNodePorts);
  return { nodes, nodePorts };
}
