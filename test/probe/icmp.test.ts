/**
 * The ICMP pinger on real sockets. Datagram sockets are tested where they are decided:
 * in network namespaces made here, each with its own net.ipv4.ping_group_range, the
 * pinger running as nobody with every capability dropped (setpriv). The raw fallback is
 * tested as root, where the range leaves the datagram socket refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { IcmpPinger, IcmpUnavailableError } from '../../src/probe/icmp.js';
import { createLogger, type Logger, silentLogger } from '../../src/util/log.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const FIXTURE = 'test/fixtures/probe-icmp.ts';

// nobody, with every capability dropped for good (bounding set): a raw socket is
// refused, so only a datagram socket allowed by ping_group_range can ping.
const AS_NOBODY = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
  '--no-new-privs',
  '--',
];
/** Every group: what a chart sets for its pod's namespace. */
const ALL_GROUPS = '0 2147483647';
/** The kernel's default in a new namespace: no group at all. */
const NO_GROUP = '1 0';
/** Addresses that exist only in the test's namespace, on its loopback. */
const NODE_V4 = '198.18.0.10';
const NODE_V6 = 'fd00::10';

interface FixtureOutput {
  readonly status?: { enabled: boolean; reason?: string; socket?: string };
  readonly results?: Array<{ up: boolean; rttSeconds?: number; rttFrom?: string; error?: string }>;
  readonly thrown?: { code: string; message: string };
  readonly logs: Array<Record<string, unknown>>;
}

async function pingNamespace(prefix: string, pingGroupRange: string): Promise<Netns> {
  const ns = await createNetns(prefix);
  await ns.exec('ip', ['addr', 'add', `${NODE_V4}/32`, 'dev', 'lo']);
  await ns.exec('ip', ['addr', 'add', `${NODE_V6}/128`, 'dev', 'lo', 'nodad']);
  await setPingGroupRange(ns, pingGroupRange);
  return ns;
}

function setPingGroupRange(ns: Netns, range: string): Promise<unknown> {
  return ns.exec('sysctl', ['-q', '-w', `net.ipv4.ping_group_range=${range}`]);
}

async function runFixture(
  ns: Netns,
  args: readonly string[],
  wrapper: readonly string[] = [],
): Promise<FixtureOutput> {
  const { code, signal, stdout, stderr } = await ns.runNode(FIXTURE, args, { wrapper });
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
  const logs = stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { ...(JSON.parse(stdout) as object), logs };
}

function collectingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { logger, lines };
}

function requireRoot(): void {
  assert.equal(
    process.getuid?.(),
    0,
    'ICMP tests make namespaces and open raw sockets: run the tests as root',
  );
}

/** The socket this (root) process gets in the host namespace, by the host's own sysctl. */
function hostSocket(): 'datagram' | 'raw' {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  return (low ?? 1) <= 0 && 0 <= (high ?? 0) ? 'datagram' : 'raw';
}

describe('ICMP datagram sockets: no capability, only ping_group_range', { timeout: 60_000 }, () => {
  test('as nobody with no capability, echoes to IPv4 and IPv6 addresses come back', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-dgram', ALL_GROUPS);
    t.after(() => ns.close());
    const output = await runFixture(
      ns,
      ['--mode', 'on', '--timeout-ms', '2000', '127.0.0.1', '::1', NODE_V4, NODE_V6],
      AS_NOBODY,
    );
    assert.deepEqual(output.status, { enabled: true, socket: 'datagram' });
    for (const result of output.results ?? []) {
      assert.equal(result.up, true, JSON.stringify(output.results));
      assert.ok(result.rttSeconds !== undefined && result.rttSeconds > 0, `${result.rttSeconds}`);
    }
    assert.equal(output.results?.length, 4);
    // The one line open() writes says which socket it got.
    assert.deepEqual(
      output.logs.map(({ level, msg, socket }) => ({ level, msg, socket })),
      [{ level: 'info', msg: 'ICMP probing enabled', socket: 'datagram' }],
    );
  });

  test('the round trip comes from kernel timestamps: a busy event loop does not lengthen it; the raw fallback is an upper bound', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-rtt', ALL_GROUPS);
    t.after(() => ns.close());
    // The loop is held 300 ms right after the echo is sent; the reply waits in the socket.
    const args = ['--mode', 'on', '--timeout-ms', '2000', '--block-ms', '300', NODE_V4, NODE_V6];
    const datagram = await runFixture(ns, ['--warm-up', '127.0.0.1', ...args], AS_NOBODY);
    assert.equal(datagram.status?.socket, 'datagram');
    for (const result of datagram.results ?? []) {
      assert.equal(result.up, true);
      assert.equal(result.rttFrom, 'kernel');
      assert.ok((result.rttSeconds ?? 1) < 0.15, `datagram round trip ${result.rttSeconds} s`);
    }
    await setPingGroupRange(ns, NO_GROUP);
    const raw = await runFixture(ns, args);
    assert.equal(raw.status?.socket, 'raw');
    for (const result of raw.results ?? []) {
      assert.equal(result.up, true);
      assert.equal(result.rttFrom, 'clock');
      assert.ok((result.rttSeconds ?? 0) >= 0.3, `raw round trip ${result.rttSeconds} s`);
    }
  });

  test('a dropped echo times out, an ICMP error answer is unreachable, a reject route is the send error', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-dgram-errors', ALL_GROUPS);
    t.after(() => ns.close());
    await ns.dropIcmpEcho('127.0.0.7');
    await ns.dropIcmpEcho(NODE_V6);
    await ns.rejectUnreachable('127.9.9.9', 'host');
    await ns.exec('nft', [
      'add rule inet ipe_test input ip daddr 127.0.0.8 icmp type echo-request reject with icmp host-unreachable',
    ]);
    const output = await runFixture(
      ns,
      ['--mode', 'on', '127.0.0.7', NODE_V6, '127.9.9.9', '127.0.0.8', '127.0.0.1'],
      AS_NOBODY,
    );
    assert.equal(output.status?.socket, 'datagram');
    assert.deepEqual(
      output.results?.map((r) => [r.up, r.error]),
      [
        [false, 'timeout'],
        [false, 'timeout'],
        [false, 'No route to host'],
        [false, 'unreachable'],
        [true, undefined],
      ],
    );
  });

  test('two pingers do not take each other’s replies, and 100 in flight each get their own', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-dgram-many', ALL_GROUPS);
    t.after(() => ns.close());
    await ns.dropIcmpEcho('127.0.0.7');
    const targets = ['127.0.0.7'];
    for (let i = 1; i <= 50; i++) targets.push(`127.0.1.${i}`, NODE_V6);
    const output = await runFixture(
      ns,
      ['--mode', 'on', '--pingers', '2', '--timeout-ms', '1000', ...targets],
      AS_NOBODY,
    );
    assert.deepEqual(
      output.results?.map((r) => r.up),
      targets.map((ip) => ip !== '127.0.0.7'),
    );
  });
});

describe('without ping_group_range: the raw socket, or ICMP disabled', { timeout: 60_000 }, () => {
  test('as root: falls back to the raw socket and says why the datagram socket was refused', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-fallback', NO_GROUP);
    t.after(() => ns.close());
    const output = await runFixture(ns, ['--mode', 'on', NODE_V4, NODE_V6]);
    assert.deepEqual(output.status, { enabled: true, socket: 'raw' });
    assert.deepEqual(
      output.results?.map((r) => r.up),
      [true, true],
    );
    assert.equal(output.logs.length, 1, JSON.stringify(output.logs));
    assert.equal(output.logs[0]?.msg, 'ICMP probing enabled');
    assert.equal(output.logs[0]?.socket, 'raw');
    assert.match(String(output.logs[0]?.datagram), /EACCES.*ping_group_range.*group 0/);
  });

  test('auto, as nobody with no capability: disabled, one warning with the reason, pings say "icmp disabled"', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-disabled', NO_GROUP);
    t.after(() => ns.close());
    const output = await runFixture(ns, ['--mode', 'auto', '127.0.0.1'], AS_NOBODY);
    assert.equal(output.status?.enabled, false);
    const reason =
      'datagram socket: EACCES, net.ipv4.ping_group_range does not include group 65534; ' +
      'raw socket: Operation not permitted, needs CAP_NET_RAW';
    assert.equal(output.status?.reason, reason);
    assert.deepEqual(output.results, [{ up: false, error: 'icmp disabled' }]);
    assert.deepEqual(
      output.logs.map(({ level, msg, reason }) => ({ level, msg, reason })),
      [{ level: 'warn', msg: 'ICMP probing disabled: no ICMP socket', reason }],
    );
  });

  test('on, as nobody with no capability: open() throws ICMP_UNAVAILABLE in one line', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-on', NO_GROUP);
    t.after(() => ns.close());
    const { thrown, logs } = await runFixture(ns, ['--mode', 'on', '127.0.0.1'], AS_NOBODY);
    assert.equal(thrown?.code, 'ICMP_UNAVAILABLE');
    assert.match(thrown?.message ?? '', /^ICMP mode is "on" but no ICMP socket could be opened/);
    assert.match(thrown?.message ?? '', /ping_group_range does not include group 65534/);
    assert.ok(!thrown?.message.includes('\n'), thrown?.message);
    assert.deepEqual(logs, []);
  });

  test('off: never tries, so nothing is logged', async (t) => {
    requireRoot();
    const ns = await pingNamespace('icmp-off', ALL_GROUPS);
    t.after(() => ns.close());
    const output = await runFixture(ns, ['--mode', 'off', '127.0.0.1'], AS_NOBODY);
    assert.deepEqual(output.status, { enabled: false, reason: 'icmp mode is off' });
    assert.deepEqual(output.results, [{ up: false, error: 'icmp disabled' }]);
    assert.deepEqual(output.logs, []);
  });
});

describe('IcmpPinger in this process (root)', { timeout: 30_000 }, () => {
  for (const ip of ['127.0.0.1', '::1']) {
    test(`an echo to ${ip} comes back with a round trip time`, async (t) => {
      requireRoot();
      const { logger, lines } = collectingLogger();
      const pinger = new IcmpPinger({ mode: 'on', logger });
      t.after(() => pinger.close());
      assert.deepEqual(
        { ...pinger.open(), reason: undefined },
        { enabled: true, socket: hostSocket(), reason: undefined },
      );
      const result = await pinger.ping(ip, 2000);
      assert.equal(result.up, true, JSON.stringify(result));
      assert.ok(result.rttSeconds !== undefined && result.rttSeconds > 0, `${result.rttSeconds}`);
      assert.equal(result.error, undefined);
      assert.deepEqual(
        lines.map((line) => line.msg),
        ['ICMP probing enabled'],
      );
    });
  }

  test('raw sockets: two pingers do not take each other’s replies', async (t) => {
    // Every raw ICMP socket sees every reply, matched to its session by id alone.
    // The first pinger's echo is dropped; had both sessions the same id, the
    // second's reply from 127.0.0.1 would answer it too, and it would read as up.
    requireRoot();
    const ns = await pingNamespace('icmp-raw-sessions', NO_GROUP);
    t.after(() => ns.close());
    await ns.dropIcmpEcho('127.0.0.7');
    await ns.rejectUnreachable('127.9.9.9', 'host');
    const output = await runFixture(ns, [
      '--mode',
      'on',
      '--pingers',
      '2',
      '127.0.0.7',
      '127.0.0.1',
      '127.9.9.9',
    ]);
    assert.equal(output.status?.socket, 'raw');
    assert.deepEqual(
      output.results?.map((r) => [r.up, r.error]),
      [
        [false, 'timeout'],
        [true, undefined],
        // raw-socket reports send errors by message only, without an errno code.
        [false, 'No route to host'],
      ],
    );
  });

  test('off never opens a socket and answers every ping with "icmp disabled"', async () => {
    const { logger, lines } = collectingLogger();
    const pinger = new IcmpPinger({ mode: 'off', logger });
    assert.equal(pinger.open().enabled, false);
    assert.deepEqual(await pinger.ping('127.0.0.1', 100), { up: false, error: 'icmp disabled' });
    pinger.close();
    assert.deepEqual(lines, []);
  });

  test('a ping after close() is "icmp disabled", not an exception', async () => {
    requireRoot();
    const pinger = new IcmpPinger({ mode: 'on', logger: silentLogger });
    pinger.open();
    pinger.close();
    assert.deepEqual(await pinger.ping('::1', 100), { up: false, error: 'icmp disabled' });
    assert.deepEqual(await pinger.ping('not-an-ip', 100), {
      up: false,
      error: 'not an IP literal',
    });
  });

  test('IcmpUnavailableError carries the code main turns into exit 2', () => {
    const cause = new Error('Operation not permitted');
    const error = new IcmpUnavailableError('Operation not permitted', { cause });
    assert.equal(error.code, 'ICMP_UNAVAILABLE');
    assert.equal(error.cause, cause);
    assert.ok(!error.message.includes('\n'));
  });
});
