/**
 * preflight --listen as two nodes see it: preflight holds a worker's ports in one
 * namespace, check probes them from another over a veth pair (198.18.77.0/30), and the
 * node's own nftables drops one port between them. preflight must name that port as
 * never reached, exit 1, and say its local firewall drops it. Its own dropping rule is
 * the namespace's, made here; the addresses exist only in these namespaces.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import * as z from 'zod';
import { createNetns } from '../helpers/netns.js';
import { collect } from '../helpers/node-child.js';
import { writeConfig } from './commands/io.js';

const NODE_IP = '198.18.77.1';
const PEER_IP = '198.18.77.2';
const DROPPED = 9101;

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: 10_000 }, (error, _out, stderr) =>
      error ? reject(new Error(`ip ${args.join(' ')}: ${stderr}`)) : resolve(),
    );
  });
}

const LISTEN_JSON = z.looseObject({
  ok: z.boolean(),
  listen: z.looseObject({
    expectFrom: z.array(z.string()),
    receivedFrom: z.array(z.strictObject({ peer: z.string(), ports: z.array(z.int()) })),
    neverReached: z.array(z.int()),
  }),
  firewall: z.array(
    z.strictObject({ tool: z.string(), ports: z.array(z.int()), finding: z.string() }),
  ),
});

test('a port dropped between two nodes: preflight names it never reached, and exits 1', async (t) => {
  const node = await createNetns('pf-node');
  t.after(() => node.close());
  const peer = await createNetns('pf-peer');
  t.after(() => peer.close());
  // Deleting a namespace deletes its end of the pair, and with it the other end.
  const [a, b] = [`ipeA${process.pid % 100000}`, `ipeB${process.pid % 100000}`];
  await ip([
    'link',
    'add',
    a,
    'netns',
    node.name,
    'type',
    'veth',
    'peer',
    'name',
    b,
    'netns',
    peer.name,
  ]);
  await node.exec('ip', ['addr', 'add', `${NODE_IP}/30`, 'dev', a]);
  await peer.exec('ip', ['addr', 'add', `${PEER_IP}/30`, 'dev', b]);
  await node.exec('ip', ['link', 'set', a, 'up']);
  await peer.exec('ip', ['link', 'set', b, 'up']);
  await node.dropTcp(NODE_IP, DROPPED);

  for (const output of ['json', 'table'] as const) {
    const preflight = node.spawnNode(
      'src/main.ts',
      [
        'preflight',
        '--roles=worker',
        '--listen=5m',
        `--expect-from=${PEER_IP}`,
        `--output=${output}`,
      ],
      { timeoutMs: 120_000 },
    );
    const done = collect(preflight);
    let seen = '';
    const stderr = preflight.stderr as NodeJS.ReadableStream;
    while (!seen.includes('run check from another node now')) {
      const [chunk] = (await once(stderr, 'data')) as [Buffer];
      seen += chunk.toString();
    }
    const config = await writeConfig(
      `nodes:\n  - { name: worker-1, address: ${NODE_IP}, roles: [worker] }\n`,
    );
    const check = await peer.runNode(
      'src/main.ts',
      [
        'check',
        `--config.file=${config}`,
        '--probe.timeout=1s',
        '--probe.icmp=off',
        '--output=json',
      ],
      { timeoutMs: 60_000 },
    );
    assert.equal(check.code, 1, check.stderr);
    preflight.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 1, `${output}: ${result.stderr}`);
    if (output === 'json') {
      const report = LISTEN_JSON.parse(JSON.parse(result.stdout));
      assert.equal(report.ok, false);
      assert.deepEqual(report.listen.neverReached, [DROPPED]);
      // Every other held port was reached (a peer that reset at once has no address).
      const reached = new Set(report.listen.receivedFrom.flatMap((r) => r.ports));
      assert.deepEqual(
        [...reached].sort((x, y) => x - y),
        [179, 10250, 10256, 31100, 31234],
        JSON.stringify(report.listen),
      );
      assert.ok(
        report.listen.receivedFrom.every((r) => r.peer === PEER_IP || r.peer === 'unknown'),
      );
      assert.ok(
        report.firewall.some((f) => f.tool === 'nftables' && f.ports.includes(DROPPED)),
        JSON.stringify(report.firewall),
      );
    } else {
      // The table came first, the connections as they arrived, then the verdict.
      const text = result.stdout;
      assert.ok(text.indexOf('Preflight for roles worker') < text.indexOf('connection from'), text);
      assert.match(text, /^ {2}connection from .+ to 10250 \(kubelet\)$/m);
      assert.doesNotMatch(text, /To prove the path/);
      assert.match(
        text,
        new RegExp(`^Received from .+; never reached: ${DROPPED} node-exporter\\.$`, 'm'),
      );
      assert.match(
        text,
        new RegExp(
          `^Local firewall: nftables chain inet ipe_test input drops or rejects ${DROPPED}\\.$`,
          'm',
        ),
      );
    }
  }
});
