/** The node roles that decide which catalog ports a node must have open. */
export const ROLES = [
  'control-plane',
  'etcd',
  'worker',
  'license-center',
  'nfs-server',
  'registry',
  'calico-typha',
] as const;
export type Role = (typeof ROLES)[number];

/** Where a port comes from: the seed's fixed and default tables, the user's config, or a NodePort. */
export type Category = 'fixed' | 'default' | 'nodeport' | 'custom';

/** `external` ports must answer from outside the cluster; `internal` ports only between nodes. */
export type Scope = 'external' | 'internal';

/**
 * The protocols a prober tests: probe/registry.ts keys PROBERS by this list, so a
 * protocol added here without a prober does not compile. UDP and bare IP protocols
 * are catalog entries too (UnprobedEntry), but never targets.
 */
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

/**
 * A fact of the cluster an entry depends on (see conditions.ts): discovery reads it
 * where the API allows, and the config's `cluster:` section overrides it.
 */
export type EntryCondition =
  /** Calico runs BGP between the nodes (backend `bird`). */
  | { readonly kind: 'calico-bgp' }
  /** Calico's IP pools encapsulate pod traffic this way. */
  | { readonly kind: 'calico-encapsulation'; readonly encapsulation: 'ipip' | 'vxlan' }
  /** kube-proxy runs on the nodes (no eBPF replacement). */
  | { readonly kind: 'kube-proxy' }
  /** The NFS server is mounted with this NFS version. */
  | { readonly kind: 'nfs-version'; readonly version: 3 };

/** Where the facts of an entry come from, for the README's catalog table. */
export interface EntrySource {
  readonly title: string;
  readonly url?: string;
}

/** What every catalog entry has, probed or not. */
export interface EntryBase {
  /** Stable id, used as the `port_name` label and as the key in config overrides. */
  readonly id: string;
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
  /**
   * A fact the entry depends on: while it does not hold the entry never pages, and while
   * it is unknown the entry is optional (conditions.ts says which, per kind).
   */
  readonly condition?: EntryCondition;
  /** The documents the entry's facts come from; absent for ports the user adds. */
  readonly source?: EntrySource;
}

/** One documented TCP port: probed on every node whose roles it applies to. */
export interface CatalogEntry extends EntryBase {
  readonly port: number;
  readonly protocol: Protocol;
  /** Bound to 127.0.0.1 on its node: only a probe from that node itself can reach it. */
  readonly localhostOnly?: boolean;
  /**
   * `closed`: the port must not answer from anywhere (the kubelet's unauthenticated
   * read-only port); an answer is an exposure. Absent: open, as the vantage decides.
   */
  readonly expected?: 'closed';
}

/**
 * A documented port or packet type that no prober here can test: UDP (a connect proves
 * nothing, and no answer is the normal answer) or a bare IP protocol (IP-in-IP). Listed
 * by the catalog command and the README, taken by `firewall`, shown as not probed;
 * the planner's input type keeps it out of the targets.
 */
export type UnprobedEntry = EntryBase & { readonly probed: false } & (
    | { readonly protocol: 'udp'; readonly port: number }
    | {
        readonly protocol: 'ip';
        /** The IANA protocol number, as firewalls match it (4: IP in IP). */
        readonly ipProtocol: number;
        /** Its name in /etc/protocols, as nftables and iptables print it. */
        readonly ipProtocolName: string;
      }
  );

/** Why an unprobed entry is not probed, in the words the status page and check show. */
export function notProbedReason(entry: UnprobedEntry): string {
  return entry.protocol === 'udp' ? 'not probed: UDP' : 'not probed: IP protocol';
}

/** The range the API server allocates NodePorts from, both ends inclusive. */
export interface PortRange {
  readonly min: number;
  readonly max: number;
}
