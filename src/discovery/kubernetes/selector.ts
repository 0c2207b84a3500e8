/**
 * Kubernetes label selectors in kubectl's text form, so rules in the config read like
 * `kubectl get -l`: `app=gis`, `tier!=db`, `env in (prod,qa)`, `env notin (dev)`,
 * `gpu`, `!gpu`, comma-separated and all required.
 */
import { DNS_SUBDOMAIN_PATTERN } from '../../kinds/cluster.js';
import { DiscoveryError } from './errors.js';

export type LabelRequirement =
  | { readonly key: string; readonly op: 'exists' | 'not-exists' }
  | { readonly key: string; readonly op: 'equals' | 'not-equals'; readonly value: string }
  | { readonly key: string; readonly op: 'in' | 'not-in'; readonly values: readonly string[] };

export interface LabelSelector {
  /** As written, for messages. */
  readonly text: string;
  /** All must hold; none means the selector matches everything. */
  readonly requirements: readonly LabelRequirement[];
}

export type Labels = Readonly<Record<string, string | undefined>> | undefined;

// A qualified name: an optional DNS-subdomain prefix and a name of up to 63 characters.
const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const KEY = `(?:${DNS_SUBDOMAIN_PATTERN}/)?${NAME}`;
const VALUE = `(?:${NAME})?`;

const EXISTS = new RegExp(`^(${KEY})$`);
const NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`);
const VALUE_ONLY = new RegExp(`^${VALUE}$`);

/** Splits at commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim());
}

function parseRequirement(part: string, text: string): LabelRequirement {
  let match = NOT_EXISTS.exec(part);
  if (match?.[1]) return { key: match[1], op: 'not-exists' };
  match = EXISTS.exec(part);
  if (match?.[1]) return { key: match[1], op: 'exists' };
  match = EQUALITY.exec(part);
  if (match?.[1] && match[2]) {
    return {
      key: match[1],
      op: match[2] === '!=' ? 'not-equals' : 'equals',
      value: match[3] ?? '',
    };
  }
  match = SET.exec(part);
  if (match?.[1] && match[2]) {
    const values = (match[3] ?? '').split(',').map((value) => value.trim());
    const bad = values.find((value) => !VALUE_ONLY.test(value));
    if (bad !== undefined) {
      throw new DiscoveryError(
        'INVALID_OPTION',
        `label selector "${text}": "${bad}" is not a label value`,
      );
    }
    return { key: match[1], op: match[2] === 'in' ? 'in' : 'not-in', values };
  }
  throw new DiscoveryError(
    'INVALID_OPTION',
    `label selector "${text}": cannot parse "${part}" (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))`,
  );
}

/** Parses a selector; throws a DiscoveryError (code INVALID_OPTION) that quotes it. */
export function parseLabelSelector(text: string): LabelSelector {
  const trimmed = text.trim();
  if (trimmed === '') return { text, requirements: [] };
  return { text, requirements: splitRequirements(trimmed).map((p) => parseRequirement(p, text)) };
}

/** The reason a selector is invalid, or undefined when it parses; for config validation. */
export function labelSelectorProblem(text: string): string | undefined {
  try {
    parseLabelSelector(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function holds(requirement: LabelRequirement, labels: Labels): boolean {
  const value = labels?.[requirement.key];
  switch (requirement.op) {
    case 'exists':
      return value !== undefined;
    case 'not-exists':
      return value === undefined;
    case 'equals':
      return value === requirement.value;
    case 'not-equals':
      return value !== requirement.value;
    case 'in':
      return value !== undefined && requirement.values.includes(value);
    case 'not-in':
      return value === undefined || !requirement.values.includes(value);
  }
}

/** Whether labels satisfy every requirement, with Kubernetes' semantics (`!=` matches absent keys). */
export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  return selector.requirements.every((requirement) => holds(requirement, labels));
}
