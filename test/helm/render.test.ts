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
      [
        'daemonset',
        'default',
        'external',
        'icmp-raw',
        'icmp',
        'monitoring',
        'podmonitor',
        'statefulset',
        'web-config',
      ],
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
        // podMonitor.namespace puts the monitor beside Prometheus, as asked.
        const expected = manifest.kind === 'PodMonitor' ? 'prometheus' : NAMESPACE;
        assert.equal(manifest.metadata.namespace, expected, `${manifest.kind} namespace`);
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

  it('default: one central Deployment with the Service, ServiceAccount, read-only RBAC and a NetworkPolicy', () => {
    const manifests = manifestsOf('default');
    assert.deepEqual(manifests.map((manifest) => manifest.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'NetworkPolicy',
      'Pod',
      'Service',
      'ServiceAccount',
    ]);
    assert.equal(
      exporterContainer(oneOfKind(manifests, 'Deployment')).image,
      'ghcr.io/imanager-port-exporter/imanager-port-exporter:0.1.0',
    );
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
    assert.deepEqual(
      byKind(manifestsOf('daemonset'), 'NetworkPolicy'),
      [],
      'host network: no policy',
    );
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
    // Only the node's own address, not every interface of the node.
    assert.equal(
      container.env?.find((env) => env.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath,
      'status.podIP',
    );
    assert.ok(container.args?.includes('--web.listen-address=$(POD_IP):19101'));
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

  it('monitoring: ServiceMonitor with its kube-prometheus-stack keys, PrometheusRule, dashboards, all with the release label', () => {
    const manifests = manifestsOf('monitoring');
    const serviceMonitor = oneOfKind(manifests, 'ServiceMonitor');
    const monitorSpec = serviceMonitor.spec as {
      endpoints: Record<string, unknown>[];
      selector: { matchLabels: Record<string, string> };
      [key: string]: unknown;
    };
    // honorLabels false: no exporter label collides with a target label any more.
    assert.deepEqual(monitorSpec.endpoints, [
      {
        port: 'http',
        path: '/metrics',
        interval: '30s',
        scrapeTimeout: '20s',
        honorLabels: false,
        scheme: 'http',
        relabelings: [
          { sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'exporter_pod' },
        ],
        metricRelabelings: [{ sourceLabels: ['__name__'], regex: 'nodejs_.*', action: 'drop' }],
      },
    ]);
    assert.equal(monitorSpec.jobLabel, 'app.kubernetes.io/name');
    assert.deepEqual(monitorSpec.targetLabels, ['app.kubernetes.io/instance']);
    assert.equal(monitorSpec.sampleLimit, 200000);
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

  it('web-config: HTTPS, client certificates and basic auth, mounted from Secrets, scraped with all three', () => {
    const manifests = manifestsOf('web-config');
    const deployment = oneOfKind(manifests, 'Deployment');
    const container = exporterContainer(deployment);
    assert.ok(
      container.args?.includes('--web.config.file=/etc/imanager-port-exporter/web/web.yml'),
    );
    const endpoint = (oneOfKind(manifests, 'ServiceMonitor').spec as { endpoints: unknown[] })
      .endpoints[0] as Record<string, unknown>;
    assert.equal(endpoint.scheme, 'https');
    assert.deepEqual(endpoint.tlsConfig, {
      ca: { secret: { name: 'prometheus-client-cert', key: 'ca.crt' } },
      cert: { secret: { name: 'prometheus-client-cert', key: 'tls.crt' } },
      keySecret: { name: 'prometheus-client-cert', key: 'tls.key' },
      serverName: `${FULLNAME}.${NAMESPACE}.svc`,
    });
    assert.deepEqual(endpoint.basicAuth, {
      username: { name: 'ipe-scrape-auth', key: 'username' },
      password: { name: 'ipe-scrape-auth', key: 'password' },
    });
    // Every path needs credentials the kubelet cannot give: the probes only connect.
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
      const spec = container[probe];
      assert.deepEqual(spec?.tcpSocket, { port: 'http' }, probe);
      assert.equal(spec?.httpGet, undefined, probe);
    }
    const annotations = oneOfKind(manifests, 'Service').metadata.annotations as Record<
      string,
      string
    >;
    assert.equal(annotations['prometheus.io/scheme'], 'https');
  });

  it('podmonitor: a PodMonitor with its keys, the registry, pull secrets, common labels and spread', () => {
    const manifests = manifestsOf('podmonitor');
    assert.deepEqual(byKind(manifests, 'ServiceMonitor'), []);
    const podMonitor = oneOfKind(manifests, 'PodMonitor');
    assert.equal(podMonitor.metadata.namespace, 'prometheus');
    const spec = podMonitor.spec as Record<string, unknown>;
    assert.equal(spec.jobLabel, 'app.kubernetes.io/name');
    assert.deepEqual(spec.podTargetLabels, ['app.kubernetes.io/instance']);
    assert.equal(spec.sampleLimit, 200000);
    assert.deepEqual(spec.namespaceSelector, { matchNames: [NAMESPACE] });
    const [endpoint] = spec.podMetricsEndpoints as Record<string, unknown>[];
    assert.equal(endpoint?.port, 'http');
    assert.equal(endpoint?.scheme, 'http');
    assert.equal(
      (podMonitor.metadata.labels as Record<string, string>).release,
      'kube-prometheus-stack',
    );
    for (const manifest of manifests) {
      assert.equal(
        (manifest.metadata.labels as Record<string, string> | undefined)?.team,
        manifest.kind === 'Pod' ? undefined : 'gis-platform',
        `${manifest.kind} commonLabels`,
      );
    }
    const statefulSet = oneOfKind(manifests, 'StatefulSet');
    const pod = podSpec(statefulSet);
    assert.equal(
      exporterContainer(statefulSet).image,
      '203.0.113.20:5000/imanager-port-exporter:0.1.0-abc1234',
    );
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'imanager-registry' }]);
    assert.equal((pod.topologySpreadConstraints as unknown[]).length, 1);
    assert.ok(pod.volumes?.some((volume) => volume.name === 'ca-bundle'));
    assert.ok(
      exporterContainer(statefulSet).volumeMounts?.some((mount) => mount.name === 'ca-bundle'),
    );
    assert.deepEqual(exporterContainer(statefulSet).env?.at(-1), { name: 'TZ', value: 'UTC' });
    // The selectors stay the chart's own: commonLabels never change what selects what.
    assert.equal(
      (statefulSet.spec as { selector: { matchLabels: Record<string, string> } }).selector
        .matchLabels.team,
      undefined,
    );
  });

  it('the NetworkPolicy admits the Prometheus Operator pods by default, and the helm test pod', () => {
    const policy = oneOfKind(manifestsOf('default'), 'NetworkPolicy');
    const ingress = (policy.spec as { ingress: { from: unknown[]; ports: unknown[] }[] }).ingress;
    assert.deepEqual(ingress, [
      {
        ports: [{ port: 'http', protocol: 'TCP' }],
        from: [
          {
            namespaceSelector: {},
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
          },
          {
            podSelector: {
              matchLabels: {
                'app.kubernetes.io/instance': 'ipe',
                'app.kubernetes.io/component': 'test',
              },
            },
          },
        ],
      },
    ]);
    const testPod = oneOfKind(manifestsOf('default'), 'Pod');
    const labels = testPod.metadata.labels as Record<string, string>;
    assert.equal(labels['app.kubernetes.io/component'], 'test');
    assert.equal(labels['app.kubernetes.io/instance'], 'ipe');
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
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'Secret']) {
      assert.deepEqual(byKind(manifests, kind), [], kind);
    }
    assert.deepEqual(byKind(manifests, 'ConfigMap'), []);
  });

  it('networkPolicy.from empty and no test pod: nobody is admitted, not everybody', async () => {
    const policy = oneOfKind(
      await render({ set: ['networkPolicy.from=null', 'tests.enabled=false'] }),
      'NetworkPolicy',
    );
    assert.deepEqual((policy.spec as { ingress: unknown[] }).ingress, []);
  });

  it('the statefulset mode gets the NetworkPolicy; networkPolicy.enabled=false drops it', async () => {
    assert.equal(byKind(await render({ set: ['mode=statefulset'] }), 'NetworkPolicy').length, 1);
    assert.deepEqual(
      byKind(await render({ set: ['networkPolicy.enabled=false'] }), 'NetworkPolicy'),
      [],
    );
  });

  it('TLS alone: the probes stay httpGet, over HTTPS; the scrape checks the Service name', async () => {
    const manifests = await render({
      set: [
        'webConfig.tls.enabled=true',
        'webConfig.tls.secretName=ipe-tls',
        'podMonitor.enabled=true',
      ],
    });
    const container = exporterContainer(oneOfKind(manifests, 'Deployment'));
    assert.deepEqual(container.livenessProbe?.httpGet, {
      path: '/-/healthy',
      port: 'http',
      scheme: 'HTTPS',
    });
    assert.equal(container.readinessProbe?.httpGet?.path, '/-/ready');
    const endpoint = (oneOfKind(manifests, 'PodMonitor').spec as { podMetricsEndpoints: unknown[] })
      .podMetricsEndpoints[0] as Record<string, unknown>;
    assert.equal(endpoint.scheme, 'https');
    assert.deepEqual(endpoint.tlsConfig, {
      ca: { secret: { name: 'ipe-tls', key: 'ca.crt' } },
      serverName: `${FULLNAME}.${NAMESPACE}.svc`,
    });
    assert.equal(endpoint.basicAuth, undefined);
    const problems = (await Promise.all(manifests.map(schemaProblems))).flat();
    assert.deepEqual(problems, []);
    assert.deepEqual(unknownFields(manifests), []);
  });

  it('daemonset.listenHost="" listens on every interface again', async () => {
    const [daemonSet] = workloads(
      await render({ set: ['mode=daemonset', 'daemonset.listenHost='] }),
    );
    assert.ok(daemonSet);
    assert.ok(exporterContainer(daemonSet).args?.includes('--web.listen-address=:19101'));
  });
});
