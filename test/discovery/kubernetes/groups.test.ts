import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimRuleFor, groupingFor } from '../../../src/discovery/kubernetes/groups.js';
import type { NamespaceObject, ServiceObject } from '../../../src/discovery/kubernetes/objects.js';
import type { GroupRule } from '../../../src/discovery/kubernetes/rules.js';

function svc(
  namespace: string,
  name: string,
  nodePort: number,
  meta: Partial<NonNullable<ServiceObject['metadata']>> = {},
): ServiceObject {
  return {
    metadata: { namespace, name, ...meta },
    spec: { type: 'NodePort', ports: [{ port: 80, nodePort, protocol: 'TCP' }] },
  };
}

const ns = (name: string, labels?: Record<string, string>): NamespaceObject => ({
  metadata: { name, ...(labels && { labels }) },
});

function decide(
  services: ServiceObject[],
  namespaces: NamespaceObject[] = [],
  options: { groupRules?: GroupRule[]; uiNodePort?: number } = {},
): string[] {
  const grouping = groupingFor(
    { services, namespaces },
    {
      groupRules: options.groupRules ?? [],
      ...(options.uiNodePort && { uiNodePort: options.uiNodePort }),
    },
  );
  return services.map((s) => {
    const d = grouping.groupOf(s);
    return `${s.metadata?.namespace}/${s.metadata?.name} ${d.group} ${d.groupedBy}`;
  });
}

describe('groupingFor', () => {
  it("makes the namespace of iManager's UI NodePort the basic-service namespace", () => {
    assert.deepEqual(
      decide([
        svc('platform', 'ui', 31100),
        svc('platform', 'license-ui', 30183),
        svc('apps', 'x', 30001),
      ]),
      [
        'platform/ui basic-service anchor',
        'platform/license-ui basic-service anchor',
        'apps/x other none',
      ],
    );
  });

  it('follows the UI when the config moved it', () => {
    assert.deepEqual(
      decide([svc('platform', 'ui', 31200), svc('old', 'y', 31100)], [], { uiNodePort: 31200 }),
      ['platform/ui basic-service anchor', 'old/y other none'],
    );
  });

  it('31234 is a basic service wherever it is, without taking its namespace along', () => {
    assert.deepEqual(
      decide([
        svc('kubernetes-dashboard', 'dash', 31234),
        svc('kubernetes-dashboard', 'other', 30002),
      ]),
      ['kubernetes-dashboard/dash basic-service anchor', 'kubernetes-dashboard/other other none'],
    );
  });

  it("marks GIS environments by iManager's keys on namespaces and Services", () => {
    const services = [
      svc('platform', 'ui', 31100),
      svc('site-a', 'iserver', 32145),
      svc('site-b', 'iportal', 30519, { annotations: { 'imanager.supermap.io/site': 'b' } }),
      svc('tools', 'x', 30003, { labels: { app: 'imanager-tools' } }),
    ];
    assert.deepEqual(decide(services, [ns('site-a', { 'supermap.com/site': 'a' }), ns('tools')]), [
      'platform/ui basic-service anchor',
      'site-a/iserver gis-environment marker',
      'site-b/iportal gis-environment marker',
      // A label value naming iManager is no mark: only keys, part-of and owners are.
      'tools/x other none',
    ]);
  });

  it("learns part-of and owners from the anchor's Service", () => {
    const owner = { apiVersion: 'platform.example.io/v1', kind: 'Product', name: 'p' };
    const services = [
      svc('platform', 'ui', 31100, {
        labels: { 'app.kubernetes.io/part-of': 'geo-suite' },
        ownerReferences: [owner, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs' }],
      }),
      svc('site-c', 'a', 30010, { labels: { 'app.kubernetes.io/part-of': 'geo-suite' } }),
      svc('site-d', 'b', 30011, { ownerReferences: [{ ...owner, name: 'q' }] }),
      // Built-in owners teach nothing: a ReplicaSet owns half the cluster's objects.
      svc('elsewhere', 'c', 30012, {
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'z' }],
      }),
    ];
    assert.deepEqual(decide(services), [
      'platform/ui basic-service anchor',
      'site-c/a gis-environment marker',
      'site-d/b gis-environment marker',
      'elsewhere/c other none',
    ]);
  });

  it('tries the configured rules after the anchor and the marks, then the guesses', () => {
    const rules: GroupRule[] = [
      { group: 'gis-environment', namespaces: ['apps'] },
      { group: 'other', namespaces: ['imanager-sandbox'] },
      { group: 'gis-environment', namespaces: ['platform'] },
    ];
    const services = [
      svc('platform', 'ui', 31100),
      svc('apps', 'x', 30001),
      svc('imanager-sandbox', 'y', 30002),
      svc('supermap-site', 'z', 30003),
      svc('imanager', 'w', 30004),
    ];
    assert.deepEqual(decide(services, [], { groupRules: rules }), [
      // The anchor comes before a rule that says otherwise.
      'platform/ui basic-service anchor',
      'apps/x gis-environment rule',
      // A rule's `other` is meant: the guesses do not overrule it.
      'imanager-sandbox/y other rule',
      'supermap-site/z gis-environment guess',
      'imanager/w basic-service guess',
    ]);
  });

  it('says which namespaces the anchor and the marks found', () => {
    const grouping = groupingFor(
      {
        services: [svc('platform', 'ui', 31100)],
        namespaces: [
          ns('site-a', { 'supermap.com/x': '' }),
          ns('platform', { 'supermap.com/x': '' }),
        ],
      },
      { groupRules: [] },
    );
    assert.deepEqual(grouping.anchorNamespaces, ['platform']);
    assert.deepEqual(grouping.markedNamespaces, ['site-a']);
  });

  it('a malformed Service is other, never a crash', () => {
    const grouping = groupingFor(
      { services: [{} as ServiceObject], namespaces: [{} as NamespaceObject] },
      { groupRules: [] },
    );
    assert.deepEqual(grouping.groupOf({ metadata: { labels: 'x' as never } }), {
      group: 'other',
      groupedBy: 'none',
    });
  });
});

describe('claimRuleFor', () => {
  it('is the config line that claims an other NodePort, and it works', () => {
    assert.equal(
      claimRuleFor('ingress-nginx'),
      'discovery.groupRules: - { group: gis-environment, namespaces: [ingress-nginx] }',
    );
    assert.equal(
      claimRuleFor('tools', 'basic-service'),
      'discovery.groupRules: - { group: basic-service, namespaces: [tools] }',
    );
    assert.deepEqual(
      decide([svc('ingress-nginx', 'c', 30880)], [], {
        groupRules: [{ group: 'gis-environment', namespaces: ['ingress-nginx'] }],
      }),
      ['ingress-nginx/c gis-environment rule'],
    );
  });
});
