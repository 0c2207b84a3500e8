/**
 * Verdicts that hold in the networks operators have (issue 11): the real exporter and
 * the real `check`, run in the test bed's vantage namespace (test/helpers/testbed.ts),
 * against hosts that reject with every ICMP and ICMPv6 kind nftables offers, drop, hold
 * a full accept queue, are dead or unrouted, sit behind a host name or a dual-stack
 * name, or reject 13 ports under the kernel's default ICMP rate limit.
 *
 * For every target, in 3 consecutive cycles after the first, the exporter's state is the
 * table's; `check --output=json` says the same; a patient `nmap -sT --reason` is the
 * independent reference for open, closed and filtered. Then the resolver drops queries
 * for nine names, and an IP-literal node keeps its pace.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { STATE_GUIDE } from '../../src/probe/states.js';
import { PROBE_STATES, type ProbeState } from '../../src/probe/types.js';
import { parseLog } from '../faults/exporter.js';
import { collect } from '../helpers/node-child.js';
import { type BedTarget, createTestbed, type Testbed } from '../helpers/testbed.js';
import { measureReferences } from '../helpers/testbed-reference.js';
import { readUntil } from '../helpers/wait.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';

const INTERVAL_S = 15;
const TIMEOUT_S = 2;

/** nmap's verdict for each of our states: its independent reading of the same port. */
const NMAP_OF: Readonly<Record<ProbeState, string>> = {
  open: 'open',
  refused: 'closed',
  timeout: 'filtered',
  unreachable: 'filtered',
  rejected: 'filtered',
  error: 'filtered',
};

const CHROMIUM = '/usr/bin/chromium';

const idOf = (node: string, ip: string, port: number | string) => `${node} ${ip}:${port}`;

interface Exporter {
  readonly url: string;
  stop(): Promise<void>;
  log(): string;
}

async function startExporter(bed: Testbed, args: readonly string[]): Promise<Exporter> {
  const child = bed.vantage.spawnNode(
    'src/main.ts',
    ['--web.listen-address=127.0.0.1:0', '--log.level=debug', ...args],
    // Killed by stop(); this only bounds a test that went wrong.
    { timeoutMs: 300_000 },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  // Until it listens, or has exited and never will; the assertion below tells which.
  await readUntil(
    async () => log,
    (text) => /"msg":"listening"/.test(text) || child.exitCode !== null,
    { intervalMs: 50, attempts: 301 },
  );
  const url = /"msg":"listening","url":"([^"]+)"/.exec(log)?.[1];
  assert.ok(url, `the exporter did not listen:\n${log}`);
  return {
    url,
    log: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function scrape(bed: Testbed, url: string): Promise<Sample[]> {
  // The exporter listens inside the vantage namespace: fetch from there.
  const fetchIt = `fetch(${JSON.stringify(`${url}/metrics`)}, { signal: AbortSignal.timeout(5000) }).then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const result = await collect(
    bed.vantage.spawn(process.execPath, ['-e', fetchIt], { timeoutMs: 10_000 }),
  );
  assert.equal(result.code, 0, result.stderr);
  return [...parseExposition(result.stdout).samples];
}

function statesOf(samples: readonly Sample[]): Map<string, ProbeState> {
  const states = new Map<string, ProbeState>();
  for (const s of samples) {
    if (s.name !== 'imanager_port_state') continue;
    const state = PROBE_STATES[Number(s.value)];
    if (state) states.set(idOf(s.labels.node ?? '', s.labels.ip ?? '', s.labels.port ?? ''), state);
  }
  return states;
}

function cycleDuration(samples: readonly Sample[]): string | undefined {
  return samples.find((s) => s.name === 'imanager_probe_cycle_duration_seconds')?.value;
}

interface PageView {
  /** Background colours of the matrix cells, by data-state. */
  readonly cells: Record<string, string[]>;
  /** Texts of the rows of what fails, by data-state. */
  readonly failing: Record<string, string[]>;
  /** The legend swatch's colour, by state. */
  readonly legend: Record<string, string>;
}

/** Opens the exporter's status page in headless Chromium run inside the vantage namespace. */
async function statusPageInChromium(bed: Testbed, dir: string, url: string): Promise<PageView> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install chromium`);
  const wrapper = join(dir, 'chromium-in-vantage');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${bed.vantage.name} ${CHROMIUM} "$@"\n`, {
    mode: 0o755,
  });
  const browser = await chromium.launch({
    executablePath: wrapper,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const response = await page.goto(`${url}/`);
    assert.equal(response?.status(), 200);
    const pairs = (selector: string, what: 'colour' | 'text') =>
      page
        .locator(selector)
        .evaluateAll(
          (els, kind) =>
            els.map((e) => [
              e.getAttribute('data-state') ?? [...e.classList].find((c) => c !== 'sw') ?? '',
              kind === 'text'
                ? (e.textContent ?? '')
                : (e.ownerDocument.defaultView?.getComputedStyle(e).backgroundColor ?? ''),
            ]),
          what,
        );
    const grouped = (rows: string[][]) => {
      const out: Record<string, string[]> = {};
      for (const [state = '', value = ''] of rows) out[state] = [...(out[state] ?? []), value];
      return out;
    };
    const swatches = await pairs(
      '#legend .sw:not(.exposed):not(.fail):not(.quiet):not(.none)',
      'colour',
    );
    return {
      cells: grouped(await pairs('#matrix td[data-state]', 'colour')),
      failing: grouped(await pairs('#failing tbody tr[data-state]', 'text')),
      legend: Object.fromEntries(swatches),
    };
  } finally {
    await browser.close();
  }
}

function mismatches(targets: readonly BedTarget[], seen: ReadonlyMap<string, ProbeState>) {
  return targets
    .map((t) => ({ t, got: seen.get(idOf(t.node, t.ip, t.port)) }))
    .filter(({ t, got }) => got !== t.state)
    .map(({ t, got }) => `${t.id} (${t.kind}): expected ${t.state}, got ${got ?? 'nothing'}`);
}

describe('verdicts on the network test bed', { timeout: 600_000 }, () => {
  let bed: Testbed;
  let dir: string;
  let targets: BedTarget[];
  let config: string;

  before(async () => {
    bed = await createTestbed();
    dir = await mkdtemp(join(tmpdir(), 'ipe-verdicts-'));
    config = join(dir, 'config.yml');
    ({ targets } = await bed.writeExporterConfig(config));
  });
  after(async () => {
    await bed?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the exporter gives every target the table state in 3 consecutive cycles', async (t) => {
    const exporter = await startExporter(bed, [
      `--config.file=${config}`,
      `--probe.interval=${INTERVAL_S}s`,
      `--probe.timeout=${TIMEOUT_S}s`,
    ]);
    try {
      const cycles: Map<string, ProbeState>[] = [];
      let lastDuration: string | undefined;
      let seenCycles = 0;
      // Bounded: 5 cycles of 15 s, polled every second.
      for (let i = 0; i < 5 * INTERVAL_S + 20 && cycles.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const samples = await scrape(bed, exporter.url);
        const duration = cycleDuration(samples);
        if (duration === undefined || duration === lastDuration) continue;
        lastDuration = duration;
        seenCycles++;
        // The first cycle may misjudge a dead host's first probe (its evidence comes later).
        if (seenCycles > 1) cycles.push(statesOf(samples));
      }
      assert.equal(
        cycles.length,
        3,
        `3 cycles after the first; log:\n${exporter.log().slice(-3000)}`,
      );
      for (const [i, states] of cycles.entries()) {
        assert.deepEqual(mismatches(targets, states), [], `cycle ${i + 2}`);
      }
      t.diagnostic(`${targets.length} targets as the table says in cycles 2, 3 and 4`);

      // The status page, in Chromium inside the vantage: real rejects in a colour of
      // their own, with the advice to open the port, not to look for a dead node.
      const page = await statusPageInChromium(bed, dir, exporter.url);
      assert.ok(page.cells.rejected?.length, `no rejected cell: ${JSON.stringify(page.cells)}`);
      const [rejectedColour] = new Set(page.cells.rejected);
      assert.equal(new Set(page.cells.rejected).size, 1, 'one colour for rejected');
      for (const [state, colours] of Object.entries(page.cells)) {
        if (state !== 'rejected') assert.ok(!colours.includes(rejectedColour as string), state);
      }
      assert.ok(page.failing.rejected?.length, 'rejected rows in what fails');
      for (const text of page.failing.rejected ?? []) {
        assert.match(text, new RegExp(STATE_GUIDE.rejected.action.slice(0, 30)), text);
      }
      assert.equal(page.legend.rejected, rejectedColour, 'the legend shows the same colour');
    } finally {
      await exporter.stop();
    }
  });

  test('check --output=json reports the same state for every target', async (t) => {
    const result = await collect(
      bed.vantage.spawnNode(
        'src/main.ts',
        ['check', `--config.file=${config}`, `--probe.timeout=${TIMEOUT_S}s`, '--output=json'],
        { timeoutMs: 180_000 },
      ),
    );
    assert.ok(result.code === 0 || result.code === 1, `exit ${result.code}: ${result.stderr}`);
    const report = JSON.parse(result.stdout) as {
      targets: { node: string; ip: string; port: number; state: ProbeState }[];
    };
    const states = new Map(report.targets.map((r) => [idOf(r.node, r.ip, r.port), r.state]));
    assert.deepEqual(mismatches(targets, states), []);
    assert.equal(report.targets.length, targets.length);
    t.diagnostic(`check agrees on ${targets.length} targets`);
  });

  test('patient nmap -sT reads every port as our state implies (open, closed, filtered)', async () => {
    const rows = await measureReferences(bed, targets);
    const wrong = rows
      .filter((row) => row.nmap !== undefined && row.nmap.state !== NMAP_OF[row.target.state])
      .map((row) => `${row.target.id}: ${row.target.state} but nmap ${row.nmap?.state}`);
    assert.deepEqual(wrong, []);
    assert.equal(rows.filter((row) => row.nmap !== undefined).length, targets.length);
  });

  test('with nine names behind a resolver that drops queries, an IP-literal node keeps its pace', async (t) => {
    const names = join(dir, 'names.yml');
    const literal = 'basic-v4';
    const { targets: some } = await bed.writeExporterConfig(names, {
      nodes: (n) => n.resolution === 'dns' || n.name === literal,
    });
    assert.equal(new Set(some.filter((x) => x.resolution === 'dns').map((x) => x.node)).size, 9);
    const open = some.find((x) => x.node === literal && x.state === 'open');
    assert.ok(open, 'an open port on the literal node');
    await bed.resolver.dropQueries(true);
    const interval = 5;
    const timeout = 1;
    const exporter = await startExporter(bed, [
      `--config.file=${names}`,
      `--probe.interval=${interval}s`,
      `--probe.timeout=${timeout}s`,
    ]);
    // Start is the exporter's first log line: the program running, past loading its
    // modules (which tsx compiles here, seconds on a loaded machine; dist/ loads at once).
    const started = Date.parse(String(parseLog(exporter.log())[0]?.ts));
    assert.ok(Number.isFinite(started), `no first log line:\n${exporter.log()}`);
    let closed = false;
    try {
      // Bounds, as the issue states them: first result within 6 s of start.
      let firstMs: number | undefined;
      for (let i = 0; i < 60 && firstMs === undefined; i++) {
        const states = statesOf(await scrape(bed, exporter.url));
        if (states.get(idOf(open.node, open.ip, open.port)) === 'open') {
          firstMs = Date.now() - started;
        } else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(firstMs !== undefined && firstMs <= 6000, `first result after ${firstMs} ms`);
      await bed.closeListener(open.ip, open.port);
      closed = true;
      const closedAt = performance.now();
      let refusedMs: number | undefined;
      for (let i = 0; i < 100 && refusedMs === undefined; i++) {
        const states = statesOf(await scrape(bed, exporter.url));
        if (states.get(idOf(open.node, open.ip, open.port)) === 'refused') {
          refusedMs = performance.now() - closedAt;
        } else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const bound = (interval + timeout + 1) * 1000;
      assert.ok(refusedMs !== undefined && refusedMs <= bound, `refused after ${refusedMs} ms`);
      t.diagnostic(
        `first result ${Math.round(firstMs)} ms after start; closed listener seen in ${Math.round(refusedMs)} ms (bound ${bound})`,
      );
    } finally {
      await exporter.stop();
      if (closed) await bed.openListener(open.ip, open.port);
      await bed.resolver.dropQueries(false);
    }
  });
});
