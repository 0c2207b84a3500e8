import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createProbePool, type ProbePool, ProbePoolError } from '../../src/probe/pool.js';
import { tcpProbe } from '../../src/probe/tcp.js';

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

describe('createProbePool', () => {
  let pool: ProbePool;
  let server: Server;
  let openPort: number;
  let refusedPort: number;

  before(async () => {
    pool = createProbePool({ workers: 2 });
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

  test('settles every probe of a burst with its own result', async () => {
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
  });

  test('reports a host that is not an IP literal as tcpProbe does', async () => {
    const result = await pool.probe({ ip: 'localhost', port: openPort, timeoutMs: 2000 });
    assert.deepEqual(result, { state: 'error', durationSeconds: 0, error: 'not an IP literal' });
  });
});

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
