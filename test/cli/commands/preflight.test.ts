/**
 * `preflight` in a network namespace the test made, so the catalog ports are free
 * there whatever the host runs: a port another process holds is found with its owner
 * (as root) or said to need root (as nobody); `--listen` accepts connections while it
 * runs and leaves the ports free when it ends. The /proc parsing is tested from text.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as z from 'zod';
import { findPortHolders } from '../../../src/cli/preflight/owners.js';
import {
  decodeAddress,
  parseProcNetTcp,
  socketInode,
} from '../../../src/cli/preflight/proc-net.js';
import { listenInNetns, stopChild } from '../../e2e/in-netns.js';
import { createNetns, type Netns } from '../../helpers/netns.js';
import { collect, runNode } from '../../helpers/node-child.js';

const OWNER = z.strictObject({ pid: z.int(), command: z.string(), cmdline: z.string() });
const PREFLIGHT_JSON = z.strictObject({
  ok: z.boolean(),
  roles: z.array(z.string()),
  ports: z.array(
    z.strictObject({
      port: z.int(),
      portName: z.string(),
      component: z.string(),
      scope: z.enum(['internal', 'external']),
      required: z.boolean(),
      status: z.enum(['free', 'in-use', 'untested']),
      reason: z.string().optional(),
      addresses: z.array(z.string()).optional(),
      owners: z.array(OWNER).optional(),
      ownersComplete: z.boolean().optional(),
    }),
  ),
  portsToOpen: z.array(z.string()),
  listen: z
    .strictObject({
      heldSeconds: z.number(),
      ports: z.array(
        z.strictObject({ port: z.int(), connections: z.int(), peers: z.array(z.string()) }),
      ),
      failed: z.array(z.strictObject({ port: z.int(), error: z.string() })),
      expectFrom: z.array(z.string()),
      receivedFrom: z.array(z.strictObject({ peer: z.string(), ports: z.array(z.int()) })),
      neverReached: z.array(z.int()),
    })
    .optional(),
  firewall: z.array(
    z.strictObject({
      tool: z.enum(['nftables', 'iptables', 'firewalld']),
      ports: z.array(z.int()),
      finding: z.string(),
    }),
  ),
  summary: z.strictObject({ free: z.int(), inUse: z.int(), untested: z.int() }),
});
type PreflightJson = z.infer<typeof PREFLIGHT_JSON>;

function portEntry(report: PreflightJson, port: number) {
  const entry = report.ports.find((p) => p.port === port);
  assert.ok(entry, `port ${port} missing from the report`);
  return entry;
}

/** The license-center role's catalog ports: its own two and the five every node has. */
const LICENSE_CENTER_PORTS = [31234, 10250, 9101, 3307, 9183, 179, 31100, 10256];

describe('/proc/net/tcp parsing', () => {
  test('decodes addresses as the kernel writes them', () => {
    assert.equal(decodeAddress('0100007F'), '127.0.0.1');
    assert.equal(decodeAddress('00000000'), '0.0.0.0');
    assert.equal(decodeAddress('0301007F'), '127.0.1.3');
    assert.equal(decodeAddress('00000000000000000000000000000000'), '::');
    assert.equal(decodeAddress('00000000000000000000000001000000'), '::1');
    assert.equal(decodeAddress('0000000000000000FFFF00000100007F'), '::ffff:127.0.0.1');
    assert.equal(decodeAddress('000080FE00000000FF005452B6AC12FE'), 'fe80::5254:ff:fe12:acb6');
    assert.equal(decodeAddress('7F000001X'), undefined);
  });

  test('reads port, state, uid and inode of every socket line', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:23DF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3735411 1 0000000039aeb73d 100 0 0 10 0',
      '   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 63 1 000000005b7627c1 100 0 0 10 0',
      '   2: 0301007F:5618 0100007F:BB8A 06 00000000:00000000 03:0000038C 00000000     0        0 0 3 00000000f3f05c9b',
      '   3: garbage',
      '',
    ].join('\n');
    assert.deepEqual(parseProcNetTcp(text), [
      { localAddress: '127.0.0.1', port: 9183, state: '0A', uid: 0, inode: 3735411 },
      { localAddress: '0.0.0.0', port: 2024, state: '0A', uid: 1000, inode: 63 },
      { localAddress: '127.0.1.3', port: 22040, state: '06', uid: 0, inode: 0 },
    ]);
  });

  test('reads the inode of a socket link and nothing else', () => {
    assert.equal(socketInode('socket:[3735411]'), 3735411);
    assert.equal(socketInode('pipe:[3735411]'), undefined);
    assert.equal(socketInode('/dev/null'), undefined);
  });

  test('finds the process whose open files hold the socket', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'ipe-proc-'));
    await mkdir(join(proc, 'net'));
    await writeFile(
      join(proc, 'net', 'tcp'),
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: 0100007F:0CEB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0 100 0 0 10 0\n',
    );
    await writeFile(join(proc, 'net', 'tcp6'), '  sl  local_address\n');
    for (const [pid, link] of [
      ['42', 'socket:[555]'],
      ['43', 'socket:[556]'],
    ] as const) {
      await mkdir(join(proc, pid, 'fd'), { recursive: true });
      await symlink(link, join(proc, pid, 'fd', '7'));
      await writeFile(join(proc, pid, 'comm'), 'mysqld\n');
      await writeFile(join(proc, pid, 'cmdline'), '/usr/sbin/mysqld\u0000--port=3307\u0000');
    }
    const holders = await findPortHolders([3307, 6443], { procRoot: proc });
    assert.deepEqual(Object.fromEntries(holders), {
      3307: {
        addresses: ['127.0.0.1'],
        owners: [{ pid: 42, command: 'mysqld', cmdline: '/usr/sbin/mysqld --port=3307' }],
        searchedAll: true,
      },
    });
  });
});

describe('preflight in a network namespace', () => {
  let ns: Netns;
  let holder: ChildProcess;

  before(async () => {
    ns = await createNetns('cli-preflight');
    // One holder on every address, one on a single loopback address: both block a bind.
    holder = await listenInNetns(ns, ['0.0.0.0:9183', '127.0.0.2:3307']);
  });
  after(async () => {
    await stopChild(holder);
    await ns.close();
  });

  const preflight = (args: readonly string[], wrapper: readonly string[] = []) =>
    ns.runNode('src/main.ts', ['preflight', ...args], { wrapper, timeoutMs: 60_000 });

  test('as root: the ports in use, with the process that holds them; exit 1', async () => {
    const result = await preflight(['--roles=license-center', '--output=json']);
    assert.equal(result.code, 1, result.stderr);
    const report = PREFLIGHT_JSON.parse(JSON.parse(result.stdout));
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.ports.map((p) => p.port),
      LICENSE_CENTER_PORTS,
    );
    for (const port of [9183, 3307]) {
      const entry = portEntry(report, port);
      assert.equal(entry.status, 'in-use');
      assert.equal(entry.ownersComplete, true);
      assert.deepEqual(
        entry.owners?.map((o) => [o.pid, o.command]),
        [[holder.pid, 'node']],
      );
      assert.match(entry.owners?.[0]?.cmdline ?? '', /test\/fixtures\/listen\.ts/);
    }
    assert.deepEqual(portEntry(report, 9183).addresses, ['0.0.0.0']);
    assert.deepEqual(portEntry(report, 3307).addresses, ['127.0.0.2']);
    assert.deepEqual(report.summary, { free: 6, inUse: 2, untested: 0 });
    assert.deepEqual(report.portsToOpen, [...LICENSE_CENTER_PORTS.map(String), '30000-32767']);

    const table = await preflight(['--roles=license-center']);
    assert.equal(table.code, 1);
    assert.match(
      table.stdout,
      new RegExp(
        `^ +9183 +license-center +license-center +yes +IN USE by node \\(pid ${holder.pid}\\)$`,
        'm',
      ),
    );
    assert.match(table.stdout, /^ +10250 +kubelet +kubelet +yes +free$/m);
    assert.match(
      table.stdout,
      /^Free these ports before installing iManager:\n {2}3307 {2}license-center-db: held by node/m,
    );
    assert.match(
      table.stdout,
      /--roles=license-center --format=firewalld\|iptables\|nftables\|ufw/,
    );
  });

  test('as nobody: the owner is unknown, and ports below 1024 are not tested', async () => {
    const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
    const result = await preflight(['--roles=license-center', '--output=json'], asNobody);
    assert.equal(result.code, 1, result.stderr);
    const report = PREFLIGHT_JSON.parse(JSON.parse(result.stdout));
    const held = portEntry(report, 9183);
    assert.equal(held.status, 'in-use');
    assert.deepEqual(held.owners, []);
    assert.equal(held.ownersComplete, false);
    assert.deepEqual(portEntry(report, 179), {
      ...portEntry(report, 179),
      status: 'untested',
      reason: 'binding ports below 1024 needs root',
    });
    const table = await preflight(['--roles=license-center'], asNobody);
    assert.match(table.stdout, /IN USE by owner unknown \(run as root to see it\)/);
    assert.match(table.stdout, /^Not tested: 179 \(run as root to test them\)$/m);
  });

  test('--listen holds the free ports, accepts connections, and frees them at the end', async () => {
    const child = ns.spawnNode(
      'src/main.ts',
      ['preflight', '--roles=license-center', '--listen=5m', '--output=json'],
      { timeoutMs: 60_000 },
    );
    const done = collect(child);
    let seen = '';
    const stderr = child.stderr as NodeJS.ReadableStream;
    while (!seen.includes('run check from another node now')) {
      const [chunk] = (await once(stderr, 'data')) as [Buffer];
      seen += chunk.toString();
    }
    assert.match(seen, /holding 6 free ports for 5m .*: 31234, 10250, 9101, 179, 31100, 10256\n/);
    const during = await probe(['127.0.0.1:10250', '127.0.0.2:10250', '[::1]:179']);
    assert.deepEqual(during, ['open', 'open', 'open']);
    // Ctrl-C (or a stop from an orchestrator) ends the hold early, with the report.
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 1, result.stderr);
    const report = PREFLIGHT_JSON.parse(JSON.parse(result.stdout));
    const held = Object.fromEntries((report.listen?.ports ?? []).map((p) => [p.port, p]));
    // The kernel sends from 127.0.0.1 to every loopback address.
    assert.deepEqual(held[10250], { port: 10250, connections: 2, peers: ['127.0.0.1'] });
    assert.deepEqual(held[179], { port: 179, connections: 1, peers: ['::1'] });
    assert.deepEqual(held[9101], { port: 9101, connections: 0, peers: [] });
    assert.deepEqual(report.listen?.failed, []);

    assert.deepEqual(await probe(['127.0.0.1:10250', '[::1]:179']), ['refused', 'refused']);
    const again = PREFLIGHT_JSON.parse(
      JSON.parse((await preflight(['--roles=license-center', '--output=json'])).stdout),
    );
    for (const port of [31234, 10250, 9101, 179, 31100]) {
      assert.equal(portEntry(again, port).status, 'free', `port ${port} still held`);
    }
  });

  test('--listen ends by itself after the duration, with the ports released', async () => {
    const result = await preflight(['--roles=worker', '--listen=500ms']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Held 6 free ports for \d+ms; connections received:$/m);
    assert.match(result.stdout, /^ +10250 {2}none$/m);
    assert.deepEqual(await probe(['127.0.0.1:10250', '127.0.0.1:31100']), ['refused', 'refused']);
  });

  async function probe(targets: readonly string[]): Promise<string[]> {
    const args = targets.flatMap((target) => ['--target', target]);
    const result = await ns.runNode('test/fixtures/probe-once.ts', [
      ...args,
      '--timeout-ms',
      '2000',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const { results } = JSON.parse(result.stdout) as { results: { state: string }[] };
    return results.map((r) => r.state);
  }
});

test('preflight without --roles is bad input: exit 2 with one line', async () => {
  const result = await runNode('src/main.ts', ['preflight']);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    "imanager-port-exporter: --roles: expected this node's roles, such as --roles=control-plane,etcd, got nothing (see imanager-port-exporter help preflight)\n",
  );
});
