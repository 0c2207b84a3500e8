import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  createProbePool,
  type PoolProber,
  type ProbePool,
  ProbePoolError,
} from '../../src/probe/pool.js';
import { tcpProbe } from '../../src/probe/tcp.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { createNetns } from '../helpers/netns.js';

const FIXTURE = 'test/probe/pool-probe-once.ts';
const PROBERS: readonly PoolProber[] = ['lean', 'net'];

function parseFixture(stdout: string, stderr: string) {
  try {
    return JSON.parse(stdout) as { results: ProbeResult[]; probers: PoolProber[] };
  } catch (err) {
    throw new Error(`fixture printed no JSON; stdout: ${stdout}; stderr: ${stderr}`, {
      cause: err,
    });
  }
}

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

for (const prober of PROBERS) {
  describe(`createProbePool, prober ${prober}`, () => {
    let pool: ProbePool;
    let server: Server;
    let openPort: number;
    let refusedPort: number;

    before(async () => {
      pool = createProbePool({ workers: 2, prober });
      // Both workers run the prober asked for: lean must not fall back unnoticed.
      assert.deepEqual(await pool.whenStarted(), [prober, prober]);
      ({ server, port: openPort } = await listen());
      const gone = await listen();
      refusedPort = gone.port;
      gone.server.close();
      await once(gone.server, 'close');
    });

    after(async () => {
      await pool.close();
      server.close();
    });

    test('finds what tcpProbe finds, on its worker threads', async () => {
      const open = await pool.probe({ ip: '127.0.0.1', port: openPort, timeoutMs: 2000 });
      assert.equal(open.state, 'open');
      assert.equal(open.error, undefined);
      assert.ok(open.durationSeconds >= 0 && open.durationSeconds < 2);
      const refused = await pool.probe({ ip: '127.0.0.1', port: refusedPort, timeoutMs: 2000 });
      assert.deepEqual(
        { state: refused.state, error: refused.error },
        { state: 'refused', error: 'ECONNREFUSED' },
      );
      const direct = await tcpProbe({ ip: '127.0.0.1', port: refusedPort, timeoutMs: 2000 });
      assert.equal(direct.state, refused.state);
      assert.equal(pool.size, 2);
    });

    test('settles every probe of a burst with its own result, and closes every socket', async () => {
      const sockets = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
          } catch {
            return false;
          }
        }).length;
      const before = sockets();
      const requests = Array.from({ length: 600 }, (_, i) => ({
        ip: `127.0.0.${1 + (i % 3)}`,
        port: i % 2 === 0 ? openPort : refusedPort,
        timeoutMs: 2000,
      }));
      const results = await Promise.all(requests.map((r) => pool.probe(r)));
      results.forEach((result, i) => {
        // The listener is bound to 127.0.0.1 only: other loopback addresses refuse.
        const expected = i % 2 === 0 && i % 3 === 0 ? 'open' : 'refused';
        assert.equal(result.state, expected, `request ${i}`);
      });
      // A socket is closed before its result is sent.
      assert.equal(sockets(), before);
    });

    test("a turn's few probes go to one thread in one message; a big turn is shared", async () => {
      const posted = () => pool.batchesPosted().reduce((a, b) => a + b, 0);
      const probe = () => pool.probe({ ip: '127.0.0.1', port: refusedPort, timeoutMs: 2000 });
      // What a spread cycle's tick launches: a handful, in one synchronous pass.
      let before = posted();
      await Promise.all(Array.from({ length: 10 }, probe));
      assert.equal(posted() - before, 1);
      // A burst's turn: more than one thread's slack, so both threads take part.
      const perThread = pool.batchesPosted();
      before = posted();
      await Promise.all(Array.from({ length: 400 }, probe));
      assert.equal(posted() - before, 2);
      assert.deepEqual(
        pool.batchesPosted(),
        perThread.map((n) => n + 1),
      );
    });

    test('reports a host name and a bad port as errors that never left this host', async () => {
      const name = await pool.probe({ ip: 'localhost', port: openPort, timeoutMs: 2000 });
      assert.deepEqual(name, {
        state: 'error',
        durationSeconds: 0,
        error: 'not an IP literal',
        local: true,
      });
      const badPort = await pool.probe({ ip: '127.0.0.1', port: 70_000, timeoutMs: 2000 });
      assert.equal(badPort.state, 'error');
      const direct = await tcpProbe({ ip: '127.0.0.1', port: 70_000, timeoutMs: 2000 });
      assert.equal(badPort.error, direct.error);
    });

    test('probes IPv6 literals', async () => {
      const v6 = createServer((socket) => socket.destroy());
      v6.listen(0, '::1');
      await once(v6, 'listening');
      const address = v6.address();
      assert.ok(address !== null && typeof address === 'object');
      const result = await pool.probe({ ip: '::1', port: address.port, timeoutMs: 2000 });
      v6.close();
      assert.equal(result.state, 'open');
    });
  });

  describe(`probe pool in a network namespace, prober ${prober}`, { timeout: 60_000 }, () => {
    test('a port behind a firewall that drops SYNs times out at the deadline', async (t) => {
      const ns = await createNetns('pool-timeout');
      t.after(() => ns.close());
      await ns.dropTcp('127.0.0.1', 8080);
      const timeoutMs = 300;
      const { code, signal, stdout, stderr } = await ns.runNode(FIXTURE, [
        '--prober',
        prober,
        // Something listens there: only the firewall makes it time out.
        '--listen',
        '127.0.0.1:8080',
        '--listen',
        '127.0.0.2:8080',
        '--timeout-ms',
        String(timeoutMs),
        '--target',
        '127.0.0.1:8080',
        '--target',
        '127.0.0.2:8080',
      ]);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
      const { results, probers } = parseFixture(stdout, stderr);
      assert.deepEqual(probers, [prober]);
      assert.deepEqual(
        results.map((r) => [r.state, r.error]),
        [
          ['timeout', 'ETIMEDOUT'],
          ['open', undefined],
        ],
      );
      const timedOut = results[0] as ProbeResult;
      assert.ok(timedOut.durationSeconds >= timeoutMs / 2 / 1000, `${timedOut.durationSeconds}`);
    });

    test('a host route "unreachable" and a missing route are unreachable', async (t) => {
      const ns = await createNetns('pool-unreachable');
      t.after(() => ns.close());
      await ns.rejectUnreachable('127.9.9.9', 'host');
      await ns.rejectUnreachable('127.9.9.10', 'network');
      const { code, signal, stdout, stderr } = await ns.runNode(FIXTURE, [
        '--prober',
        prober,
        '--target',
        '127.9.9.9:80',
        '--target',
        '127.9.9.10:80',
      ]);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
      const { results } = parseFixture(stdout, stderr);
      assert.deepEqual(
        results.map((r) => [r.state, r.error]),
        [
          ['unreachable', 'EHOSTUNREACH'],
          ['unreachable', 'ENETUNREACH'],
        ],
      );
    });
  });
}

describe('ProbePool.close', () => {
  test('settles probes still queued as error EPOOLCLOSED, and every later one', async () => {
    const pool = createProbePool({ workers: 1 });
    const queued = pool.probe({ ip: '127.0.0.1', port: 9, timeoutMs: 2000 });
    await pool.close();
    assert.equal((await queued).error, 'EPOOLCLOSED');
    const later = await pool.probe({ ip: '127.0.0.1', port: 9, timeoutMs: 2000 });
    assert.deepEqual(later, { state: 'error', durationSeconds: 0, error: 'EPOOLCLOSED' });
    await pool.close();
  });

  test('refuses a worker count outside 1-64 with a coded error', () => {
    for (const workers of [0, 1.5, 65]) {
      assert.throws(
        () => createProbePool({ workers }),
        (err: unknown) =>
          err instanceof ProbePoolError && err.code === 'PROBE_POOL_INVALID_OPTIONS',
      );
    }
  });
});
