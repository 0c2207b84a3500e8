/**
 * The check verdict and report from literals: which states are as expected, what an
 * exposure reads like, and that optional targets never fail the run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CheckReport,
  explain,
  isOk,
  renderCheckJson,
  renderCheckText,
  toCheckJson,
  verdictOf,
} from '../../../src/cli/check/report.js';
import type { Target } from '../../../src/targets/types.js';

function target(overrides: Partial<Target> = {}): Target {
  return {
    key: 'external|cp-1|10.0.0.1|10.0.0.1|tcp|2379',
    vantage: 'external',
    node: 'cp-1',
    address: '10.0.0.1',
    ip: '10.0.0.1',
    port: 2379,
    protocol: 'tcp',
    category: 'fixed',
    component: 'etcd',
    portName: 'etcd-client',
    scope: 'internal',
    required: true,
    expected: 'closed',
    ...overrides,
  };
}

function report(checked: CheckReport['checked'], up = true): CheckReport {
  return {
    vantage: 'external',
    discovery: { source: 'static', up },
    nodes: [
      {
        name: 'cp-1',
        addresses: ['10.0.0.1'],
        roles: ['control-plane'],
        ready: true,
        kubeletVersion: '',
      },
    ],
    checked,
    durationSeconds: 0.5,
  };
}

describe('check verdicts', () => {
  test('an internal port that answers from outside is an exposure, and fails the run', () => {
    const exposed = {
      target: target(),
      result: { state: 'open' as const, durationSeconds: 0.001 },
    };
    assert.equal(verdictOf(exposed), 'failed');
    assert.equal(explain(exposed), 'open: answers here: exposed');
    const text = renderCheckText(report([exposed]), { colour: false });
    assert.match(text, /^ +2379 +etcd-client +closed +open +1\.0 ms +FAIL answers here: exposed$/m);
    assert.equal(isOk(report([exposed])), false);
  });

  test('optional targets are shown but never fail the run', () => {
    const optional = {
      target: target({ required: false, expected: 'open' }),
      result: { state: 'timeout' as const, durationSeconds: 2, error: 'ETIMEDOUT' },
    };
    assert.equal(verdictOf(optional), 'failed-optional');
    assert.equal(isOk(report([optional])), true);
    assert.equal(toCheckJson(report([optional])).ok, true);
  });

  test('a discovery that is not up fails the run, and says so', () => {
    const fine = { target: target(), result: { state: 'refused' as const, durationSeconds: 0 } };
    assert.equal(isOk(report([fine], false)), false);
    assert.match(
      renderCheckText(report([fine], false), { colour: false }),
      /^static discovery is not healthy: the nodes and NodePorts above may be incomplete\.$/m,
    );
  });

  test('NodePort targets carry their namespace, service and group in JSON', () => {
    const nodePort = {
      target: target({
        category: 'nodeport',
        port: 31555,
        portName: 'http',
        expected: 'open',
        nodePort: { namespace: 'imanager', service: 'gateway', group: 'basic-service' },
      }),
      result: { state: 'open' as const, durationSeconds: 0.0012345678 },
    };
    const [json] = toCheckJson(report([nodePort])).targets;
    assert.deepEqual(json, {
      node: 'cp-1',
      address: '10.0.0.1',
      ip: '10.0.0.1',
      port: 31555,
      protocol: 'tcp',
      portName: 'http',
      component: 'etcd',
      category: 'nodeport',
      scope: 'internal',
      expected: 'open',
      required: true,
      state: 'open',
      asExpected: true,
      latencySeconds: 0.001235,
      reason: 'answers',
      roles: ['control-plane'],
      namespace: 'imanager',
      service: 'gateway',
      group: 'basic-service',
    });
    assert.match(
      renderCheckText(report([nodePort]), { colour: false }),
      / imanager\/gateway:http /,
    );
  });

  test('a name that does not resolve reads in words, and nothing probed is said', () => {
    const unresolved = {
      target: target({ expected: 'open', address: 'cp-1.example', ip: '' }),
      result: { state: 'error' as const, durationSeconds: 0, error: 'EAI_AGAIN' },
    };
    const text = renderCheckText(report([unresolved]), { colour: false });
    assert.match(
      text,
      /FAIL not probed: host name does not resolve: the resolver did not answer$/m,
    );
    assert.match(
      text,
      /^1 node, 1 port: none could be probed from external \(outside the cluster\), 1 required not\.$/m,
    );
    assert.doesNotMatch(text, /EAI_AGAIN/);
    const [json] = toCheckJson(report([unresolved])).targets;
    assert.equal(json?.latencySeconds, null);
    assert.equal(
      json?.reason,
      'not probed: host name does not resolve: the resolver did not answer',
    );
    assert.equal(json?.error, 'EAI_AGAIN');
  });

  test("targets go in discovery's node order, then by port and address; unlisted nodes last", () => {
    const node = (name: string) => ({
      name,
      addresses: [],
      roles: [],
      ready: true,
      kubeletVersion: '',
    });
    const at = (nodeName: string, port: number, address = '10.0.0.1') => ({
      target: target({ node: nodeName, port, address, key: `${nodeName}|${address}|${port}` }),
      result: { state: 'refused' as const, durationSeconds: 0 },
    });
    const checked = [
      at('zz-unlisted', 1),
      at('cp-1', 9101),
      at('cp-2', 6443),
      at('cp-1', 2379, '10.0.0.9'),
      at('aa-unlisted', 5),
      at('cp-1', 2379, '10.0.0.2'),
      at('cp-2', 179),
    ];
    const json = toCheckJson({ ...report(checked), nodes: [node('cp-2'), node('cp-1')] });
    assert.deepEqual(
      json.targets.map((t) => `${t.node}:${t.port}@${t.address}`),
      [
        'cp-2:179@10.0.0.1',
        'cp-2:6443@10.0.0.1',
        'cp-1:2379@10.0.0.2',
        'cp-1:2379@10.0.0.9',
        'cp-1:9101@10.0.0.1',
        'aa-unlisted:5@10.0.0.1',
        'zz-unlisted:1@10.0.0.1',
      ],
    );
  });

  test('the JSON text is the same value as the report, with one target a line', () => {
    const checked = [2379, 6443, 31555].map((port) => ({
      target: target({ port, key: `cp-1|${port}` }),
      result: { state: 'refused' as const, durationSeconds: 0.0001 },
    }));
    const json = toCheckJson(report(checked));
    const text = renderCheckJson(json);
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(json)));
    assert.ok(text.endsWith('}\n'));
    const targetLines = text.split('\n').filter((line) => line.startsWith('    {"node":'));
    assert.equal(targetLines.length, 3);
    for (const line of targetLines) assert.doesNotThrow(() => JSON.parse(line.replace(/,$/, '')));
    assert.match(text, /^ {2}"summary": \{$/m);
    // No targets: the plain indented document.
    const empty = toCheckJson(report([]));
    assert.equal(renderCheckJson(empty), `${JSON.stringify(empty, null, 2)}\n`);
  });
});
