/**
 * The shape of the configuration file, one schema per top-level section. Every
 * schema states in its `error` what it expects, in words for the operator; the
 * loader turns a failed parse into `path: expected <that>, got <value>`.
 *
 * To add a section (such as `discovery:`): write its schema below, add it to
 * FILE_SECTIONS, convert it in load.ts, and put any rule that spans fields in checks.ts.
 */
import { CALICO_BACKENDS, CALICO_ENCAPSULATIONS, NFS_VERSIONS } from '../catalog/conditions.js';
import { ROLES } from '../catalog/types.js';
import { DETECTIONS, IP_FAMILIES, NODE_ADDRESS_TYPES, NODE_PORT_GROUPS } from '../kinds/cluster.js';
import * as z from '../vendor/zod.js';
import { isNodeAddress, NODE_ADDRESS_EXPECTED } from './address.js';
import { parseDuration } from './duration.js';
import { nonEmptyText, oneOfValues, section, trueOrFalse } from './yaml-file.js';

const PORT_EXPECTED = 'an integer 1-65535';
const ROLE_EXPECTED = `one of ${ROLES.join(', ')}`;

const port = z
  .int({ error: PORT_EXPECTED })
  .min(1, { error: PORT_EXPECTED })
  .max(65535, { error: PORT_EXPECTED });

const role = z.enum(ROLES, { error: ROLE_EXPECTED });

/** A node's roles, or a rule's: at least one. */
const ROLE_LIST = z
  .array(role, { error: `a list of roles, each ${ROLE_EXPECTED}` })
  .min(1, { error: `a non-empty list of roles, each ${ROLE_EXPECTED}` });

const NODE_NAME_EXPECTED = 'a node name (not empty, no spaces around it)';

const node = section({
  name: z
    .string({ error: NODE_NAME_EXPECTED })
    .regex(/^\S(?:.*\S)?$/, { error: NODE_NAME_EXPECTED }),
  address: z
    .string({ error: NODE_ADDRESS_EXPECTED })
    .refine(isNodeAddress, { error: NODE_ADDRESS_EXPECTED }),
  roles: ROLE_LIST,
});

/** Static nodes: the cluster as the file describes it, when no Kubernetes API is at hand. */
export const nodesSection = z.array(node, { error: 'a list of nodes' });

const VERSION_EXPECTED = 'a quoted version such as "1.28" or "v1.28.3"';

/** Decides the version-bound catalog entries (10251/10252 vs 10259/10257) for static nodes. */
export const kubernetesVersionSection = z
  .string({ error: VERSION_EXPECTED })
  .regex(/^v?\d+\.\d+(?:\.\d+)?$/, { error: VERSION_EXPECTED });

const RANGE_EXPECTED = '"MIN-MAX" or {min, max}, ports 1-65535 with MIN <= MAX';

const rangeText = z.string().transform((text, ctx) => {
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  if (!match || min < 1 || max > 65535 || min > max) {
    ctx.addIssue({ code: 'custom', message: RANGE_EXPECTED, input: text });
    return z.NEVER;
  }
  return { min, max };
});

const rangeObject = section({ min: port, max: port }).refine((range) => range.min <= range.max, {
  error: RANGE_EXPECTED,
});

/** The range the API server allocates NodePorts from; decides imanager_nodeport_in_range. */
export const nodePortRangeSection = z.union([rangeText, rangeObject], { error: RANGE_EXPECTED });

const override = section({
  port: port.optional(),
  required: trueOrFalse.optional(),
  enabled: trueOrFalse.optional(),
});

/** Changes to catalog entries, keyed by catalog id; checks.ts checks the ids and ports. */
export const portsSection = z.record(z.string(), override, {
  error: 'a mapping from catalog id to {port, required, enabled}',
});

const ID_EXPECTED = 'an id of lowercase letters, digits and hyphens';

const customPort = section({
  id: z.string({ error: ID_EXPECTED }).regex(/^[a-z0-9-]+$/, { error: ID_EXPECTED }),
  port,
  roles: z.union([z.literal('all'), z.array(role).min(1)], {
    error: `all, or a non-empty list of roles, each ${ROLE_EXPECTED}`,
  }),
  scope: z.enum(['internal', 'external'], { error: 'internal or external' }).default('internal'),
  required: trueOrFalse.default(true),
  component: nonEmptyText('a component name').optional(),
  purpose: z.string({ error: 'a sentence saying what the port is for' }).default(''),
});

/** Ports the user adds to the catalog. */
export const customPortsSection = z.array(customPort, { error: 'a list of ports' });

const SELECTOR_EXPECTED = 'a label selector such as "key=value,other in (a,b)"';
const selector = nonEmptyText(SELECTOR_EXPECTED);
const namespaceList = z.array(z.string({ error: 'a namespace name' }), {
  error: 'a list of namespace names',
});

const roleRule = section({ selector, roles: ROLE_LIST });

const groupRule = section({
  group: oneOfValues(NODE_PORT_GROUPS),
  namespaces: namespaceList.optional(),
  namespacePattern: z.string({ error: 'a regular expression' }).optional(),
  selector: selector.optional(),
});

// Node timers overflow past 2^31-1 ms (about 24.8 days) and then fire at once: a relist
// every 30 days would become a relist every millisecond.
const MAX_DISCOVERY_DURATION_MS = 24 * 24 * 60 * 60 * 1000;

function durationField(expected: string, zeroAllowed: boolean) {
  return z.string({ error: expected }).transform((text, ctx) => {
    const ms = zeroAllowed && (text === '0s' || text === '0') ? 0 : parseDuration(text);
    if (ms === undefined || ms > MAX_DISCOVERY_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: expected, input: text });
      return z.NEVER;
    }
    return ms;
  });
}

const discoveryDuration = durationField(
  'a duration such as 5m (at most 24d), or 0s to turn it off',
  true,
);
const requestTimeout = durationField('a duration such as 30s (at most 24d)', false);

/** How Kubernetes discovery reads the cluster: addresses, roles, NodePort groups. */
export const discoverySection = section({
  addressTypes: z
    .array(oneOfValues(NODE_ADDRESS_TYPES), {
      error: 'a list of address types',
    })
    .optional(),
  roleRules: z.array(roleRule, { error: 'a list of {selector, roles}' }).optional(),
  groupRules: z
    .array(groupRule, { error: 'a list of {group, namespaces, namespacePattern, selector}' })
    .optional(),
  /** The optional reads: pods, namespaces, network (each a read right of its own). */
  detect: z
    .array(oneOfValues(DETECTIONS), {
      error: `a list of ${DETECTIONS.join(', ')}`,
    })
    .optional(),
  relistInterval: discoveryDuration.optional(),
  /** How long one list or /version request may take before it counts as failed. */
  requestTimeout: requestTimeout.optional(),
});

const FAMILIES_EXPECTED = `a non-empty list of ${IP_FAMILIES.join(', ')}`;

/** Which families of a node's addresses and of a name's answers are probed. */
export const ipFamiliesSection = z
  .array(oneOfValues(IP_FAMILIES), {
    error: FAMILIES_EXPECTED,
  })
  .min(1, { error: FAMILIES_EXPECTED });

/**
 * What the cluster runs, where discovery cannot read it or reads it wrong: each key
 * replaces the detected fact, and is all static nodes and `firewall` know.
 */
export const clusterSection = section({
  calicoBackend: oneOfValues(CALICO_BACKENDS).optional(),
  calicoEncapsulation: oneOfValues(CALICO_ENCAPSULATIONS).optional(),
  kubeProxy: trueOrFalse.optional(),
  nfsVersion: z
    .union(
      NFS_VERSIONS.map((v) => z.literal(v)),
      { error: `one of ${NFS_VERSIONS.join(', ')}` },
    )
    .optional(),
});

/** Every top-level section; each is optional, and an empty file is a valid one. */
export const FILE_SECTIONS = {
  nodes: nodesSection.optional(),
  kubernetesVersion: kubernetesVersionSection.optional(),
  nodePortRange: nodePortRangeSection.optional(),
  ports: portsSection.optional(),
  customPorts: customPortsSection.optional(),
  discovery: discoverySection.optional(),
  ipFamilies: ipFamiliesSection.optional(),
  cluster: clusterSection.optional(),
};

export const configFileSchema = section(FILE_SECTIONS);

/** The file after the schema, before the rules that span fields (checks.ts). */
export type ConfigFile = z.output<typeof configFileSchema>;
