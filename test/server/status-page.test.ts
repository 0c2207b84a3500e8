import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeResult } from '../../src/probe/types.js';
import { createApp, type ServerHandle, startServer } from '../../src/server/app.js';
import { StatusData } from '../../src/server/status/latest.js';
import { SLICE_ROWS } from '../../src/server/status/snapshot.js';
import {
  ago,
  createStatusPage,
  refreshSecondsFor,
  renderStatusPage,
  STATUS_PAGE_CSP,
} from '../../src/server/status-page.js';
import {
  clusterNode,
  clusterStore,
  discoveredFor,
  nodePort,
  T0,
  viewOf,
} from './status-fixture.js';

const OPEN: ProbeResult = { state: 'open', durationSeconds: 0.0004 };
const REFUSED: ProbeResult = { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' };
const TIMEOUT: ProbeResult = { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' };

const INFO = {
  version: '0.1.0',
  refreshSeconds: 15,
  intervalSeconds: 15,
  vantage: 'central',
  discovery: { source: 'kubernetes', up: true, lastSuccessSeconds: T0 / 1000 - 5 },
};

/** The known set-up: 9101 refused on worker-1, the GIS NodePort dropped on worker-2. */
function knownStore() {
  return clusterStore({
    result: (t) => {
      if (t.node === 'worker-1' && t.port === 9101) return REFUSED;
      if (t.node === 'worker-2' && t.port === 31500) return TIMEOUT;
      if (t.node === 'master-1' && t.port === 179) return undefined;
      return OPEN;
    },
    at: () => T0 - 3 * 60_000,
  });
}

/** Every `name="value"` of an attribute in the page. */
function attributeValues(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`\\s${name}="([^"]*)"`, 'g'))].map((m) => m[1] as string);
}

/** The data-state of each matrix cell of a node, by port, from the page. */
function matrixStates(html: string, node: string): Map<number, string> {
  const matrix = html.slice(html.indexOf('id="matrix"'));
  const ports = [...matrix.matchAll(/<th class="port" data-port="(\d+)"/g)].map((m) =>
    Number(m[1]),
  );
  const row = new RegExp(`<tr data-node="${node}">(.*?)</tr>`).exec(matrix)?.[1] ?? '';
  const cells = [...row.matchAll(/<td(?: data-state="(\w+)")?[^>]*>/g)].map((m) => m[1] ?? '');
  return new Map(ports.map((port, i) => [port, cells[i] ?? 'missing']));
}

describe('renderStatusPage', () => {
  let html = '';
  before(async () => {
    html = renderStatusPage(await viewOf(knownStore()), INFO);
  });

  it('shows each node and port in the state the store holds', () => {
    const worker1 = matrixStates(html, 'worker-1');
    assert.equal(worker1.get(9101), 'refused');
    assert.equal(worker1.get(10250), 'open');
    assert.equal(worker1.get(6443), '', 'a control-plane port has no cell on a worker');
    assert.equal(matrixStates(html, 'worker-2').get(31500), 'timeout');
    assert.equal(matrixStates(html, 'master-1').get(179), 'unprobed');
  });

  it('marks the failing cells and lists them with state, since when and the hint', () => {
    assert.match(html, /<td data-state="refused" data-verdict="down" class="fail"/);
    assert.match(html, /2 required ports not as expected on 2 nodes/);
    const list = html.slice(html.indexOf('id="failing"'), html.indexOf('id="matrix"'));
    const rows = list.match(/<tr data-kind=/g) ?? [];
    assert.equal(rows.length, 2);
    assert.match(
      list,
      /<tr data-kind="target" data-node="worker-1" data-port="9101" data-state="refused" data-verdict="down" data-count="1">/,
    );
    assert.match(list, /start the service/);
    assert.match(list, /open the port in the firewall/);
    assert.match(list, /imanager-gis\/gisapp-1a2b/);
    assert.match(list, /3 min ago/);
    assert.match(list, /2025-01-01 11:57:00 UTC/);
    assert.match(list, /ECONNREFUSED/);
    // Never seen changing: the page says the time is the exporter's start, not the failure's.
    assert.match(list, /since start/);
  });

  it('says in the header which vantage, version, interval and discovery it shows', () => {
    const facts = html.slice(html.indexOf('id="facts"'), html.indexOf('<main>'));
    assert.match(facts, /<dt>Vantage<\/dt><dd>central<\/dd>/);
    assert.match(facts, /<dt>Version<\/dt><dd>0\.1\.0<\/dd>/);
    assert.match(facts, /<dt>Probes every<\/dt><dd>15 s<\/dd>/);
    assert.match(facts, /<dt>Discovery<\/dt><dd>kubernetes up, synced 5 s ago<\/dd>/);
  });

  it('says when discovery fails', async () => {
    const page = renderStatusPage(await viewOf(knownStore()), {
      ...INFO,
      discovery: { source: 'kubernetes', up: false },
    });
    assert.match(page, /kubernetes failing, never synced: showing the last known nodes/);
  });

  it('shows roles and connect times beside each node, not only on hover', () => {
    const row = /<tr data-node="master-1">(.*?)<\/tr>/.exec(
      html.slice(html.indexOf('id="matrix"')),
    )?.[1];
    assert.match(
      row ?? '',
      /<span class="about">control-plane, etcd &middot; connect 0\.40 ms<\/span>/,
    );
  });

  it('gives an exposure its own colour and a legend entry', async () => {
    const store = clusterStore({
      vantage: 'external',
      result: (t) =>
        t.node === 'master-1' && t.port === 2379 ? OPEN : t.expected === 'closed' ? REFUSED : OPEN,
    });
    const page = renderStatusPage(await viewOf(store), INFO);
    assert.match(
      page,
      /<td data-state="open" data-verdict="exposed" class="fail" title="[^"]*exposed[^"]*">!<\/td>/,
    );
    assert.match(
      page,
      /<span data-legend="exposed"><i class="sw exposed">!<\/i>exposed: answers where it must be closed<\/span>/,
    );
    assert.match(page, /data-verdict="exposed" data-count="1"><td data-label="Where">/);
    assert.match(page, /<span class="state exposed">exposed \(open\)<\/span>/);
  });
  it('has a legend naming every state', () => {
    for (const word of ['open', 'refused', 'timeout', 'unreachable', 'error', 'not probed yet']) {
      assert.match(html, new RegExp(`<i class="sw [a-z]+"></i>${word}</span>`));
    }
    assert.match(html, /exposed: answers where it must be closed/);
  });

  it('reloads itself at the pace given, without a script', () => {
    assert.match(html, /<meta http-equiv="refresh" content="15">/);
    assert.doesNotMatch(html, /<script/i);
  });

  it('loads nothing from anywhere: every link and source is its own path or data:', () => {
    const links = [
      ...attributeValues(html, 'href'),
      ...attributeValues(html, 'src'),
      ...attributeValues(html, 'action'),
    ];
    assert.ok(links.length > 5, `${links}`);
    for (const link of links) {
      assert.doesNotMatch(link, /^[a-z][a-z0-9+.-]*:(?!,)|^\/\//i, `not an own path: ${link}`);
      if (link.startsWith('data:')) assert.equal(link, 'data:,');
    }
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /@import|url\(|@font-face|<link rel="stylesheet"/);
    assert.match(html, /href="metrics"/);
  });

  it('is a GET form with a node and a group choice, the current filter selected', async () => {
    const filtered = renderStatusPage(
      await viewOf(knownStore(), T0, { filter: { node: 'worker-2', group: 'gis-environment' } }),
      INFO,
    );
    assert.match(filtered, /<form method="get">/);
    assert.match(filtered, /<option value="worker-2" selected>worker-2<\/option>/);
    assert.match(filtered, /<option value="worker-1">worker-1<\/option>/);
    assert.match(filtered, /<option value="gis-environment" selected>/);
    assert.deepEqual([...matrixStates(filtered, 'worker-2')], [[31500, 'timeout']]);
    assert.doesNotMatch(filtered, /<tr data-node="worker-1">/);
    // Links keep the filter in the query, on the page's own path.
    assert.match(filtered, /href="\?node=worker-2&amp;group=gis-environment"/);
  });

  it('escapes every value that comes from the cluster', async () => {
    const evil = '<script>alert(1)</script>';
    const store = clusterStore({
      nodes: [clusterNode(evil, '10.0.0.1', ['worker'])],
      nodePorts: [
        nodePort({
          nodePort: 31500,
          namespace: 'ns"><img src=x onerror=alert(2)>',
          service: "svc'<b>",
          portName: '<i>http</i>',
          group: 'gis-environment',
        }),
      ],
      result: (t) =>
        t.port === 31500 ? { state: 'error', durationSeconds: 0, error: '<svg onload=x>' } : OPEN,
    });
    const page = renderStatusPage(await viewOf(store, T0, { filter: { node: evil } }), {
      version: '1.0<b>',
      refreshSeconds: 5,
      vantage: '<u>v</u>',
    });
    // The page's own <b> wraps port numbers only.
    assert.doesNotMatch(page, /<script>|<img|<svg|<i>|<u>|<b>(?!\d+<\/b>)/);
    assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(page, /ns&quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;/);
    assert.match(page, /svc&#39;&lt;b&gt;/);
    assert.match(page, /&lt;svg onload=x&gt;/);
    assert.match(page, /1\.0&lt;b&gt;/);
    // In a link, the name is URL-encoded first.
    assert.match(page, /href="\?node=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"/);
  });

  it('says so when there is nothing to show, and why', async () => {
    const empty = renderStatusPage(await viewOf(clusterStore({ nodes: [] })), INFO);
    assert.match(empty, /No targets yet/);
    assert.doesNotMatch(empty, /id="matrix"/);
    const none = renderStatusPage(
      await viewOf(knownStore(), T0, { filter: { node: 'no-such-node' } }),
      INFO,
    );
    assert.match(none, /No node named no-such-node has targets: pick one of the 3 nodes below/);
    assert.match(none, /<option value="no-such-node" selected>no-such-node \(unknown\)<\/option>/);
    // The filter shows nothing, but probing ran: the page says when, not "no probe yet".
    assert.match(none, /Last probe \(of any target\) <time[^>]*>3 min ago/);
    assert.doesNotMatch(none, /No probe has finished yet/);
    const noGroup = renderStatusPage(
      await viewOf(clusterStore({ nodePorts: [] }), T0, { filter: { group: 'gis-environment' } }),
      INFO,
    );
    assert.match(
      noGroup,
      /No ports in NodePorts: GIS environments: the cluster has no NodePort in this group/,
    );
    assert.match(noGroup, /Last probe \(of any target\)/);
    const probing = renderStatusPage(await viewOf(clusterStore({ result: () => undefined })), INFO);
    assert.match(probing, /Probing: no results yet/);
    assert.match(probing, /No probe has finished yet/);
    const good = renderStatusPage(await viewOf(clusterStore()), INFO);
    assert.match(good, /Every required port is as expected/);
  });

  it('at 100 nodes x 200 NodePorts, every port failing, lists one row per node where nothing answers', async () => {
    const store = bigStore(100, 200, () => TIMEOUT);
    const page = createStatusPage({
      version: '0.1.0',
      source: { store, snapshot: discoveredFor(store), intervalSeconds: () => 15, now: () => T0 },
    });
    const all = (await page({})).body;
    assert.ok(Buffer.byteLength(all) < 1024 * 1024, `${Buffer.byteLength(all)} bytes`);
    // assert.match would print the whole page on failure.
    assert.ok(all.includes('What fails: 20500 ports in 100 rows, worst first'));
    assert.equal(all.match(/<tr data-kind="node"/g)?.length, 50, 'a page of 50 rows');
    assert.ok(all.includes('Page 1 of 2 (100 rows of what fails)'));
    assert.ok(all.includes('160 more NodePorts not shown as columns'));
    // One node at a time, every NodePort is a column.
    const one = (await page({ node: 'worker-007' })).body;
    assert.equal(matrixStates(one, 'worker-007').size, 5 + 200);
  });

  it('stays under 1 MB at 100,000 targets: a table of nodes per page, what fails per page', async () => {
    // 500 nodes x (5 catalog ports + 200 NodePorts) = 102,500 targets.
    const store = bigStore(500, 200, (t) => {
      if (t.node.endsWith('7')) return TIMEOUT; // 50 nodes cut off
      if (t.category === 'nodeport' && t.port % 4 === 0) return REFUSED; // 50 Services without endpoints
      if (t.port === 9101 && t.node.endsWith('3')) return REFUSED;
      return OPEN;
    });
    assert.ok(store.size >= 100_000, `${store.size}`);
    const page = createStatusPage({
      version: '0.1.0',
      source: { store, snapshot: discoveredFor(store), intervalSeconds: () => 15, now: () => T0 },
    });
    const sizes: Record<string, number> = {};
    for (const query of [
      {},
      { page: '2' },
      { nodes: '5' },
      { group: 'gis-environment' },
      { node: 'worker-123' },
    ]) {
      const response = await page(query);
      assert.equal(response.status, 200);
      sizes[JSON.stringify(query)] = Buffer.byteLength(response.body);
    }
    for (const [query, bytes] of Object.entries(sizes)) {
      assert.ok(bytes < 1024 * 1024, `${query}: ${bytes} bytes`);
    }
    const all = (await page({})).body;
    assert.ok(!all.includes('id="matrix"'), 'no matrix of 100,000 cells');
    assert.equal(all.match(/<tr data-node="worker-\d+">/g)?.length, 100, 'a page of nodes');
    assert.ok(all.includes('Page 1 of 5 (500 nodes)'));
    // 50 nodes cut off, 50 Services on 450 nodes, and 9101 on 50 nodes: 101 rows.
    assert.ok(all.includes('in 101 rows, worst first'));
    assert.ok(all.includes('<input name="node"'), 'a text field, not 500 options');
  });
});

/** `nodes` workers with the page-test catalog and `nodePorts` NodePorts 30000..., results by `result`. */
function bigStore(
  nodes: number,
  nodePorts: number,
  result: (t: import('../../src/targets/types.js').Target) => ProbeResult,
) {
  return clusterStore({
    nodes: Array.from({ length: nodes }, (_, i) =>
      clusterNode(`worker-${String(i).padStart(3, '0')}`, `10.0.${i >> 8}.${i & 255}`, ['worker']),
    ),
    nodePorts: Array.from({ length: nodePorts }, (_, i) =>
      nodePort({
        nodePort: 30000 + i,
        service: `gisapp-${i}-with-a-long-service-name`,
        namespace: 'imanager-gis-environments',
        group: i % 2 ? 'gis-environment' : 'basic-service',
      }),
    ),
    result,
  });
}

describe('the page and the probing loop', () => {
  it('a request reads the snapshot taken at the cycle end, never the store', async () => {
    const store = knownStore();
    let leases = 0;
    const counting = {
      leaseColumns: () => {
        leases++;
        return store.leaseColumns();
      },
      icmpResults: () => store.icmpResults(),
    };
    const data = new StatusData(counting, { snapshot: discoveredFor(store) });
    await data.capture();
    assert.equal(leases, 1);
    const page = createStatusPage({
      version: '0.1.0',
      source: { store: counting, data, intervalSeconds: () => 15, now: () => T0 },
    });
    for (const query of [{}, { node: 'worker-1' }, { group: 'catalog' }, { page: '1' }]) {
      assert.equal((await page(query)).status, 200);
    }
    assert.equal(leases, 1, 'no request walked the store');
  });

  it('takes its snapshot in slices of SLICE_ROWS targets, one loop turn each', async () => {
    const store = bigStore(20, 200, () => OPEN);
    let turns = 0;
    await new StatusData(store, {
      yieldTurn: async () => {
        turns++;
      },
    }).capture();
    // Copying and tallying each take a turn per slice.
    assert.ok(turns >= 2 * Math.floor(store.size / SLICE_ROWS), `${turns} turns for ${store.size}`);
  });
});

describe('refreshSecondsFor', () => {
  it('follows the probe interval, never under 5 s', () => {
    assert.equal(refreshSecondsFor(15), 15);
    assert.equal(refreshSecondsFor(7.5), 8);
    assert.equal(refreshSecondsFor(1), 5);
    assert.equal(refreshSecondsFor(Number.NaN), 5);
  });
});

describe('ago', () => {
  const cases: [number, string][] = [
    [0, 'just now'],
    [-5_000, 'just now'],
    [12_000, '12 s ago'],
    [5 * 60_000 + 30_000, '5 min ago'],
    [3 * 3_600_000, '3 h ago'],
    [3 * 3_600_000 + 20 * 60_000, '3 h 20 min ago'],
    [2 * 86_400_000 + 4 * 3_600_000, '2 d 4 h ago'],
  ];
  for (const [elapsed, text] of cases) {
    it(`${elapsed} ms: ${text}`, () => assert.equal(ago(elapsed), text));
  }
});

describe('GET /', () => {
  let server: ServerHandle;
  let interval = 15;

  before(async () => {
    const store = knownStore();
    const app = createApp({
      version: '0.1.0',
      readiness: () => true,
      metrics: { contentType: 'text/plain', render: async () => Buffer.from('') },
      status: {
        store,
        snapshot: discoveredFor(store),
        intervalSeconds: () => interval,
        now: () => T0,
      },
    });
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  it('serves the status page with a policy that allows nothing but its own styles', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('content-security-policy'), STATUS_PAGE_CSP);
    assert.match(STATUS_PAGE_CSP, /^default-src 'none'; style-src 'unsafe-inline'; img-src data:/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const html = await res.text();
    assert.equal(matrixStates(html, 'worker-1').get(9101), 'refused');
  });

  it('filters by the query, and reloads at the current probe interval', async () => {
    interval = 30;
    const html = await (await fetch(`${server.url}/?node=worker-2&group=gis-environment`)).text();
    assert.deepEqual([...matrixStates(html, 'worker-2')], [[31500, 'timeout']]);
    assert.match(html, /content="30"/);
    interval = 15;
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await fetch(`${server.url}/`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), STATUS_PAGE_CSP);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('answers an unknown group with 400 and a page that says what is valid', async () => {
    const res = await fetch(`${server.url}/?group=nonsense`);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-security-policy'), STATUS_PAGE_CSP);
    const html = await res.text();
    assert.match(
      html,
      /Cannot show this page: unknown group &quot;nonsense&quot;: expected one of catalog, basic-service, gis-environment, other\./,
    );
    assert.match(html, /<a href="\?group=gis-environment"><code>gis-environment<\/code><\/a>/);
    assert.doesNotMatch(html, /http-equiv="refresh"/, 'a bad query is not reloaded forever');
    assert.equal((await fetch(`${server.url}/?page=-1`)).status, 400);
  });

  it('answers a node it does not know with 404 and the nodes it knows', async () => {
    const res = await fetch(`${server.url}/?node=worker-9`);
    assert.equal(res.status, 404);
    const html = await res.text();
    assert.match(html, /No node named worker-9 has targets/);
    assert.match(html, /<option value="worker-1">worker-1<\/option>/);
  });

  it('without a status source shows an exporter with no targets', async () => {
    const bare = (await createStatusPage({ version: '0.1.0' })({})).body;
    assert.match(bare, /No targets yet/);
    assert.match(bare, /content="15"/);
  });
});
