/**
 * The container arguments of every rendered workload, run through the program's own
 * loader (loadConfig: the flag parser, then the config file they name), as the pod
 * would start: `$(VAR)` expanded the way Kubernetes expands it from the container's env,
 * downward-API values filled in as the kubelet would, and the config file read from the
 * ConfigMap the chart mounts there. A flag the program does not know, or a config file
 * it rejects, fails here and not in a crash-looping pod.
 */
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, type ExporterConfig, loadConfig } from '../../src/config/index.js';
import { parseWebConfigText } from '../../src/server/web-config.js';
import {
  byKind,
  type Container,
  ciFile,
  ciScenarios,
  exporterContainer,
  type Manifest,
  podSpec,
  render,
  workloads,
} from './chart.js';

/** Stands in for the kubelet: the downward-API fields the chart uses. */
interface Pod {
  readonly nodeName: string;
  /** status.podIP: on the host network (the daemonset mode), the node's address. */
  readonly podIP?: string;
  readonly labels: Readonly<Record<string, string>>;
}

function fieldValue(fieldPath: string, pod: Pod): string {
  if (fieldPath === 'spec.nodeName') return pod.nodeName;
  if (fieldPath === 'status.podIP') return pod.podIP ?? '';
  const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath)?.[1];
  if (label !== undefined) return pod.labels[label] ?? '';
  throw new Error(`the test does not know the downward-API field ${fieldPath}`);
}

/** The container's environment as the kubelet builds it. */
function containerEnv(container: Container, pod: Pod): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    env[variable.name] =
      fieldPath === undefined ? (variable.value ?? '') : fieldValue(fieldPath, pod);
  }
  return env;
}

/** Kubernetes' `$(VAR)` expansion in args: a defined variable is replaced, `$$` escapes. */
function expand(arg: string, env: Readonly<Record<string, string>>): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? match;
  });
}

/** Files the pod sees from its ConfigMap volumes, by absolute path. */
function mountedFiles(workload: Manifest, manifests: readonly Manifest[]): Map<string, string> {
  const files = new Map<string, string>();
  const volumes = podSpec(workload).volumes ?? [];
  for (const mount of exporterContainer(workload).volumeMounts ?? []) {
    const configMapName = volumes.find((volume) => volume.name === mount.name)?.configMap?.name;
    if (configMapName === undefined) continue;
    const configMap = byKind(manifests, 'ConfigMap').find(
      (candidate) => candidate.metadata.name === configMapName,
    );
    assert.ok(
      configMap,
      `volume ${mount.name} mounts ConfigMap ${configMapName}, which is not rendered`,
    );
    for (const [key, text] of Object.entries(configMap.data as Record<string, string>)) {
      files.set(posix.join(mount.mountPath, key), text);
    }
  }
  return files;
}

/** The pods a workload makes: one per shard ordinal, or a representative node agent. */
function podsOf(workload: Manifest): Pod[] {
  if (workload.kind === 'StatefulSet') {
    const replicas = (workload.spec as { replicas: number }).replicas;
    return Array.from({ length: replicas }, (_, ordinal) => ({
      nodeName: 'worker-1',
      labels: { 'apps.kubernetes.io/pod-index': String(ordinal) },
    }));
  }
  return [{ nodeName: 'worker-1.cluster.example', podIP: '198.18.0.21', labels: {} }];
}

/** What the program makes of a pod's command line; throws ConfigError as the pod would exit. */
async function startAsPod(
  workload: Manifest,
  manifests: readonly Manifest[],
  pod: Pod,
): Promise<ExporterConfig> {
  const container = exporterContainer(workload);
  assert.equal(container.command, undefined, 'the image entrypoint runs the program');
  const env = containerEnv(container, pod);
  const argv = (container.args ?? []).map((arg) => expand(arg, env));
  const files = mountedFiles(workload, manifests);
  return loadConfig(argv, {
    env,
    readFile: async (path) => {
      const text = files.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  });
}

describe('rendered container args, through the program loader', () => {
  for (const scenario of ciScenarios()) {
    it(`${scenario.name}: every pod's args and config file are accepted`, async () => {
      const manifests = await render({ valuesFiles: [scenario.file] });
      for (const workload of workloads(manifests)) {
        for (const pod of podsOf(workload)) {
          const config = await startAsPod(workload, manifests, pod);
          assert.equal(config.showHelp, false);
          assert.equal(config.listen.port, 19101);
        }
      }
    });
  }

  it('default: central vantage, Kubernetes discovery when in a cluster, ICMP off', async () => {
    const manifests = await render();
    const [deployment] = workloads(manifests);
    assert.ok(deployment);
    const [pod] = podsOf(deployment);
    assert.ok(pod);
    const config = await startAsPod(deployment, manifests, pod);
    assert.equal(config.vantage, 'central');
    assert.equal(config.discovery.mode, 'auto');
    assert.equal(config.probe.icmp, 'off');
    assert.deepEqual(config.shard, { index: 0, count: 1 });
    assert.equal(config.probe.intervalMs, 15_000);
    assert.equal(config.probe.timeoutMs, 2000);
    assert.equal(config.probe.concurrency, 256);
  });

  it('daemonset: each agent probes from its own node name, with the mesh size, listening on its node address', async () => {
    const manifests = await render({ set: ['mode=daemonset', 'daemonset.meshPeers=7'] });
    const [daemonSet] = workloads(manifests);
    assert.ok(daemonSet);
    const config = await startAsPod(daemonSet, manifests, {
      nodeName: 'master-2.example',
      podIP: '198.18.0.22',
      labels: {},
    });
    assert.equal(config.vantage, 'master-2.example');
    assert.equal(config.meshPeers, 7);
    assert.deepEqual(config.listen, { host: '198.18.0.22', port: 19101 });
  });

  it('daemonset on IPv6 nodes: listenHost "[$(POD_IP)]" binds the node address', async () => {
    const manifests = await render({
      set: ['mode=daemonset'],
      setString: ['daemonset.listenHost=[$(POD_IP)]'],
    });
    const [daemonSet] = workloads(manifests);
    assert.ok(daemonSet);
    const config = await startAsPod(daemonSet, manifests, {
      nodeName: 'master-2.example',
      podIP: 'fd00::22',
      labels: {},
    });
    assert.deepEqual(config.listen, { host: 'fd00::22', port: 19101 });
  });

  it('web-config: the program accepts the rendered web config, and every file it names is mounted from its Secret', async () => {
    const manifests = await render({ valuesFiles: [ciFile('web-config')] });
    const [deployment] = workloads(manifests);
    assert.ok(deployment);
    const [pod] = podsOf(deployment);
    assert.ok(pod);
    const config = await startAsPod(deployment, manifests, pod);
    assert.equal(config.web.configFile, '/etc/imanager-port-exporter/web/web.yml');

    // Where each Secret key appears in the container's filesystem.
    const volumes = podSpec(deployment).volumes as unknown as {
      name: string;
      secret?: { secretName: string; items?: { key: string; path: string }[] };
    }[];
    const secretFiles = new Map<string, { secret: string; key: string }>();
    for (const mount of exporterContainer(deployment).volumeMounts ?? []) {
      const secret = volumes.find((volume) => volume.name === mount.name)?.secret;
      for (const item of secret?.items ?? []) {
        secretFiles.set(posix.join(mount.mountPath, item.path), {
          secret: secret?.secretName ?? '',
          key: item.key,
        });
      }
    }
    const webSecret = byKind(manifests, 'Secret').find((secret) =>
      volumes.some((volume) => volume.secret?.secretName === secret.metadata.name),
    );
    assert.ok(webSecret, 'the web config Secret is rendered and mounted');
    const text = (webSecret.stringData as Record<string, string>)['web.yml'] ?? '';
    const web = parseWebConfigText(text, 'web.yml', '/etc/imanager-port-exporter/web');
    assert.deepEqual(Object.keys(web.basicAuthUsers), ['prometheus']);
    assert.equal(web.tls?.clientAuthType, 'RequireAndVerifyClientCert');
    assert.equal(web.headers['Strict-Transport-Security'], 'max-age=31536000');
    const files = [web.tls?.cert, web.tls?.key, web.tls?.clientCa].map((source) =>
      source && 'file' in source ? source.file : undefined,
    );
    assert.deepEqual(
      files.map((file) => (file === undefined ? undefined : secretFiles.get(file))),
      [
        { secret: 'ipe-serving-cert', key: 'tls.crt' },
        { secret: 'ipe-serving-cert', key: 'tls.key' },
        { secret: 'prometheus-client-ca', key: 'ca.crt' },
      ],
    );
  });

  it('daemonset: without NODE_NAME the program would refuse to start', async () => {
    const manifests = await render({ set: ['mode=daemonset'] });
    const [daemonSet] = workloads(manifests);
    assert.ok(daemonSet);
    await assert.rejects(
      startAsPod(daemonSet, manifests, { nodeName: '', labels: {} }),
      (error: unknown) => error instanceof ConfigError && /NODE_NAME/.test(error.message),
    );
  });

  it('statefulset: the shards are 0/N .. N-1/N, one per pod', async () => {
    const manifests = await render({ set: ['mode=statefulset', 'statefulset.shards=5'] });
    const [statefulSet] = workloads(manifests);
    assert.ok(statefulSet);
    const shards = [];
    for (const pod of podsOf(statefulSet)) {
      shards.push((await startAsPod(statefulSet, manifests, pod)).shard);
    }
    assert.deepEqual(
      shards,
      [0, 1, 2, 3, 4].map((index) => ({ index, count: 5 })),
    );
  });

  it('statefulset: a pod without the pod-index label (Kubernetes before 1.28) fails to start, loudly', async () => {
    const manifests = await render({ set: ['mode=statefulset'] });
    const [statefulSet] = workloads(manifests);
    assert.ok(statefulSet);
    await assert.rejects(
      startAsPod(statefulSet, manifests, { nodeName: 'worker-1', labels: {} }),
      (error: unknown) => error instanceof ConfigError && /--shard/.test(error.message),
    );
  });

  it('external: vantage external, static nodes from the mounted file', async () => {
    const scenario = ciScenarios().find((candidate) => candidate.name === 'external');
    assert.ok(scenario);
    const manifests = await render({ valuesFiles: [scenario.file] });
    const [deployment] = workloads(manifests);
    assert.ok(deployment);
    const [pod] = podsOf(deployment);
    assert.ok(pod);
    const config = await startAsPod(deployment, manifests, pod);
    assert.equal(config.vantage, 'external');
    assert.equal(config.discovery.mode, 'static');
    assert.deepEqual(
      config.nodes.map((node) => node.name),
      ['master-1', 'worker-1', 'worker-2'],
    );
    assert.equal(config.catalog.overrides.nfs?.required, false);
  });

  it('every value that becomes a flag reaches the program', async () => {
    const manifests = await render({
      set: [
        'probe.interval=30s',
        'probe.timeout=3s',
        'probe.concurrency=64',
        'logLevel=debug',
        'service.port=19200',
        'discovery.mode=kubernetes',
        'discovery.namespaces={imanager,gis-envs}',
        'extraArgs={--web.enable-lifecycle}',
      ],
    });
    const [deployment] = workloads(manifests);
    assert.ok(deployment);
    const [pod] = podsOf(deployment);
    assert.ok(pod);
    const config = await startAsPod(deployment, manifests, pod);
    assert.equal(config.probe.intervalMs, 30_000);
    assert.equal(config.probe.timeoutMs, 3000);
    assert.equal(config.probe.concurrency, 64);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.listen.port, 19200);
    assert.equal(config.discovery.mode, 'kubernetes');
    assert.deepEqual(config.discovery.namespaces, ['imanager', 'gis-envs']);
    assert.equal(config.web.enableLifecycle, true);
    assert.equal(exporterContainer(deployment).ports?.[0]?.containerPort, 19200);
  });

  it('a kubeconfig Secret becomes --kubeconfig at its mounted path', async () => {
    const manifests = await render({
      set: [
        'vantage=external',
        'discovery.mode=kubernetes',
        'discovery.kubeconfigSecret.name=imanager-kubeconfig',
      ],
    });
    const [deployment] = workloads(manifests);
    assert.ok(deployment);
    const [pod] = podsOf(deployment);
    assert.ok(pod);
    const config = await startAsPod(deployment, manifests, pod);
    assert.equal(config.discovery.kubeconfig, '/etc/imanager-port-exporter/kubeconfig/kubeconfig');
    const mounts = exporterContainer(deployment).volumeMounts ?? [];
    assert.ok(mounts.some((mount) => mount.mountPath === '/etc/imanager-port-exporter/kubeconfig'));
    assert.equal(podSpec(deployment).automountServiceAccountToken, false);
    assert.deepEqual(byKind(manifests, 'ClusterRole'), [], 'another cluster: no rights here');
  });
});
