/** Kubernetes discovery: what main.ts and the config loader use. */
export {
  type ApiFailure,
  type ApiFailureKind,
  DiscoveryError,
  type DiscoveryErrorCode,
  describeApiError,
} from './errors.js';
export {
  chooseDiscovery,
  DISCOVERY_MODES,
  type DiscoveryMode,
  findKubeConfig,
  type KubeConfigEnvironment,
  type KubeConfigLocation,
  kubeConfigNotFound,
  loadKubeConfig,
  processEnvironment,
} from './kubeconfig.js';
export {
  clusterFromObjects,
  type EndpointSliceObject,
  NODE_ADDRESS_TYPES,
  type NodeAddressType,
  type NodeObject,
  nodeFromObject,
  nodePortsFromService,
  parseVersion,
  readyNodesOf,
  type ServiceObject,
} from './objects.js';
export {
  backoffDelay,
  DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
  type KubernetesDiscoveryOptions,
  type KubernetesDiscoveryOptionsInput,
  kubernetesDiscoveryOptionProblems,
  type OptionProblem,
  resolveKubernetesDiscoveryOptions,
} from './options.js';
export {
  DEFAULT_GROUP_RULES,
  DEFAULT_ROLE_RULES,
  type GroupRule,
  groupOf,
  groupRuleProblems,
  type RoleRule,
  roleRuleProblems,
  rolesOf,
} from './rules.js';
export { labelSelectorProblem, parseLabelSelector, selectorMatches } from './selector.js';
export { createKubernetesSource, KubernetesSource, type KubernetesSourceDeps } from './source.js';
