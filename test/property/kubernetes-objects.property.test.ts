/**
 * The Kubernetes object parsers against arbitrary objects: shaped like real Nodes,
 * Services and EndpointSlices but with any value in any field (null, numbers for
 * strings, arrays for objects, missing parts), and plain garbage. They never throw,
 * and what they return is well-typed, so a malformed object from a buggy controller
 * or a proxy can only ever be skipped, never crash discovery or poison the labels.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ROLES } from '../../src/catalog/types.js';
import {
  clusterFromObjects,
  type EndpointSliceObject,
  type NodeObject,
  nodeFromObject,
  nodePortsFromService,
  parseVersion,
  SERVICE_NAME_LABEL,
  type ServiceObject,
} from '../../src/discovery/kubernetes/objects.js';
import { DEFAULT_KUBERNETES_DISCOVERY_OPTIONS } from '../../src/discovery/kubernetes/options.js';
import type { ClusterNode, NodePort } from '../../src/discovery/types.js';

const RUNS = { numRuns: 1000, includeErrorInReport: true } as const;

const OPTIONS = {
  ...DEFAULT_KUBERNETES_DISCOVERY_OPTIONS,
  roleRules: [{ selector: 'imanager/license=true', roles: ['license-center' as const] }],
};

// ---- arbitraries: real shapes, any value anywhere ----

/** A field's value: mostly one that makes sense, sometimes anything at all. */
function field<T>(sensible: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: sensible },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom(null, undefined, '', 0, -1, 1.5, true, [], {}, 'x', Number.NaN),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    },
  );
}

const name = field(fc.constantFrom('k8s-worker-1', 'k8s-master-1', 'n.example', 'a'));
const namespace = field(fc.constantFrom('supermap', 'imanager-gis-1', 'kube-system', 'default'));
const labels = field(
  fc.dictionary(
    fc.constantFrom(
      'node-role.kubernetes.io/control-plane',
      'node-role.kubernetes.io/master',
      'node-role.kubernetes.io/license-center',
      'node-role.kubernetes.io/',
      'imanager/license',
      SERVICE_NAME_LABEL,
      'app',
    ),
    field(fc.constantFrom('', 'true', 'gateway', 'k8s-worker-1')),
    { maxKeys: 4 },
  ),
);
const metadata = field(
  fc.record(
    { name, namespace, labels, resourceVersion: field(fc.constant('123')) },
    {
      requiredKeys: [],
    },
  ),
);

const nodeObject = fc.record(
  {
    metadata,
    status: field(
      fc.record(
        {
          addresses: field(
            fc.array(
              field(
                fc.record(
                  {
                    type: field(fc.constantFrom('InternalIP', 'ExternalIP', 'Hostname', 'Other')),
                    address: field(fc.constantFrom('10.0.0.1', 'fd00::1', 'n1', '')),
                  },
                  { requiredKeys: [] },
                ),
              ),
              { maxLength: 3 },
            ),
          ),
          conditions: field(
            fc.array(
              field(
                fc.record({
                  type: field(fc.constantFrom('Ready', 'MemoryPressure')),
                  status: field(fc.constantFrom('True', 'False', 'Unknown')),
                }),
              ),
              { maxLength: 2 },
            ),
          ),
          nodeInfo: field(fc.record({ kubeletVersion: field(fc.constantFrom('v1.28.3', '')) })),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

const servicePort = field(
  fc.record(
    {
      name: field(fc.constantFrom('http', 'https', '')),
      port: field(fc.integer({ min: -1, max: 70000 })),
      nodePort: field(fc.oneof(fc.integer({ min: 30000, max: 32767 }), fc.integer())),
      protocol: field(fc.constantFrom('TCP', 'UDP', 'SCTP', 'HTTP')),
    },
    { requiredKeys: [] },
  ),
);

const serviceObject = fc.record(
  {
    metadata,
    spec: field(
      fc.record(
        {
          type: field(fc.constantFrom('NodePort', 'LoadBalancer', 'ClusterIP', 'ExternalName')),
          externalTrafficPolicy: field(fc.constantFrom('Local', 'Cluster')),
          ports: field(fc.array(servicePort, { maxLength: 3 })),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);

const sliceObject = fc.record(
  {
    metadata,
    endpoints: field(
      fc.array(
        field(
          fc.record(
            {
              nodeName: name,
              conditions: field(fc.record({ ready: field(fc.constantFrom(true, false, null)) })),
            },
            { requiredKeys: [] },
          ),
        ),
        { maxLength: 3 },
      ),
    ),
  },
  { requiredKeys: [] },
);

/** Anything an informer could hand over, even what no API server sends. */
function orGarbage<T>(shaped: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 6, arbitrary: shaped }, { weight: 1, arbitrary: fc.anything() });
}

// ---- what a parsed value must look like ----

const nonEmptyString = (value: unknown) => typeof value === 'string' && value.length > 0;
const isPort = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;

function assertNode(node: ClusterNode): void {
  assert.ok(nonEmptyString(node.name), `name ${JSON.stringify(node.name)}`);
  assert.ok(
    node.addresses.length > 0 && node.addresses.every(nonEmptyString),
    `addresses ${JSON.stringify(node.addresses)}`,
  );
  assert.ok(node.roles.length > 0 && node.roles.every((r) => ROLES.includes(r)), 'roles');
  assert.equal(typeof node.ready, 'boolean');
  assert.equal(typeof node.kubeletVersion, 'string');
}

function assertNodePort(port: NodePort): void {
  for (const key of ['namespace', 'service', 'portName'] as const) {
    assert.ok(nonEmptyString(port[key]), `${key} ${JSON.stringify(port[key])}`);
  }
  assert.ok(isPort(port.nodePort), `nodePort ${port.nodePort}`);
  assert.ok(isPort(port.servicePort), `servicePort ${port.servicePort}`);
  assert.ok(['TCP', 'UDP', 'SCTP'].includes(port.protocol));
  assert.ok(['basic-service', 'gis-environment', 'other'].includes(port.group));
  assert.ok(['NodePort', 'LoadBalancer'].includes(port.type));
  assert.ok(['Cluster', 'Local'].includes(port.trafficPolicy));
  if (port.readyNodes !== undefined) assert.ok(port.readyNodes.every(nonEmptyString));
}

// ---- properties ----

describe('Kubernetes object parsers with arbitrary objects', () => {
  it('nodeFromObject never throws; a node it returns is well-typed', () => {
    let parsed = 0;
    fc.assert(
      fc.property(orGarbage(nodeObject), (obj) => {
        const node = nodeFromObject(obj as NodeObject, { ...OPTIONS, onSkip: () => undefined });
        if (node) {
          parsed++;
          assertNode(node);
        }
      }),
      RUNS,
    );
    assert.ok(parsed > 0, 'no generated node was valid: the generator checks nothing');
  });

  it('nodePortsFromService never throws; every NodePort it returns is well-typed', () => {
    let parsed = 0;
    fc.assert(
      fc.property(
        orGarbage(serviceObject),
        fc.array(orGarbage(sliceObject), { maxLength: 3 }),
        (svc, slices) => {
          const ports = nodePortsFromService(
            svc as ServiceObject,
            slices as EndpointSliceObject[],
            { ...OPTIONS, onSkip: () => undefined },
          );
          assert.ok(Array.isArray(ports));
          parsed += ports.length;
          for (const port of ports) assertNodePort(port);
        },
      ),
      RUNS,
    );
    assert.ok(parsed > 0, 'no generated service had a valid NodePort');
  });

  it('clusterFromObjects never throws, sorts, and gives equal snapshots for equal input', () => {
    fc.assert(
      fc.property(
        fc.array(orGarbage(nodeObject), { maxLength: 5 }),
        fc.array(orGarbage(serviceObject), { maxLength: 5 }),
        fc.array(orGarbage(sliceObject), { maxLength: 5 }),
        (nodes, services, endpointSlices) => {
          const objects = {
            nodes: nodes as NodeObject[],
            services: services as ServiceObject[],
            endpointSlices: endpointSlices as EndpointSliceObject[],
          };
          const cluster = clusterFromObjects(objects, OPTIONS);
          for (const node of cluster.nodes) assertNode(node);
          for (const port of cluster.nodePorts) assertNodePort(port);
          const names = cluster.nodes.map((n) => n.name);
          assert.deepEqual(
            names,
            [...names].sort((a, b) => a.localeCompare(b)),
          );
          // The source compares snapshots as JSON to skip unchanged ones: input order must
          // not matter. (The generator may repeat a name, which no real cache holds.)
          const again = clusterFromObjects(
            {
              nodes: [...objects.nodes].reverse(),
              services: [...objects.services].reverse(),
              endpointSlices: [...objects.endpointSlices].reverse(),
            },
            OPTIONS,
          );
          const asSet = (ports: readonly NodePort[]) => ports.map((p) => JSON.stringify(p)).sort();
          assert.deepEqual(asSet(again.nodePorts), asSet(cluster.nodePorts));
        },
      ),
      RUNS,
    );
  });

  it('parseVersion never throws and returns major.minor or nothing', () => {
    const version = fc.record(
      {
        major: field(fc.constantFrom('1', '01', '1+', 'v1')),
        minor: field(fc.constantFrom('28', '28+', '', '99999999999999999999')),
        gitVersion: field(fc.constantFrom('v1.28.3', 'v1.28.3-eks-1', '1.2', 'vx')),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(orGarbage(version), (body) => {
        const parsed = parseVersion(body);
        if (parsed !== undefined) assert.match(parsed, /^\d+\.\d+$/);
      }),
      RUNS,
    );
  });
});
