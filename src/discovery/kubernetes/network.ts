/**
 * Calico's networking and kube-proxy, read from the objects that configure them. Pure:
 * the I/O is in facts-reader.ts.
 *
 * - Manifest installs (calico.yaml, kube-system) set calico-node's
 *   CALICO_NETWORKING_BACKEND from the calico-config ConfigMap (`calico_backend`:
 *   `bird`, `vxlan` or `none`); the default IP pool's encapsulation is
 *   CALICO_IPV4POOL_IPIP (default Always) and CALICO_IPV4POOL_VXLAN (default Never).
 *   These only shape the pool made at first start, so a pool changed later is not seen:
 *   the config's `cluster:` section corrects that.
 * - Operator installs (calico-system) render the backend into the same variable, and
 *   make the pools themselves (NO_DEFAULT_POOLS): the Installation resource `default`
 *   (operator.tigera.io/v1) says `calicoNetwork.bgp` and each pool's `encapsulation`;
 *   its `status.computed` holds them with the operator's defaults filled in.
 */
import {
  CALICO_BACKENDS,
  type CalicoBackend,
  type CalicoEncapsulation,
  type ClusterFacts,
} from '../../catalog/conditions.js';
import type { ObjectMeta } from './objects.js';

export interface EnvVarObject {
  readonly name?: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly configMapKeyRef?: { readonly name?: string; readonly key?: string };
  };
}

export interface DaemonSetObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly template?: {
      readonly spec?: {
        readonly containers?: readonly {
          readonly name?: string;
          readonly env?: readonly EnvVarObject[];
        }[];
      };
    };
  };
}

export interface ConfigMapObject {
  readonly metadata?: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
}

interface InstallationSpec {
  readonly cni?: { readonly type?: string };
  readonly calicoNetwork?: {
    readonly bgp?: string;
    readonly ipPools?: readonly { readonly encapsulation?: string }[];
  };
}

export interface InstallationObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: InstallationSpec;
  readonly status?: { readonly computed?: InstallationSpec };
}

/** A ConfigMap key an env var takes its value from. */
export interface ConfigMapRef {
  readonly name: string;
  readonly key: string;
}

/** What calico-node's environment says; `configMapRefs` lists what must be fetched to say more. */
export interface CalicoReading {
  readonly facts: Pick<ClusterFacts, 'calicoBackend' | 'calicoEncapsulation'>;
  /** The ConfigMaps whose keys the environment names (calico-config's calico_backend). */
  readonly configMapRefs: readonly ConfigMapRef[];
}

function calicoContainer(ds: DaemonSetObject) {
  const containers = Array.isArray(ds?.spec?.template?.spec?.containers)
    ? ds.spec.template.spec.containers
    : [];
  return containers.find((c) => c?.name === 'calico-node') ?? containers[0];
}

/** The env var's value: literal, or from a ConfigMap `lookup` knows; undefined when unknown. */
function envValue(
  env: readonly EnvVarObject[],
  name: string,
  lookup: (ref: ConfigMapRef) => string | undefined,
): { set: boolean; value?: string; ref?: ConfigMapRef } {
  const variable = env.find((e) => e?.name === name);
  if (!variable) return { set: false };
  if (typeof variable.value === 'string') return { set: true, value: variable.value };
  const ref = variable.valueFrom?.configMapKeyRef;
  if (typeof ref?.name === 'string' && typeof ref.key === 'string') {
    const found = { name: ref.name, key: ref.key };
    const value = lookup(found);
    return value === undefined ? { set: true, ref: found } : { set: true, value, ref: found };
  }
  return { set: true };
}

/** Always and CrossSubnet turn an encapsulation on (CrossSubnet: between subnets only). */
function modeOn(value: string | undefined): boolean {
  return value !== undefined && /^(always|cross-?subnet)$/i.test(value.trim());
}

/**
 * Calico's backend and encapsulation from its calico-node DaemonSet. `lookup` answers
 * ConfigMap keys already fetched; a key it cannot answer leaves that fact unknown and
 * names the ConfigMap in `configMapRefs`.
 */
export function calicoFromDaemonSet(
  ds: DaemonSetObject,
  lookup: (ref: ConfigMapRef) => string | undefined = () => undefined,
): CalicoReading {
  const container = calicoContainer(ds);
  const env = Array.isArray(container?.env) ? container.env : [];
  const refs: ConfigMapRef[] = [];
  const read = (name: string) => {
    const found = envValue(env, name, lookup);
    if (found.ref && found.value === undefined) refs.push(found.ref);
    return found;
  };
  const backendVar = read('CALICO_NETWORKING_BACKEND');
  const backendText = backendVar.set ? backendVar.value?.trim().toLowerCase() : 'bird';
  const backend = CALICO_BACKENDS.find((b) => b === backendText);
  const facts: { calicoBackend?: CalicoBackend; calicoEncapsulation?: CalicoEncapsulation } = {};
  if (backend) facts.calicoBackend = backend;
  if (backend === 'vxlan') facts.calicoEncapsulation = 'vxlan';
  if (backend === 'none') facts.calicoEncapsulation = 'none';
  if (backend === 'bird') {
    const vxlan = read('CALICO_IPV4POOL_VXLAN');
    const ipip = read('CALICO_IPV4POOL_IPIP');
    const vxlan6 = read('CALICO_IPV6POOL_VXLAN');
    const noDefaultPools = read('NO_DEFAULT_POOLS').value?.trim().toLowerCase() === 'true';
    const unresolved = [vxlan, ipip, vxlan6].some((v) => v.set && v.value === undefined);
    // Without a default pool (the operator makes the pools) the variables say nothing.
    if (!unresolved && !(noDefaultPools && !vxlan.set && !ipip.set)) {
      facts.calicoEncapsulation =
        modeOn(vxlan.value) || modeOn(vxlan6.value)
          ? 'vxlan'
          : modeOn(ipip.set ? ipip.value : 'Always')
            ? 'ipip'
            : 'none';
    }
  }
  return { facts, configMapRefs: refs };
}

/** The operator's Installation: the computed spec when it has one, else the spec as written. */
export function calicoFromInstallation(
  installation: InstallationObject,
): Pick<ClusterFacts, 'calicoBackend' | 'calicoEncapsulation'> {
  const spec = installation?.status?.computed ?? installation?.spec ?? {};
  const cni = spec.cni?.type;
  if (typeof cni === 'string' && cni !== 'Calico') {
    // Another CNI plugin networks the pods; Calico enforces policy only.
    return { calicoBackend: 'none', calicoEncapsulation: 'none' };
  }
  const bgp = spec.calicoNetwork?.bgp !== 'Disabled';
  const pools = Array.isArray(spec.calicoNetwork?.ipPools) ? spec.calicoNetwork.ipPools : [];
  const encapsulations = pools.map((pool) => pool?.encapsulation ?? '');
  let encapsulation: CalicoEncapsulation;
  if (encapsulations.some((e) => /^VXLAN/.test(e))) encapsulation = 'vxlan';
  else if (encapsulations.some((e) => /^IPIP/.test(e))) encapsulation = 'ipip';
  else if (encapsulations.length > 0 && encapsulations.every((e) => e === 'None'))
    encapsulation = 'none';
  // The operator's default pool: IP-in-IP with BGP, VXLAN without.
  else encapsulation = bgp ? 'ipip' : 'vxlan';
  return { calicoBackend: bgp ? 'bird' : 'vxlan', calicoEncapsulation: encapsulation };
}
