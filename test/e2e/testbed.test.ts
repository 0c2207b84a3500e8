/**
 * The network test bed (test/helpers/testbed.ts) is what its table says: for every
 * target, a plain blocking connect() from the vantage ends with the errno the table
 * has, and a patient `nmap -sT --reason -Pn` gives the table's open/closed/filtered.
 * Neither reference is ours, so a verdict test that compares the exporter with the
 * table compares it with the kernel and with nmap. The measured table is printed (as
 * test diagnostics): the classification in src/probe/states.ts is checked against it.
 *
 * The references are paced under the kernel's ICMP rate limit, and the hosts' own
 * counters (OutRateLimitHost) show that no paced reference was held back; the same
 * connects unpaced against the 13 rejected ports show what the limit does.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { effectiveCatalog } from '../../src/catalog/overrides.js';
import { parseConfigText } from '../../src/config/index.js';
import { PROBE_CAUSES } from '../../src/probe/states.js';
import { planTargets } from '../../src/targets/planner.js';
import { createTestbed, type RateLimitedCount, type Testbed } from '../helpers/testbed.js';
import {
  ADDRESS_CONDITIONS,
  type BedTarget,
  bedLayout,
  exporterConfigText,
  HOSTS,
  HOSTS_FILE_NAMES,
  ICMP_REJECTS,
  ICMPV6_REJECTS,
  ICMPX_REJECTS,
  NOT_A_REJECT,
  PORT_KINDS,
} from '../helpers/testbed-layout.js';
import {
  formatReferenceTable,
  measureReferences,
  ReferenceProber,
  type ReferenceRow,
} from '../helpers/testbed-reference.js';

const execFileAsync = promisify(execFile);

describe('test bed table (no network)', () => {
  const layout = bedLayout();

  test('the exporter config it writes loads, and plans exactly the table targets', () => {
    const { text, targets } = exporterConfigText(layout);
    const file = parseConfigText(text, 'testbed.yml');
    const planned = planTargets({
      vantage: 'central',
      catalog: effectiveCatalog(file.catalog),
      snapshot: { nodes: file.nodes, nodePorts: [] },
    }).map((target) => `${target.node} ${target.address}:${target.port}`);
    const expected = new Set(targets.map((t) => `${t.node} ${t.address}:${t.port}`));
    assert.deepEqual(planned.sort(), [...expected].sort());
    const extra = exporterConfigText(layout, { sections: { kubernetesVersion: '1.28' } });
    assert.equal(parseConfigText(extra.text, 'extra.yml').kubernetesVersion, '1.28');
    // A subset names only its own nodes.
    const some = exporterConfigText(layout, { nodes: (node) => node.name.startsWith('basic') });
    assert.deepEqual(
      parseConfigText(some.text, 'some.yml').nodes.map((node) => node.name),
      ['basic-v4', 'basic-v6'],
    );
    assert.ok(some.targets.every((t) => t.node.startsWith('basic')) && some.targets.length === 10);
  });

  test('every target has a PROBE_CAUSES row that gives its state', () => {
    const orphans: string[] = [];
    for (const target of layout.targets) {
      const errno = target.connect === 'timeout' ? 'ETIMEDOUT' : target.connect;
      const rows = PROBE_CAUSES.filter(
        (cause) =>
          cause.errno.split(', ').includes(errno) &&
          (cause.condition === 'always' || (cause.condition === 'host up') === target.hostUp),
      );
      if (!rows.some((cause) => cause.state === target.state)) {
        orphans.push(`${target.id} ${target.kind}: ${errno} -> ${target.state}`);
      }
    }
    assert.deepEqual(orphans, []);
  });

  test('every TCP reject kind nftables offers is on the bed, on each family it exists for', async () => {
    const codes = async (type: string) => {
      const { stdout } = await execFileAsync('nft', ['describe', type], { timeout: 10_000 });
      return [...stdout.matchAll(/^\t(\S+)\s+\d+$/gm)].map((match) => match[1] as string).sort();
    };
    const offered = (list: readonly string[], skip: readonly string[] = []) =>
      list.filter((code) => !skip.includes(code)).sort();
    assert.deepEqual(offered(await codes('icmp_code'), NOT_A_REJECT), [...ICMP_REJECTS].sort());
    assert.deepEqual(await codes('icmpv6_code'), [...ICMPV6_REJECTS].sort());
    assert.deepEqual(await codes('icmpx_code'), [...ICMPX_REJECTS].sort());
    const onBed = new Set(layout.targets.map((t) => `${t.kind} v${t.family}`));
    const missing = PORT_KINDS.flatMap((kind) =>
      Object.keys(kind.outcomes).map((family) => `${kind.id} v${family}`),
    ).filter((id) => !onBed.has(id));
    assert.deepEqual(missing, []);
    for (const condition of ADDRESS_CONDITIONS) {
      assert.ok(onBed.has(`${condition.id} v${condition.family}`), condition.id);
    }
  });

  test('every address is in 198.18.0.0/15 or fd00::/8', () => {
    const ips = [
      ...HOSTS.flatMap((host) => [host.ipv4, host.ipv6]),
      ...layout.targets.map((target) => target.ip),
    ].filter((ip): ip is string => ip !== undefined);
    for (const ip of ips) assert.match(ip, /^(198\.1[89]\.|fd[0-9a-f]{0,2}:)/, ip);
  });
});

describe('the test bed, against connect() and nmap', {
  concurrency: true,
  timeout: 180_000,
}, () => {
  let bed: Testbed;
  before(async () => {
    bed = await createTestbed();
  });
  after(async () => {
    const vantage = bed?.vantage.name;
    await bed?.close();
    if (vantage === undefined) return;
    const { stdout } = await execFileAsync('ip', ['netns', 'list'], { timeout: 10_000 });
    const marker = new RegExp(`^ipe-test-bed-[a-z0-9-]+-${process.pid}-`, 'm');
    assert.doesNotMatch(stdout, marker, 'the bed left namespaces');
    assert.ok(!existsSync(`/etc/netns/${vantage}`), 'the bed left /etc/netns files');
  });

  test('every target: connect() and nmap -sT see what the table says, paced under the rate limit', async (t) => {
    const limited = (target: BedTarget) => target.host === 'ratelimit' && target.family === 4;
    const hostNames = [...bed.hosts.keys()];
    const counts = () =>
      Promise.all(hostNames.map(async (name) => [name, await bed.rateLimited(name)] as const));
    const before = new Map(await counts());

    const [rows, ratelimit] = await Promise.all([
      measureReferences(
        bed,
        bed.targets.filter((x) => !limited(x)),
      ),
      (async () => {
        // First the 13 rejected ports all at once, from a source address of their own
        // (the kernel's buckets are per peer): what the limit does to a prober that
        // starts every probe together. Then the paced references, from the usual source.
        const rejected = bed.targets.filter((x) => limited(x) && x.icmp);
        const unpaced = await measureReferences(bed, rejected, {
          paced: false,
          nmap: false,
          source: bed.vantageAddresses.secondIpv4,
          connectTimeoutSeconds: 20,
        });
        const afterUnpaced = await bed.rateLimited('ratelimit');
        const paced = await measureReferences(bed, bed.targets.filter(limited));
        return { unpaced, afterUnpaced, paced };
      })(),
    ]);
    const after = new Map(await counts());
    const all = [...rows, ...ratelimit.paced];

    t.diagnostic(`ICMP rate limits in the hosts: ${JSON.stringify(bed.icmpRateLimitMs)} ms`);
    for (const line of formatReferenceTable(all)) t.diagnostic(line);
    t.diagnostic('unpaced, all 13 at once (ratelimit-v4, from the second source address):');
    const byTime = [...ratelimit.unpaced].sort((a, b) => a.connect.seconds - b.connect.seconds);
    for (const line of formatReferenceTable(byTime)) t.diagnostic(line);

    assert.deepEqual(mismatches(all, 'connect'), [], 'connect() differs from the table');
    assert.deepEqual(mismatches(all, 'nmap'), [], 'nmap differs from the table');
    // A patient connect still gets its errno when the limit holds the answer back.
    assert.deepEqual(mismatches(ratelimit.unpaced, 'connect'), []);

    // The limit is the kernel's default and it is on: unpaced, errors were held back...
    const start = before.get('ratelimit') as RateLimitedCount;
    assert.ok(
      ratelimit.afterUnpaced.ipv4 > start.ipv4,
      `13 rejects at once were not rate-limited: ${JSON.stringify(ratelimit.afterUnpaced)}`,
    );
    // ...and no paced reference was.
    const expectedAfter = (name: string) =>
      name === 'ratelimit' ? { ...start, ipv4: ratelimit.afterUnpaced.ipv4 } : before.get(name);
    const heldBack = hostNames.filter(
      (name) => JSON.stringify(after.get(name)) !== JSON.stringify(expectedAfter(name)),
    );
    assert.deepEqual(
      heldBack.map(
        (name) =>
          `${name}: ${JSON.stringify(expectedAfter(name))} expected, ${JSON.stringify(after.get(name))} counted`,
      ),
      [],
      'the ICMP rate limit held back answers to paced references',
    );

    await t.test(
      'closeListener makes an open port refuse, openListener makes it answer again',
      async () => {
        const prober = new ReferenceProber(bed.vantage);
        try {
          const probe = () => prober.connect('198.18.0.14', 7001, { timeoutSeconds: 5 });
          assert.equal((await probe()).outcome, 'connected');
          await bed.closeListener('198.18.0.14', 7001);
          assert.equal((await probe()).outcome, 'ECONNREFUSED');
          await bed.openListener('198.18.0.14', 7001);
          assert.equal((await probe()).outcome, 'connected');
          await assert.rejects(bed.closeListener('198.18.0.10', 7002), /not an open port/);
        } finally {
          prober.close();
        }
      },
    );

    await t.test(
      'the full queue is a listener whose accept queue is over its backlog (ss)',
      async () => {
        const basic = bed.hosts.get('basic')?.netns;
        assert.ok(basic);
        const { stdout } = await basic.exec('ss', ['-Hltn', 'sport = :7004']);
        const queues = stdout
          .trim()
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .map(([state, recvQ, sendQ, local]) => ({
            state,
            local,
            queued: Number(recvQ),
            backlog: Number(sendQ),
          }));
        assert.deepEqual(queues.map((queue) => queue.local).sort(), [
          '198.18.0.10:7004',
          '[fd00:7e57::10]:7004',
        ]);
        for (const queue of queues) {
          // Linux drops a SYN once the queue holds more than the backlog (sk_acceptq_is_full).
          assert.ok(
            queue.state === 'LISTEN' && queue.queued > queue.backlog,
            JSON.stringify(queue),
          );
        }
      },
    );

    // After the references: nmap's echo to the dead address would start a neighbour
    // resolution that their connects then only join.
    await t.test(
      'every host answers ICMP echo, and no address without a host does (nmap -sn -PE)',
      async () => {
        const ips = [...new Set(bed.targets.map((target) => target.ip))];
        const upByTable = bed.targets.filter((target) => target.hostUp).map((target) => target.ip);
        const up = new Set<string>();
        for (const family of [4, 6]) {
          const list = ips.filter((ip) => ip.includes(':') === (family === 6));
          const { stdout } = await bed.vantage.exec('nmap', [
            ...(family === 6 ? ['-6'] : []),
            '-sn',
            '-PE',
            '--disable-arp-ping',
            '-n',
            '--reason',
            '-oX',
            '-',
            ...list,
          ]);
          const pattern =
            /<status state="up" reason="echo-reply"[^>]*\/>\s*<address addr="([^"]+)"/g;
          for (const [, ip] of stdout.matchAll(pattern)) up.add(ip as string);
        }
        assert.deepEqual([...up].sort(), [...new Set(upByTable)].sort());
      },
    );
  });

  test('names: the hosts file answers whatever the resolver does; DNS names hang while it drops queries', async (t) => {
    const prober = new ReferenceProber(bed.vantage);
    try {
      const sorted = (list: readonly string[] | undefined) => [...(list ?? [])].sort();
      const dnsName = Object.keys(bed.resolver.names)[0] as string;
      for (const [name, ips] of Object.entries({ ...HOSTS_FILE_NAMES, ...bed.resolver.names })) {
        assert.deepEqual(sorted((await prober.resolve(name)).addresses), sorted(ips), name);
      }
      // The bed's own resolver answers, and only for the bed: nothing is asked upstream.
      assert.equal((await prober.resolve('absent.bed.test')).error, 'EAI_NONAME');

      await bed.resolver.dropQueries(true);
      const [hung, hosts] = await Promise.all([
        prober.resolve(dnsName),
        prober.resolve('dual.bed.test'),
      ]);
      await bed.resolver.dropQueries(false);
      t.diagnostic(
        `resolver dropping: ${dnsName} ${hung.error} after ${hung.seconds.toFixed(2)} s`,
      );
      assert.equal(hung.error, 'EAI_AGAIN');
      // glibc waits 5 s for an answer before it gives up a try (resolv.conf(5)).
      assert.ok(
        hung.seconds >= 4.5,
        `the lookup gave up after ${hung.seconds} s, not at the resolver's timeout`,
      );
      assert.deepEqual(sorted(hosts.addresses), sorted(HOSTS_FILE_NAMES['dual.bed.test']));
      assert.deepEqual(
        sorted((await prober.resolve(dnsName)).addresses),
        sorted(bed.resolver.names[dnsName]),
      );
    } finally {
      prober.close();
    }
  });
});

/** Targets whose reference differs from the table, in words. */
function mismatches(rows: readonly ReferenceRow[], reference: 'connect' | 'nmap'): string[] {
  return rows.flatMap(({ target, connect, nmap }) => {
    const seen = reference === 'connect' ? connect.outcome : nmap?.state;
    const expected = reference === 'connect' ? target.connect : target.nmap;
    return seen === expected
      ? []
      : [`${target.id} (${target.kind}): ${reference} ${seen}, table ${expected}`];
  });
}
