import type { CatalogEntry, EntrySource, PortRange, UnprobedEntry } from './types.js';

/** The documents the catalog's facts come from; `imanager` is shared/seed/imanager-ports.txt. */
const SOURCES = {
  imanager: {
    title: 'iManager for Kubernetes: iManager Ports Introduction (help.supermap.com)',
  },
  kubernetes: {
    title: 'Kubernetes: Ports and Protocols',
    url: 'https://kubernetes.io/docs/reference/networking/ports-and-protocols/',
  },
  kubeadmHealthPorts: {
    title: 'kubernetes/kubernetes#85043 (kubeadm health-checks the secure ports since 1.17)',
    url: 'https://github.com/kubernetes/kubernetes/pull/85043',
  },
  calico: {
    title: 'Calico: System requirements, Network requirements',
    url: 'https://docs.tigera.io/calico/latest/getting-started/kubernetes/requirements#network-requirements',
  },
  kubeletConfig: {
    title: 'Kubelet Configuration (v1beta1): readOnlyPort, default 0 (off)',
    url: 'https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/',
  },
  nfsRpcbind: {
    title: 'RFC 1833 (rpcbind on port 111); RFC 7530 section 3.1 (NFSv4 needs no rpcbind)',
    url: 'https://www.rfc-editor.org/rfc/rfc7530#section-3.1',
  },
} as const satisfies Record<string, EntrySource>;

/** What a TCP entry must say; the rest it says only where it differs from tcpPort's defaults. */
type TcpPortFacts = Pick<CatalogEntry, 'id' | 'port' | 'component' | 'purpose' | 'roles'> &
  Partial<Omit<CatalogEntry, 'protocol'>>;

/**
 * A catalog entry from its facts. Most documented ports are fixed, internal, required
 * TCP ports from the iManager page, so those are the defaults: an entry shows only what
 * sets it apart. The fields come out in one order whatever order the entry writes them
 * in, so `catalog --output=json` lists every entry alike.
 */
function tcpPort(facts: TcpPortFacts): CatalogEntry {
  const {
    id,
    port,
    category = 'fixed',
    component,
    purpose,
    scope = 'internal',
    roles,
    required = true,
    kubernetes,
    localhostOnly,
    condition,
    expected,
    source = SOURCES.imanager,
  } = facts;
  return {
    id,
    port,
    protocol: 'tcp',
    category,
    component,
    purpose,
    scope,
    roles,
    required,
    ...(kubernetes !== undefined && { kubernetes }),
    ...(localhostOnly !== undefined && { localhostOnly }),
    ...(condition !== undefined && { condition }),
    ...(expected !== undefined && { expected }),
    source,
  };
}

/**
 * The iManager port catalog: the fixed and default ports of the iManager port
 * documentation (shared/seed/imanager-ports.txt), the secure successors of the legacy
 * scheduler and controller-manager ports, and the TCP ports of Kubernetes' and Calico's
 * own requirements that the iManager page leaves out. Facts from the sources named,
 * words our own.
 */
export const CATALOG: readonly CatalogEntry[] = [
  tcpPort({
    id: 'kubernetes-ui',
    port: 31234,
    component: 'kubernetes-dashboard',
    purpose: 'Kubernetes web UI; open it to reach the UI from machines outside the cluster',
    scope: 'external',
    roles: 'all',
  }),
  tcpPort({
    id: 'kube-apiserver',
    port: 6443,
    component: 'kube-apiserver',
    purpose: 'Kubernetes API on the control plane; every node and client talks to the cluster here',
    roles: ['control-plane'],
  }),
  tcpPort({
    id: 'etcd-client',
    port: 2379,
    component: 'etcd',
    purpose: 'etcd client port; the API server stores all cluster state through it',
    roles: ['control-plane', 'etcd'],
  }),
  tcpPort({
    id: 'etcd-peer',
    port: 2380,
    component: 'etcd',
    purpose: 'etcd peer port; etcd members replicate to each other through it',
    roles: ['control-plane', 'etcd'],
  }),
  tcpPort({
    id: 'kubelet',
    port: 10250,
    component: 'kubelet',
    purpose: 'kubelet API; the API server reaches each node here for logs, exec and metrics',
    roles: 'all',
  }),
  // The legacy insecure health ports. kubeadm has started the scheduler and the
  // controller-manager with --port=0 (no insecure port) since Kubernetes 1.19
  // (kubernetes/kubernetes#92720, fixing kubernetes/kubeadm#2202); the
  // controller-manager stopped serving it in 1.22 (kubernetes/kubernetes#96216) and the
  // flags were removed after (kubernetes/kubeadm#2207 tracks both). So they are
  // expected only before 1.19, and `any` from 1.19 on or when the version is unknown.
  tcpPort({
    id: 'kube-scheduler-legacy',
    port: 10251,
    component: 'kube-scheduler',
    purpose:
      'kube-scheduler health check (legacy insecure port, off in kubeadm clusters since 1.19)',
    roles: ['control-plane'],
    kubernetes: { until: '1.19' },
  }),
  tcpPort({
    id: 'kube-controller-manager-legacy',
    port: 10252,
    component: 'kube-controller-manager',
    purpose:
      'kube-controller-manager health check (legacy insecure port, off in kubeadm clusters since 1.19)',
    roles: ['control-plane'],
    kubernetes: { until: '1.19' },
  }),
  // Their secure successors; kubeadm health-checks them since 1.17
  // (kubernetes/kubernetes#85043). They listen on 127.0.0.1 by default.
  tcpPort({
    id: 'kube-scheduler',
    port: 10259,
    component: 'kube-scheduler',
    purpose: 'kube-scheduler secure health port, successor of 10251; bound to localhost',
    roles: ['control-plane'],
    kubernetes: { from: '1.17' },
    localhostOnly: true,
    source: SOURCES.kubeadmHealthPorts,
  }),
  tcpPort({
    id: 'kube-controller-manager',
    port: 10257,
    component: 'kube-controller-manager',
    purpose: 'kube-controller-manager secure health port, successor of 10252; bound to localhost',
    roles: ['control-plane'],
    kubernetes: { from: '1.17' },
    localhostOnly: true,
    source: SOURCES.kubeadmHealthPorts,
  }),
  tcpPort({
    id: 'node-exporter',
    port: 9101,
    component: 'node-exporter',
    purpose: "iManager's node exporter; CPU, memory and disk monitoring of each node",
    roles: 'all',
  }),
  tcpPort({
    id: 'license-center-db',
    port: 3307,
    component: 'license-center',
    purpose: 'database of the business license center',
    roles: ['license-center'],
  }),
  tcpPort({
    id: 'license-center',
    port: 9183,
    component: 'license-center',
    purpose: 'business license center server; iManager services check their licenses here',
    roles: ['license-center'],
  }),
  tcpPort({
    id: 'nfs',
    port: 2049,
    component: 'nfs-server',
    purpose: 'NFS server for data storage; may stay closed where NFS is not used',
    roles: ['nfs-server'],
    required: false,
  }),
  tcpPort({
    id: 'calico-bgp',
    port: 179,
    component: 'calico',
    purpose: 'Calico BGP peering; pod networking between nodes depends on it',
    roles: 'all',
    // Only BGP listens here: in Calico's VXLAN-only mode nothing does, and 179 would page falsely.
    condition: { kind: 'calico-bgp' },
  }),
  tcpPort({
    id: 'imanager-ui',
    port: 31100,
    category: 'default',
    component: 'imanager-dashboard-ui',
    purpose: 'iManager web UI; nobody can log in to iManager while it is closed',
    scope: 'external',
    roles: 'all',
  }),
  tcpPort({
    id: 'image-registry',
    port: 5000,
    category: 'default',
    component: 'image-registry',
    purpose: 'iManager image registry; needed to install images in an intranet',
    roles: ['registry'],
  }),
  // What the iManager page leaves out: Kubernetes' and Calico's own requirements.
  tcpPort({
    id: 'kube-proxy-health',
    port: 10256,
    component: 'kube-proxy',
    purpose: "kube-proxy health check; load balancers ask it whether a node's NodePorts work",
    roles: 'all',
    condition: { kind: 'kube-proxy' },
    source: SOURCES.kubernetes,
  }),
  tcpPort({
    id: 'calico-typha',
    port: 5473,
    component: 'calico-typha',
    purpose: "Calico Typha; every node's Felix reads the cluster's network state through it",
    roles: ['calico-typha'],
    source: SOURCES.calico,
  }),
  tcpPort({
    id: 'kubelet-readonly',
    port: 10255,
    component: 'kubelet',
    purpose:
      "kubelet's read-only port: unauthenticated, off by default in kubeadm; open, it shows every pod's spec to anyone",
    roles: 'all',
    expected: 'closed',
    source: SOURCES.kubeletConfig,
  }),
  tcpPort({
    id: 'rpcbind',
    port: 111,
    component: 'rpcbind',
    purpose: 'rpcbind on the NFS server; NFSv3 clients find mountd and the lock manager through it',
    roles: ['nfs-server'],
    condition: { kind: 'nfs-version', version: 3 },
    source: SOURCES.nfsRpcbind,
  }),
];

/**
 * What the cluster needs that no prober here can test: UDP, where no answer is the
 * normal answer, and IP-in-IP, which has no ports. `firewall` opens them, the catalog
 * and the README list them, the status page and check show them as not probed.
 */
export const UNPROBED_CATALOG: readonly UnprobedEntry[] = [
  {
    id: 'calico-vxlan',
    protocol: 'udp',
    port: 4789,
    probed: false,
    category: 'fixed',
    component: 'calico',
    purpose: 'Calico VXLAN; pod traffic between nodes travels in it when the IP pools use VXLAN',
    scope: 'internal',
    roles: 'all',
    required: true,
    condition: { kind: 'calico-encapsulation', encapsulation: 'vxlan' },
    source: SOURCES.calico,
  },
  {
    id: 'calico-ipip',
    protocol: 'ip',
    ipProtocol: 4,
    // /etc/protocols calls 4 `ipencap`; its `ipip` is 94, another protocol: match the number.
    ipProtocolName: 'ipencap',
    probed: false,
    category: 'fixed',
    component: 'calico',
    purpose:
      "Calico IP-in-IP; pod traffic between nodes travels in it, Calico's default encapsulation",
    scope: 'internal',
    roles: 'all',
    required: true,
    condition: { kind: 'calico-encapsulation', encapsulation: 'ipip' },
    source: SOURCES.calico,
  },
  {
    id: 'rpcbind-udp',
    protocol: 'udp',
    port: 111,
    probed: false,
    category: 'fixed',
    component: 'rpcbind',
    purpose: 'rpcbind over UDP on the NFS server, which NFSv3 clients may ask instead of TCP',
    scope: 'internal',
    roles: ['nfs-server'],
    required: true,
    condition: { kind: 'nfs-version', version: 3 },
    source: SOURCES.nfsRpcbind,
  },
];

/** Kubernetes' default NodePort range, from which iManager's random ports come. */
export const DEFAULT_NODEPORT_RANGE: PortRange = { min: 30000, max: 32767 };
