/**
 * The options of Kubernetes discovery: what the config's `discovery:` section and the
 * `--kubeconfig` / `--discovery.namespaces` flags set. Plain data with defaults, and a
 * pure check that config-load.ts runs on the file, so a bad rule fails at load, naming its field.
 */
import type { ClusterFacts } from '../../catalog/conditions.js';
import {
  DETECTIONS,
  type Detection,
  IP_FAMILIES,
  type IpFamily,
  NAMESPACE_NAME,
  NODE_ADDRESS_TYPES,
  type NodeAddressType,
} from '../../kinds/cluster.js';
import { DiscoveryError } from './errors.js';
import { DEFAULT_BASIC_SERVICE_NODE_PORTS, DEFAULT_UI_NODE_PORT } from './groups.js';
import { DEFAULT_ROLE_PORTS, type RolePort } from './pods.js';
import {
  DEFAULT_ROLE_RULES,
  type GroupRule,
  groupRuleProblems,
  type RoleRule,
  roleRuleProblems,
} from './rules.js';

// The optional reads are described in kinds/cluster.ts, beside the other names config shares.
export type { Detection };

export interface KubernetesDiscoveryOptions {
  /**
   * Path of a kubeconfig file (`--kubeconfig`). Unset: `KUBECONFIG`, then the in-cluster
   * service account, then `~/.kube/config`. Default unset.
   */
  readonly kubeconfig?: string;
  /**
   * Namespaces whose Services and EndpointSlices are watched (`--discovery.namespaces`).
   * Empty watches all namespaces, which needs a ClusterRole; a list can do with a Role
   * in each namespace (nodes always need cluster scope). Default `[]`.
   */
  readonly namespaces: readonly string[];
  /**
   * Which node address is probed, in order of preference; the first type a node has
   * wins, and a node with none is skipped. Default `['InternalIP', 'ExternalIP', 'Hostname']`;
   * put `ExternalIP` first for the `external` vantage.
   */
  readonly addressTypes: readonly NodeAddressType[];
  /** The IP families whose node addresses are probed (the config's `ipFamilies`). Default both. */
  readonly ipFamilies: readonly IpFamily[];
  /**
   * Label-to-role rules added to the `node-role.kubernetes.io/<role>` labels, for
   * iManager's own roles (license center, NFS server, image registry). Default none.
   */
  readonly roleRules: readonly RoleRule[];
  /**
   * Rules that put a Service's NodePorts into `basic-service`, `gis-environment` or
   * `other`; tried after the anchor and iManager's marks, before the guesses
   * (DEFAULT_GROUP_RULES); the first match wins. Default none.
   */
  readonly groupRules: readonly GroupRule[];
  /** iManager's UI NodePort, whose namespace holds the basic services. Default 31100. */
  readonly uiNodePort: number;
  /** NodePorts whose Services are basic services wherever they are. Default [31234]. */
  readonly basicServiceNodePorts: readonly number[];
  /** Ports on a node that give it a role when a pod listens there. Default from the catalog. */
  readonly rolePorts: readonly RolePort[];
  /** The optional reads (DETECTIONS). Default all. */
  readonly detect: readonly Detection[];
  /** Facts from the config's `cluster:` section: each replaces what was detected. Default none. */
  readonly facts: ClusterFacts;
  /** A change waits this long for more before a snapshot goes out, so a burst makes one. Default 250. */
  readonly debounceMs: number;
  /**
   * Every this often everything is listed again, which catches a watch that stalled
   * without an error. 0 turns it off. Default 300000 (5 minutes).
   */
  readonly relistIntervalMs: number;
  /** Limit for one list or /version request. Default 30000. */
  readonly requestTimeoutMs: number;
  /** First wait before a failed list or watch is retried; doubles per failure. Default 1000. */
  readonly backoffInitialMs: number;
  /** Cap of the retry wait. Default 60000. */
  readonly backoffMaxMs: number;
}

export const DEFAULT_KUBERNETES_DISCOVERY_OPTIONS: KubernetesDiscoveryOptions = Object.freeze({
  namespaces: [],
  addressTypes: NODE_ADDRESS_TYPES,
  ipFamilies: IP_FAMILIES,
  roleRules: DEFAULT_ROLE_RULES,
  groupRules: [],
  uiNodePort: DEFAULT_UI_NODE_PORT,
  basicServiceNodePorts: DEFAULT_BASIC_SERVICE_NODE_PORTS,
  rolePorts: DEFAULT_ROLE_PORTS,
  detect: DETECTIONS,
  facts: {},
  debounceMs: 250,
  relistIntervalMs: 300_000,
  requestTimeoutMs: 30_000,
  backoffInitialMs: 1_000,
  backoffMaxMs: 60_000,
});

/** What a caller may pass: any option left out takes its default. */
export type KubernetesDiscoveryOptionsInput = Partial<KubernetesDiscoveryOptions>;

/** One problem, at a path inside the options object (for a zod `addIssue`, say). */
export interface OptionProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** The longest delay a Node timer keeps: 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const DURATIONS = [
  'debounceMs',
  'relistIntervalMs',
  'requestTimeoutMs',
  'backoffInitialMs',
  'backoffMaxMs',
] as const;

/**
 * Every problem in the given options; empty when they are valid. Checks what a schema
 * cannot: selectors parse, regexes compile, roles and groups exist, names are DNS labels.
 */
export function kubernetesDiscoveryOptionProblems(
  input: KubernetesDiscoveryOptionsInput,
): OptionProblem[] {
  const problems: OptionProblem[] = [];
  input.namespaces?.forEach((namespace, i) => {
    if (!NAMESPACE_NAME.test(namespace)) {
      problems.push({
        path: ['namespaces', i],
        message: `expected a namespace name (lower-case DNS label), got "${namespace}"`,
      });
    } else if (input.namespaces?.indexOf(namespace) !== i) {
      problems.push({ path: ['namespaces', i], message: `"${namespace}" is listed twice` });
    }
  });
  if (input.addressTypes !== undefined && input.addressTypes.length === 0) {
    problems.push({ path: ['addressTypes'], message: 'expected at least one address type' });
  }
  input.addressTypes?.forEach((type, i) => {
    if (!NODE_ADDRESS_TYPES.includes(type)) {
      problems.push({
        path: ['addressTypes', i],
        message: `expected one of ${NODE_ADDRESS_TYPES.join(', ')}, got "${type}"`,
      });
    }
  });
  input.roleRules?.forEach((rule, i) => {
    for (const message of roleRuleProblems(rule))
      problems.push({ path: ['roleRules', i], message });
  });
  input.groupRules?.forEach((rule, i) => {
    for (const message of groupRuleProblems(rule)) {
      problems.push({ path: ['groupRules', i], message });
    }
  });
  input.detect?.forEach((what, i) => {
    if (!DETECTIONS.includes(what)) {
      problems.push({
        path: ['detect', i],
        message: `expected one of ${DETECTIONS.join(', ')}, got "${what}"`,
      });
    }
  });
  for (const key of DURATIONS) {
    const value = input[key];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      problems.push({ path: [key], message: `expected milliseconds >= 0, got ${value}` });
    } else if (value !== undefined && value > MAX_TIMER_MS) {
      // setTimeout fires at once past this: a 30-day relist would relist every millisecond.
      problems.push({
        path: [key],
        message: `expected at most ${MAX_TIMER_MS} milliseconds (about 24.8 days), got ${value}`,
      });
    }
  }
  if (input.requestTimeoutMs === 0) {
    problems.push({ path: ['requestTimeoutMs'], message: 'expected more than 0 milliseconds' });
  }
  const initial = input.backoffInitialMs ?? DEFAULT_KUBERNETES_DISCOVERY_OPTIONS.backoffInitialMs;
  const max = input.backoffMaxMs ?? DEFAULT_KUBERNETES_DISCOVERY_OPTIONS.backoffMaxMs;
  if (initial > max) {
    problems.push({
      path: ['backoffMaxMs'],
      message: `expected at least backoffInitialMs (${initial}), got ${max}`,
    });
  }
  return problems;
}

/** The options with defaults filled in; throws DiscoveryError INVALID_OPTION listing every problem. */
export function resolveKubernetesDiscoveryOptions(
  input: KubernetesDiscoveryOptionsInput = {},
): KubernetesDiscoveryOptions {
  const problems = kubernetesDiscoveryOptionProblems(input);
  if (problems.length > 0) {
    const text = problems.map(
      (p) => `${p.path.join('.').replace(/\.(\d+)/g, '[$1]')}: ${p.message}`,
    );
    throw new DiscoveryError(
      'INVALID_OPTION',
      `invalid Kubernetes discovery options: ${text.join('; ')}`,
    );
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  return Object.freeze({ ...DEFAULT_KUBERNETES_DISCOVERY_OPTIONS, ...defined });
}

/** Capped exponential backoff: initial, 2x, 4x ... up to max. `failures` counts from 1. */
export function backoffDelay(
  failures: number,
  options: Pick<KubernetesDiscoveryOptions, 'backoffInitialMs' | 'backoffMaxMs'>,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(options.backoffMaxMs, options.backoffInitialMs * 2 ** exponent);
}
