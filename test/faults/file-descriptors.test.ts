/**
 * Too few file descriptors. At start the open-files limit is split (with one warning
 * when anything is lowered): a reserve, the HTTP server's connection cap, and the
 * probe concurrency, so neither probes nor a flood of connections take the others'
 * descriptors. When something else takes them anyway, probes that cannot get a
 * socket are `error`, the concurrency backs off and recovers (the scheduler test
 * below). Below the least limit it can run with, it exits 2 with one line, even while
 * its modules are still loading.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROLES } from '../../src/catalog/types.js';
import { ConcurrencyLimit } from '../../src/probe/concurrency-limit.js';
import {
  FD_RESERVE,
  MIN_OPEN_FILES,
  MIN_SHARE,
  parseOpenFilesLimit,
  planDescriptors,
  readFdBudget,
} from '../../src/probe/fd-budget.js';
import { Scheduler } from '../../src/probe/scheduler.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { type Target, targetKey } from '../../src/targets/types.js';
import { createLogger } from '../../src/util/log.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { runNode } from '../helpers/node-child.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';
import { type LogLine, type RunningExporter, startExporter, total } from './exporter.js';

// ---- the pure parts ----

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-files budget', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    assert.equal(parseOpenFilesLimit(LIMITS), 1024);
    assert.equal(parseOpenFilesLimit(LIMITS.replace(/1024 {17}/, 'unlimited        ')), undefined);
    assert.equal(parseOpenFilesLimit(''), undefined);
    assert.equal(parseOpenFilesLimit('Max open files  lots  lots  files\n'), undefined);
  });

  it('reads this process: a limit and a count of open descriptors', () => {
    const budget = readFdBudget();
    assert.ok((budget.softLimit ?? 0) > 0, JSON.stringify(budget));
    assert.ok((budget.open ?? 0) >= 3, 'stdin, stdout and stderr at least');
  });

  it('keeps the configured shares when both fit beside the reserve', () => {
    assert.deepEqual(
      planDescriptors({ probes: 256, connections: 256 }, { softLimit: 1024, open: 30 }),
      {
        probes: 256,
        connections: 256,
        lowered: false,
        available: 1024 - 30 - FD_RESERVE,
      },
    );
    assert.deepEqual(planDescriptors({ probes: 1000, connections: 256 }, {}), {
      probes: 1000,
      connections: 256,
      lowered: false,
    });
  });

  it('splits a low limit: a quarter for connections, the rest for probes, both inside it', () => {
    const plan = planDescriptors({ probes: 1000, connections: 256 }, { softLimit: 256, open: 30 });
    const available = 256 - 30 - FD_RESERVE;
    assert.deepEqual(plan, {
      probes: available - Math.floor(available / 4),
      connections: Math.floor(available / 4),
      lowered: true,
      available,
    });
    assert.ok(plan.probes + plan.connections <= available, 'the server cap fits the descriptors');
    // At the minimum, both still get their least share.
    const least = planDescriptors(
      { probes: 1000, connections: 256 },
      { softLimit: MIN_OPEN_FILES, open: 60 },
    );
    assert.equal(least.connections, MIN_SHARE);
    assert.ok(least.probes >= MIN_SHARE);
  });

  it('refuses a limit below the minimum with a code and one line naming it', () => {
    assert.throws(
      () => planDescriptors({ probes: 256, connections: 256 }, { softLimit: 32, open: 20 }),
      (err: Error & { code?: string }) =>
        err.code === 'OPEN_FILES_TOO_LOW' &&
        err.message.includes(`at least ${MIN_OPEN_FILES}`) &&
        !err.message.includes('\n'),
    );
  });
});

describe('ConcurrencyLimit', () => {
  it('halves once per batch of failures, grows back below the failure, and past it next cycle', () => {
    const limit = new ConcurrencyLimit(64);
    const batch = Array.from({ length: 64 }, () => limit.launched());
    // The whole batch fails together: one halving, not six.
    for (const launch of batch) limit.finished(launch, true);
    assert.equal(limit.current, 32);
    // A failure of a probe launched after the halving halves again.
    limit.finished(limit.launched(), true);
    assert.equal(limit.current, 16);
    // Grows by about one per round of successes, up to just below where it failed.
    for (let i = 0; i < 1000; i++) limit.finished(limit.launched(), false);
    assert.equal(limit.current, 31);
    limit.newCycle();
    for (let i = 0; i < 10_000; i++) limit.finished(limit.launched(), false);
    assert.equal(limit.current, 64);
    const report = limit.takeReport();
    assert.deepEqual(report, { exhausted: 65, backoffs: 2, lowest: 16, current: 64, max: 64 });
    assert.equal(limit.takeReport(), undefined, 'nothing ran short since');
  });
});

// ---- the scheduler against a pool of descriptors ----

function target(i: number): Target {
  const base = {
    vantage: 'central',
    node: `node-${i % 50}`,
    // A node each its own address, as in a cluster: pacing caps probes in flight per IP.
    address: `127.0.2.${(i % 50) + 1}`,
    ip: `127.0.2.${(i % 50) + 1}`,
  };
  const port = 30000 + i;
  return {
    ...base,
    protocol: 'tcp',
    key: targetKey({ ...base, port, protocol: 'tcp' }),
    port,
    category: 'fixed',
    component: 'test',
    portName: `p${port}`,
    scope: 'internal',
    required: true,
    expected: 'open',
  };
}

/** A prober with `free` descriptors: a probe beyond them fails with EMFILE, as connect() does. */
class DescriptorPool {
  free: number;
  inFlight = 0;
  maxInFlight = 0;
  constructor(free: number) {
    this.free = free;
  }
  readonly probe = (): Promise<ProbeResult> =>
    new Promise((resolve) => {
      if (this.inFlight >= this.free) {
        setImmediate(() => resolve({ state: 'error', durationSeconds: 0, error: 'EMFILE' }));
        return;
      }
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      setImmediate(() => {
        this.inFlight--;
        resolve({ state: 'refused', durationSeconds: 0.0001, error: 'ECONNREFUSED' });
      });
    });
}

describe('the scheduler when probes run out of descriptors', () => {
  it('backs off to what is free, costs a probe or two per cycle, recovers when they come back', async () => {
    const pool = new DescriptorPool(10);
    const logs: LogLine[] = [];
    const states = new Map<string, number>();
    let cycleErrors = 0;
    const scheduler = new Scheduler({
      intervalMs: 10_000,
      timeoutMs: 1000,
      concurrency: 100,
      clock: new FakeClock(),
      logger: createLogger({ write: (line) => logs.push(JSON.parse(line) as LogLine) }),
      probe: pool.probe,
      onResult: (_target, result) => {
        states.set(result.state, (states.get(result.state) ?? 0) + 1);
        if (result.state === 'error') cycleErrors++;
      },
    });
    scheduler.setTargets(Array.from({ length: 1000 }, (_, i) => target(i)));

    const errorsPerCycle: number[] = [];
    for (let cycle = 0; cycle < 4; cycle++) {
      cycleErrors = 0;
      const stats = await scheduler.runOnce();
      assert.equal(stats.probes, 1000, 'every target has a result, failed or not');
      errorsPerCycle.push(cycleErrors);
    }
    const [first = 0, ...later] = errorsPerCycle;
    assert.ok(first > 0, 'the shortage was felt');
    for (const errors of later) {
      assert.ok(errors <= 3, `after backing off, a probe or two per cycle: ${errorsPerCycle}`);
    }
    assert.equal(pool.maxInFlight, 10, 'never more in flight than descriptors free');
    const backoffs = logs.filter((l) => l.msg.startsWith('probes ran out of file descriptors'));
    assert.equal(backoffs.length, errorsPerCycle.filter((e) => e > 0).length, 'one line a cycle');
    assert.equal(backoffs[0]?.configured, 100);
    assert.ok(Number(backoffs.at(-1)?.concurrency) <= 10);

    // Descriptors come back: the limit grows to the configured value, a few cycles on.
    pool.free = 1000;
    pool.maxInFlight = 0;
    for (let cycle = 0; cycle < 20 && pool.maxInFlight < 100; cycle++) {
      cycleErrors = 0;
      await scheduler.runOnce();
      assert.equal(cycleErrors, 0);
    }
    assert.equal(pool.maxInFlight, 100, 'back to the configured concurrency');
    await scheduler.runOnce();
    const back = logs.filter((l) => l.msg === 'probe concurrency back to the configured value');
    assert.equal(back.length, 1, JSON.stringify(logs.slice(-3)));
    await scheduler.stop();
  });
});

// ---- the program under prlimit ----

/** Nodes on 127.0.1.x with every role: every catalog port on each, nothing listening. */
async function manyTargetsConfig(dir: string, nodes: number): Promise<string> {
  const path = join(dir, 'config.yml');
  const lines = ['nodes:'];
  for (let i = 0; i < nodes; i++) {
    lines.push(`  - { name: node-${i}, address: 127.0.1.${i + 1}, roles: [${ROLES.join(', ')}] }`);
  }
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** One scrape over a kept-alive connection: no new descriptor needed on the server. */
function scrapeOver(agent: Agent, url: string): Promise<Sample[]> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/metrics`, { agent, timeout: 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
        else resolve([...parseExposition(Buffer.concat(chunks).toString()).samples]);
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('scrape timed out')));
    request.on('error', reject);
  });
}

const errorStates = (samples: readonly Sample[]) =>
  samples.filter((s) => s.name === 'imanager_port_state' && s.value === '4').length;

describe('the program with a low open-files limit', { timeout: 120_000 }, () => {
  const LIMIT = 256;
  const NODES = 125; // every catalog port on each: about 2,500 targets
  let dir: string;
  let exporter: RunningExporter;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipe-faults-fds-'));
    exporter = await startExporter(
      [
        `--config.file=${await manyTargetsConfig(dir, NODES)}`,
        '--probe.concurrency=1000',
        '--probe.interval=2s',
        '--probe.timeout=1s',
        '--probe.icmp=off',
      ],
      { wrapper: ['prlimit', `--nofile=${LIMIT}`, '--'] },
    );
  });

  after(async () => {
    await exporter?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lowers the concurrency at start, with a warning, and probes everything without EMFILE', async () => {
    const [warning] = exporter
      .logLines()
      .filter((l) => l.msg === 'probe concurrency lowered to fit the open-files limit');
    assert.ok(warning, exporter.daemon.log());
    assert.equal(warning.configured, 1000);
    assert.equal(warning.openFilesLimit, LIMIT);
    assert.ok(Number(warning.concurrency) <= LIMIT - FD_RESERVE);
    // The first cycle runs in a burst, as many at once as allowed: the worst case.
    const samples = await exporter.until(
      (s) => {
        const planned = s
          .filter((x) => x.name === 'imanager_targets')
          .reduce((sum, x) => sum + Number(x.value), 0);
        const probed = s.filter((x) => x.name === 'imanager_port_state').length;
        return planned > 0 && probed === planned;
      },
      'every target probed',
      30_000,
    );
    assert.equal(errorStates(samples), 0, 'no probe failed for want of a socket');
    assert.ok(!exporter.daemon.log().includes('EMFILE'), 'EMFILE in the log');
  });

  it("a flood of connections cannot take the probes' descriptors: the server cap fits inside the limit", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const hogs: Socket[] = [];
    try {
      // The scrape's connection first, kept alive across the flood.
      await scrapeOver(agent, exporter.url);
      const [warning] = exporter
        .logLines()
        .filter((l) => l.msg === 'probe concurrency lowered to fit the open-files limit');
      const cap = Number(warning?.connections);
      assert.ok(cap >= 1 && cap + Number(warning?.concurrency) <= LIMIT, JSON.stringify(warning));
      // More idle connections than the limit allows, as a flood of clients would open.
      const opened = await Promise.all(
        Array.from({ length: LIMIT }, () => {
          const socket = connect(Number(new URL(exporter.url).port), '127.0.0.1');
          socket.on('error', () => undefined);
          hogs.push(socket);
          return new Promise<boolean>((resolve) => {
            socket.once('connect', () => resolve(true));
            socket.once('close', () => resolve(false));
          });
        }),
      );
      assert.ok(opened.some(Boolean), 'the flood connected');
      // Two full cycles (2 s each) with the flood open: every probe still gets a socket.
      const before = total(await scrapeOver(agent, exporter.url), 'imanager_probes_total');
      const during = await exporter.until(
        (s) => total(s, 'imanager_probes_total') >= before + 2 * 2500,
        'two cycles probed during the flood',
        20_000,
      );
      assert.equal(errorStates(during), 0, 'no probe failed for want of a socket');
      const samples = await scrapeOver(agent, exporter.url);
      assert.equal(errorStates(samples), 0);
    } finally {
      for (const socket of hogs) socket.destroy();
      agent.destroy();
    }
    assert.equal(exporter.daemon.child.exitCode, null, 'still running');
    assert.ok(!exporter.daemon.log().includes('EMFILE'), 'EMFILE in the log');
    assert.ok(!exporter.daemon.log().includes('    at '), 'no stack trace');
    assert.deepEqual(
      exporter.logLines().filter((l) => l.level === 'unparsed' || l.level === 'error'),
      [],
    );
  });
});

describe('a limit too low to run at all', { timeout: 60_000 }, () => {
  const LOW = 32;
  const under = (args: readonly string[]) =>
    runNode('src/main.ts', args, {
      wrapper: ['prlimit', `--nofile=${LOW}`, '--'],
      timeoutMs: 30_000,
    });

  it('the exporter exits 2 with one line naming the minimum', async () => {
    const result = await under(['--web.listen-address=127.0.0.1:0', '--probe.icmp=off']);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `imanager-port-exporter: the open-files limit (ulimit -n) is ${LOW}; the exporter needs at least ${MIN_OPEN_FILES}: raise it (ulimit -n, LimitNOFILE=, or the container runtime's nofile)\n`,
    );
    assert.equal(result.stdout, '');
  });

  for (const args of [['--version'], ['catalog']]) {
    it(`${args.join(' ')} answers, or exits 2 with that one line: never a stack trace`, async () => {
      const result = await under(args);
      if (result.code === 0) {
        assert.ok(result.stdout.length > 0);
        return;
      }
      assert.equal(result.code, 2, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(`^imanager-port-exporter: .*at least ${MIN_OPEN_FILES}.*\\n$`),
      );
      assert.equal(result.stderr.split('\n').length, 2, 'one line');
    });
  }
});
