import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeResult } from '../../src/probe/types.js';
import { createApp, type ServerHandle, startServer } from '../../src/server/app.js';
import {
  ago,
  createStatusPage,
  refreshSecondsFor,
  renderStatusPage,
  STATUS_PAGE_CSP,
} from '../../src/server/status-page.js';
import { statusView } from '../../src/server/status-view.js';
import { clusterNode, clusterStore, nodePort, T0 } from './status-fixture.js';

const OPEN: ProbeResult = { state: 'open', durationSeconds: 0.0004 };
const REFUSED: ProbeResult = { state: 'refused', durationSeconds: 0.0002, error: 'ECONNREFUSED' };
const TIMEOUT: ProbeResult = { state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' };

const INFO = { version: '0.1.0', refreshSeconds: 15 };

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
  const html = renderStatusPage(statusView(knownStore(), T0), INFO);

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
    const rows = list.match(/<tr data-node=/g) ?? [];
    assert.equal(rows.length, 2);
    assert.match(list, /<tr data-node="worker-1" data-port="9101" data-state="refused">/);
    assert.match(list, /nothing listens/);
    assert.match(list, /open the port in the firewall/);
    assert.match(list, /imanager-gis\/gisapp-1a2b/);
    assert.match(list, /3 min ago/);
    assert.match(list, /2025-01-01 11:57:00 UTC/);
    assert.match(list, /ECONNREFUSED/);
  });

  it('has a legend naming every state', () => {
    for (const word of ['open', 'refused', 'timeout', 'unreachable', 'error', 'not probed yet']) {
      assert.match(html, new RegExp(`<i class="sw [a-z]+"></i>${word}</span>`));
    }
    assert.match(html, /exposed: open, expected closed/);
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

  it('is a GET form with a node and a group choice, the current filter selected', () => {
    const filtered = renderStatusPage(
      statusView(knownStore(), T0, { filter: { node: 'worker-2', group: 'gis-environment' } }),
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

  it('escapes every value that comes from the cluster', () => {
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
    const page = renderStatusPage(statusView(store, T0, { filter: { node: evil } }), {
      version: '1.0<b>',
      refreshSeconds: 5,
    });
    // The page's own <b> wraps port numbers only.
    assert.doesNotMatch(page, /<script>|<img|<svg|<i>|<b>(?!\d+<\/b>)/);
    assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(page, /ns&quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;/);
    assert.match(page, /svc&#39;&lt;b&gt;/);
    assert.match(page, /&lt;svg onload=x&gt;/);
    assert.match(page, /1\.0&lt;b&gt;/);
    // In a link, the name is URL-encoded first.
    assert.match(page, /href="\?node=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"/);
  });

  it('says so when there is nothing to show', () => {
    const empty = renderStatusPage(statusView(clusterStore({ nodes: [] }), T0), INFO);
    assert.match(empty, /No targets yet/);
    assert.doesNotMatch(empty, /id="matrix"/);
    const none = renderStatusPage(
      statusView(knownStore(), T0, { filter: { node: 'no-such-node' } }),
      INFO,
    );
    assert.match(none, /No targets match this filter/);
    assert.match(none, /<option value="no-such-node" selected>no-such-node \(unknown\)<\/option>/);
    const probing = renderStatusPage(
      statusView(clusterStore({ result: () => undefined }), T0),
      INFO,
    );
    assert.match(probing, /Probing: no results yet/);
    const good = renderStatusPage(statusView(clusterStore(), T0), INFO);
    assert.match(good, /Every required port is as expected/);
  });

  it('stays under 3 MB for 100 nodes x 200 NodePorts with every port failing', () => {
    const nodes = Array.from({ length: 100 }, (_, i) =>
      clusterNode(`worker-${String(i).padStart(3, '0')}`, `10.0.${i >> 8}.${i & 255}`, ['worker']),
    );
    const nodePorts = Array.from({ length: 200 }, (_, i) =>
      nodePort({
        nodePort: 30000 + i,
        service: `gisapp-${i}-with-a-long-service-name`,
        namespace: 'imanager-gis-environments',
        group: i % 2 ? 'gis-environment' : 'basic-service',
      }),
    );
    const store = clusterStore({ nodes, nodePorts, result: () => TIMEOUT });
    const page = createStatusPage({
      version: '0.1.0',
      source: { store, intervalSeconds: () => 15, now: () => T0 },
    })({});
    const bytes = Buffer.byteLength(page);
    assert.ok(bytes < 3 * 1024 * 1024, `${bytes} bytes`);
    assert.equal(page.match(/<tr data-node=/g)?.length, 100 + 200, '100 rows, 200 listed');
    // assert.match would print the whole 1 MB page on failure.
    assert.ok(page.includes('160 more NodePorts not shown as columns (16000 failing cells'));
    assert.ok(page.includes('20300 more not listed: filter by node or group'));
    // One node at a time, every NodePort is a column.
    const one = createStatusPage({
      version: '0.1.0',
      source: { store, intervalSeconds: () => 15, now: () => T0 },
    })({ node: 'worker-007' });
    assert.equal(matrixStates(one, 'worker-007').size, 5 + 200);
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
    const app = createApp({
      version: '0.1.0',
      readiness: () => true,
      metrics: { contentType: 'text/plain', render: async () => Buffer.from('') },
      status: { store: knownStore(), intervalSeconds: () => interval, now: () => T0 },
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

  it('without a status source shows an exporter with no targets', async () => {
    const bare = createStatusPage({ version: '0.1.0' })({});
    assert.match(bare, /No targets yet/);
    assert.match(bare, /content="15"/);
  });
});
