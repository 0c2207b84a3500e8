import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { FLAGS, type Flags, parseFlags } from '../../src/config/flags.js';

function flagError(argv: readonly string[]): ConfigError {
  try {
    parseFlags(argv);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
    return error;
  }
  return assert.fail(`parsed without error: ${JSON.stringify(argv)}`);
}

const DEFAULTS: Flags = {
  listen: { port: 19101 },
  web: { enableLifecycle: false },
  probe: {
    intervalMs: 15_000,
    timeoutMs: 2000,
    concurrency: 256,
    mainThreadRate: 2500,
    icmp: 'auto',
  },
  logLevel: 'info',
  vantage: 'central',
  meshPeers: 10,
  shard: { index: 0, count: 1 },
  discovery: { mode: 'auto', namespaces: [] },
  showHelp: false,
  showVersion: false,
  checkConfig: false,
};

describe('parseFlags', () => {
  it('reads the deployment-mode flags', () => {
    const flags = parseFlags(['--vantage=node', '--mesh.peers=3', '--shard=2/3']);
    assert.equal(flags.vantage, 'node');
    assert.equal(flags.meshPeers, 3);
    assert.deepEqual(flags.shard, { index: 2, count: 3 });
    for (const bad of ['3/3', '1', '-1/2', '0/0', 'a/b']) {
      assert.equal(
        flagError([`--shard=${bad}`]).message,
        `--shard: expected i/N with 0 <= i < N, such as 0/3, got "${bad}"`,
      );
    }
  });

  it('reads the discovery flags', () => {
    const flags = parseFlags([
      '--discovery=kubernetes',
      '--kubeconfig=/etc/kube.conf',
      '--discovery.namespaces=imanager, imanager-gis,imanager',
    ]);
    assert.deepEqual(flags.discovery, {
      mode: 'kubernetes',
      kubeconfig: '/etc/kube.conf',
      namespaces: ['imanager', 'imanager-gis'],
    });
    assert.equal(
      flagError(['--discovery=cluster']).message,
      '--discovery: expected one of auto, kubernetes, static, got "cluster"',
    );
    assert.equal(
      flagError(['--discovery.namespaces=Imanager']).message,
      '--discovery.namespaces: expected a comma-separated list of namespace names, got "Imanager"',
    );
  });

  it('applies the defaults', () => {
    assert.deepEqual(parseFlags([]), DEFAULTS);
  });

  it('takes --flag=value and --flag value alike', () => {
    const argv = [
      '--config.file=cluster.yml',
      '--web.listen-address',
      '127.0.0.1:9999',
      '--probe.interval=1h30m',
      '--probe.timeout',
      '500ms',
      '--probe.concurrency=1000',
      '--probe.icmp',
      'off',
      '--log.level=debug',
      '--vantage',
      'worker-1',
    ];
    assert.deepEqual(parseFlags(argv), {
      configFile: 'cluster.yml',
      listen: { host: '127.0.0.1', port: 9999 },
      web: { enableLifecycle: false },
      probe: {
        intervalMs: 5_400_000,
        timeoutMs: 500,
        concurrency: 1000,
        mainThreadRate: 2500,
        icmp: 'off',
      },
      logLevel: 'debug',
      vantage: 'worker-1',
      meshPeers: 10,
      shard: { index: 0, count: 1 },
      discovery: { mode: 'auto', namespaces: [] },
      showHelp: false,
      showVersion: false,
      checkConfig: false,
    });
  });

  it('reads the listen address forms', () => {
    const cases: ReadonlyArray<readonly [string, Flags['listen']]> = [
      [':19101', { port: 19101 }],
      ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
      ['exporter.example:19101', { host: 'exporter.example', port: 19101 }],
      ['[::1]:19101', { host: '::1', port: 19101 }],
      ['[::]:0', { host: '::', port: 0 }],
    ];
    for (const [text, listen] of cases) {
      assert.deepEqual(parseFlags([`--web.listen-address=${text}`]).listen, listen, text);
    }
  });

  it('refuses an argument that is not a flag: commands are routed before (cli/)', () => {
    assert.equal(flagError(['check']).message, 'unexpected argument "check"');
  });

  it('sees --help, -h and --version', () => {
    assert.equal(parseFlags(['--help']).showHelp, true);
    assert.equal(parseFlags(['-h']).showHelp, true);
    assert.equal(parseFlags(['--version']).showVersion, true);
  });

  it('takes a switch given twice (it cannot mean two things)', () => {
    assert.equal(
      parseFlags(['--web.enable-lifecycle', '--web.enable-lifecycle']).web.enableLifecycle,
      true,
    );
  });
});

describe('parseFlags with bad flags', () => {
  const BAD_FLAGS: ReadonlyArray<readonly [argv: readonly string[], message: string]> = [
    // The parser would keep the last; a repeat is more often a mistake than a wish.
    [
      ['--probe.interval=15s', '--probe.interval', '30s'],
      '--probe.interval: expected once, got it twice ("15s", then "30s")',
    ],
    [
      ['--probe.interval=fast'],
      '--probe.interval: expected a duration such as 15s, 1m30s or 500ms, got "fast"',
    ],
    [
      ['--probe.interval', '0s'],
      '--probe.interval: expected a duration such as 15s, 1m30s or 500ms, got "0s"',
    ],
    [
      ['--probe.interval=-5s'],
      '--probe.interval: expected a duration such as 15s, 1m30s or 500ms, got "-5s"',
    ],
    [['--probe.interval=30d'], '--probe.interval: expected a duration of at most 24d, got "30d"'],
    [
      ['--probe.concurrency', 'lots'],
      '--probe.concurrency: expected an integer 1-100000, got "lots"',
    ],
    [['--probe.concurrency=0'], '--probe.concurrency: expected an integer 1-100000, got "0"'],
    [
      ['--probe.concurrency=100001'],
      '--probe.concurrency: expected an integer 1-100000, got "100001"',
    ],
    [['--probe.concurrency=1.5'], '--probe.concurrency: expected an integer 1-100000, got "1.5"'],
    [['--probe.icmp=yes'], '--probe.icmp: expected one of auto, on, off, got "yes"'],
    [['--log.level=trace'], '--log.level: expected one of debug, info, warn, error, got "trace"'],
    [
      ['--vantage=Central'],
      '--vantage: expected central, external, node, or the name of the node probing from, got "Central"',
    ],
    [
      ['--web.listen-address=19101'],
      '--web.listen-address: expected an address such as :19101, 127.0.0.1:19101 or [::1]:19101, got "19101"',
    ],
    [
      ['--web.listen-address=::1:19101'],
      '--web.listen-address: expected an address such as :19101, 127.0.0.1:19101 or [::1]:19101, got "::1:19101"',
    ],
    [
      ['--web.listen-address=:70000'],
      '--web.listen-address: expected an address such as :19101, 127.0.0.1:19101 or [::1]:19101, got ":70000"',
    ],
    [['--config.file='], '--config.file: expected a file path, got ""'],
    [['--foo'], 'unknown flag --foo'],
    [['--foo=bar'], 'unknown flag --foo'],
    [['-x'], 'unknown flag -x'],
    [['--probe-interval=15s'], 'unknown flag --probe-interval'],
    [['--probe.interval'], '--probe.interval: expected a value, got nothing'],
    [['--probe.interval', '--log.level=debug'], '--probe.interval: expected a value, got nothing'],
    [['--help=yes'], '--help: expected no value, got "yes"'],
    [
      ['--probe.timeout=15s'],
      '--probe.timeout: expected less than --probe.interval (15s), got "15s"',
    ],
    [
      ['--probe.interval=10s', '--probe.timeout=1m'],
      '--probe.timeout: expected less than --probe.interval (10s), got "1m"',
    ],
    [
      ['--probe.interval=1s'],
      '--probe.timeout: expected less than --probe.interval (1s), got "2s" (the default)',
    ],
    [['--probe.workers=65'], '--probe.workers: expected auto or an integer 0-64, got "65"'],
  ];

  for (const [argv, message] of BAD_FLAGS) {
    it(`${argv.join(' ')}: ${message}`, () => {
      const error = flagError(argv);
      assert.equal(error.message, message);
      assert.equal(error.code, 'FLAG_INVALID');
      assert.doesNotMatch(error.message, /[\r\n]/);
    });
  }

  it("keeps parseArgs' own error as the cause", () => {
    const error = flagError(['--foo']);
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_PARSE_ARGS_UNKNOWN_OPTION');
  });
});

describe('FLAGS', () => {
  it('shows defaults that parse to the defaults', () => {
    // The defaults are text in the table, parsed like user input; spelling them out
    // must change nothing.
    const argv = Object.entries(FLAGS).flatMap(([name, flag]) =>
      flag.kind === 'value' && flag.default !== undefined ? [`--${name}=${flag.default}`] : [],
    );
    assert.deepEqual(parseFlags(argv), parseFlags([]));
  });
});

describe('--probe.workers', () => {
  it('is absent unless given (auto), a number, or auto', () => {
    assert.equal('workers' in parseFlags([]).probe, false);
    assert.equal(parseFlags(['--probe.workers=auto']).probe.workers, 'auto');
    assert.equal(parseFlags(['--probe.workers=2']).probe.workers, 2);
    assert.equal(parseFlags(['--probe.workers', '0']).probe.workers, 0);
  });
});
