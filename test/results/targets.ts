import { isIP } from 'node:net';
import { type Target, targetKey } from '../../src/targets/types.js';

type TargetFields = Omit<Target, 'key' | 'ip'> & { readonly ip?: string };

const BASE: TargetFields = {
  vantage: 'central',
  node: 'node-1',
  address: '10.0.0.1',
  port: 6443,
  protocol: 'tcp',
  category: 'fixed',
  component: 'kube-apiserver',
  portName: 'kube-apiserver',
  scope: 'internal',
  required: true,
  expected: 'open',
};

/** A catalog target (kube-apiserver on node-1 unless overridden), keyed like the planner keys it. */
export function catalogTarget(fields: Partial<TargetFields> = {}): Target {
  const merged = { ...BASE, ...fields };
  // The IP probed is the address when it is a literal, as the planner sets it.
  const t = { ...merged, ip: merged.ip ?? (isIP(merged.address) === 0 ? '' : merged.address) };
  return { ...t, key: targetKey(t) };
}

/** A NodePort target of an iManager GIS environment. */
export function nodePortTarget(fields: Partial<TargetFields> = {}): Target {
  return catalogTarget({
    port: 31500,
    category: 'nodeport',
    component: 'gisapp-1a2b',
    portName: 'http',
    scope: 'external',
    nodePort: { namespace: 'imanager-gis', service: 'gisapp-1a2b', group: 'gis-environment' },
    ...fields,
  });
}
