/**
 * What the chart grants and what its pods may do: read-only RBAC on exactly the objects
 * discovery reads, non-root pods with a read-only root and no capabilities, NET_RAW only
 * when ICMP is asked for, health probes on the program's endpoints, resources set.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  byKind,
  ciFile,
  ciScenarios,
  exporterContainer,
  FULLNAME,
  type Manifest,
  NAMESPACE,
  oneOfKind,
  type PodSpec,
  podSpec,
  render,
  workloads,
} from './chart.js';

interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

const READ_VERBS = ['get', 'list', 'watch'];

/** Every (group, resource) -> verbs, and every non-resource URL -> verbs, the rules grant. */
function grants(rules: readonly PolicyRule[]): Record<string, string[]> {
  const granted: Record<string, string[]> = {};
  const add = (key: string, verbs: readonly string[]) => {
    granted[key] = [...new Set([...(granted[key] ?? []), ...verbs])].sort();
  };
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? [])
        add(`${group || 'core'}/${resource}`, rule.verbs);
    }
    for (const url of rule.nonResourceURLs ?? []) add(url, rule.verbs);
  }
  return granted;
}

describe('RBAC', () => {
  let manifests: Manifest[];
  before(async () => {
    manifests = await render();
  });

  it('the ClusterRole grants get/list/watch on nodes, services, endpointslices and get on /version, nothing else', () => {
    const role = oneOfKind(manifests, 'ClusterRole');
    const rules = role.rules as PolicyRule[];
    assert.deepEqual(grants(rules), {
      'core/nodes': READ_VERBS,
      'core/services': READ_VERBS,
      'discovery.k8s.io/endpointslices': READ_VERBS,
      '/version': ['get'],
      '/version/': ['get'],
    });
    for (const rule of rules) {
      const words = [
        ...rule.verbs,
        ...(rule.resources ?? []),
        ...(rule.apiGroups ?? []),
        ...(rule.nonResourceURLs ?? []),
      ];
      assert.ok(
        !words.some((word) => word.includes('*')),
        `no wildcard in ${JSON.stringify(rule)}`,
      );
      assert.ok(
        rule.verbs.every((verb) => READ_VERBS.includes(verb)),
        `read-only: ${rule.verbs}`,
      );
    }
  });

  it('binds the ClusterRole to the chart service account, and makes no other role', () => {
    const binding = oneOfKind(manifests, 'ClusterRoleBinding');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: oneOfKind(manifests, 'ClusterRole').metadata.name,
    });
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE },
    ]);
    assert.deepEqual(byKind(manifests, 'Role'), []);
    assert.deepEqual(byKind(manifests, 'RoleBinding'), []);
    const [deployment] = workloads(manifests);
    assert.ok(deployment);
    assert.equal(podSpec(deployment).serviceAccountName, FULLNAME);
  });

  it('every scenario that renders a ClusterRole renders this one', async () => {
    const expected = grants(oneOfKind(manifests, 'ClusterRole').rules as PolicyRule[]);
    for (const scenario of ciScenarios()) {
      const rendered = await render({ valuesFiles: [scenario.file] });
      for (const role of byKind(rendered, 'ClusterRole')) {
        assert.deepEqual(grants(role.rules as PolicyRule[]), expected, scenario.name);
      }
      for (const kind of ['Role', 'RoleBinding']) {
        assert.deepEqual(byKind(rendered, kind), [], `${scenario.name}: ${kind}`);
      }
    }
  });

  it('rbac.create=false renders no ClusterRole', async () => {
    const rendered = await render({ set: ['rbac.create=false'] });
    assert.deepEqual(byKind(rendered, 'ClusterRole'), []);
    assert.deepEqual(byKind(rendered, 'ClusterRoleBinding'), []);
  });
});

describe('pod security', () => {
  for (const scenario of ciScenarios().filter((candidate) => candidate.name !== 'icmp-raw')) {
    const icmp = scenario.name === 'icmp' ? 'on' : 'off';
    it(`${scenario.name}: non-root, read-only root filesystem, every capability dropped, ICMP ${icmp}`, async () => {
      const [workload] = workloads(await render({ valuesFiles: [scenario.file] }));
      assert.ok(workload);
      const pod = podSpec(workload);
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.equal(pod.securityContext?.runAsUser, 65534);
      assert.deepEqual(pod.securityContext?.seccompProfile, { type: 'RuntimeDefault' });
      const container = exporterContainer(workload);
      assert.deepEqual(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.ok(container.args?.includes(`--probe.icmp=${icmp}`));
      assert.ok(
        container.volumeMounts?.some((mount) => mount.mountPath === '/tmp'),
        'a writable /tmp under the read-only root',
      );
    });
  }

  it('icmp: a datagram socket for the pod group through the ping_group_range sysctl, no capability, non-root', async () => {
    const [workload] = workloads(await render({ valuesFiles: [ciFile('icmp')] }));
    assert.ok(workload);
    const pod = podSpec(workload);
    assert.deepEqual(pod.securityContext?.sysctls, [
      { name: 'net.ipv4.ping_group_range', value: '65534 65534' },
    ]);
    assert.equal(pod.securityContext?.runAsGroup, 65534);
    assert.ok(exporterContainer(workload).args?.includes('--probe.icmp=on'));
  });

  it('icmp with another pod group: the sysctl names that group', async () => {
    const [workload] = workloads(
      await render({ set: ['icmp.enabled=true', 'podSecurityContext.runAsGroup=1000'] }),
    );
    assert.ok(workload);
    assert.deepEqual(podSpec(workload).securityContext?.sysctls, [
      { name: 'net.ipv4.ping_group_range', value: '1000 1000' },
    ]);
  });

  it('icmp in the daemonset mode: no sysctl (host-network pods cannot set it), still non-root', async () => {
    const [workload] = workloads(await render({ set: ['mode=daemonset', 'icmp.enabled=true'] }));
    assert.ok(workload);
    assert.equal(podSpec(workload).securityContext?.sysctls, undefined);
    assert.equal(exporterContainer(workload).securityContext?.runAsUser, undefined);
    assert.ok(exporterContainer(workload).args?.includes('--probe.icmp=on'));
  });

  it('icmp-raw: adds NET_RAW and nothing else, runs as uid 0 for it, and asks the program for ICMP', async () => {
    const [workload] = workloads(await render({ valuesFiles: [ciFile('icmp-raw')] }));
    assert.ok(workload);
    assert.equal(podSpec(workload).securityContext?.sysctls, undefined);
    const container = exporterContainer(workload);
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_RAW'], drop: ['ALL'] },
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
    });
    assert.ok(container.args?.includes('--probe.icmp=on'));
  });

  it('the helm test pod is as locked down, and not picked by the Service', async () => {
    const manifests = await render();
    const [testPod] = byKind(manifests, 'Pod');
    assert.ok(testPod);
    assert.equal((testPod.metadata.annotations as Record<string, string>)['helm.sh/hook'], 'test');
    const pod = podSpec(testPod);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.deepEqual(pod.containers[0]?.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const selector = (oneOfKind(manifests, 'Service').spec as { selector: Record<string, string> })
      .selector;
    const labels = testPod.metadata.labels as Record<string, string>;
    assert.ok(
      Object.entries(selector).some(([key, value]) => labels[key] !== value),
      'the Service selector must not match the test pod',
    );
    assert.match(
      pod.containers[0]?.env?.find((env) => env.name === 'METRICS_URL')?.value ?? '',
      new RegExp(`^http://${FULLNAME}\\.${NAMESPACE}\\.svc:19101/metrics$`),
    );
  });
});

/** The sysctls the baseline (and so restricted) level allows: Kubernetes' safe set. */
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

/**
 * Where a pod breaks the Pod Security Standard "restricted" (the checks of
 * kubernetes.io/docs/concepts/security/pod-security-standards that a pod spec can fail).
 */
function restrictedViolations(pod: PodSpec): string[] {
  const violations: string[] = [];
  for (const host of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (pod[host] === true) violations.push(host);
  }
  const allowedVolumes = [
    'configMap',
    'csi',
    'downwardAPI',
    'emptyDir',
    'ephemeral',
    'persistentVolumeClaim',
    'projected',
    'secret',
  ];
  for (const volume of pod.volumes ?? []) {
    const types = Object.keys(volume).filter((key) => key !== 'name');
    if (!types.every((type) => allowedVolumes.includes(type)))
      violations.push(`volume ${volume.name}`);
  }
  const podContext = pod.securityContext ?? {};
  for (const sysctl of (podContext.sysctls ?? []) as { name: string }[]) {
    if (!SAFE_SYSCTLS.includes(sysctl.name)) violations.push(`sysctl ${sysctl.name}`);
  }
  for (const container of pod.containers) {
    const context = container.securityContext ?? {};
    const at = (what: string) => violations.push(`${container.name}: ${what}`);
    if (context.allowPrivilegeEscalation !== false) at('allowPrivilegeEscalation must be false');
    if (context.privileged === true) at('privileged');
    const capabilities = (context.capabilities ?? {}) as { add?: string[]; drop?: string[] };
    if (!capabilities.drop?.includes('ALL')) at('capabilities must drop ALL');
    if ((capabilities.add ?? []).some((name) => name !== 'NET_BIND_SERVICE'))
      at('capabilities.add');
    if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true) at('runAsNonRoot');
    if ((context.runAsUser ?? podContext.runAsUser) === 0) at('runAsUser 0');
    const seccomp = (context.seccompProfile ?? podContext.seccompProfile) as
      | { type?: string }
      | undefined;
    if (!['RuntimeDefault', 'Localhost'].includes(seccomp?.type ?? '')) at('seccompProfile');
    if (container.ports?.some((port) => 'hostPort' in port)) at('hostPort');
  }
  return violations;
}

describe('Pod Security admission', () => {
  it('the deployment and statefulset modes, with and without ICMP, and the test pod meet the restricted level', async () => {
    for (const set of [
      ['mode=deployment'],
      ['mode=statefulset'],
      ['mode=deployment', 'icmp.enabled=true'],
      ['mode=statefulset', 'icmp.enabled=true'],
    ]) {
      const mode = set.join(',');
      const manifests = await render({ set });
      for (const manifest of [...workloads(manifests), ...byKind(manifests, 'Pod')]) {
        assert.deepEqual(restrictedViolations(podSpec(manifest)), [], `${mode}: ${manifest.kind}`);
      }
    }
  });

  it('the daemonset mode needs privileged for the host network, and raw-socket ICMP for NET_RAW and uid 0', async () => {
    const [agent] = workloads(await render({ set: ['mode=daemonset'] }));
    assert.ok(agent);
    assert.deepEqual(restrictedViolations(podSpec(agent)), ['hostNetwork']);
    const [pinger] = workloads(await render({ set: ['icmp.enabled=true', 'icmp.socket=raw'] }));
    assert.ok(pinger);
    assert.deepEqual(restrictedViolations(podSpec(pinger)), [
      'exporter: capabilities.add',
      'exporter: runAsNonRoot',
      'exporter: runAsUser 0',
    ]);
  });
});

describe('probes and resources', () => {
  for (const mode of ['deployment', 'daemonset', 'statefulset']) {
    it(`${mode}: liveness on /-/healthy, readiness on /-/ready, requests and limits set`, async () => {
      const [workload] = workloads(await render({ set: [`mode=${mode}`] }));
      assert.ok(workload);
      const container = exporterContainer(workload);
      assert.equal(container.livenessProbe?.httpGet?.path, '/-/healthy');
      assert.equal(container.readinessProbe?.httpGet?.path, '/-/ready');
      assert.equal(container.livenessProbe?.httpGet?.port, 'http');
      assert.deepEqual(container.ports, [{ name: 'http', containerPort: 19101, protocol: 'TCP' }]);
      for (const part of ['requests', 'limits'] as const) {
        assert.ok(container.resources?.[part]?.cpu, `${part}.cpu`);
        assert.ok(container.resources?.[part]?.memory, `${part}.memory`);
      }
    });
  }
});
