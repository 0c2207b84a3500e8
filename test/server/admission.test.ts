/**
 * Admission that one client cannot exhaust, on real sockets from two loopback source
 * addresses (127.0.0.1 the abuser, 127.0.0.2 the scraper): connections per source below
 * the global cap, TLS-less header tricklers included; basic auth with a failed-attempt
 * budget per source, queues that take turns between sources, checks of clients that
 * left dropped unrun, and a decoy hash whose cost is capped.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createApp, type ServerHandle, startServer } from '../../src/server/app.js';
import { createBasicAuth, MAX_DECOY_COST } from '../../src/server/auth.js';
import { createLogger } from '../../src/util/log.js';

const ABUSER = '127.0.0.1';
const SCRAPER = '127.0.0.2';
const PASSWORD_HASH = bcrypt.hashSync('right', 4);

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function app() {
  return createApp({
    version: 'test',
    readiness: () => true,
    metrics: { contentType: 'text/plain', render: async () => Buffer.from('x 1\n') },
  });
}

/** One GET from `localAddress`; resolves with the status. */
function get(server: ServerHandle, localAddress: string, authorization?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.address.port,
        path: '/metrics',
        localAddress,
        agent: false,
        headers: authorization === undefined ? {} : { authorization },
        timeout: 20_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

describe('connections per source', () => {
  let server: ServerHandle;
  const lines: string[] = [];
  const sockets: Socket[] = [];
  before(async () => {
    server = await startServer(app(), {
      host: '127.0.0.1',
      port: 0,
      limits: { maxConnections: 16, maxConnectionsPerSource: 4 },
      logger: createLogger({ write: (line) => lines.push(line) }),
    });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await server?.close();
  });

  it('one address that trickles its headers gets its share; another is still answered', async () => {
    // 12 connections from one address, each with half a request line and no more.
    const closed = await Promise.all(
      Array.from(
        { length: 12 },
        () =>
          new Promise<'open' | 'dropped'>((resolve) => {
            const socket = connect({
              port: server.address.port,
              host: '127.0.0.1',
              localAddress: ABUSER,
            });
            sockets.push(socket);
            socket.on('error', () => undefined);
            socket.once('connect', () => {
              socket.write('GET /metr');
              // Answered with a close before the headers timeout: dropped by the cap.
              socket.once('close', () => resolve('dropped'));
              // The ones kept: the server answers the scraper below while they stay open.
              setImmediate(() => socket.listenerCount('close') > 0 && resolve('open'));
            });
          }),
      ),
    );
    assert.ok(closed.length === 12);
    // The others' scrape, from another address, meanwhile: answered.
    assert.equal(await get(server, SCRAPER), 200);
    // Exactly the share stays open, the rest were dropped.
    const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    assert.equal(open, 4, `${open} of the trickler's connections open`);
    const warned = lines.filter((l) => l.includes('connections from one address past its limit'));
    assert.equal(warned.length, 1, lines.join(''));
    assert.match(warned[0] ?? '', /"remote":"127\.0\.0\.1","limit":4/);
  });
});

describe('basic auth budgets', () => {
  it('a source past its failed-attempt budget is throttled at no bcrypt; a cached login still passes', async () => {
    let now = 0;
    let compares = 0;
    const auth = createBasicAuth(
      { alice: PASSWORD_HASH },
      {
        failureBudget: 3,
        failureRefillMs: 1000,
        now: () => now,
        compare: (password, hash) => {
          compares++;
          return bcrypt.compare(password, hash);
        },
      },
    );
    assert.equal(await auth.admit(basic('alice', 'right'), { source: 'a' }), 'ok');
    for (let i = 0; i < 3; i++) {
      assert.equal(await auth.admit(basic('alice', `wrong-${i}`), { source: 'a' }), 'denied');
    }
    const spent = compares;
    assert.equal(await auth.admit(basic('alice', 'wrong-4'), { source: 'a' }), 'throttled');
    assert.equal(await auth.admit(basic('mallory', 'x'), { source: 'a' }), 'throttled');
    assert.equal(compares, spent, 'throttled checks cost no bcrypt');
    assert.equal(await auth.admit(basic('alice', 'right'), { source: 'a' }), 'ok', 'cached');
    assert.equal(
      await auth.admit(basic('alice', 'wrong'), { source: 'b' }),
      'denied',
      'b has its own',
    );
    now += 1000; // one attempt back
    assert.equal(await auth.admit(basic('alice', 'wrong-5'), { source: 'a' }), 'denied');
    assert.equal(await auth.admit(basic('alice', 'wrong-6'), { source: 'a' }), 'throttled');
  });

  it('takes turns between sources, and drops a check whose client has gone', async () => {
    const order: string[] = [];
    const gates: (() => void)[] = [];
    const auth = createBasicAuth(
      { alice: PASSWORD_HASH },
      {
        queuedPerSource: 8,
        compare: (password) => {
          order.push(password);
          return new Promise((resolve) => gates.push(() => resolve(false)));
        },
      },
    );
    const left = new AbortController();
    const checks = [
      auth.admit(basic('alice', 'a1'), { source: 'a' }),
      auth.admit(basic('alice', 'a2'), { source: 'a' }),
      auth.admit(basic('alice', 'a3'), { source: 'a', signal: left.signal }),
      auth.admit(basic('alice', 'a4'), { source: 'a' }),
      auth.admit(basic('alice', 'b1'), { source: 'b' }),
    ];
    left.abort(); // a3's client is gone before its turn
    // Bounded: at most one gate a turn, five checks.
    for (let i = 0; i < 10 && order.length < 4; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gates.shift()?.();
    }
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gates.shift()?.();
    }
    const outcomes = await Promise.all(checks);
    assert.deepEqual(order, ['a1', 'b1', 'a2', 'a4'], 'b did not wait for all of a');
    assert.deepEqual(outcomes, ['denied', 'denied', 'gone', 'denied', 'denied']);
  });

  it('answers a source past its queue with throttled, at once', async () => {
    const gates: (() => void)[] = [];
    const auth = createBasicAuth(
      { alice: PASSWORD_HASH },
      {
        queuedPerSource: 2,
        compare: () => new Promise((resolve) => gates.push(() => resolve(false))),
      },
    );
    const queued = [1, 2, 3].map((i) => auth.admit(basic('alice', `q${i}`), { source: 'a' }));
    const extra = await auth.admit(basic('alice', 'q4'), { source: 'a' });
    assert.equal(extra, 'throttled');
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gates.shift()?.();
    }
    assert.deepEqual(await Promise.all(queued), ['denied', 'denied', 'denied']);
  });

  it('caps the decoy hash for unknown users at cost 10', async () => {
    const costly = `$2b$14$${'a'.repeat(53)}`;
    const seen: string[] = [];
    const auth = createBasicAuth(
      { alice: costly },
      {
        compare: async (_password, hash) => {
          seen.push(hash);
          return false;
        },
      },
    );
    assert.equal(await auth.admit(basic('nobody', 'x')), 'denied');
    assert.equal(bcrypt.getRounds(seen[0] ?? ''), MAX_DECOY_COST);
    assert.equal(await auth.admit(basic('alice', 'x')), 'denied');
    assert.equal(seen[1], costly, 'a real user is checked at its own cost');
  });
});

describe('a wrong-password flood over HTTP', () => {
  let dir: string;
  let server: ServerHandle;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipe-admission-'));
    const web = join(dir, 'web.yml');
    await writeFile(web, `basic_auth_users:\n  alice: "${PASSWORD_HASH}"\n`);
    server = await startServer(app(), { host: '127.0.0.1', port: 0, webConfigFile: web });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gets 429 from its address after the budget; a right login from another address gets in', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => get(server, ABUSER, basic('alice', `guess-${i}`))),
    );
    assert.ok(
      statuses.every((s) => s === 401 || s === 429),
      statuses.join(','),
    );
    assert.ok(statuses.includes(429), 'throttled');
    assert.ok(statuses.filter((s) => s === 401).length <= 10, 'at most the budget was checked');
    assert.equal(await get(server, SCRAPER, basic('alice', 'right')), 200);
    assert.equal(await get(server, ABUSER, basic('alice', 'another')), 429);
  });
});
