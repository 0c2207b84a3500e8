/**
 * The benchmark's pure parts: its figures are only as good as the parsing of nmap's
 * output, of /proc and of GNU time, and as the target set being what it claims.
 *
 *   node --import tsx --test bench/test/parsers.test.ts
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  clusterFor,
  clusterNodes,
  NODE_PORT_RANGE,
  openNodePorts,
  snapshotAt,
} from '../cluster.js';
import { portUp } from '../exposition.js';
import { addressAt, countExpected, planLayout, subsetByAddress } from '../layout.js';
import { compactPorts, nmapArgs, parseGrepable } from '../nmap.js';
import {
  cpuModel,
  cpuSecondsOfStat,
  memoryOfStatus,
  openFilesLimit,
  parseTimeOutput,
} from '../proc.js';
import { median } from '../stats.js';

describe('nmap', () => {
  test('grepable output: listed ports by name, ignored ones take the ignored state', () => {
    const text = [
      '# Nmap 7.93 scan initiated ...',
      'Host: 127.0.1.1 ()\tStatus: Up',
      'Host: 127.0.1.1 ()\tPorts: 21000/open/tcp/////, 21001/closed/tcp//unknown///, 21002/filtered/tcp/////',
      'Host: 127.0.1.2 ()\tPorts: 21000/open/tcp/////\tIgnored State: closed (2)',
      'Host: 127.0.1.3 ()\tPorts: \tIgnored State: filtered (3)',
      '# Nmap done at ...',
    ].join('\n');
    const states = parseGrepable(text, [21000, 21001, 21002]);
    assert.deepEqual(Object.fromEntries(states), {
      '127.0.1.1:21000': 'open',
      '127.0.1.1:21001': 'refused',
      '127.0.1.1:21002': 'timeout',
      '127.0.1.2:21000': 'open',
      '127.0.1.2:21001': 'refused',
      '127.0.1.2:21002': 'refused',
      '127.0.1.3:21000': 'timeout',
      '127.0.1.3:21001': 'timeout',
      '127.0.1.3:21002': 'timeout',
    });
  });

  test('ports are given as ranges', () => {
    assert.equal(
      compactPorts([21002, 21000, 21001, 21005, 21007, 21006]),
      '21000-21002,21005-21007',
    );
    assert.equal(compactPorts([80]), '80');
  });

  test('a fixed timeout is passed as min, max and initial RTT timeout', () => {
    const args = nmapArgs({
      hostsFile: 'h',
      ports: [1, 2],
      outputFile: 'o',
      timing: 5,
      parallelism: 1024,
      hostgroup: 100,
      timeoutMs: 2000,
    });
    for (const flag of ['--initial-rtt-timeout', '--min-rtt-timeout', '--max-rtt-timeout']) {
      assert.equal(args[args.indexOf(flag) + 1], '2000ms', flag);
    }
    assert.equal(args[args.indexOf('--max-retries') + 1], '0');
    assert.equal(args[args.indexOf('-p') + 1], '1-2');
  });
});

describe('proc and GNU time', () => {
  test('utime+stime are read after the last parenthesis of the command name', () => {
    const stat =
      '4242 (weird) name) S 1 4242 4242 0 -1 4194560 5000 0 0 0 250 75 0 0 20 0 12 0 100 0 0';
    assert.equal(cpuSecondsOfStat(stat), 3.25);
  });

  test('GNU time: the last line holds elapsed, user and system', () => {
    assert.deepEqual(parseTimeOutput('1.52 0.33 0.46\n'), { wallSeconds: 1.52, cpuSeconds: 0.79 });
    const failed = 'Command exited with non-zero status 1\n0.10 0.05 0.01\n';
    assert.equal(parseTimeOutput(failed).wallSeconds, 0.1);
    assert.throws(() => parseTimeOutput('Command terminated by signal 9\n'), /cannot read/);
  });

  test('limits and cpuinfo', () => {
    const limits =
      'Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files\n';
    assert.equal(openFilesLimit(limits), 20000);
    assert.equal(
      cpuModel('processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n'),
      'AMD EPYC 7B13',
    );
  });
});

describe('layout', () => {
  const options = {
    targets: 2000,
    ports: 20,
    basePort: 21000,
    wildcardOpenPorts: 4,
    sparseOpenPorts: 2,
    sparseEvery: 8,
    droppedShare: 0.1,
  };

  test('the targets are exactly addresses x ports, so nmap scans the same set', () => {
    const layout = planLayout(options);
    assert.equal(layout.addresses.length, 100);
    assert.equal(layout.targets.length, 2000);
    const keys = new Set(layout.targets.map((t) => `${t.ip}:${t.port}`));
    for (const ip of layout.addresses)
      for (const port of layout.ports) assert.ok(keys.has(`${ip}:${port}`));
  });

  test('open, refused and dropped shares follow the options', () => {
    const layout = planLayout(options);
    // 4 ports open everywhere, 2 ports open on 13 of 100 addresses, 2 ports dropped.
    assert.deepEqual(countExpected(layout.targets), { open: 426, refused: 1374, timeout: 200 });
    assert.deepEqual(layout.droppedPorts, [21018, 21019]);
    assert.equal(layout.listeners.length, 4 + 2 * 13);
    assert.ok(layout.listeners.slice(0, 4).every((l) => l.ip === '0.0.0.0'));
  });

  test('addresses stay in 127.0.0.0/8, clear of 127.0.0.x', () => {
    assert.equal(addressAt(0), '127.0.1.1');
    assert.equal(addressAt(249), '127.0.1.250');
    assert.equal(addressAt(250), '127.0.2.1');
    assert.throws(() => planLayout({ ...options, targets: 2_000_000 }), /targets: at most/);
  });

  test('a share that rounds to no dropped port is refused', () => {
    assert.throws(() => planLayout({ ...options, droppedShare: 0.01 }), /rounds to none/);
  });

  test('a subset takes whole addresses, keeping the per-address mix', () => {
    const layout = planLayout({ ...options, droppedShare: 0 });
    const subset = subsetByAddress(layout, 500);
    assert.equal(subset.length, 500);
    assert.equal(new Set(subset.map((t) => t.ip)).size, 25);
    assert.equal(subsetByAddress(layout, 510).length, 520);
  });
});

test('median of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

describe('/proc/PID/status', () => {
  test('VmRSS and VmHWM in bytes', () => {
    const text = [
      'Name:\tnode',
      'VmPeak:\t 1234567 kB',
      'VmHWM:\t  250000 kB',
      'VmRSS:\t  200000 kB',
      'Threads:\t11',
    ].join('\n');
    assert.deepEqual(memoryOfStatus(text), {
      rssBytes: 200000 * 1024,
      peakRssBytes: 250000 * 1024,
    });
    assert.throws(() => memoryOfStatus('Name:\tnode\n'), /no VmRSS/);
  });
});

describe('/metrics: one target', () => {
  const text = [
    '# TYPE imanager_port_up gauge',
    'imanager_port_up{vantage="central",node="n1",address="127.0.1.1",ip="127.0.1.1",port="22001",protocol="tcp"} 1',
    'imanager_port_up{vantage="central",node="n1",address="127.0.1.1",ip="127.0.1.1",port="22002",protocol="tcp"} 0',
    'imanager_port_state{vantage="central",node="n1",address="127.0.1.1",ip="127.0.1.1",port="22001",protocol="tcp"} 0',
  ].join('\n');

  test('the value of imanager_port_up for an address and port', () => {
    assert.equal(portUp(text, '127.0.1.1', 22001), '1');
    assert.equal(portUp(text, '127.0.1.1', 22002), '0');
    assert.equal(portUp(text, '127.0.1.1', 2200), undefined);
    assert.equal(portUp(text, '127.0.1.2', 22001), undefined);
  });
});

describe('synthetic cluster', () => {
  test('about 200 targets per node: 195 NodePorts and a worker catalog', () => {
    assert.deepEqual(clusterFor(20000), { nodes: 100, nodePorts: 195, churn: 0, openEvery: 5 });
    assert.equal(clusterFor(100000).nodes, 500);
    assert.deepEqual(clusterNodes(clusterFor(20000))[0]?.addresses, ['127.0.1.1']);
  });

  test('churn replaces the oldest NodePorts with new ones, in the range', () => {
    const options = { ...clusterFor(1000), churn: 2 };
    const first = snapshotAt(options, 0).nodePorts.map((p) => p.nodePort);
    const next = snapshotAt(options, 1).nodePorts.map((p) => p.nodePort);
    assert.equal(first.length, 195);
    assert.deepEqual(next.slice(0, -2), first.slice(2));
    assert.equal(new Set(next).size, 195);
    assert.notEqual(snapshotAt(options, 1).nodePorts[193]?.service, undefined);
    for (const port of next) {
      assert.ok(port >= NODE_PORT_RANGE.min && port <= NODE_PORT_RANGE.max, `${port}`);
    }
  });

  test('a fifth of the NodePort numbers have a listener, whatever the window', () => {
    const ports = openNodePorts(clusterFor(1000));
    assert.equal(ports.length, Math.ceil((NODE_PORT_RANGE.max - NODE_PORT_RANGE.min + 1) / 5));
    assert.ok(ports.every((p) => (p - NODE_PORT_RANGE.min) % 5 === 0));
  });
});
