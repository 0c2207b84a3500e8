import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPOSITION_LABELS, sameTargetLabels } from '../../src/metrics/labels.js';
import type { Target } from '../../src/targets/types.js';
import { catalogTarget, nodePortTarget } from '../results/targets.js';

/** One change per label of the contract's target families: each must show in the text. */
const CHANGES: readonly [string, Partial<Target>][] = [
  ['vantage', { vantage: 'external' }],
  ['node', { node: 'node-2' }],
  ['address', { address: '10.0.0.2' }],
  ['ip', { ip: '10.0.0.3' }],
  ['port', { port: 6444 }],
  ['category', { category: 'default' }],
  ['component', { component: 'etcd' }],
  ['port_name', { portName: 'etcd-client' }],
  ['scope', { scope: 'external' }],
  ['required', { required: false }],
  ['expected', { expected: 'closed' }],
];

function text(t: Target): string {
  const { identifying, rest } = EXPOSITION_LABELS.encode(t);
  return identifying + rest;
}

describe('exposition label encoding', () => {
  it('puts the identifying labels first and the NodePort labels last, escaped', () => {
    const t = nodePortTarget({ component: 'a"b\\c\nd' });
    const { identifying, rest } = EXPOSITION_LABELS.encode(t);
    assert.equal(
      identifying,
      'vantage="central",node="node-1",address="10.0.0.1",ip="10.0.0.1",port="31500",protocol="tcp"',
    );
    assert.equal(
      rest,
      ',category="nodeport",component="a\\"b\\\\c\\nd",port_name="http",scope="external",required="true",expected="open",k8s_namespace="imanager-gis",k8s_service="gisapp-1a2b",group="gis-environment"',
    );
  });

  it('calls two targets the same exactly when their label text is the same', () => {
    const base = catalogTarget();
    assert.equal(sameTargetLabels(base, catalogTarget()), true);
    for (const [label, change] of CHANGES) {
      const changed = catalogTarget(change);
      assert.notEqual(text(changed), text(base), label);
      assert.equal(sameTargetLabels(base, changed), false, label);
    }
    const np = nodePortTarget();
    assert.equal(sameTargetLabels(np, nodePortTarget()), true);
    assert.equal(sameTargetLabels(np, { ...np, nodePort: undefined }), false);
    for (const field of ['namespace', 'service', 'group'] as const) {
      const other = {
        ...np,
        nodePort: { ...(np.nodePort as NonNullable<Target['nodePort']>), [field]: 'x' },
      };
      assert.notEqual(text(other), text(np), field);
      assert.equal(sameTargetLabels(np, other as Target), false, field);
    }
  });
});
