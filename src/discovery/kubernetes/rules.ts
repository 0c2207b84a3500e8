/**
 * Which roles a node has and which iManager group a NodePort belongs to, decided by
 * rules over labels and namespaces. Pure: the rules come from the config.
 */
import { ROLES, type Role } from '../../catalog/types.js';
import { NODE_PORT_GROUPS, type NodePortGroup } from '../../kinds/cluster.js';
import { DiscoveryError } from './errors.js';
import {
  type LabelSelector,
  type Labels,
  parseLabelSelector,
  selectorMatches,
} from './selector.js';

/** Gives `roles` to every node whose labels match `selector` (kubectl `-l` syntax). */
export interface RoleRule {
  readonly selector: string;
  readonly roles: readonly Role[];
}

/**
 * Puts a NodePort's Service into `group`. Every condition given must hold; a rule needs
 * at least one. Rules are tried in order and the first match wins; no match is `other`.
 */
export interface GroupRule {
  readonly group: NodePortGroup;
  /** The Service's namespace is one of these. */
  readonly namespaces?: readonly string[];
  /** The namespace matches this JavaScript regular expression (unanchored unless you anchor it). */
  readonly namespacePattern?: string;
  /** The Service's labels match this label selector. */
  readonly selector?: string;
}

export const NODE_ROLE_LABEL_PREFIX = 'node-role.kubernetes.io/';

/**
 * `node-role.kubernetes.io/<name>` labels read as roles without any rule: every name in
 * ROLES, plus `master`, the name kubeadm used for the control plane before 1.24. So
 * `kubectl label node n1 node-role.kubernetes.io/license-center=` gives n1 the license
 * center's ports, and `kubectl get nodes` shows the role too.
 */
const NODE_ROLE_ALIASES: Readonly<Record<string, Role>> = { master: 'control-plane' };

/**
 * Extra label-to-role rules, applied after the node-role labels. Empty by default:
 * iManager labels no node for its license center, NFS server or image registry, so an
 * operator either adds the node-role label above or writes a rule for labels the
 * cluster already has, e.g. `{ selector: 'supermap.com/license=true', roles: ['license-center'] }`.
 */
export const DEFAULT_ROLE_RULES: readonly RoleRule[] = [];

/**
 * The guesses, tried after the anchor, the markers and the configured rules
 * (kubernetes/groups.ts). These namespace names are guesses, not documented by
 * SuperMap: public iManager documentation says basic services are deployed with
 * iManager and each GIS environment (GIS Cloud Suite site) gets its own services, but
 * names no namespace or label. We assume the iManager install namespace `supermap` or
 * `imanager` holds the basic services and namespaces prefixed by it hold the GIS
 * environments. Override them from what `kubectl get svc -A` shows on a real cluster.
 * A NodePort no rule claims is `other`: shown, never alerting as required.
 */
export const DEFAULT_GROUP_RULES: readonly GroupRule[] = [
  { group: 'basic-service', namespaces: ['supermap', 'imanager'] },
  { group: 'gis-environment', namespacePattern: '^(supermap|imanager)-.+' },
];

// The ones that say what a node is in Kubernetes; a node with none of them is a worker.
const KUBERNETES_ROLES: readonly Role[] = ['control-plane', 'etcd', 'worker'];

interface CompiledRoleRule {
  readonly selector: LabelSelector;
  readonly roles: readonly Role[];
}

interface CompiledGroupRule {
  readonly group: NodePortGroup;
  readonly namespaces?: ReadonlySet<string>;
  readonly namespacePattern?: RegExp;
  readonly selector?: LabelSelector;
}

// Rules are parsed once per rule object, however many nodes and services they see.
const compiledRoleRules = new WeakMap<RoleRule, CompiledRoleRule>();
const compiledGroupRules = new WeakMap<GroupRule, CompiledGroupRule>();

/** Problems with one role rule, each a sentence; empty when it is valid. */
export function roleRuleProblems(rule: RoleRule): string[] {
  const problems: string[] = [];
  try {
    parseLabelSelector(rule.selector);
  } catch (error) {
    problems.push(`selector: ${(error as Error).message}`);
  }
  if (rule.roles.length === 0) problems.push('roles: expected at least one role');
  for (const role of rule.roles) {
    if (!ROLES.includes(role)) {
      problems.push(`roles: expected one of ${ROLES.join(', ')}, got "${role}"`);
    }
  }
  return problems;
}

/** Problems with one group rule, each a sentence; empty when it is valid. */
export function groupRuleProblems(rule: GroupRule): string[] {
  const problems: string[] = [];
  if (!NODE_PORT_GROUPS.includes(rule.group)) {
    problems.push(`group: expected one of ${NODE_PORT_GROUPS.join(', ')}, got "${rule.group}"`);
  }
  if (
    rule.namespaces === undefined &&
    rule.namespacePattern === undefined &&
    rule.selector === undefined
  ) {
    problems.push('expected at least one of namespaces, namespacePattern, selector');
  }
  if (rule.namespacePattern !== undefined) {
    try {
      new RegExp(rule.namespacePattern);
    } catch (error) {
      problems.push(`namespacePattern: ${(error as Error).message}`);
    }
  }
  if (rule.selector !== undefined) {
    try {
      parseLabelSelector(rule.selector);
    } catch (error) {
      problems.push(`selector: ${(error as Error).message}`);
    }
  }
  return problems;
}

function invalid(what: string, problems: readonly string[]): never {
  throw new DiscoveryError('INVALID_OPTION', `${what}: ${problems.join('; ')}`);
}

function compileRoleRule(rule: RoleRule): CompiledRoleRule {
  let compiled = compiledRoleRules.get(rule);
  if (!compiled) {
    const problems = roleRuleProblems(rule);
    if (problems.length > 0) invalid(`role rule "${rule.selector}"`, problems);
    compiled = { selector: parseLabelSelector(rule.selector), roles: rule.roles };
    compiledRoleRules.set(rule, compiled);
  }
  return compiled;
}

function compileGroupRule(rule: GroupRule): CompiledGroupRule {
  let compiled = compiledGroupRules.get(rule);
  if (!compiled) {
    const problems = groupRuleProblems(rule);
    if (problems.length > 0) invalid(`group rule for "${rule.group}"`, problems);
    compiled = {
      group: rule.group,
      ...(rule.namespaces && { namespaces: new Set(rule.namespaces) }),
      ...(rule.namespacePattern !== undefined && {
        namespacePattern: new RegExp(rule.namespacePattern),
      }),
      ...(rule.selector !== undefined && { selector: parseLabelSelector(rule.selector) }),
    };
    compiledGroupRules.set(rule, compiled);
  }
  return compiled;
}

/**
 * A node's roles, in ROLES order: its `node-role.kubernetes.io/*` labels, then every
 * matching rule. A node that none of these makes control plane, etcd or worker is a
 * worker: kubeadm leaves workers unlabelled.
 */
export function rolesOf(labels: Labels, rules: readonly RoleRule[]): Role[] {
  const roles = new Set<Role>();
  for (const key of Object.keys(labels ?? {})) {
    if (!key.startsWith(NODE_ROLE_LABEL_PREFIX)) continue;
    const name = key.slice(NODE_ROLE_LABEL_PREFIX.length);
    const role = NODE_ROLE_ALIASES[name] ?? (ROLES as readonly string[]).find((r) => r === name);
    if (role) roles.add(role as Role);
  }
  for (const rule of rules) {
    const compiled = compileRoleRule(rule);
    if (selectorMatches(compiled.selector, labels)) {
      for (const role of compiled.roles) roles.add(role);
    }
  }
  if (!KUBERNETES_ROLES.some((role) => roles.has(role))) roles.add('worker');
  return ROLES.filter((role) => roles.has(role));
}

/** The first rule that matches a Service, or undefined. */
export function matchingGroupRule(
  namespace: string,
  labels: Labels,
  rules: readonly GroupRule[],
): GroupRule | undefined {
  for (const rule of rules) {
    const compiled = compileGroupRule(rule);
    if (compiled.namespaces && !compiled.namespaces.has(namespace)) continue;
    if (compiled.namespacePattern && !compiled.namespacePattern.test(namespace)) continue;
    if (compiled.selector && !selectorMatches(compiled.selector, labels)) continue;
    return rule;
  }
  return undefined;
}

/** The group of a Service's NodePorts: the first rule that matches, else `other`. */
export function groupOf(
  namespace: string,
  labels: Labels,
  rules: readonly GroupRule[],
): NodePortGroup {
  return matchingGroupRule(namespace, labels, rules)?.group ?? 'other';
}
