import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { stateOfErrno } from '../../src/probe/states.js';
import { tcpProbe } from '../../src/probe/tcp.js';
import type { ProbeResult } from '../../src/probe/types.js';
import { createNetns } from '../helpers/netns.js';
import { runNode } from '../helpers/node-child.js';

const FIXTURE = 'test/fixtures/probe-once.ts';

async function listen(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

/** A port that was just listening and no longer is: nothing there, so the kernel refuses. */
async function closedPort(host: string): Promise<number> {
  const { server, port } = await listen(host);
  server.close();
  await once(server, 'close');
  return port;
}

interface FixtureOutput {
  readonly results: ProbeResult[];
  readonly handles: string[];
}

function parseFixture(stdout: string, stderr: string): FixtureOutput {
  try {
    return JSON.parse(stdout) as FixtureOutput;
  } catch (err) {
    throw new Error(`fixture printed no JSON; stdout: ${stdout}; stderr: ${stderr}`, {
      cause: err,
    });
  }
}

/**
 * Resolves once handles closed before the call are gone from the active list: they
 * leave it in the loop's close phase, after the check phase where setImmediate runs.
 */
async function closePhasesPassed(): Promise<void> {
  await nextTurn();
  await nextTurn();
}

function assertDuration(result: ProbeResult): void {
  assert.ok(
    Number.isFinite(result.durationSeconds) && result.durationSeconds >= 0,
    `durationSeconds ${result.durationSeconds}`,
  );
}

// A leaked socket shows as a hang; the timeout turns it into a failure.
describe('tcpProbe on loopback', { timeout: 30_000 }, () => {
  for (const host of ['127.0.0.1', '::1']) {
    test(`a listening port on ${host} is open`, async (t) => {
      const { server, port } = await listen(host);
      t.after(() => server.close());
      const accepted = once(server, 'connection');
      const result = await tcpProbe({ ip: host, port, timeoutMs: 2000 });
      assert.equal(result.state, 'open');
      assert.equal(result.error, undefined);
      assertDuration(result);
      // The connection really reached the server: this is a connect, not a guess.
      await accepted;
    });

    test(`a port with nothing listening on ${host} is refused`, async () => {
      const port = await closedPort(host);
      const result = await tcpProbe({ ip: host, port, timeoutMs: 2000 });
      assert.deepEqual(
        { state: result.state, error: result.error },
        {
          state: 'refused',
          error: 'ECONNREFUSED',
        },
      );
      assertDuration(result);
    });
  }

  test('the probe sends nothing: the server reads end-of-stream and no bytes', async (t) => {
    const received: Buffer[] = [];
    const server = createServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', () => {});
      socket.once('end', () => server.emit('probe-ended'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const ended = once(server, 'probe-ended');
    const result = await tcpProbe({ ip: '127.0.0.1', port: address.port, timeoutMs: 2000 });
    assert.equal(result.state, 'open');
    // 'end' means a FIN (destroy), not a reset (resetAndDestroy would give ECONNRESET).
    await ended;
    assert.equal(Buffer.concat(received).length, 0);
  });

  test('a bad request is an error result, not an exception', async () => {
    const badPort = await tcpProbe({ ip: '127.0.0.1', port: 70000, timeoutMs: 1000 });
    assert.deepEqual(
      { state: badPort.state, error: badPort.error },
      {
        state: 'error',
        error: 'ERR_SOCKET_BAD_PORT',
      },
    );
    const name = await tcpProbe({ ip: 'localhost', port: 80, timeoutMs: 1000 });
    assert.deepEqual(
      { state: name.state, error: name.error },
      {
        state: 'error',
        error: 'not an IP literal',
      },
    );
  });

  test('many probes leave no socket and no timer behind', async (t) => {
    const rounds = 300;
    // The server's own sockets are counted too: it says when it has taken them all.
    let accepted = 0;
    const server = createServer((socket) => {
      socket.destroy();
      if (++accepted === rounds) server.emit('all-accepted');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const openPort = address.port;
    const refusedPort = await closedPort('127.0.0.1');
    await closePhasesPassed();
    const count = (name: string) =>
      process.getActiveResourcesInfo().filter((resource) => resource === name).length;
    const before = { sockets: count('TCPSocketWrap'), timers: count('Timeout') };

    const allAccepted = once(server, 'all-accepted');
    const probes: Promise<ProbeResult>[] = [];
    for (let i = 0; i < rounds; i++) {
      // Long deadlines: a deadline timer that was not cleared would still be counted.
      probes.push(tcpProbe({ ip: '127.0.0.1', port: openPort, timeoutMs: 60_000 }));
      probes.push(tcpProbe({ ip: '127.0.0.1', port: refusedPort, timeoutMs: 60_000 }));
      probes.push(tcpProbe({ ip: '127.0.0.1', port: 70_000, timeoutMs: 60_000 }));
    }
    const results = await Promise.all(probes);
    const tally = new Map<string, number>();
    for (const result of results) tally.set(result.state, (tally.get(result.state) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(tally), { open: rounds, refused: rounds, error: rounds });

    await allAccepted;
    await closePhasesPassed();
    assert.deepEqual({ sockets: count('TCPSocketWrap'), timers: count('Timeout') }, before);
  });
});

describe('errno state mapping', () => {
  test('errno codes map to states; the unknown ones are errors', () => {
    const table: ReadonlyArray<readonly [string, string]> = [
      ['ECONNREFUSED', 'refused'],
      ['ETIMEDOUT', 'timeout'],
      ['EHOSTUNREACH', 'unreachable'],
      ['ENETUNREACH', 'unreachable'],
      ['EACCES', 'rejected'],
      ['EPERM', 'rejected'],
      ['ENOPROTOOPT', 'rejected'],
      ['EHOSTDOWN', 'unreachable'],
      ['EMFILE', 'error'],
      ['EADDRNOTAVAIL', 'error'],
      ['ECONNRESET', 'error'],
    ];
    for (const [code, state] of table) assert.equal(stateOfErrno(code), state, code);
  });
});

describe('tcpProbe in a child process', { timeout: 60_000 }, () => {
  test('out of file descriptors (EMFILE) is an error that keeps the code', async () => {
    const port = await closedPort('127.0.0.1');
    const { code, signal, stdout, stderr } = await runNode(
      FIXTURE,
      ['--exhaust-fds', '--target', `127.0.0.1:${port}`],
      { wrapper: ['prlimit', '--nofile=256', '--'] },
    );
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const [result] = parseFixture(stdout, stderr).results;
    assert.deepEqual(
      { state: result?.state, error: result?.error },
      {
        state: 'error',
        error: 'EMFILE',
      },
    );
  });

  test('open and refused probes with long deadlines let the process exit at once', async (t) => {
    const { server, port: openPort } = await listen('127.0.0.1');
    t.after(() => server.close());
    const refusedPort = await closedPort('127.0.0.1');
    const targets: string[] = [];
    for (let i = 0; i < 50; i++) {
      targets.push('--target', `127.0.0.1:${openPort}`, '--target', `127.0.0.1:${refusedPort}`);
    }
    // A deadline timer left running would hold the child for 120 s; the child is
    // killed after 20 s, which fails the exit assertion below.
    const { code, signal, stdout, stderr } = await runNode(FIXTURE, [
      '--timeout-ms',
      '120000',
      ...targets,
    ]);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const output = parseFixture(stdout, stderr);
    assert.equal(output.results.length, 100);
    assert.deepEqual(output.handles, []);
  });
});

describe('tcpProbe in a network namespace', { timeout: 60_000 }, () => {
  test('a port behind a firewall that drops SYNs times out at the deadline', async (t) => {
    const ns = await createNetns('tcp-timeout');
    t.after(() => ns.close());
    await ns.dropTcp('127.0.0.1', 8080);
    await ns.dropTcp('::1', 8080);
    const timeoutMs = 300;
    const { code, signal, stdout, stderr } = await ns.runNode(FIXTURE, [
      // Something listens there: only the firewall makes it time out.
      '--listen',
      '127.0.0.1:8080',
      '--listen',
      '[::1]:8080',
      '--timeout-ms',
      String(timeoutMs),
      '--target',
      '127.0.0.1:8080',
      '--target',
      '[::1]:8080',
      // The same server on another address of the namespace's loopback is not dropped.
      '--listen',
      '127.0.0.2:8080',
      '--target',
      '127.0.0.2:8080',
    ]);
    // Exiting at all shows the half-open sockets were destroyed, not left to retry SYNs.
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const { results, handles } = parseFixture(stdout, stderr);
    assert.deepEqual(
      results.map((r) => [r.state, r.error]),
      [
        ['timeout', 'ETIMEDOUT'],
        ['timeout', 'ETIMEDOUT'],
        ['open', undefined],
      ],
    );
    for (const result of results.slice(0, 2)) {
      // Reported at the deadline, not at once. Not an exact bound: a timer counts
      // from the loop's cached clock, which may lag the probe's own start.
      assert.ok(result.durationSeconds >= timeoutMs / 2 / 1000, `${result.durationSeconds}`);
    }
    assert.deepEqual(handles, []);
  });

  test('a host route "unreachable" and a missing route are unreachable', async (t) => {
    const ns = await createNetns('tcp-unreachable');
    t.after(() => ns.close());
    await ns.rejectUnreachable('127.9.9.9', 'host');
    await ns.rejectUnreachable('127.9.9.10', 'network');
    const { code, signal, stdout, stderr } = await ns.runNode(FIXTURE, [
      '--timeout-ms',
      '2000',
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
