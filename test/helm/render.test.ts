/**
 * The chart as helm renders it: lint clean, every CI scenario (helm/<chart>/ci/*-values.yaml)
 * renders, every object is valid against the Kubernetes API schemas with no unknown field,
 * and each mode makes the workload the issue asks for.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  byKind,
  CHART_DIR,
  ciFile,
  ciScenarios,
  exporterContainer,
  FULLNAME,
  helm,
  kinds,
  type Manifest,
  NAMESPACE,
  oneOfKind,
  podSpec,
  render,
  workloads,
} from './chart.js';
import { schemaProblems, unknownFields } from './kube-schemas.js';

const SCENARIOS = ciScenarios();

describe('helm lint', () => {
  it('has a scenario for each mode and each monitoring setup', () => {
    assert.deepEqual(
      SCENARIOS.map((scenario) => scenario.name),
      ['daemonset', 'default', 'external', 'icmp', 'monitoring', 'statefulset'],
    );
  });

  for (const scenario of [{ name: 'chart defaults', file: undefined }, ...SCENARIOS]) {
    it(`is clean with ${scenario.name}`, async () => {
      const run = await helm([
        'lint',
        '--strict',
        CHART_DIR,
        ...(scenario.file ? ['-f', scenario.file] : []),
      ]);
      assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
      assert.match(run.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(run.stdout, /\[(WARNING|ERROR)\]/, run.stdout);
    });
  }
});

describe('helm template, every scenario', () => {
  const rendered = new Map<string, Manifest[]>();
  before(async () => {
    for (const scenario of SCENARIOS) {
      rendered.set(scenario.name, await render({ valuesFiles: [scenario.file] }));
    }
  });
  const manifestsOf = (name: string): Manifest[] => {
    const manifests = rendered.get(name);
    assert.ok(manifests, `scenario ${name} was not rendered`);
    return manifests;
  };

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: every object is valid against the Kubernetes API schemas`, async () => {
      const manifests = manifestsOf(scenario.name);
      assert.ok(manifests.length > 0);
      const problems = (await Promise.all(manifests.map(schemaProblems))).flat();
      assert.deepEqual(problems, []);
    });

    it(`${scenario.name}: exactly one workload, in the release namespace`, () => {
      const manifests = manifestsOf(scenario.name);
      assert.equal(workloads(manifests).length, 1, kinds(manifests).join(', '));
      for (const manifest of manifests) {
        if (manifest.kind.startsWith('Cluster')) continue;
        assert.equal(manifest.metadata.namespace, NAMESPACE, `${manifest.kind} namespace`);
      }
    });
  }

  it('no rendered object has a field the Kubernetes API does not define', () => {
    const all = SCENARIOS.flatMap((scenario) => manifestsOf(scenario.name));
    assert.deepEqual(unknownFields(all), []);
  });

  it('the strict check does catch a misspelt field', () => {
    const [deployment] = byKind(manifestsOf('default'), 'Deployment');
    assert.ok(deployment);
    const spec = podSpec(deployment) as unknown as Record<string, unknown>;
    const broken = structuredClone(deployment) as Manifest;
    const brokenSpec = podSpec(broken) as unknown as Record<string, unknown>;
    brokenSpec.hostNetwrok = spec.hostNetwork ?? true;
    const problems = unknownFields([broken]);
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /hostNetwrok/);
  });

  it('default: one central Deployment with the Service, ServiceAccount and read-only RBAC', () => {
    const manifests = manifestsOf('default');
    assert.deepEqual(manifests.map((manifest) => manifest.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'Pod',
      'Service',
      'ServiceAccount',
    ]);
    const deployment = oneOfKind(manifests, 'Deployment');
    assert.equal((deployment.spec as { replicas: number }).replicas, 1);
    assert.equal(podSpec(deployment).hostNetwork, undefined);
    assert.ok(exporterContainer(deployment).args?.includes('--vantage=central'));
    const service = oneOfKind(manifests, 'Service');
    const annotations = service.metadata.annotations as Record<string, string>;
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/port'], '19101');
  });

  it('daemonset: host network, NODE_NAME from spec.nodeName, --vantage=node, every taint tolerated', () => {
    const daemonSet = oneOfKind(manifestsOf('daemonset'), 'DaemonSet');
    const pod = podSpec(daemonSet);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    const container = exporterContainer(daemonSet);
    assert.deepEqual(
      container.env?.find((env) => env.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath,
      'spec.nodeName',
    );
    assert.ok(container.args?.includes('--vantage=node'));
    assert.ok(container.args?.includes('--mesh.peers=5'));
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  });

  it('statefulset: 3 shards, index from the pod-index label, started in parallel', () => {
    const statefulSet = oneOfKind(manifestsOf('statefulset'), 'StatefulSet');
    const spec = statefulSet.spec as Record<string, unknown>;
    assert.equal(spec.replicas, 3);
    assert.equal(spec.podManagementPolicy, 'Parallel');
    assert.equal(spec.serviceName, FULLNAME);
    const container = exporterContainer(statefulSet);
    assert.equal(
      container.env?.find((env) => env.name === 'SHARD_INDEX')?.valueFrom?.fieldRef?.fieldPath,
      "metadata.labels['apps.kubernetes.io/pod-index']",
    );
    assert.ok(container.args?.includes('--shard=$(SHARD_INDEX)/3'));
  });

  it('monitoring: ServiceMonitor with honorLabels, PrometheusRule, dashboards, all with the release label', () => {
    const manifests = manifestsOf('monitoring');
    const serviceMonitor = oneOfKind(manifests, 'ServiceMonitor');
    const monitorSpec = serviceMonitor.spec as {
      endpoints: { port: string; path: string; honorLabels: boolean }[];
      selector: { matchLabels: Record<string, string> };
    };
    assert.deepEqual(
      monitorSpec.endpoints.map((endpoint) => [endpoint.port, endpoint.path, endpoint.honorLabels]),
      [['http', '/metrics', true]],
    );
    const service = oneOfKind(manifests, 'Service');
    const serviceLabels = service.metadata.labels as Record<string, string>;
    for (const [key, value] of Object.entries(monitorSpec.selector.matchLabels)) {
      assert.equal(serviceLabels[key], value, `ServiceMonitor selects the Service by ${key}`);
    }
    assert.equal(service.metadata.annotations, undefined, 'no scrape annotations when turned off');
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      const labels = oneOfKind(manifests, kind).metadata.labels as Record<string, string>;
      assert.equal(labels.release, 'kube-prometheus-stack', `${kind} release label`);
    }
    const dashboards = byKind(manifests, 'ConfigMap').filter(
      (configMap) =>
        (configMap.metadata.labels as Record<string, string>).grafana_dashboard === '1',
    );
    assert.equal(dashboards.length, 4);
    for (const dashboard of dashboards) {
      assert.equal(
        (dashboard.metadata.annotations as Record<string, string>).grafana_folder,
        'iManager',
      );
    }
    const policy = oneOfKind(manifests, 'NetworkPolicy');
    assert.deepEqual((policy.spec as { policyTypes: string[] }).policyTypes, ['Ingress']);
  });

  it('external: static nodes from a mounted config file, no RBAC and no API token', () => {
    const manifests = manifestsOf('external');
    assert.deepEqual(byKind(manifests, 'ClusterRole'), []);
    assert.deepEqual(byKind(manifests, 'ClusterRoleBinding'), []);
    const deployment = oneOfKind(manifests, 'Deployment');
    const pod = podSpec(deployment);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(oneOfKind(manifests, 'ServiceAccount').automountServiceAccountToken, false);
    const args = exporterContainer(deployment).args ?? [];
    for (const flag of [
      '--vantage=external',
      '--discovery=static',
      '--config.file=/etc/imanager-port-exporter/config.yml',
    ]) {
      assert.ok(args.includes(flag), `${flag} in ${args.join(' ')}`);
    }
    const configMap = oneOfKind(manifests, 'ConfigMap');
    assert.deepEqual(
      pod.volumes?.find((volume) => volume.name === 'config')?.configMap?.name,
      configMap.metadata.name,
    );
    assert.match((configMap.data as Record<string, string>)['config.yml'] ?? '', /^nodes:/m);
  });
});

describe('helm template with --set, as the issue states its acceptance', () => {
  it('renders the defaults', async () => {
    assert.equal(workloads(await render())[0]?.kind, 'Deployment');
  });

  it('renders mode=daemonset', async () => {
    assert.equal(workloads(await render({ set: ['mode=daemonset'] }))[0]?.kind, 'DaemonSet');
  });

  it('renders mode=statefulset with 3 shards', async () => {
    const [statefulSet] = workloads(
      await render({ set: ['mode=statefulset', 'statefulset.shards=3'] }),
    );
    assert.equal(statefulSet?.kind, 'StatefulSet');
    assert.equal((statefulSet.spec as { replicas: number }).replicas, 3);
  });

  it('renders the monitoring objects only when turned on', async () => {
    const manifests = await render({ valuesFiles: [ciFile('default')] });
    for (const kind of ['ServiceMonitor', 'PrometheusRule', 'NetworkPolicy']) {
      assert.deepEqual(byKind(manifests, kind), [], kind);
    }
    assert.deepEqual(byKind(manifests, 'ConfigMap'), []);
  });
});
