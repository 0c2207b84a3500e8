/**
 * The API server double on the wire, with plain fetch: what the source tests rely on
 * must hold here first (list shape, watch replay, 410 both ways, faults).
 */
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import * as fx from '../../fixtures/kube/cluster.js';
import { KubeApiServer } from '../../helpers/kube-api-server.js';

const auth = { headers: { Authorization: 'Bearer test-token' } };

interface WatchEvent {
  type: string;
  object: {
    kind?: string;
    code?: number;
    reason?: string;
    metadata?: { name?: string; resourceVersion?: string };
  };
}

/** Opens a watch and yields its events one at a time. */
async function openWatch(url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { ...auth, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.ok(response.body);
  const body = Readable.fromWeb(response.body as never);
  let failure: Error | undefined;
  body.on('error', (error) => {
    failure = error;
  });
  const lines = createInterface(body);
  const iterator = lines[Symbol.asyncIterator]();
  return {
    /** The next event; undefined when the stream ended; throws when it broke. */
    async next(): Promise<WatchEvent | undefined> {
      const { value, done } = await iterator.next();
      if (done && failure) throw failure;
      return done ? undefined : (JSON.parse(value) as WatchEvent);
    },
    close: () => {
      lines.close();
      controller.abort();
    },
  };
}

describe('KubeApiServer', () => {
  let api: KubeApiServer;
  before(async () => {
    api = await KubeApiServer.start();
    api.create('nodes', fx.controlPlaneNode);
    api.create('services', fx.imanagerDashboardUi);
    api.create('services', fx.gisServer);
  });
  after(() => api.close());

  it('serves /version with and without the slash', async () => {
    for (const path of ['/version', '/version/']) {
      const body = (await (await fetch(`${api.url}${path}`, auth)).json()) as Record<
        string,
        string
      >;
      assert.deepEqual([body.major, body.minor, body.gitVersion], ['1', '25', 'v1.25.6']);
    }
  });

  it('lists like the real server: XList, resourceVersion, items without kind', async () => {
    const list = (await (await fetch(`${api.url}/api/v1/services`, auth)).json()) as {
      kind: string;
      apiVersion: string;
      metadata: { resourceVersion: string };
      items: { kind?: string; metadata: { name: string; resourceVersion: string } }[];
    };
    assert.equal(list.kind, 'ServiceList');
    assert.equal(list.apiVersion, 'v1');
    assert.equal(list.metadata.resourceVersion, api.resourceVersion);
    assert.deepEqual(
      list.items.map((i) => [i.metadata.name, i.kind]),
      [
        ['imanager-dashboard-ui', undefined],
        ['iserver', undefined],
      ],
    );
    const namespaced = (await (
      await fetch(`${api.url}/api/v1/namespaces/supermap-gis-7f3a/services`, auth)
    ).json()) as { items: unknown[] };
    assert.equal(namespaced.items.length, 1);
  });

  it('refuses requests without the token, and unknown paths, with Status bodies', async () => {
    const unauthorized = await fetch(`${api.url}/api/v1/nodes`);
    assert.equal(unauthorized.status, 401);
    assert.equal(((await unauthorized.json()) as { reason: string }).reason, 'Unauthorized');
    const missing = await fetch(`${api.url}/api/v1/secrets`, auth);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { kind: string }).kind, 'Status');
  });

  it('replays changes after a resourceVersion, then streams live ones', async () => {
    const from = api.resourceVersion;
    api.modify('services', fx.gisServer);
    const watch = await openWatch(`${api.url}/api/v1/services?watch=true&resourceVersion=${from}`);
    try {
      const replayed = await watch.next();
      assert.equal(replayed?.type, 'MODIFIED');
      assert.equal(replayed?.object.kind, 'Service');
      assert.equal(replayed?.object.metadata?.resourceVersion, api.resourceVersion);
      api.remove('services', 'supermap', 'imanager-dashboard-ui');
      const deleted = await watch.next();
      assert.equal(deleted?.type, 'DELETED');
      assert.equal(deleted?.object.metadata?.name, 'imanager-dashboard-ui');
      api.create('services', fx.imanagerDashboardUi);
      assert.equal((await watch.next())?.type, 'ADDED');
    } finally {
      watch.close();
    }
  });

  it('starts a watch without resourceVersion with ADDED for every object', async () => {
    const watch = await openWatch(`${api.url}/api/v1/nodes?watch=true`);
    try {
      const first = await watch.next();
      assert.deepEqual([first?.type, first?.object.metadata?.name], ['ADDED', 'k8s-master-1']);
    } finally {
      watch.close();
    }
  });

  it('sends a 410 ERROR event for a compacted resourceVersion and ends the stream', async () => {
    const old = api.resourceVersion;
    api.modify('nodes', fx.controlPlaneNode);
    api.compact();
    const watch = await openWatch(`${api.url}/api/v1/nodes?watch=true&resourceVersion=${old}`);
    const event = await watch.next();
    assert.equal(event?.type, 'ERROR');
    assert.deepEqual(
      [event?.object.kind, event?.object.code, event?.object.reason],
      ['Status', 410, 'Expired'],
    );
    assert.equal(await watch.next(), undefined);
  });

  it('answers HTTP 410 for a compacted resourceVersion in http mode', async () => {
    const strict = await KubeApiServer.start({ goneMode: 'http' });
    try {
      strict.create('nodes', fx.controlPlaneNode);
      strict.compact();
      const response = await fetch(`${strict.url}/api/v1/nodes?watch=true&resourceVersion=1`, auth);
      assert.equal(response.status, 410);
      assert.equal(((await response.json()) as { code: number }).code, 410);
    } finally {
      await strict.close();
    }
  });

  it('expires, cuts and ends open watches', async () => {
    const expiring = await openWatch(
      `${api.url}/api/v1/nodes?watch=true&resourceVersion=${api.resourceVersion}`,
    );
    await api.waitForRequests((r) => r.verb === 'watch' && r.status === 200, 1);
    assert.equal(api.expireWatches('nodes'), 1);
    assert.equal((await expiring.next())?.object.code, 410);
    assert.equal(await expiring.next(), undefined);

    const cut = await openWatch(
      `${api.url}/api/v1/nodes?watch=true&resourceVersion=${api.resourceVersion}`,
    );
    assert.equal(api.openWatches('nodes'), 1);
    assert.equal(api.cutWatches('nodes'), 1);
    await assert.rejects(cut.next());
    await api.whenNoWatches();
  });

  it('injects faults with real RBAC messages, for a number of requests', async () => {
    api.forbid('services', 'list');
    const forbidden = await fetch(`${api.url}/api/v1/namespaces/supermap/services`, auth);
    assert.equal(forbidden.status, 403);
    assert.equal(
      ((await forbidden.json()) as { message: string }).message,
      'services is forbidden: User "system:serviceaccount:monitoring:imanager-port-exporter" cannot list resource "services" in API group "" in the namespace "supermap"',
    );
    const lift = api.fail({ status: 500, target: 'nodes', times: 1 });
    assert.equal((await fetch(`${api.url}/api/v1/nodes`, auth)).status, 500);
    assert.equal((await fetch(`${api.url}/api/v1/nodes`, auth)).status, 200);
    lift();
  });

  it('goes down and comes back on the same port', async () => {
    const port = api.port;
    await api.down();
    await assert.rejects(fetch(`${api.url}/version`, auth));
    await api.up();
    assert.equal(api.port, port);
    assert.equal((await fetch(`${api.url}/version`, auth)).status, 200);
  });
});
