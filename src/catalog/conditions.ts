/**
 * The facts of a cluster that catalog entries depend on, and what each entry's
 * condition makes of it: 179 only with Calico BGP, 4789/udp only with VXLAN, IP-in-IP
 * only with IP-in-IP, 10256 only where kube-proxy runs, 111 only with NFSv3. Pure: the
 * facts come from discovery (the snapshot) or from the config's `cluster:` section.
 */
import type { EntryBase, EntryCondition } from './types.js';

/** Calico's networking backend, in CALICO_NETWORKING_BACKEND's words. */
export const CALICO_BACKENDS = ['bird', 'vxlan', 'none'] as const;
export type CalicoBackend = (typeof CALICO_BACKENDS)[number];

/** How Calico's IP pools carry pod traffic between nodes. */
export const CALICO_ENCAPSULATIONS = ['ipip', 'vxlan', 'none'] as const;
export type CalicoEncapsulation = (typeof CALICO_ENCAPSULATIONS)[number];

export const NFS_VERSIONS = [3, 4] as const;
export type NfsVersion = (typeof NFS_VERSIONS)[number];

/** The facts conditions are judged by; an absent fact is unknown. */
export interface ClusterFacts {
  /** `bird`: BGP between nodes; `vxlan`: VXLAN only, BIRD off; `none`: policy only. */
  readonly calicoBackend?: CalicoBackend;
  readonly calicoEncapsulation?: CalicoEncapsulation;
  /** kube-proxy runs on the nodes. */
  readonly kubeProxy?: boolean;
  /** The NFS version the cluster mounts its NFS server with. */
  readonly nfsVersion?: NfsVersion;
  /** Where each known fact was read: `DaemonSet kube-system/calico-node`, `config`. */
  readonly sources?: Readonly<Partial<Record<ClusterFactName, string>>>;
}

export type ClusterFactName = Exclude<keyof ClusterFacts, 'sources'>;

export const NO_FACTS: ClusterFacts = Object.freeze({});

/** `detected` with every fact `configured` names replacing it, sourced `config`. */
export function withConfiguredFacts(
  detected: ClusterFacts,
  configured: ClusterFacts,
): ClusterFacts {
  const names = (Object.keys(configured) as (keyof ClusterFacts)[]).filter(
    (name): name is ClusterFactName => name !== 'sources' && configured[name] !== undefined,
  );
  if (names.length === 0) return detected;
  const sources = { ...detected.sources };
  for (const name of names) sources[name] = 'config';
  const { sources: _ignored, ...facts } = configured;
  return { ...detected, ...facts, sources };
}

/** Whether a condition holds for these facts. */
export type ConditionState = 'holds' | 'fails' | 'unknown';

/** The encapsulation the facts imply: the VXLAN backend is VXLAN, `none` is no Calico networking. */
function encapsulationOf(facts: ClusterFacts): CalicoEncapsulation | undefined {
  if (facts.calicoBackend === 'none') return 'none';
  if (facts.calicoEncapsulation !== undefined) return facts.calicoEncapsulation;
  return facts.calicoBackend === 'vxlan' ? 'vxlan' : undefined;
}

function known(value: boolean | undefined): ConditionState {
  return value === undefined ? 'unknown' : value ? 'holds' : 'fails';
}

export function conditionState(condition: EntryCondition, facts: ClusterFacts): ConditionState {
  switch (condition.kind) {
    case 'calico-bgp':
      return known(facts.calicoBackend === undefined ? undefined : facts.calicoBackend === 'bird');
    case 'calico-encapsulation': {
      const encapsulation = encapsulationOf(facts);
      // IP-in-IP is routed by BGP: the VXLAN backend has no IP-in-IP whatever the pools say.
      if (condition.encapsulation === 'ipip' && facts.calicoBackend === 'vxlan') return 'fails';
      return known(
        encapsulation === undefined ? undefined : encapsulation === condition.encapsulation,
      );
    }
    case 'kube-proxy':
      return known(facts.kubeProxy);
    case 'nfs-version':
      return known(
        facts.nfsVersion === undefined ? undefined : facts.nfsVersion === condition.version,
      );
  }
}

/**
 * While a condition is unknown: `as-documented` keeps the entry as the catalog says
 * (179 is on the iManager page, and BIRD is Calico's default backend), `optional`
 * probes and shows it but never pages.
 */
const WHEN_UNKNOWN: Readonly<Record<EntryCondition['kind'], 'as-documented' | 'optional'>> = {
  'calico-bgp': 'as-documented',
  'calico-encapsulation': 'optional',
  'kube-proxy': 'optional',
  'nfs-version': 'optional',
};

/** What an entry's condition makes of it, for the planner and the firewall. */
export interface Applicability {
  readonly state: ConditionState;
  /** The entry's `required`, unless its condition fails or is unknown and optional. */
  readonly required: boolean;
  /**
   * True when the condition fails: nothing is meant to listen, so any state will do
   * (expected `any`), and a firewall leaves it shut.
   */
  readonly neutral: boolean;
}

export function applicability(entry: EntryBase, facts: ClusterFacts): Applicability {
  if (!entry.condition) return { state: 'holds', required: entry.required, neutral: false };
  const state = conditionState(entry.condition, facts);
  if (state === 'holds') return { state, required: entry.required, neutral: false };
  if (state === 'fails') return { state, required: false, neutral: true };
  const asDocumented = WHEN_UNKNOWN[entry.condition.kind] === 'as-documented';
  return { state, required: asDocumented && entry.required, neutral: false };
}

/** The condition in words, for the catalog table and the README: "only with Calico BGP". */
export function describeCondition(condition: EntryCondition): string {
  switch (condition.kind) {
    case 'calico-bgp':
      return 'Calico runs BGP (backend bird)';
    case 'calico-encapsulation':
      return condition.encapsulation === 'ipip'
        ? "Calico's IP pools use IP-in-IP"
        : "Calico's IP pools use VXLAN";
    case 'kube-proxy':
      return 'kube-proxy runs on the nodes';
    case 'nfs-version':
      return `the NFS server is mounted with NFSv${condition.version}`;
  }
}

/** What happens while the condition is unknown, in words. */
export function describeWhenUnknown(condition: EntryCondition): string {
  return WHEN_UNKNOWN[condition.kind] === 'as-documented' ? 'required' : 'optional';
}
