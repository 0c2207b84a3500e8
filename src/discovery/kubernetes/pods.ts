/**
 * Roles from what runs where: a node that hosts a running pod listening on a role's port
 * on the node itself (a hostPort, or a container port of a host-network pod) has that
 * role. 9183 or 3307 make the license center, 5000 (or the configured registry port) the
 * image registry, 5473 and Typha's own label Calico Typha, 2049 and 111 the NFS server.
 * A port reached only through a Service says nothing about a node, so it counts not.
 * Pure: pods in, roles per node out.
 */
import { CATALOG } from '../../catalog/ports.js';
import type { CatalogEntry, Role } from '../../catalog/types.js';
import type { ObjectMeta } from './objects.js';

/** The roles pods can give: the ones that say what runs on a node, not what Kubernetes made it. */
export const POD_ROLES: readonly Role[] = [
  'license-center',
  'nfs-server',
  'registry',
  'calico-typha',
];

/** A port on the node that means a role. */
export interface RolePort {
  readonly port: number;
  readonly role: Role;
}

/** The label Calico's manifests and operator put on Typha pods. */
const TYPHA_LABEL = { key: 'k8s-app', value: 'calico-typha' };

export interface PodObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly nodeName?: string;
    readonly hostNetwork?: boolean;
    readonly containers?: readonly {
      readonly ports?: readonly {
        readonly containerPort?: number;
        readonly hostPort?: number;
        readonly protocol?: string;
      }[];
    }[];
  };
  readonly status?: { readonly phase?: string };
}

/**
 * The role ports of a catalog: each TCP port of an entry for exactly one of POD_ROLES.
 * Built from the catalog after config, so a moved registry port moves here too.
 */
export function rolePortsOf(catalog: readonly CatalogEntry[]): RolePort[] {
  const ports: RolePort[] = [];
  for (const entry of catalog) {
    if (entry.roles === 'all' || entry.roles.length !== 1) continue;
    const [role] = entry.roles;
    if (role && POD_ROLES.includes(role)) ports.push({ port: entry.port, role });
  }
  return ports;
}

/** The TCP ports a pod listens on at its node's address. */
function nodePortsOfPod(pod: PodObject): number[] {
  const hostNetwork = pod.spec?.hostNetwork === true;
  const containers = Array.isArray(pod.spec?.containers) ? pod.spec.containers : [];
  const ports: number[] = [];
  for (const container of containers) {
    for (const port of Array.isArray(container?.ports) ? container.ports : []) {
      if ((port?.protocol ?? 'TCP') !== 'TCP') continue;
      const onNode = hostNetwork ? port.containerPort : port.hostPort;
      if (typeof onNode === 'number' && onNode > 0) ports.push(onNode);
    }
  }
  return ports;
}

/** Roles per node name, from the running pods scheduled there. */
export function rolesFromPods(
  pods: Iterable<PodObject>,
  rolePorts: readonly RolePort[],
): Map<string, Set<Role>> {
  const byPort = new Map<number, Role[]>();
  for (const { port, role } of rolePorts) byPort.set(port, [...(byPort.get(port) ?? []), role]);
  const roles = new Map<string, Set<Role>>();
  for (const pod of pods) {
    const node = pod?.spec?.nodeName;
    if (typeof node !== 'string' || node === '' || pod.status?.phase !== 'Running') continue;
    const found = new Set<Role>();
    for (const port of nodePortsOfPod(pod))
      for (const role of byPort.get(port) ?? []) found.add(role);
    if (pod.metadata?.labels?.[TYPHA_LABEL.key] === TYPHA_LABEL.value) found.add('calico-typha');
    if (found.size === 0) continue;
    const set = roles.get(node) ?? new Set<Role>();
    for (const role of found) set.add(role);
    roles.set(node, set);
  }
  return roles;
}

/** The role ports of the catalog as shipped: 3307, 9183, 2049, 5000, 5473, 111. */
export const DEFAULT_ROLE_PORTS: readonly RolePort[] = rolePortsOf(CATALOG);
