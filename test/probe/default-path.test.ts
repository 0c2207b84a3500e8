/**
 * The default probe path: a refused or timed-out connect formats no stack trace (the
 * CPU profile at 100,000 targets spent 13% of the main thread on them), worker threads
 * wherever there is more than one core, and `check` probing on the threads it is told.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CATALOG } from '../../src/catalog/ports.js';
import { collectCheck } from '../../src/cli/check/run.js';
import { loadConfig } from '../../src/config/index.js';
import { buildPipeline, NO_RESULTS } from '../../src/pipeline.js';
import { AUTO_WORKERS_MAX, workerCount } from '../../src/probe/pool.js';
import { PROBERS } from '../../src/probe/registry.js';
import { tcpProbe } from '../../src/probe/tcp.js';
import type { Prober } from '../../src/probe/types.js';
import { silentLogger } from '../../src/util/log.js';
import { collectingLogger } from '../helpers/logger.js';

/** Calls `run` and counts the stack traces formatted meanwhile on this thread. */
async function stacksDuring(run: () => Promise<unknown>): Promise<number> {
  const previous = Error.prepareStackTrace;
  let formatted = 0;
  Error.prepareStackTrace = (error: Error) => {
    formatted++;
    return `${error.name}: ${error.message}`;
  };
  try {
    await run();
  } finally {
    Error.prepareStackTrace = previous;
  }
  return formatted;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A listener that never accepts, with a backlog of 0: once its queue holds one
 * connection the kernel drops further SYNs, so a connect times out. Node accepts
 * every connection it is offered, so the listener is a Python process.
 */
async function fullBacklog(): Promise<{ port: number; child: ChildProcess }> {
  const script = [
    'import socket, sys, time',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (data) => resolve(Number(String(data).trim())));
  });
  return { port, child };
}

describe('workerCount', () => {
  test('auto: a thread per core up to the cap, none on one core; a number as given', () => {
    const table: [number | 'auto', number, number][] = [
      ['auto', 1, 0],
      ['auto', 2, 2],
      ['auto', 3, 3],
      ['auto', 64, AUTO_WORKERS_MAX],
      [0, 8, 0],
      [3, 1, 3],
    ];
    for (const [setting, cores, expected] of table) {
      assert.equal(workerCount(setting, cores), expected, `${setting} on ${cores} cores`);
    }
  });
});

describe('the main thread prober', { timeout: 30_000 }, () => {
  const probeMany = (prober: Prober, port: number, count: number) => async () => {
    for (let i = 0; i < count; i++) {
      const result = await prober({ ip: '127.0.0.1', port, timeoutMs: 1000 });
      assert.equal(result.state, 'refused');
    }
  };

  test('formats no stack trace for a refused port (net.Socket formats one each)', async () => {
    const port = await closedPort();
    // The counter works: net.Socket's errno error gets a stack when it is destroyed.
    assert.ok((await stacksDuring(probeMany(tcpProbe, port, 20))) >= 20);
    assert.equal(await stacksDuring(probeMany(PROBERS.tcp, port, 200)), 0);
  });

  test('formats no stack trace for a timed-out connect', async (t) => {
    const { port, child } = await fullBacklog();
    t.after(() => child.kill());
    const states: string[] = [];
    const stacks = await stacksDuring(async () => {
      for (let i = 0; i < 5; i++) {
        states.push((await PROBERS.tcp({ ip: '127.0.0.1', port, timeoutMs: 200 })).state);
      }
    });
    // The first connect fills the queue; the rest are dropped.
    assert.deepEqual(states.slice(1), ['timeout', 'timeout', 'timeout', 'timeout']);
    assert.equal(stacks, 0);
  });
});

describe('check and --probe.workers', { timeout: 60_000 }, () => {
  let server: Server;
  let config = '';
  let refused = 0;
  before(async () => {
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const open = (server.address() as { port: number }).port;
    refused = await closedPort();
    const dir = await mkdtemp(join(tmpdir(), 'ipe-workers-'));
    config = join(dir, 'config.yml');
    const catalogOff = CATALOG.map((e) => `  ${e.id}: { enabled: false }\n`).join('');
    await writeFile(
      config,
      'nodes:\n  - { name: node-a, address: 127.0.0.1, roles: [worker] }\n' +
        `ports:\n${catalogOff}customPorts:\n` +
        `  - { id: app, port: ${open}, roles: all }\n` +
        `  - { id: db, port: ${refused}, roles: all }\n`,
    );
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  for (const [flag, expected] of [
    ['--probe.workers=2', 2],
    ['--probe.workers=0', 0],
    [undefined, workerCount('auto')],
  ] as const) {
    test(`${flag ?? 'no flag (auto)'}: probes on ${expected} worker threads`, async () => {
      const { logger, lines } = collectingLogger('debug');
      // The flags check shares with the exporter; collectCheck is check's engine.
      const argv = [`--config.file=${config}`, '--probe.icmp=off'];
      const loaded = await loadConfig(flag === undefined ? argv : [...argv, flag]);
      const report = await collectCheck(loaded, { logger });
      const wiring = lines.filter((line) => line.msg === 'tcp probes');
      assert.deepEqual(
        wiring.map((line) => line.workerThreads),
        [expected],
      );
      assert.deepEqual(
        report.checked.map((c) => [c.target.port, c.result.state]).sort(),
        [
          [(server.address() as { port: number }).port, 'open'],
          [refused, 'refused'],
        ].sort(),
      );
    });
  }

  // check's one pass is a burst: with threads, the main thread takes none of it, whatever
  // --probe.main-thread-rate says (that is the exporter's steady pace).
  for (const [flags, expected] of [
    [['--probe.workers=2'], 0],
    [['--probe.workers=2', '--probe.main-thread-rate=0'], 0],
    [['--probe.workers=2', '--probe.main-thread-rate=100'], 0],
    [['--probe.workers=0'], 'all'],
  ] as const) {
    test(`check ${flags.join(' ')}: the main thread takes ${expected} probes a second`, async () => {
      const { logger, lines } = collectingLogger('debug');
      const argv = [`--config.file=${config}`, '--probe.icmp=off', ...flags];
      const report = await collectCheck(await loadConfig(argv), { logger });
      const wiring = lines.filter((line) => line.msg === 'tcp probes');
      assert.deepEqual(
        wiring.map((line) => line.mainThreadProbesPerSecond),
        [expected],
      );
      // Wherever they ran, the verdicts are the same.
      assert.deepEqual(report.checked.map((c) => c.result.state).sort(), ['open', 'refused']);
    });
  }
});

describe('buildPipeline.threadsStarted', { timeout: 30_000 }, () => {
  test('resolves once every probe thread has started; at once without threads', async () => {
    for (const [flag, threads] of [
      ['--probe.workers=2', 2],
      ['--probe.workers=0', 0],
    ] as const) {
      const config = await loadConfig(['--probe.icmp=off', flag]);
      const built = buildPipeline(config, { logger: silentLogger, store: NO_RESULTS });
      try {
        assert.deepEqual(built.pool?.probers() ?? [], new Array(threads).fill(undefined));
        await built.threadsStarted();
        const probers = built.pool?.probers() ?? [];
        assert.equal(probers.length, threads);
        assert.ok(
          probers.every((prober) => prober === 'lean' || prober === 'net'),
          `${probers}`,
        );
      } finally {
        await built.close();
      }
    }
  });
});

/** Connections of ours to `port` in TIME-WAIT, as the kernel lists them. */
function timeWaitTo(port: number): number {
  const out = execFileSync('ss', ['-Htan', 'state', 'time-wait', `( dport = :${port} )`], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

describe('an open probe closes with a reset', { timeout: 30_000 }, () => {
  test('no TIME-WAIT left behind (net.Socket, closing with a FIN, leaves one each)', async (t) => {
    // The listener holds each connection until the prober closes it, so the prober's side
    // is the one that closes first, where TIME-WAIT would stay.
    const server = createServer((socket) => {
      socket.on('end', () => socket.end());
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    const probe = async (prober: Prober, count: number) => {
      for (let i = 0; i < count; i++) {
        assert.equal((await prober({ ip: '127.0.0.1', port, timeoutMs: 1000 })).state, 'open');
      }
      // The FIN exchange completes a loop turn or two after the probe reports.
      await new Promise((resolve) => setTimeout(resolve, 200));
    };
    await probe(PROBERS.tcp, 20);
    assert.equal(timeWaitTo(port), 0);
    await probe(tcpProbe, 5);
    assert.ok(timeWaitTo(port) >= 5, 'the control left no TIME-WAIT: the count says nothing');
  });
});
