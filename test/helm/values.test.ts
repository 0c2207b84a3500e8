/**
 * Wrong values stop `helm template` (and so `helm install`) with a message that names
 * the value: types through values.schema.json, combinations through the chart's own
 * checks. Each case pairs the bad input with what helm must say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RenderError, type RenderOptions, render } from './chart.js';

async function refusal(options: RenderOptions): Promise<string> {
  try {
    await render(options);
  } catch (error) {
    if (error instanceof RenderError) return error.stderr;
    throw error;
  }
  assert.fail(`helm template accepted ${JSON.stringify(options)}`);
}

describe('values.schema.json rejects wrong types', () => {
  const cases: { readonly name: string; readonly options: RenderOptions; readonly says: RegExp }[] =
    [
      { name: 'mode: 3', options: { set: ['mode=3'] }, says: /\/mode.*got number, want string/ },
      {
        name: 'mode: an unknown mode',
        options: { set: ['mode=replicaset'] },
        says: /\/mode.*deployment.*daemonset.*statefulset/,
      },
      {
        name: 'statefulset.shards: "x"',
        options: { set: ['statefulset.shards=x'] },
        says: /\/statefulset\/shards.*got string, want integer/,
      },
      {
        name: 'statefulset.shards: "3" as a string',
        options: { setString: ['statefulset.shards=3'] },
        says: /\/statefulset\/shards.*got string, want integer/,
      },
      {
        name: 'statefulset.shards: 0',
        options: { set: ['statefulset.shards=0'] },
        says: /\/statefulset\/shards/,
      },
      {
        name: 'icmp.enabled: "yes"',
        options: { setString: ['icmp.enabled=yes'] },
        says: /\/icmp\/enabled.*got string, want boolean/,
      },
      {
        name: 'probe.interval: 15 (no unit)',
        options: { set: ['probe.interval=15'] },
        says: /\/probe\/interval/,
      },
      {
        name: 'probe.timeout: "1.5s" (no fractions in Prometheus durations)',
        options: { setString: ['probe.timeout=1.5s'] },
        says: /\/probe\/timeout.*does not match pattern/,
      },
      {
        name: 'service.port: 70000',
        options: { set: ['service.port=70000'] },
        says: /\/service\/port/,
      },
      {
        name: 'a misspelt key',
        options: { set: ['serviceMonitor.enable=true'] },
        says: /\/serviceMonitor.*additional properties 'enable' not allowed/,
      },
      {
        name: 'a misspelt top-level key',
        options: { set: ['modes=daemonset'] },
        says: /additional properties 'modes' not allowed/,
      },
      {
        name: 'discovery.mode: an unknown mode',
        options: { set: ['discovery.mode=dns'] },
        says: /\/discovery\/mode/,
      },
      {
        name: 'icmp.socket: an unknown kind',
        options: { set: ['icmp.socket=packet'] },
        says: /\/icmp\/socket.*datagram.*raw/,
      },
      {
        name: 'webConfig.tls.clientAuthType: an unknown type',
        options: { set: ['webConfig.tls.clientAuthType=RequireClientCert'] },
        says: /\/webConfig\/tls\/clientAuthType/,
      },
      {
        name: 'webConfig.basicAuth.users: a password where a bcrypt hash belongs',
        options: { set: ['webConfig.basicAuth.users.prometheus=secret'] },
        says: /\/webConfig\/basicAuth\/users\/prometheus.*does not match pattern/,
      },
      {
        name: 'image.registry: a URL, not a host',
        options: { set: ['image.registry=https://registry.local:5000'] },
        says: /\/image\/registry.*does not match pattern/,
      },
      {
        name: 'serviceMonitor.sampleLimit: -1',
        options: { set: ['serviceMonitor.sampleLimit=-1'] },
        says: /\/serviceMonitor\/sampleLimit/,
      },
      {
        name: 'a misspelt podMonitor key',
        options: { set: ['podMonitor.targetLabels={a}'] },
        says: /\/podMonitor.*additional properties 'targetLabels' not allowed/,
      },
      {
        name: 'logLevel: trace',
        options: { set: ['logLevel=trace'] },
        says: /\/logLevel/,
      },
    ];
  for (const { name, options, says } of cases) {
    it(name, async () => {
      assert.match(await refusal(options), says);
    });
  }
});

describe('the chart refuses combinations that cannot work', () => {
  it('the daemonset mode with another vantage', async () => {
    assert.match(
      await refusal({ set: ['mode=daemonset', 'vantage=external'] }),
      /vantage "external": the daemonset mode always probes from each agent's own node/,
    );
  });

  it('static discovery without nodes', async () => {
    assert.match(
      await refusal({ set: ['discovery.mode=static'] }),
      /discovery.mode static: list the nodes under config.nodes/,
    );
  });

  it('the external vantage discovering the cluster it runs in', async () => {
    assert.match(
      await refusal({ set: ['vantage=external'] }),
      /vantage external: set discovery.mode to static/,
    );
  });

  it('a ServiceMonitor and a PodMonitor at once', async () => {
    assert.match(
      await refusal({ set: ['serviceMonitor.enabled=true', 'podMonitor.enabled=true'] }),
      /choose one; with both, Prometheus scrapes every pod twice/,
    );
  });

  it('TLS without the certificate Secret', async () => {
    assert.match(
      await refusal({ set: ['webConfig.tls.enabled=true'] }),
      /webConfig.tls.enabled: name the kubernetes.io\/tls Secret/,
    );
  });

  it('credentials for Prometheus with no user for the exporter to check', async () => {
    assert.match(
      await refusal({ set: ['webConfig.basicAuth.secretName=scrape-auth'] }),
      /webConfig.basicAuth.secretName: Prometheus would send credentials the exporter does not check/,
    );
  });

  it('client certificates required, with none for Prometheus', async () => {
    assert.match(
      await refusal({
        set: [
          'webConfig.tls.enabled=true',
          'webConfig.tls.secretName=ipe-tls',
          'webConfig.tls.clientAuthType=RequireAndVerifyClientCert',
        ],
      }),
      /clientAuthType RequireAndVerifyClientCert: Prometheus needs a client certificate/,
    );
  });

  it('the statefulset mode before Kubernetes 1.28, which has no pod-index label', async () => {
    assert.match(
      await refusal({ set: ['mode=statefulset'], kubeVersion: '1.27.3' }),
      /mode statefulset needs Kubernetes 1.28 or later/,
    );
  });

  it('the statefulset mode renders on 1.28', async () => {
    const manifests = await render({ set: ['mode=statefulset'], kubeVersion: '1.28.0' });
    assert.ok(manifests.some((manifest) => manifest.kind === 'StatefulSet'));
  });
});
