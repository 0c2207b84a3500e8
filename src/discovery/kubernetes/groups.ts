/**
 * Which iManager group a Service's NodePorts belong to, decided over the whole cluster
 * at once, in this order (the first that decides wins):
 *
 * 1. Anchor. The namespace holding the Service whose NodePort is iManager's UI (31100, or
 *    the `imanager-ui` port the config moved it to) is the basic-service namespace, and
 *    a Service with a NodePort on another external catalog port (31234, the Kubernetes
 *    dashboard iManager deploys) is a basic service wherever it lives.
 * 2. Markers. A namespace whose Namespace object or Services carry iManager's marks is a
 *    GIS environment. No public page names those marks, so they are read from the API
 *    objects: a label or annotation key whose domain names SuperMap or iManager
 *    (`supermap.com/site`, `imanager.supermap.io/x`), an `app.kubernetes.io/part-of`
 *    naming iManager or equal to the anchor Service's, and an owner reference whose API
 *    group names SuperMap or iManager or owns the anchor Service too (a controller that
 *    made iManager's UI Service made the GIS environment's).
 * 3. The configured group rules, in order.
 * 4. The guesses (DEFAULT_GROUP_RULES): namespaces `supermap` and `imanager`, and those
 *    prefixed by them.
 * 5. Otherwise `other`: shown, never paging; claimRuleFor says how to claim it.
 *
 * Pure: objects in, a grouping out.
 */
import { CATALOG } from '../../catalog/ports.js';
import type { NodePortGroup, NodePortGroupedBy } from '../types.js';
import type { NamespaceObject, ObjectMeta, ServiceObject } from './objects.js';
import { DEFAULT_GROUP_RULES, type GroupRule, matchingGroupRule } from './rules.js';

/** iManager's UI NodePort by default: the catalog's `imanager-ui`, 31100. */
export const DEFAULT_UI_NODE_PORT: number =
  CATALOG.find((e) => e.id === 'imanager-ui')?.port ?? 31100;

/** The other external catalog ports that are NodePorts of basic services: 31234. */
export const DEFAULT_BASIC_SERVICE_NODE_PORTS: readonly number[] = CATALOG.filter(
  (e) => e.scope === 'external' && e.id !== 'imanager-ui',
).map((e) => e.port);

export interface GroupingOptions {
  /** The configured rules, tried after the anchor and the markers. Default none. */
  readonly groupRules: readonly GroupRule[];
  /** iManager's UI NodePort: its namespace is the basic-service namespace. Default 31100. */
  readonly uiNodePort?: number;
  /** NodePorts whose Services are basic services wherever they are. Default [31234]. */
  readonly basicServiceNodePorts?: readonly number[];
}

export interface GroupDecision {
  readonly group: NodePortGroup;
  readonly groupedBy: NodePortGroupedBy;
}

export interface Grouping {
  /** The group of one Service's NodePorts. */
  groupOf(service: ServiceObject): GroupDecision;
  /** The namespaces the anchor found (usually one), sorted. */
  readonly anchorNamespaces: readonly string[];
  /** The namespaces marked as GIS environments, sorted. */
  readonly markedNamespaces: readonly string[];
}

const VENDOR = /supermap|imanager/i;
const PART_OF = 'app.kubernetes.io/part-of';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function mapping(value: unknown): Readonly<Record<string, unknown>> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The DNS prefix of a label or annotation key (`supermap.com` of `supermap.com/site`). */
function keyDomain(key: string): string | undefined {
  const slash = key.indexOf('/');
  return slash > 0 ? key.slice(0, slash) : undefined;
}

/** The API group of an owner reference (`apps` of `apps/v1`, '' for `v1`). */
function ownerGroup(apiVersion: unknown): string {
  const version = text(apiVersion) ?? '';
  const slash = version.indexOf('/');
  return slash > 0 ? version.slice(0, slash) : '';
}

function ownersOf(meta: ObjectMeta | undefined): string[] {
  const refs = Array.isArray(meta?.ownerReferences) ? meta.ownerReferences : [];
  const owners: string[] = [];
  for (const ref of refs) {
    const kind = text(ref?.kind);
    const group = ownerGroup(ref?.apiVersion);
    if (kind && group) owners.push(`${group}/${kind}`);
  }
  return owners;
}

/** What the anchor's objects teach about iManager's marks. */
interface LearnedMarks {
  readonly partOf: ReadonlySet<string>;
  readonly owners: ReadonlySet<string>;
}

/** Whether an object's metadata carries one of iManager's marks. */
function marked(meta: ObjectMeta | undefined, learned: LearnedMarks): boolean {
  for (const field of [meta?.labels, meta?.annotations]) {
    for (const key of Object.keys(mapping(field))) {
      if (VENDOR.test(keyDomain(key) ?? '')) return true;
    }
  }
  const partOf = text(mapping(meta?.labels)[PART_OF]);
  if (partOf && (VENDOR.test(partOf) || learned.partOf.has(partOf))) return true;
  return ownersOf(meta).some(
    (owner) => VENDOR.test(owner.split('/')[0] ?? '') || learned.owners.has(owner),
  );
}

function nodePortsOf(service: ServiceObject): number[] {
  const type = service?.spec?.type;
  if (type !== 'NodePort' && type !== 'LoadBalancer') return [];
  const ports = Array.isArray(service.spec?.ports) ? service.spec.ports : [];
  return ports.flatMap((port) => (typeof port?.nodePort === 'number' ? [port.nodePort] : []));
}

/** The grouping of every Service, from all Services and Namespaces of the cluster. */
export function groupingFor(
  objects: {
    readonly services: Iterable<ServiceObject>;
    readonly namespaces: Iterable<NamespaceObject>;
  },
  options: GroupingOptions,
): Grouping {
  const services = [...objects.services];
  const namespaceObjects = new Map<string, NamespaceObject>();
  for (const ns of objects.namespaces) {
    const name = text(ns?.metadata?.name);
    if (name) namespaceObjects.set(name, ns);
  }
  const uiNodePort = options.uiNodePort ?? DEFAULT_UI_NODE_PORT;
  const anchorServices = services.filter((svc) => nodePortsOf(svc).includes(uiNodePort));
  const anchors = new Set(
    anchorServices.flatMap((svc) => {
      const ns = text(svc.metadata?.namespace);
      return ns ? [ns] : [];
    }),
  );
  const learned: LearnedMarks = {
    partOf: new Set(
      anchorServices.flatMap((svc) => {
        const value = text(mapping(svc.metadata?.labels)[PART_OF]);
        return value ? [value] : [];
      }),
    ),
    // Owners of the built-in API groups (a Helm-made Service has none) teach nothing.
    owners: new Set(
      anchorServices.flatMap((svc) =>
        ownersOf(svc.metadata).filter((owner) => !/^(apps|batch|.*\.k8s\.io)\//.test(owner)),
      ),
    ),
  };
  const markedNamespaces = new Set<string>();
  for (const [name, ns] of namespaceObjects) {
    if (!anchors.has(name) && marked(ns.metadata, learned)) markedNamespaces.add(name);
  }
  for (const svc of services) {
    const ns = text(svc?.metadata?.namespace);
    if (ns && !anchors.has(ns) && marked(svc.metadata, learned)) markedNamespaces.add(ns);
  }
  const basicPorts = new Set(options.basicServiceNodePorts ?? DEFAULT_BASIC_SERVICE_NODE_PORTS);
  const rules = options.groupRules;
  return {
    anchorNamespaces: [...anchors].sort(),
    markedNamespaces: [...markedNamespaces].sort(),
    groupOf(service) {
      const namespace = text(service?.metadata?.namespace) ?? '';
      if (anchors.has(namespace) || nodePortsOf(service).some((port) => basicPorts.has(port))) {
        return { group: 'basic-service', groupedBy: 'anchor' };
      }
      if (markedNamespaces.has(namespace)) return { group: 'gis-environment', groupedBy: 'marker' };
      const labels = service?.metadata?.labels;
      // A configured rule decides even when it says `other`: the guesses never overrule it.
      const rule = matchingGroupRule(namespace, labels, rules);
      if (rule) return { group: rule.group, groupedBy: 'rule' };
      const guess = matchingGroupRule(namespace, labels, DEFAULT_GROUP_RULES);
      return guess
        ? { group: guess.group, groupedBy: 'guess' }
        : { group: 'other', groupedBy: 'none' };
    },
  };
}

/**
 * How to claim an `other` NodePort's namespace, as the YAML a user adds to the config
 * file: the status page and check print it beside the NodePort.
 */
export function claimRuleFor(
  namespace: string,
  group: Exclude<NodePortGroup, 'other'> = 'gis-environment',
): string {
  return `discovery.groupRules: - { group: ${group}, namespaces: [${namespace}] }`;
}
