import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { COMMANDS, FLAGS, type Flags, helpText, parseFlags } from '../../src/config/flags.js';

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
  probe: { intervalMs: 15_000, timeoutMs: 2000, concurrency: 256, icmp: 'auto' },
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
      probe: { intervalMs: 5_400_000, timeoutMs: 500, concurrency: 1000, icmp: 'off' },
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

  it('returns the command, before or after flags', () => {
    const needs: Readonly<Record<string, readonly string[]>> = {
      preflight: ['--roles=worker'],
      firewall: ['--roles=worker', '--format=ufw'],
    };
    for (const command of Object.keys(COMMANDS)) {
      assert.equal(parseFlags([command, ...(needs[command] ?? [])]).command, command);
    }
    assert.equal(parseFlags(['--log.level=warn', 'catalog']).command, 'catalog');
    assert.equal(
      parseFlags(['--format=ufw', 'firewall', '--log.level=warn', '--role=etcd']).command,
      'firewall',
    );
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
      ['check', '--output=json', '--output=table'],
      '--output: expected once, got it twice ("json", then "table")',
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
    [['--probe.workers=65'], '--probe.workers: expected an integer 0-64, got "65"'],
    [['serve'], 'command: expected one of check, preflight, catalog, firewall, got "serve"'],
    [['check', 'extra'], 'unexpected argument "extra"'],
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

describe('parseFlags with a command', () => {
  it('has no command flags without a command', () => {
    assert.equal(parseFlags([]).commandFlags, undefined);
  });

  it('reads the command flags', () => {
    assert.deepEqual(parseFlags(['check']).commandFlags, { output: 'table' });
    assert.deepEqual(parseFlags(['check', '--output=json']).commandFlags, { output: 'json' });
    assert.deepEqual(
      parseFlags(['preflight', '--roles=control-plane, etcd,control-plane', '--listen=10m'])
        .commandFlags,
      { output: 'table', roles: ['control-plane', 'etcd'], listenMs: 600_000 },
    );
    assert.deepEqual(
      parseFlags(['firewall', '--role=worker', '--format=nftables', '--source=10.0.0.0/16'])
        .commandFlags,
      { output: 'table', roles: ['worker'], firewallFormat: 'nftables', source: '10.0.0.0/16' },
    );
    assert.deepEqual(
      parseFlags(['catalog', '--output=markdown', '--roles=nfs-server']).commandFlags,
      {
        output: 'markdown',
        roles: ['nfs-server'],
      },
    );
    assert.equal(
      parseFlags(['firewall', '--roles=etcd', '--format=ufw', '--source=fd00::/64']).commandFlags
        ?.source,
      'fd00::/64',
    );
  });

  const BAD: ReadonlyArray<readonly [argv: readonly string[], message: string]> = [
    [
      ['--output=json'],
      '--output: only for the commands check, preflight, catalog, got no command',
    ],
    [
      ['firewall', '--roles=worker', '--format=ufw', '--output=json'],
      '--output: only for the commands check, preflight, catalog, got the firewall command',
    ],
    [['check', '--listen=1m'], '--listen: only for the command preflight, got the check command'],
    [['--format=ufw'], '--format: only for the command firewall, got no command'],
    [['check', '--output=xml'], '--output: expected one of table, json, markdown, got "xml"'],
    [
      ['preflight', '--roles=master'],
      '--roles: expected a comma-separated list of roles, each one of control-plane, etcd, worker, license-center, nfs-server, registry, calico-typha, got "master"',
    ],
    [
      ['preflight'],
      "--roles: expected this node's roles for preflight, such as --roles=control-plane,etcd, got nothing",
    ],
    [
      ['firewall', '--format=ufw'],
      "--roles: expected the node's roles for firewall, such as --roles=worker, got nothing",
    ],
    [
      ['firewall', '--roles=worker'],
      '--format: expected the firewall for firewall, one of firewalld, iptables, nftables, ufw, got nothing',
    ],
    [
      ['firewall', '--roles=worker', '--format=pf'],
      '--format: expected one of firewalld, iptables, nftables, ufw, got "pf"',
    ],
    [
      ['firewall', '--roles=worker', '--role=etcd', '--format=ufw'],
      '--role: same as --roles, expected one of the two, got both',
    ],
    [
      ['preflight', '--roles=worker', '--listen=forever'],
      '--listen: expected a duration such as 15s, 1m30s or 500ms, got "forever"',
    ],
    ...['10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'cluster/16', '10.0.0.0/-1'].map(
      (cidr) =>
        [
          ['firewall', '--roles=worker', '--format=ufw', `--source=${cidr}`],
          `--source: expected a network such as 10.0.0.0/16 or fd00::/64, got "${cidr}"`,
        ] as const,
    ),
  ];
  for (const [argv, message] of BAD) {
    it(`${argv.join(' ')}: ${message}`, () => {
      const error = flagError(argv);
      assert.equal(error.message, message);
      assert.equal(error.code, 'FLAG_INVALID');
    });
  }
});

describe('helpText', () => {
  const help = helpText();

  it('lists every flag with its placeholder and default, and every command', () => {
    for (const [name, flag] of Object.entries(FLAGS)) {
      if (flag.kind === 'value') {
        assert.match(help, new RegExp(`--${name.replace('.', '\\.')}=${flag.placeholder}\\b`));
        if (flag.default !== undefined) assert.ok(help.includes(`(default: ${flag.default})`));
      } else {
        assert.ok(help.includes(`--${name}`), name);
      }
    }
    for (const command of Object.keys(COMMANDS))
      assert.match(help, new RegExp(`^  ${command} `, 'm'));
  });

  it('fits in 100 columns', () => {
    for (const line of help.split('\n')) assert.ok(line.length <= 100, line);
  });

  it('shows defaults that parse to the defaults', () => {
    // The defaults are text in the table, parsed like user input; spelling them out
    // must change nothing. check takes every command flag that has a default.
    const argv = Object.entries(FLAGS).flatMap(([name, flag]) =>
      flag.kind === 'value' && flag.default !== undefined ? [`--${name}=${flag.default}`] : [],
    );
    assert.deepEqual(parseFlags(['check', ...argv]), parseFlags(['check']));
  });

  it('lists the command flags apart, after the flags every mode reads', () => {
    const [general, commands] = help.split('Flags of the commands');
    for (const [name, flag] of Object.entries(FLAGS)) {
      const inCommands = flag.commands !== undefined;
      assert.equal((commands ?? '').includes(`--${name}=`), inCommands, name);
      assert.equal(
        (general ?? '').includes(`--${name}=`),
        !inCommands && flag.kind === 'value',
        name,
      );
    }
  });
});

describe('--probe.workers', () => {
  it('is absent unless given: probes run on the main thread', () => {
    assert.equal('workers' in parseFlags([]).probe, false);
    assert.equal(parseFlags(['--probe.workers=2']).probe.workers, 2);
    assert.equal(parseFlags(['--probe.workers', '0']).probe.workers, 0);
  });
});
