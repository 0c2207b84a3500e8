/**
 * The status page in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against a real exporter probing a known set-up on the host's
 * loopback. Four nodes on 127.77.0.1-4; the catalog is switched off (its fixed ports
 * are whatever this host runs) but for the kubelet's read-only port, which must stay
 * closed, and replaced by two custom ports, plus two NodePorts:
 *
 *   port             master-1   worker-1   worker-2   worker-3
 *   kubelet 10255    open       refused    refused    timeout   (expected closed: master-1 is exposed)
 *   app-api          open       open       refused    timeout   (required)
 *   app-admin        refused    refused    refused    timeout   (not required)
 *   gateway (basic)  open       open       open       timeout
 *   gisapp (GIS)     open       timeout    refused    timeout   (timeout: a listener whose queue is full)
 *
 * worker-3 answers nothing, as a node that is down or cut off from this vantage: the
 * list of what fails shows it as one row. The README's screenshot comes from
 * status-page-screenshot.test.ts, a run of the default set-up.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { CATALOG } from '../../src/catalog/ports.js';
import { loadConfig } from '../../src/config/index.js';
import { StaticSource } from '../../src/discovery/static.js';
import type { NodePort } from '../../src/discovery/types.js';
import { Exporter } from '../../src/exporter.js';
import { createLogger } from '../../src/util/log.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const VIEWPORT = { width: 1100, height: 760 };
/** An iPhone 12 to 15's CSS width. */
const PHONE = { width: 390, height: 844 };
const KUBELET_READONLY = 10255;
const NODES = [
  { name: 'master-1', address: '127.77.0.1', roles: ['control-plane', 'etcd'] as const },
  { name: 'worker-1', address: '127.77.0.2', roles: ['worker'] as const },
  { name: 'worker-2', address: '127.77.0.3', roles: ['worker'] as const },
  { name: 'worker-3', address: '127.77.0.4', roles: ['worker'] as const },
];
const [MASTER, WORKER1, WORKER2, WORKER3] = NODES.map((n) => n.address) as [
  string,
  string,
  string,
  string,
];

/** Listens on `port` (0: any) at each address; the port is the same for all. */
async function listenAt(addresses: readonly string[], port = 0): Promise<Server[]> {
  const servers: Server[] = [];
  for (const address of addresses) {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => resolve());
    });
    port = (server.address() as { port: number }).port;
    servers.push(server);
  }
  return servers;
}

function portOf(server: Server | undefined): number {
  assert.ok(server, 'no listener');
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on at these addresses: bound a moment ago, then let go. */
async function refusedPort(addresses: readonly string[]): Promise<number> {
  const servers = await listenAt(addresses);
  const port = portOf(servers[0]);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return port;
}

/**
 * A listener that never accepts: its thread blocks once it listens, so the kernel's
 * accept queue (backlog 1: two connections) fills with our own connections and any
 * later SYN is dropped. A connect there times out, as behind a dropping firewall.
 */
class FullListener {
  readonly #wake = new Int32Array(new SharedArrayBuffer(4));
  readonly #fillers: Socket[] = [];
  #worker: Worker | undefined;

  async start(address: string, port: number): Promise<void> {
    this.#worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const server = require('node:net').createServer();
       server.once('error', (e) => parentPort.postMessage({ error: e.message }));
       server.listen({ host: workerData.address, port: workerData.port, backlog: 1 }, () => {
         parentPort.postMessage({ listening: true });
         Atomics.wait(workerData.wake, 0, 0);
       });`,
      { eval: true, workerData: { address, port, wake: this.#wake } },
    );
    const message = await new Promise<{ error?: string }>((resolve) =>
      this.#worker?.once('message', resolve),
    );
    if (message.error) throw new Error(`cannot listen on ${address}:${port}: ${message.error}`);
    for (let i = 0; i < 2; i++) {
      const socket = tcpConnect({ host: address, port });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      this.#fillers.push(socket);
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.#fillers) socket.destroy();
    Atomics.store(this.#wake, 0, 1);
    Atomics.notify(this.#wake, 0);
    await this.#worker?.terminate();
  }
}

interface SetUp {
  readonly appApi: number;
  readonly appAdmin: number;
  readonly gateway: number;
  readonly gisapp: number;
}

/** What each node's cells must show, by port. */
function expectedStates(p: SetUp): Record<string, Record<string, string>> {
  return {
    'master-1': {
      [KUBELET_READONLY]: 'open',
      [p.appApi]: 'open',
      [p.appAdmin]: 'refused',
      [p.gateway]: 'open',
      [p.gisapp]: 'open',
    },
    'worker-1': {
      [KUBELET_READONLY]: 'refused',
      [p.appApi]: 'open',
      [p.appAdmin]: 'refused',
      [p.gateway]: 'open',
      [p.gisapp]: 'timeout',
    },
    'worker-2': {
      [KUBELET_READONLY]: 'refused',
      [p.appApi]: 'refused',
      [p.appAdmin]: 'refused',
      [p.gateway]: 'open',
      [p.gisapp]: 'refused',
    },
    'worker-3': {
      [KUBELET_READONLY]: 'timeout',
      [p.appApi]: 'timeout',
      [p.appAdmin]: 'timeout',
      [p.gateway]: 'timeout',
      [p.gisapp]: 'timeout',
    },
  };
}

function configText(p: SetUp): string {
  const off = CATALOG.filter((e) => e.port !== KUBELET_READONLY).map(
    (e) => `  ${e.id}: { enabled: false }`,
  );
  return [
    'ports:',
    ...off,
    'customPorts:',
    `  - { id: app-api, port: ${p.appApi}, roles: all, component: imanager-app }`,
    `  - { id: app-admin, port: ${p.appAdmin}, roles: all, component: imanager-app, required: false }`,
    '',
  ].join('\n');
}

function nodePorts(p: SetUp): NodePort[] {
  const base = {
    portName: 'http',
    servicePort: 8080,
    protocol: 'TCP',
    type: 'NodePort',
    trafficPolicy: 'Cluster',
  } as const;
  return [
    {
      ...base,
      namespace: 'imanager',
      service: 'imanager-gateway',
      nodePort: p.gateway,
      group: 'basic-service',
    },
    {
      ...base,
      namespace: 'imanager-gis',
      service: 'gisapp-e2e',
      nodePort: p.gisapp,
      group: 'gis-environment',
    },
  ];
}

/** The state of every matrix cell, by node and port, as the browser sees the page. */
function matrixStates(page: Page): Promise<Record<string, Record<string, string>>> {
  return page.locator('#matrix').evaluate((table) => {
    const ports = [...table.querySelectorAll('thead th.port')].map((th) =>
      th.getAttribute('data-port'),
    );
    const states: Record<string, Record<string, string>> = {};
    for (const row of table.querySelectorAll('tbody tr')) {
      const cells = [...row.querySelectorAll('td')];
      states[row.getAttribute('data-node') ?? '?'] = Object.fromEntries(
        ports.map((port, i) => [port, cells[i]?.getAttribute('data-state') ?? '']),
      );
    }
    return states;
  });
}

interface Watched {
  readonly page: Page;
  /** Console errors, page errors and failed requests, as text. */
  readonly problems: string[];
  readonly requests: string[];
}

async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) =>
    problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`),
  );
  page.on('request', (r) => requests.push(r.url()));
  return { page, problems, requests };
}

/** Width and height from a PNG's IHDR chunk, after checking its signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('status page in headless Chromium', { timeout: 120_000 }, () => {
  let ports: SetUp;
  const servers: Server[] = [];
  const full = new FullListener();
  /** worker-3: every port's queue full, so nothing there answers. */
  const silent: FullListener[] = [];
  let exporter: Exporter;
  let browser: Browser;
  let base: string;
  const log: string[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install the Debian package chromium`);
    }
    const api = await listenAt([MASTER, WORKER1]);
    const gateway = await listenAt([MASTER, WORKER1, WORKER2]);
    const gisapp = await listenAt([MASTER]);
    servers.push(...api, ...gateway, ...gisapp);
    ports = {
      appApi: portOf(api[0]),
      appAdmin: await refusedPort([MASTER, WORKER1, WORKER2]),
      gateway: portOf(gateway[0]),
      gisapp: portOf(gisapp[0]),
    };
    await full.start(WORKER1, ports.gisapp);
    servers.push(...(await listenAt([MASTER], KUBELET_READONLY)));
    for (const port of [
      KUBELET_READONLY,
      ports.appApi,
      ports.appAdmin,
      ports.gateway,
      ports.gisapp,
    ]) {
      const listener = new FullListener();
      await listener.start(WORKER3, port);
      silent.push(listener);
    }

    const text = configText(ports);
    const config = await loadConfig(
      [
        '--config.file=status-page.yml',
        '--web.listen-address=127.0.0.1:0',
        '--probe.interval=60s',
        '--probe.timeout=1s',
        '--probe.icmp=off',
      ],
      { readFile: async () => text },
    );
    exporter = new Exporter({
      config,
      createSource: () =>
        new StaticSource({
          nodes: NODES.map((n) => ({ ...n, addresses: [n.address] })),
          nodePorts: nodePorts(ports),
          kubernetesVersion: '1.28',
        }),
      logger: createLogger({ write: (line) => log.push(line) }),
      version: '0.0.0-e2e',
    });
    // The end of the first cycle is when every target has a result.
    const firstCycle = new Promise<void>((resolve) => {
      const setCycleDuration = exporter.metrics.setCycleDuration;
      exporter.metrics.setCycleDuration = (seconds) => {
        setCycleDuration(seconds);
        resolve();
      };
    });
    await exporter.start();
    await firstCycle;
    base = exporter.url ?? assert.fail('the exporter has no URL');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await exporter?.stop();
    await full.stop();
    for (const listener of silent) await listener.stop();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('shows the state of every node and port of the set-up, coloured, with no error', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const { page, problems, requests } = await watchedPage(context);
      const response = await page.goto(`${base}/`);
      assert.equal(response?.status(), 200);
      assert.deepEqual(await matrixStates(page), expectedStates(ports), log.join('\n'));

      // The inline styles apply under the page's own Content-Security-Policy.
      const colours = await page
        .locator('#matrix td[data-state]:not([data-verdict=exposed])')
        .evaluateAll((cells) => {
          const view = cells[0]?.ownerDocument.defaultView;
          return Object.fromEntries(
            cells.map((c) => [
              c.getAttribute('data-state'),
              view?.getComputedStyle(c).backgroundColor,
            ]),
          );
        });
      assert.deepEqual(colours, {
        open: 'rgb(46, 157, 74)',
        refused: 'rgb(211, 58, 44)',
        timeout: 'rgb(240, 162, 2)',
      });

      // Worst first: the exposure, then the node where nothing answers (one row), then the rest.
      const failing = await page
        .locator('#failing tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) =>
            ['kind', 'node', 'port', 'verdict', 'state', 'count']
              .map((a) => r.getAttribute(`data-${a}`) ?? '-')
              .join(' '),
          ),
        );
      assert.deepEqual(failing, [
        `target master-1 ${KUBELET_READONLY} exposed open 1`,
        'node worker-3 - down timeout 3',
        `target worker-1 ${ports.gisapp} down timeout 1`,
        'node worker-2 - down refused 2',
      ]);
      const list = (await page.locator('#failing').textContent()) ?? '';
      assert.match(list, /start the service/);
      assert.match(list, /open the port in the firewall/);
      assert.match(list, /nothing answers/);
      assert.match(list, /since start/);
      assert.match(await page.title(), /^7 failing/);
      assert.equal(await page.locator('meta[http-equiv="refresh"]').getAttribute('content'), '60');

      assert.deepEqual(problems, []);
      assert.deepEqual(
        requests.filter((url) => !url.startsWith(`${base}/`) && url !== 'data:,'),
        [],
        'the page loads nothing from elsewhere',
      );
    } finally {
      await context.close();
    }
  });

  it('filters by node through the form and by group through the query, without JavaScript', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT, javaScriptEnabled: false });
    try {
      const { page, problems } = await watchedPage(context);
      await page.goto(`${base}/`);
      await page.selectOption('select[name="node"]', 'worker-2');
      await Promise.all([page.waitForURL(/node=worker-2/), page.click('button[type="submit"]')]);
      const expected = expectedStates(ports);
      assert.deepEqual(await matrixStates(page), { 'worker-2': expected['worker-2'] });
      assert.equal(
        await page.locator('#failing tbody tr').count(),
        1,
        'one row: worker-2, 2 ports',
      );
      assert.equal(await page.locator('#ports tbody tr').count(), 5, 'and each port listed');

      await page.goto(`${base}/?group=gis-environment`);
      assert.deepEqual(await matrixStates(page), {
        'master-1': { [ports.gisapp]: 'open' },
        'worker-1': { [ports.gisapp]: 'timeout' },
        'worker-2': { [ports.gisapp]: 'refused' },
        'worker-3': { [ports.gisapp]: 'timeout' },
      });
      assert.equal(await page.locator('select[name="group"]').inputValue(), 'gis-environment');

      // A node's name in the list links to that node, keeping the group.
      await page.locator('#failing a', { hasText: 'worker-1' }).first().click();
      assert.match(page.url(), /\?node=worker-1&group=gis-environment$/);
      assert.deepEqual(await matrixStates(page), { 'worker-1': { [ports.gisapp]: 'timeout' } });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('says in the header which vantage, version, interval and discovery it shows, and each node its roles and latency', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const { page, problems } = await watchedPage(context);
      await page.goto(`${base}/`);
      const facts = await page
        .locator('#facts > div')
        .evaluateAll((divs) =>
          Object.fromEntries(
            divs.map((d) => [d.getAttribute('data-fact'), d.querySelector('dd')?.textContent]),
          ),
        );
      assert.equal(facts.vantage, 'central');
      assert.equal(facts.version, '0.0.0-e2e');
      assert.equal(facts.interval, '60 s');
      assert.match(facts.discovery ?? '', /^static up, synced (just now|\d+ s ago)$/);
      // Roles and connect times beside each node, on screen, not in a tooltip.
      const about = page.locator('#matrix tr[data-node="master-1"] th .about');
      assert.match(
        (await about.textContent()) ?? '',
        /^control-plane, etcd · connect \d+(\.\d+)? ms$/,
      );
      const aboutBox = await about.boundingBox();
      assert.ok(aboutBox && aboutBox.width > 0 && aboutBox.height > 0, JSON.stringify(aboutBox));
      // The header is on screen, not in a tooltip.
      const box = await page.locator('#facts [data-fact=vantage]').boundingBox();
      assert.ok(box && box.width > 0 && box.y < VIEWPORT.height, JSON.stringify(box));
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  it('shows an exposure in its own colour, with a legend entry of that colour', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const { page } = await watchedPage(context);
      await page.goto(`${base}/`);
      const style = (selector: string) =>
        page
          .locator(selector)
          .first()
          .evaluate((el) => {
            const s = el.ownerDocument.defaultView?.getComputedStyle(el);
            return { background: s?.backgroundColor, color: s?.color, text: el.textContent };
          });
      const exposed = await style(`#matrix tr[data-node="master-1"] td[data-verdict=exposed]`);
      assert.deepEqual(exposed, {
        background: 'rgb(17, 17, 17)',
        color: 'rgb(255, 214, 0)',
        text: '!',
      });
      const legend = await style('#legend [data-legend=exposed] .sw');
      assert.equal(legend.background, exposed.background);
      assert.match(
        (await page.locator('#legend [data-legend=exposed]').textContent()) ?? '',
        /exposed/,
      );
      const badge = await style('#failing tr[data-verdict=exposed] .state');
      assert.equal(badge.background, exposed.background);
      // Unlike every state's colour.
      const states = await page
        .locator('#legend .sw')
        .evaluateAll((els) =>
          els
            .filter((e) => !e.classList.contains('exposed'))
            .map((e) => e.ownerDocument.defaultView?.getComputedStyle(e).backgroundColor),
        );
      assert.ok(!states.includes(exposed.background), `${states}`);
    } finally {
      await context.close();
    }
  });

  it('at 390 px the list of what fails keeps its State column on screen', async () => {
    const context = await browser.newContext({ viewport: PHONE });
    const dir = await mkdtemp(join(tmpdir(), 'ipe-status-page-'));
    try {
      const { page, problems } = await watchedPage(context);
      await page.goto(`${base}/`);
      const path = join(dir, 'status-page-390.png');
      await page.screenshot({ path, fullPage: true });
      assert.equal(pngSize(await readFile(path)).width, PHONE.width);
      // The page itself never scrolls sideways; the matrix scrolls in its own box.
      const widths = await page.locator('html').evaluate((html) => ({
        page: html.scrollWidth,
        view: html.clientWidth,
      }));
      assert.ok(widths.page <= widths.view, JSON.stringify(widths));
      const cells = await page.locator('#failing tbody td.state-cell').evaluateAll((tds) =>
        tds.map((td) => {
          const r = td.getBoundingClientRect();
          const badge = td.querySelector('.state')?.getBoundingClientRect();
          return {
            left: r.left,
            right: r.right,
            width: r.width,
            height: r.height,
            badgeRight: badge?.right ?? -1,
            badgeWidth: badge?.width ?? 0,
            text: td.textContent,
          };
        }),
      );
      assert.equal(cells.length, 4);
      for (const c of cells) {
        assert.ok(c.width > 0 && c.height > 0, JSON.stringify(c));
        assert.ok(
          c.left >= 0 && c.right <= PHONE.width,
          `State column cut off: ${JSON.stringify(c)}`,
        );
        assert.ok(c.badgeWidth > 0 && c.badgeRight <= PHONE.width, JSON.stringify(c));
      }
      // Each row's cells say what they are, since the header row is not shown.
      assert.match(
        (await page.locator('#failing tbody tr').first().textContent()) ?? '',
        /exposed/,
      );
      const label = await page
        .locator('#failing tbody td.state-cell')
        .first()
        .evaluate((td) => td.ownerDocument.defaultView?.getComputedStyle(td, '::before').content);
      assert.equal(label, '"State: "');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers an unknown group with 400 and a page naming the valid ones', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    try {
      const { page } = await watchedPage(context);
      const response = await page.goto(`${base}/?group=nonsense`);
      assert.equal(response?.status(), 400);
      const text = (await page.locator('main').textContent()) ?? '';
      assert.match(
        text,
        /unknown group "nonsense": expected one of catalog, basic-service, gis-environment, other/,
      );
      await page.locator('main a', { hasText: 'gis-environment' }).click();
      assert.match(page.url(), /\?group=gis-environment$/);
      assert.equal(await page.locator('select[name="group"]').inputValue(), 'gis-environment');
    } finally {
      await context.close();
    }
  });
});
