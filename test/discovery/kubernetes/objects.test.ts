import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clusterFromObjects,
  type EndpointSliceObject,
  type NodeObject,
  nodeFromObject,
  nodePortsFromService,
  parseVersion,
  readyNodesOf,
  type ServiceObject,
} from '../../../src/discovery/kubernetes/objects.js';
import type { ClusterNode, NodePort } from '../../../src/discovery/types.js';
import * as fx from '../../fixtures/kube/cluster.js';

const nodeOptions = {
  addressTypes: ['InternalIP', 'ExternalIP', 'Hostname'] as const,
  ipFamilies: ['ipv4', 'ipv6'] as const,
  roleRules: [],
};
// No configured rules: the guesses (DEFAULT_GROUP_RULES) group these fixtures.
const portOptions = { groupRules: [] };

function skips() {
  const seen: string[] = [];
  return { seen, onSkip: (reason: string) => seen.push(reason) };
}

describe('nodeFromObject', () => {
  const cases: [what: string, obj: NodeObject, node: ClusterNode | undefined][] = [
    [
      'kubeadm control plane',
      fx.controlPlaneNode,
      {
        name: 'k8s-master-1',
        addresses: ['127.0.10.1'],
        roles: ['control-plane'],
        ready: true,
        kubeletVersion: 'v1.25.6',
      },
    ],
    [
      'worker labelled as license center',
      fx.workerNode1,
      {
        name: 'k8s-worker-1',
        addresses: ['127.0.10.2'],
        roles: ['worker', 'license-center'],
        ready: true,
        kubeletVersion: 'v1.25.6',
      },
    ],
    [
      'NotReady worker (Ready condition Unknown)',
      fx.workerNode2,
      {
        name: 'k8s-worker-2',
        addresses: ['127.0.10.3'],
        roles: ['worker'],
        ready: false,
        kubeletVersion: 'v1.25.6',
      },
    ],
    ['node without addresses', fx.nodeWithoutAddresses, undefined],
    ['node without a name', { metadata: {}, status: {} }, undefined],
    ['empty object', {}, undefined],
    [
      'node without nodeInfo or conditions',
      {
        metadata: { name: 'bare' },
        status: { addresses: [{ type: 'InternalIP', address: '127.0.10.9' }] },
      },
      {
        name: 'bare',
        addresses: ['127.0.10.9'],
        roles: ['worker'],
        ready: false,
        kubeletVersion: '',
      },
    ],
    [
      'garbage where arrays belong',
      { metadata: { name: 'odd' }, status: { addresses: 'x', conditions: 7 } } as never,
      undefined,
    ],
  ];
  for (const [what, obj, expected] of cases) {
    it(what, () => assert.deepEqual(nodeFromObject(obj, nodeOptions), expected));
  }

  it('prefers the configured address type', () => {
    const external = nodeFromObject(fx.workerNode1, {
      ...nodeOptions,
      addressTypes: ['ExternalIP', 'InternalIP'],
    });
    assert.deepEqual(external?.addresses, ['127.0.20.2']);
    // No ExternalIP on the control plane: the next type is used.
    const fallback = nodeFromObject(fx.controlPlaneNode, {
      ...nodeOptions,
      addressTypes: ['ExternalIP', 'InternalIP'],
    });
    assert.deepEqual(fallback?.addresses, ['127.0.10.1']);
    const hostname = nodeFromObject(fx.controlPlaneNode, {
      ...nodeOptions,
      addressTypes: ['Hostname'],
    });
    assert.deepEqual(hostname?.addresses, ['k8s-master-1']);
  });

  it('takes every address of the preferred type, so a dual-stack node is probed on both families', () => {
    const dual: NodeObject = {
      metadata: { name: 'dual-1' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '198.18.0.21' },
          { type: 'InternalIP', address: 'fd00:7e57::21' },
          { type: 'InternalIP', address: '198.18.0.21' },
          { type: 'ExternalIP', address: '198.18.1.21' },
          { type: 'Hostname', address: 'dual-1' },
        ],
      },
    };
    assert.deepEqual(nodeFromObject(dual, nodeOptions)?.addresses, [
      '198.18.0.21',
      'fd00:7e57::21',
    ]);
    assert.deepEqual(nodeFromObject(dual, { ...nodeOptions, ipFamilies: ['ipv6'] })?.addresses, [
      'fd00:7e57::21',
    ]);
    // A family with no InternalIP falls to the next type that has one; names always pass.
    const v4only: NodeObject = {
      metadata: { name: 'v4-1' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '198.18.0.22' },
          { type: 'Hostname', address: 'v4-1.cluster.test' },
        ],
      },
    };
    assert.deepEqual(nodeFromObject(v4only, { ...nodeOptions, ipFamilies: ['ipv6'] })?.addresses, [
      'v4-1.cluster.test',
    ]);
  });

  it('reports what it skips', () => {
    const { seen, onSkip } = skips();
    nodeFromObject(fx.nodeWithoutAddresses, { ...nodeOptions, onSkip });
    assert.deepEqual(seen, ['node without an address of the configured types and IP families']);
  });
});

describe('nodePortsFromService', () => {
  const slices: EndpointSliceObject[] = fx.allEndpointSlices;
  const base = { type: 'NodePort', trafficPolicy: 'Cluster', protocol: 'TCP' } as const;
  const cases: [what: string, svc: ServiceObject, ports: NodePort[]][] = [
    [
      'basic service',
      fx.imanagerDashboardUi,
      [
        {
          ...base,
          namespace: 'supermap',
          service: 'imanager-dashboard-ui',
          portName: 'http',
          servicePort: 8080,
          nodePort: 31100,
          group: 'basic-service',
          groupedBy: 'guess',
        },
      ],
    ],
    [
      'two ports, one unnamed',
      fx.imanagerGateway,
      [
        {
          ...base,
          namespace: 'supermap',
          service: 'imanager-gateway',
          portName: 'http',
          servicePort: 8080,
          nodePort: 30417,
          group: 'basic-service',
          groupedBy: 'guess',
        },
        {
          ...base,
          namespace: 'supermap',
          service: 'imanager-gateway',
          portName: '8443',
          servicePort: 8443,
          nodePort: 31872,
          group: 'basic-service',
          groupedBy: 'guess',
        },
      ],
    ],
    ['ClusterIP service is ignored', fx.imanagerHiddenDb, []],
    [
      'GIS environment',
      fx.gisServer,
      [
        {
          ...base,
          namespace: 'supermap-gis-7f3a',
          service: 'iserver',
          portName: 'http',
          servicePort: 8090,
          nodePort: 32145,
          group: 'gis-environment',
          groupedBy: 'guess',
        },
      ],
    ],
    [
      'Local policy: only nodes with a ready endpoint, across slices, not other services',
      fx.gisPhpMyAdmin,
      [
        {
          ...base,
          trafficPolicy: 'Local',
          namespace: 'supermap-gis-7f3a',
          service: 'phpmyadmin',
          portName: 'http',
          servicePort: 80,
          nodePort: 30080,
          group: 'gis-environment',
          groupedBy: 'guess',
          readyNodes: ['k8s-master-1', 'k8s-worker-1'],
        },
      ],
    ],
    [
      'UDP port kept with its protocol',
      fx.gisSyslog,
      [
        {
          ...base,
          protocol: 'UDP',
          namespace: 'supermap-gis-7f3a',
          service: 'syslog',
          portName: 'syslog',
          servicePort: 514,
          nodePort: 30514,
          group: 'gis-environment',
          groupedBy: 'guess',
        },
      ],
    ],
    [
      'LoadBalancer',
      fx.ingressLoadBalancer,
      [
        {
          ...base,
          type: 'LoadBalancer',
          namespace: 'ingress-nginx',
          service: 'ingress-nginx-controller',
          portName: 'http',
          servicePort: 80,
          nodePort: 30880,
          group: 'other',
          groupedBy: 'none',
        },
        {
          ...base,
          type: 'LoadBalancer',
          namespace: 'ingress-nginx',
          service: 'ingress-nginx-controller',
          portName: 'https',
          servicePort: 443,
          nodePort: 30443,
          group: 'other',
          groupedBy: 'none',
        },
      ],
    ],
    [
      'port without a nodePort is skipped, the other kept',
      fx.serviceWithPortWithoutNodePort,
      [
        {
          ...base,
          namespace: 'supermap',
          service: 'imanager-half-exposed',
          portName: 'ok',
          servicePort: 80,
          nodePort: 30081,
          group: 'basic-service',
          groupedBy: 'guess',
        },
      ],
    ],
    ['no spec', { metadata: { name: 'x', namespace: 'y' } }, []],
    [
      'nodePort out of range and not a number',
      {
        metadata: { name: 'x', namespace: 'y' },
        spec: {
          type: 'NodePort',
          ports: [
            { port: 1, nodePort: 70000 },
            { port: 2, nodePort: '30001' as never },
          ],
        },
      },
      [],
    ],
    [
      'protocol defaults to TCP',
      {
        metadata: { name: 'x', namespace: 'y' },
        spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30002 }] },
      },
      [
        {
          ...base,
          namespace: 'y',
          service: 'x',
          portName: '80',
          servicePort: 80,
          nodePort: 30002,
          group: 'other',
          groupedBy: 'none',
        },
      ],
    ],
  ];
  for (const [what, svc, expected] of cases) {
    it(what, () => assert.deepEqual(nodePortsFromService(svc, slices, portOptions), expected));
  }

  it('a Local service with no slices is answered by no node', () => {
    const [port] = nodePortsFromService(fx.gisPhpMyAdmin, [], portOptions);
    assert.deepEqual(port?.readyNodes, []);
  });

  it('takes every address of the preferred type, so a dual-stack node is probed on both families', () => {
    const dual: NodeObject = {
      metadata: { name: 'dual-1' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '198.18.0.21' },
          { type: 'InternalIP', address: 'fd00:7e57::21' },
          { type: 'InternalIP', address: '198.18.0.21' },
          { type: 'ExternalIP', address: '198.18.1.21' },
          { type: 'Hostname', address: 'dual-1' },
        ],
      },
    };
    assert.deepEqual(nodeFromObject(dual, nodeOptions)?.addresses, [
      '198.18.0.21',
      'fd00:7e57::21',
    ]);
    assert.deepEqual(nodeFromObject(dual, { ...nodeOptions, ipFamilies: ['ipv6'] })?.addresses, [
      'fd00:7e57::21',
    ]);
    // A family with no InternalIP falls to the next type that has one; names always pass.
    const v4only: NodeObject = {
      metadata: { name: 'v4-1' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '198.18.0.22' },
          { type: 'Hostname', address: 'v4-1.cluster.test' },
        ],
      },
    };
    assert.deepEqual(nodeFromObject(v4only, { ...nodeOptions, ipFamilies: ['ipv6'] })?.addresses, [
      'v4-1.cluster.test',
    ]);
  });

  it('reports what it skips', () => {
    const { seen, onSkip } = skips();
    nodePortsFromService(fx.serviceWithPortWithoutNodePort, [], { ...portOptions, onSkip });
    assert.deepEqual(seen, ['service port without a nodePort']);
  });
});

describe('readyNodesOf', () => {
  it('counts an endpoint whose ready condition is absent as ready', () => {
    const slice: EndpointSliceObject = {
      metadata: { namespace: 'ns', labels: { 'kubernetes.io/service-name': 'svc' } },
      endpoints: [
        { nodeName: 'b', conditions: {} },
        { nodeName: 'a' },
        { conditions: { ready: true } },
      ],
    };
    assert.deepEqual(readyNodesOf('ns', 'svc', [slice]), ['a', 'b']);
    assert.deepEqual(readyNodesOf('other', 'svc', [slice]), []);
  });
});

describe('parseVersion', () => {
  const cases: [body: unknown, version: string | undefined][] = [
    [{ major: '1', minor: '25', gitVersion: 'v1.25.6' }, '1.25'],
    [{ major: '1', minor: '22', gitVersion: 'v1.22.17' }, '1.22'],
    [{ major: '1', minor: '28+', gitVersion: 'v1.28.9-eks-036c24b' }, '1.28'],
    [{ major: '', minor: '', gitVersion: 'v1.30.1+k3s1' }, '1.30'],
    [{ gitVersion: 'garbage' }, undefined],
    [{}, undefined],
    ['1.25', undefined],
    [null, undefined],
  ];
  for (const [body, version] of cases) {
    it(`${JSON.stringify(body)} -> ${version}`, () => assert.equal(parseVersion(body), version));
  }
});

describe('clusterFromObjects', () => {
  it('turns the fixture cluster into sorted nodes and NodePorts', () => {
    const { nodes, nodePorts } = clusterFromObjects(
      {
        nodes: [fx.workerNode2, fx.nodeWithoutAddresses, fx.controlPlaneNode, fx.workerNode1],
        services: fx.allServices,
        endpointSlices: fx.allEndpointSlices,
      },
      { ...nodeOptions, ...portOptions },
    );
    assert.deepEqual(
      nodes.map((n) => n.name),
      ['k8s-master-1', 'k8s-worker-1', 'k8s-worker-2'],
    );
    assert.deepEqual(
      nodePorts.map((p) => `${p.namespace}/${p.service}:${p.nodePort}/${p.protocol}`),
      [
        'ingress-nginx/ingress-nginx-controller:30443/TCP',
        'ingress-nginx/ingress-nginx-controller:30880/TCP',
        'kubernetes-dashboard/kubernetes-dashboard:31234/TCP',
        'supermap/imanager-dashboard-ui:31100/TCP',
        'supermap/imanager-gateway:30417/TCP',
        'supermap/imanager-gateway:31872/TCP',
        'supermap-gis-7f3a/iserver:32145/TCP',
        'supermap-gis-7f3a/phpmyadmin:30080/TCP',
        'supermap-gis-7f3a/syslog:30514/UDP',
      ],
    );
    const phpMyAdmin = nodePorts.find((p) => p.service === 'phpmyadmin');
    assert.deepEqual(phpMyAdmin?.readyNodes, ['k8s-master-1', 'k8s-worker-1']);
  });
});
