/** The probe stages the pipeline wires: the ICMP stage, the error tally, the open-files fit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CycleErrors } from '../../src/probe/cycle-errors.js';
import { EchoStage, echoResult } from '../../src/probe/echo.js';
import { FD_RESERVE, fitToOpenFilesLimit } from '../../src/probe/fd-budget.js';
import { IcmpPinger } from '../../src/probe/icmp.js';
import { silentLogger } from '../../src/util/log.js';
import { collectingLogger } from '../helpers/logger.js';

describe('EchoStage', () => {
  it('makes one echo per IP of each address, keyed the same every cycle', () => {
    const jobs = new EchoStage().jobs([
      { vantage: 'central', node: 'n1', address: 'n1.test', ips: ['10.0.0.1', 'fd00::1'] },
      { vantage: 'central', node: 'n2', address: 'n2.test', ips: [] },
    ]);
    assert.deepEqual(jobs, [
      {
        kind: 'echo',
        key: 'central|n1|n1.test|10.0.0.1|icmp',
        vantage: 'central',
        node: 'n1',
        address: 'n1.test',
        ip: '10.0.0.1',
      },
      {
        kind: 'echo',
        key: 'central|n1|n1.test|fd00::1|icmp',
        vantage: 'central',
        node: 'n1',
        address: 'n1.test',
        ip: 'fd00::1',
      },
    ]);
  });

  it('stays disabled without a pinger or in mode off, and answers "icmp off" without one', async () => {
    const none = new EchoStage();
    assert.equal(none.open(), false);
    assert.equal(none.enabled, false);
    const [job] = none.jobs([{ vantage: 'central', node: 'n', address: 'a', ips: ['10.0.0.1'] }]);
    assert.deepEqual(await none.probe(job as NonNullable<typeof job>, 100), {
      state: 'error',
      durationSeconds: 0,
      error: 'icmp off',
    });
    const off = new EchoStage(new IcmpPinger({ mode: 'off', logger: silentLogger }));
    assert.equal(off.open(), false);
    off.close();
  });

  it('gives each echo outcome the shape of a probe result', () => {
    assert.deepEqual(echoResult({ up: true, rttSeconds: 0.0004 }, 2000), {
      state: 'open',
      durationSeconds: 0.0004,
    });
    assert.deepEqual(echoResult({ up: false, error: 'timeout' }, 2000), {
      state: 'timeout',
      durationSeconds: 2,
      error: 'ETIMEDOUT',
    });
    assert.deepEqual(echoResult({ up: false, error: 'unreachable' }, 2000), {
      state: 'unreachable',
      durationSeconds: 0,
      error: 'EHOSTUNREACH',
    });
    assert.deepEqual(echoResult({ up: false, error: 'icmp disabled' }, 2000), {
      state: 'error',
      durationSeconds: 0,
      error: 'icmp disabled',
    });
  });
});

describe('CycleErrors', () => {
  it('logs one warning per reason with its count, and forgets them at clear()', () => {
    const { logger, lines } = collectingLogger();
    const errors = new CycleErrors();
    errors.note({ state: 'error', durationSeconds: 0, error: 'EMFILE' });
    errors.note({ state: 'error', durationSeconds: 0, error: 'EMFILE' });
    errors.note({ state: 'error', durationSeconds: 0 });
    errors.note({ state: 'timeout', durationSeconds: 2, error: 'ETIMEDOUT' });
    errors.report(logger);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.reason, l.probes]),
      [
        ['warn', 'probes failed without reaching the network', 'EMFILE', 2],
        ['warn', 'probes failed without reaching the network', 'unknown', 1],
      ],
    );
    errors.clear();
    errors.report(logger);
    assert.equal(lines.length, 2);
  });
});

describe('fitToOpenFilesLimit', () => {
  it('keeps what fits without a word, and warns once with the figures when it lowers', () => {
    const { logger, lines } = collectingLogger();
    const wanted = { probes: 256, connections: 256 };
    assert.deepEqual(fitToOpenFilesLimit(wanted, logger, { softLimit: 1024, open: 30 }), {
      ...wanted,
      lowered: false,
      available: 1024 - 30 - FD_RESERVE,
    });
    assert.equal(lines.length, 0);
    const plan = fitToOpenFilesLimit(wanted, logger, { softLimit: 256, open: 20 });
    assert.equal(plan.lowered, true);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.configured, l.concurrency, l.connections, l.openFilesLimit]),
      [
        [
          'probe concurrency lowered to fit the open-files limit',
          256,
          plan.probes,
          plan.connections,
          256,
        ],
      ],
    );
  });
});
