/** The node roles that decide which catalog ports a node must have open. */
export const ROLES = [
  'control-plane',
  'etcd',
  'worker',
  'license-center',
  'nfs-server',
  'registry',
] as const;
export type Role = (typeof ROLES)[number];

/** Where a port comes from: the seed's fixed and default tables, the user's config, or a NodePort. */
export type Category = 'fixed' | 'default' | 'nodeport' | 'custom';

/** `external` ports must answer from outside the cluster; `internal` ports only between nodes. */
export type Scope = 'external' | 'internal';

export const PROTOCOLS = ['tcp'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * A range of Kubernetes minor versions, as `major.minor` strings; `until` is exclusive.
 * Absent bounds are open.
 */
export interface VersionRange {
  readonly from?: string;
  readonly until?: string;
}

/** One documented port. */
export interface CatalogEntry {
  /** Stable id, used as the `port_name` label and as the key in config overrides. */
  readonly id: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly category: Exclude<Category, 'nodeport'>;
  /** The program that listens there, in the words an operator uses. */
  readonly component: string;
  /** What breaks when this port is closed. */
  readonly purpose: string;
  readonly scope: Scope;
  /** The roles whose nodes listen on this port; `all` for ports every node has. */
  readonly roles: readonly Role[] | 'all';
  /** False where the seed says the port may stay closed (NFS when NFS is not used). */
  readonly required: boolean;
  /** Kubernetes versions that have this port; absent means every version. */
  readonly kubernetes?: VersionRange;
  /** Bound to 127.0.0.1 on its node: only a probe from that node itself can reach it. */
  readonly localhostOnly?: boolean;
}

/** The range the API server allocates NodePorts from, both ends inclusive. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}
