import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import {
  type ApiFailure,
  describeApiError,
  permissionMessage,
} from '../../../src/discovery/kubernetes/errors.js';
import { KubeApiServer } from '../../helpers/kube-api-server.js';

describe('describeApiError on shapes client-node produces', () => {
  const cases: [what: string, error: unknown, failure: ApiFailure][] = [
    [
      'ApiException 403 with a Status body as text',
      Object.assign(new Error('HTTP-Code: 403\nMessage: Unknown API Status Code!'), {
        code: 403,
        body: JSON.stringify({ kind: 'Status', message: 'nodes is forbidden: no', code: 403 }),
      }),
      { kind: 'forbidden', status: 403, message: 'nodes is forbidden: no' },
    ],
    [
      'ApiException 401 without a body',
      Object.assign(new Error('HTTP-Code: 401\nMessage: Unauthorized'), { code: 401 }),
      { kind: 'unauthorized', status: 401, message: 'HTTP-Code: 401' },
    ],
    [
      'watch error with statusCode',
      Object.assign(new Error('Gone'), { statusCode: 410 }),
      { kind: 'gone', status: 410, message: 'Gone' },
    ],
    [
      'watch error 500',
      Object.assign(new Error('Internal Server Error'), { statusCode: 500 }),
      { kind: 'http', status: 500, message: 'Internal Server Error' },
    ],
    [
      'connection refused',
      Object.assign(new Error('request failed, reason: connect ECONNREFUSED 127.0.0.1:1'), {
        name: 'FetchError',
        code: 'ECONNREFUSED',
      }),
      {
        kind: 'unreachable',
        errorCode: 'ECONNREFUSED',
        message: 'request failed, reason: connect ECONNREFUSED 127.0.0.1:1',
      },
    ],
    [
      'stream cut',
      Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }),
      { kind: 'unreachable', errorCode: 'ERR_STREAM_PREMATURE_CLOSE', message: 'Premature close' },
    ],
    [
      'aborted by our timeout',
      Object.assign(new Error('The user aborted a request.'), { name: 'AbortError' }),
      { kind: 'timeout', message: 'no answer from the API server in time' },
    ],
    ['a string', 'boom', { kind: 'other', message: 'boom' }],
    ['undefined', undefined, { kind: 'other', message: 'undefined' }],
  ];
  for (const [what, error, failure] of cases) {
    it(what, () => assert.deepEqual(describeApiError(error), failure));
  }
});

describe('describeApiError on real client-node 1.4 errors', () => {
  let api: KubeApiServer;
  let kc: KubeConfig;
  before(async () => {
    api = await KubeApiServer.start();
    kc = new KubeConfig();
    kc.loadFromFile(await api.writeKubeconfig());
  });
  after(() => api.close());

  it('a forbidden list', async () => {
    const lift = api.forbid('nodes', 'list');
    try {
      const error = await kc
        .makeApiClient(CoreV1Api)
        .listNode()
        .then(
          () => assert.fail('listed'),
          (e: unknown) => e,
        );
      assert.deepEqual(describeApiError(error), {
        kind: 'forbidden',
        status: 403,
        message:
          'nodes is forbidden: User "system:serviceaccount:monitoring:imanager-port-exporter" cannot list resource "nodes" in API group "" at the cluster scope',
      });
    } finally {
      lift();
    }
  });

  it('a watch refused with 500', async () => {
    const lift = api.fail({ status: 500, verb: 'watch' });
    try {
      const error = await new Promise((resolve) => {
        void new Watch(kc).watch('/api/v1/nodes', {}, () => {}, resolve);
      });
      assert.deepEqual(describeApiError(error), {
        kind: 'http',
        status: 500,
        message: 'Internal Server Error',
      });
    } finally {
      lift();
    }
  });

  it('an API server that is down', async () => {
    await api.down();
    try {
      const error = await kc
        .makeApiClient(CoreV1Api)
        .listNode()
        .then(
          () => assert.fail('listed'),
          (e: unknown) => e,
        );
      const failure = describeApiError(error);
      assert.equal(failure.kind, 'unreachable');
      assert.equal(failure.errorCode, 'ECONNREFUSED');
    } finally {
      await api.up();
    }
  });
});

describe('permissionMessage', () => {
  const forbidden: ApiFailure = { kind: 'forbidden', status: 403, message: 'no' };
  it('names the verb, resource, group and what to grant', () => {
    assert.equal(
      permissionMessage(
        'list',
        { resource: 'endpointslices', group: 'discovery.k8s.io' },
        forbidden,
      ),
      'Kubernetes discovery may not list endpointslices (API group "discovery.k8s.io") at cluster scope: grant the exporter\'s service account get, list and watch on endpointslices in API group "discovery.k8s.io"; retrying with backoff',
    );
  });
  it('names the namespace when one is watched', () => {
    assert.match(
      permissionMessage(
        'watch',
        { resource: 'services', group: '', namespace: 'supermap' },
        forbidden,
      ) ?? '',
      /^Kubernetes discovery may not watch services \(API group ""\) in namespace "supermap": /,
    );
  });
  it('asks for the non-resource URL /version with and without the slash', () => {
    assert.equal(
      permissionMessage('get', { resource: '/version', group: '' }, forbidden),
      "Kubernetes discovery may not get /version: grant the exporter's service account get on nonResourceURLs /version and /version/; retrying with backoff",
    );
  });
  it('explains a 401 as credentials, and says nothing for other failures', () => {
    assert.match(
      permissionMessage(
        'list',
        { resource: 'nodes', group: '' },
        { kind: 'unauthorized', message: '' },
      ) ?? '',
      /rejected the credentials \(401/,
    );
    assert.equal(
      permissionMessage('list', { resource: 'nodes', group: '' }, { kind: 'http', message: '' }),
      undefined,
    );
  });
});
