import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { entriesForRoles, parseMinorVersion, versionInRange } from '../../src/catalog/applies.js';
import { effectiveCatalog, NO_CATALOG_CHANGES } from '../../src/catalog/overrides.js';
import { CATALOG, DEFAULT_NODEPORT_RANGE, UNPROBED_CATALOG } from '../../src/catalog/ports.js';
import { notProbedReason, PROTOCOLS } from '../../src/catalog/types.js';

describe('catalog', () => {
  test('holds every fixed and default port of the iManager documentation', () => {
    const byPort = new Map(CATALOG.map((entry) => [entry.port, entry]));
    const fixed = [31234, 6443, 2379, 2380, 10250, 10251, 10252, 9101, 3307, 9183, 2049, 179];
    for (const port of fixed) assert.equal(byPort.get(port)?.category, 'fixed', `port ${port}`);
    for (const port of [31100, 5000]) assert.equal(byPort.get(port)?.category, 'default');
    assert.deepEqual(DEFAULT_NODEPORT_RANGE, { min: 30000, max: 32767 });
  });

  test('ids are unique across probed and unprobed entries, and TCP ports are unique', () => {
    const ids = [...CATALOG, ...UNPROBED_CATALOG].map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(new Set(CATALOG.map((e) => e.port)).size, CATALOG.length);
  });

  test('only 31234 and 31100 are external; NFS is the one optional port', () => {
    const external = CATALOG.filter((e) => e.scope === 'external').map((e) => e.port);
    assert.deepEqual(external.sort(), [31100, 31234]);
    assert.deepEqual(
      CATALOG.filter((e) => !e.required).map((e) => e.port),
      [2049],
    );
  });

  test('the ports the iManager page leaves out, each with its condition and source', () => {
    const byId = new Map(CATALOG.map((e) => [e.id, e]));
    assert.deepEqual(
      ['kube-proxy-health', 'calico-typha', 'kubelet-readonly', 'rpcbind'].map((id) => {
        const e = byId.get(id);
        return [
          id,
          e?.port,
          e?.roles,
          e?.condition?.kind,
          e?.expected,
          e?.source?.url !== undefined,
        ];
      }),
      [
        ['kube-proxy-health', 10256, 'all', 'kube-proxy', undefined, true],
        ['calico-typha', 5473, ['calico-typha'], undefined, undefined, true],
        ['kubelet-readonly', 10255, 'all', undefined, 'closed', true],
        ['rpcbind', 111, ['nfs-server'], 'nfs-version', undefined, true],
      ],
    );
    assert.deepEqual(byId.get('calico-bgp')?.condition, { kind: 'calico-bgp' });
    // Every entry names the document its facts come from.
    for (const entry of [...CATALOG, ...UNPROBED_CATALOG]) assert.ok(entry.source?.title, entry.id);
  });

  test('UDP and IP-protocol entries are apart from the probed ones, flagged as not probed', () => {
    assert.deepEqual(
      UNPROBED_CATALOG.map((e) =>
        e.protocol === 'udp' ? `${e.id} ${e.port}/udp` : `${e.id} ip ${e.ipProtocol}`,
      ),
      ['calico-vxlan 4789/udp', 'calico-ipip ip 4', 'rpcbind-udp 111/udp'],
    );
    assert.ok(UNPROBED_CATALOG.every((e) => e.probed === false && e.condition !== undefined));
    assert.deepEqual(UNPROBED_CATALOG.map(notProbedReason), [
      'not probed: UDP',
      'not probed: IP protocol',
      'not probed: UDP',
    ]);
    // Every probed entry speaks a protocol that has a prober (probe/registry.ts keys on PROTOCOLS).
    assert.ok(CATALOG.every((e) => (PROTOCOLS as readonly string[]).includes(e.protocol)));
  });

  test('the legacy health ports end at 1.19; their localhost successors begin at 1.17', () => {
    const legacy = CATALOG.filter((e) => e.port === 10251 || e.port === 10252);
    const secure = CATALOG.filter((e) => e.port === 10259 || e.port === 10257);
    for (const entry of legacy) assert.deepEqual(entry.kubernetes, { until: '1.19' });
    for (const entry of secure) {
      assert.deepEqual(entry.kubernetes, { from: '1.17' });
      assert.equal(entry.localhostOnly, true);
    }
  });

  test('the control-plane role needs the API server, etcd and the kubelet', () => {
    const ports = entriesForRoles(CATALOG, ['control-plane']).map((e) => e.port);
    for (const port of [6443, 2379, 2380, 10250]) assert.ok(ports.includes(port), `${port}`);
    assert.ok(!ports.includes(3307));
    const worker = entriesForRoles(CATALOG, ['worker']).map((e) => e.port);
    assert.deepEqual(
      worker.sort((a, b) => a - b),
      [179, 9101, 10250, 10255, 10256, 31100, 31234],
    );
  });
});

describe('versions', () => {
  test('parseMinorVersion reads API and kubelet spellings', () => {
    const table: [string, [number, number] | undefined][] = [
      ['1.28', [1, 28]],
      ['v1.22.17', [1, 22]],
      ['1.30+', [1, 30]],
      ['v1.27.3+k3s1', [1, 27]],
      ['latest', undefined],
      ['', undefined],
    ];
    for (const [text, want] of table) assert.deepEqual(parseMinorVersion(text), want, text);
  });

  test('versionInRange: until is exclusive, unknown versions fall in no bounded range', () => {
    const table: [string | undefined, { from?: string; until?: string } | undefined, boolean][] = [
      ['1.22', { until: '1.23' }, true],
      ['1.23', { until: '1.23' }, false],
      ['1.23', { from: '1.23' }, true],
      ['1.9', { from: '1.23' }, false],
      ['2.0', { until: '1.23' }, false],
      [undefined, { until: '1.23' }, false],
      [undefined, undefined, true],
      ['1.28', {}, true],
    ];
    for (const [version, range, want] of table) {
      assert.equal(versionInRange(version, range), want, `${version} in ${JSON.stringify(range)}`);
    }
  });
});

describe('effectiveCatalog', () => {
  test('without changes it is the catalog', () => {
    assert.deepEqual(effectiveCatalog(NO_CATALOG_CHANGES), CATALOG);
  });

  test('moves default ports, makes entries optional, removes them and adds custom ports', () => {
    const catalog = effectiveCatalog({
      overrides: {
        'imanager-ui': { port: 31200 },
        kubelet: { required: false },
        'image-registry': { enabled: false },
      },
      custom: [
        {
          id: 'gis-gateway',
          port: 8443,
          roles: ['worker'],
          scope: 'internal',
          required: true,
          component: 'gis-gateway',
          purpose: 'gateway',
        },
      ],
    });
    const byId = new Map(catalog.map((e) => [e.id, e]));
    assert.equal(byId.get('imanager-ui')?.port, 31200);
    assert.equal(byId.get('kubelet')?.required, false);
    assert.equal(byId.has('image-registry'), false);
    assert.equal(byId.get('gis-gateway')?.category, 'custom');
    assert.equal(byId.get('gis-gateway')?.protocol, 'tcp');
    assert.equal(catalog.length, CATALOG.length);
  });
});
