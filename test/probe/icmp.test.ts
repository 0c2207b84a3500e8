import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IcmpPinger, IcmpUnavailableError } from '../../src/probe/icmp.js';
import { createLogger, type Logger, silentLogger } from '../../src/util/log.js';
import { createNetns } from '../helpers/netns.js';
import { runNode } from '../helpers/node-child.js';

const FIXTURE = 'test/fixtures/probe-icmp-open.ts';

// Drops every capability, for good (bounding set), and runs as nobody: a raw socket
// is refused. net.ipv4.ping_group_range may still allow unprivileged ICMP datagram
// sockets, but net-ping opens SOCK_RAW, which needs CAP_NET_RAW whatever that says.
const WITHOUT_NET_RAW = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
  '--no-new-privs',
  '--',
];

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
    'ICMP tests open raw sockets and need root (CAP_NET_RAW): run the tests as root',
  );
}

describe('IcmpPinger with CAP_NET_RAW', { timeout: 30_000 }, () => {
  for (const ip of ['127.0.0.1', '::1']) {
    test(`an echo to ${ip} comes back with a round trip time`, async (t) => {
      requireRoot();
      const { logger, lines } = collectingLogger();
      const pinger = new IcmpPinger({ mode: 'on', logger });
      t.after(() => pinger.close());
      assert.deepEqual(pinger.open(), { enabled: true });
      const result = await pinger.ping(ip, 2000);
      assert.equal(result.up, true, JSON.stringify(result));
      assert.ok(result.rttSeconds !== undefined && result.rttSeconds > 0, `${result.rttSeconds}`);
      assert.equal(result.error, undefined);
      assert.deepEqual(lines, []);
    });
  }

  test('many pings in flight on one session each get their own answer', async (t) => {
    requireRoot();
    const pinger = new IcmpPinger({ mode: 'on', logger: silentLogger });
    t.after(() => pinger.close());
    pinger.open();
    const targets: string[] = [];
    for (let i = 1; i <= 50; i++) targets.push(`127.0.1.${i}`, '::1');
    const results = await Promise.all(targets.map((ip) => pinger.ping(ip, 2000)));
    assert.deepEqual(
      results.map((r) => r.up),
      targets.map(() => true),
    );
  });

  test('an echo dropped by a firewall is a timeout; an unreachable route is an error', async (t) => {
    // In a namespace made here: the drops and routes, and every packet, stay in it.
    const ns = await createNetns('icmp');
    t.after(() => ns.close());
    await ns.dropIcmpEcho('127.0.0.7');
    await ns.dropIcmpEcho('::1');
    await ns.rejectUnreachable('127.9.9.9', 'host');
    const { code, signal, stdout, stderr } = await ns.runNode('test/fixtures/probe-icmp-ping.ts', [
      '--timeout-ms',
      '300',
      '127.0.0.7',
      '::1',
      '127.9.9.9',
      '127.0.0.1',
    ]);
    // Exiting by itself shows close() released the raw sockets and their timers.
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const results = JSON.parse(stdout) as Array<{ up: boolean; error?: string }>;
    assert.deepEqual(
      results.map((r) => [r.up, r.error]),
      [
        [false, 'timeout'],
        [false, 'timeout'],
        // raw-socket reports send errors by message only, without an errno code.
        [false, 'No route to host'],
        [true, undefined],
      ],
    );
  });

  test('two pingers in one process do not take each other’s replies', async (t) => {
    // Every raw ICMP socket sees every reply, matched to its session by id alone.
    // The first pinger's echo is dropped; had both sessions the same id, the
    // second's reply from 127.0.0.1 would answer it too, and it would read as up.
    const ns = await createNetns('icmp-sessions');
    t.after(() => ns.close());
    await ns.dropIcmpEcho('127.0.0.7');
    const { code, signal, stdout, stderr } = await ns.runNode('test/fixtures/probe-icmp-ping.ts', [
      '--timeout-ms',
      '300',
      '--pingers',
      '2',
      '127.0.0.7',
      '127.0.0.1',
    ]);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const results = JSON.parse(stdout) as Array<{ up: boolean; error?: string }>;
    assert.deepEqual(
      results.map((r) => [r.up, r.error]),
      [
        [false, 'timeout'],
        [true, undefined],
      ],
    );
  });

  test('off never opens a socket and answers every ping with "icmp disabled"', async () => {
    const { logger, lines } = collectingLogger();
    const pinger = new IcmpPinger({ mode: 'off', logger });
    const status = pinger.open();
    assert.equal(status.enabled, false);
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

describe('IcmpPinger without CAP_NET_RAW', { timeout: 60_000 }, () => {
  test('auto: disabled, one warning, and pings say "icmp disabled"', async () => {
    requireRoot();
    const { code, signal, stdout, stderr } = await runNode(FIXTURE, ['auto'], {
      wrapper: WITHOUT_NET_RAW,
    });
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const output = JSON.parse(stdout) as {
      status: { enabled: boolean; reason?: string };
      ping: unknown;
    };
    assert.equal(output.status.enabled, false);
    assert.equal(output.status.reason, 'Operation not permitted');
    assert.deepEqual(output.ping, { up: false, error: 'icmp disabled' });
    const logLines = stderr.split('\n').filter((line) => line !== '');
    assert.equal(logLines.length, 1, stderr);
    const warning = JSON.parse(logLines[0] as string) as Record<string, unknown>;
    assert.equal(warning.level, 'warn');
    assert.equal(warning.reason, 'Operation not permitted');
  });

  test('on: open() throws ICMP_UNAVAILABLE with a one-line message', async () => {
    requireRoot();
    const { code, signal, stdout, stderr } = await runNode(FIXTURE, ['on'], {
      wrapper: WITHOUT_NET_RAW,
    });
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
    const { thrown } = JSON.parse(stdout) as { thrown: { code: string; message: string } };
    assert.equal(thrown.code, 'ICMP_UNAVAILABLE');
    assert.match(thrown.message, /^ICMP mode is "on" but no raw ICMP socket could be opened/);
    assert.ok(thrown.message.includes('Operation not permitted'), thrown.message);
    assert.ok(!thrown.message.includes('\n'), thrown.message);
    assert.equal(stderr, '');
  });

  test('off: never tries, so nothing is logged', async () => {
    const { code, stdout, stderr } = await runNode(FIXTURE, ['off'], { wrapper: WITHOUT_NET_RAW });
    assert.equal(code, 0, stderr);
    const output = JSON.parse(stdout) as { status: { enabled: boolean }; ping: unknown };
    assert.equal(output.status.enabled, false);
    assert.deepEqual(output.ping, { up: false, error: 'icmp disabled' });
    assert.equal(stderr, '');
  });
});
