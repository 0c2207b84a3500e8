import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROLES } from '../../src/catalog/types.js';
import { ConfigError } from '../../src/config/errors.js';
import { MAX_CONFIG_BYTES } from '../../src/config/input-limits.js';
import {
  buildConfig,
  EMBEDDED_DEFAULT_NODE,
  type ExporterConfig,
  parseConfigText,
} from '../../src/config/load.js';
// As a start loads it: with the rules of discovery (selectors, patterns) checked too.
import { loadConfig } from '../../src/config-load.js';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');

/** Fixture -> the message after `<path>: `; like blackbox_exporter's TestLoadBadConfigs. */
const BAD_CONFIGS: ReadonlyArray<readonly [file: string, code: string, message: string]> = [
  [
    'invalid-yaml-syntax.yml',
    'CONFIG_INVALID',
    'line 5, column 3: flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  ['invalid-wrong-type.yml', 'CONFIG_INVALID', 'nodes: expected a list of nodes, got "master-1"'],
  [
    'invalid-discovery-pattern.yml',
    'CONFIG_INVALID',
    'discovery.groupRules[0]: namespacePattern: Invalid regular expression: /^imanager-((/: Unterminated group',
  ],
  [
    'invalid-discovery-role.yml',
    'CONFIG_INVALID',
    'discovery.roleRules[0].roles[0]: expected one of control-plane, etcd, worker, license-center, nfs-server, registry, calico-typha, got "license"',
  ],
  [
    'invalid-discovery-address-type.yml',
    'CONFIG_INVALID',
    'discovery.addressTypes[0]: expected one of InternalIP, ExternalIP, Hostname, got "InternalDNS"',
  ],
  [
    'invalid-discovery-selector.yml',
    'CONFIG_INVALID',
    'discovery.groupRules[0]: selector: label selector "app in (a,": cannot parse "app in (a," (expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))',
  ],
  [
    'invalid-not-a-mapping.yml',
    'CONFIG_INVALID',
    'expected a mapping with keys nodes, kubernetesVersion, nodePortRange, ports, customPorts, discovery, ipFamilies, cluster, got [{"name":"master-1","address":"10.0.0.1"}]',
  ],
  [
    'invalid-port-out-of-range.yml',
    'CONFIG_INVALID',
    'customPorts[0].port: expected an integer 1-65535, got 70000',
  ],
  [
    'invalid-port-not-integer.yml',
    'CONFIG_INVALID',
    'customPorts[0].port: expected an integer 1-65535, got "80a"',
  ],
  [
    'invalid-unknown-role.yml',
    'CONFIG_INVALID',
    'nodes[1].roles[0]: expected one of control-plane, etcd, worker, license-center, nfs-server, registry, calico-typha, got "master"',
  ],
  [
    'invalid-empty-roles.yml',
    'CONFIG_INVALID',
    'nodes[0].roles: expected a non-empty list of roles, each one of control-plane, etcd, worker, license-center, nfs-server, registry, calico-typha, got []',
  ],
  [
    'invalid-duplicate-node.yml',
    'CONFIG_INVALID',
    'nodes[2].name: expected a unique node name, got "master-1" (nodes[0] has it too)',
  ],
  [
    'invalid-node-address.yml',
    'CONFIG_INVALID',
    'nodes[0].address: expected an IPv4 or IPv6 address or a DNS host name, got "10.0.0.256"',
  ],
  [
    'invalid-unknown-key.yml',
    'CONFIG_INVALID',
    'nodes[0].adress: unknown key, expected one of name, address, roles',
  ],
  [
    'invalid-unknown-section.yml',
    'CONFIG_INVALID',
    'node: unknown key, expected one of nodes, kubernetesVersion, nodePortRange, ports, customPorts, discovery, ipFamilies, cluster',
  ],
  [
    'invalid-cluster-backend.yml',
    'CONFIG_INVALID',
    'cluster.calicoBackend: expected one of bird, vxlan, none, got "bgp"',
  ],
  [
    'invalid-cluster-nfs-version.yml',
    'CONFIG_INVALID',
    'cluster.nfsVersion: expected one of 3, 4, got "4.1"',
  ],
  [
    'invalid-kubernetes-version.yml',
    'CONFIG_INVALID',
    'kubernetesVersion: expected a quoted version such as "1.28" or "v1.28.3", got 1.2',
  ],
  [
    'invalid-override-id.yml',
    'CONFIG_INVALID',
    'ports.imanager-iu: unknown catalog id, expected one of kubernetes-ui, kube-apiserver, etcd-client, etcd-peer, kubelet, kube-scheduler-legacy, kube-controller-manager-legacy, kube-scheduler, kube-controller-manager, node-exporter, license-center-db, license-center, nfs, calico-bgp, imanager-ui, image-registry, kube-proxy-health, calico-typha, kubelet-readonly, rpcbind',
  ],
  [
    'invalid-override-fixed-port.yml',
    'CONFIG_INVALID',
    'ports.kube-apiserver.port: expected no port for a fixed entry (kube-apiserver is always 6443; only imanager-ui, image-registry can move), got 6444',
  ],
  ['invalid-boolean.yml', 'CONFIG_INVALID', 'ports.nfs.required: expected true or false, got "no"'],
  [
    'invalid-moved-port-conflict.yml',
    'CONFIG_INVALID',
    'ports.imanager-ui.port: expected a port no other entry uses on the same nodes, got 31234 (kubernetes-ui uses it on every node)',
  ],
  [
    'invalid-nodeport-range.yml',
    'CONFIG_INVALID',
    'nodePortRange: expected "MIN-MAX" or {min, max}, ports 1-65535 with MIN <= MAX, got "32767-30000"',
  ],
  [
    'invalid-nodeport-range-object.yml',
    'CONFIG_INVALID',
    'nodePortRange.max: expected an integer 1-65535, got 70000',
  ],
  [
    'invalid-custom-port-conflict.yml',
    'CONFIG_INVALID',
    'customPorts[0].port: expected a port no other entry uses on the same nodes, got 2379 (etcd-client uses it on etcd nodes)',
  ],
  [
    'invalid-custom-id-catalog.yml',
    'CONFIG_INVALID',
    'customPorts[0].id: expected an id that is not a catalog id (override catalog entries under ports), got "kubelet"',
  ],
  [
    'invalid-unreadable.yml',
    'CONFIG_UNREADABLE',
    'cannot read: EISDIR: illegal operation on a directory',
  ],
  ['invalid-missing.yml', 'CONFIG_UNREADABLE', 'cannot read: ENOENT: no such file or directory'],
  // Keys that name an object's machinery: `__proto__` used to vanish without a word.
  ['invalid-proto-key.yml', 'CONFIG_INVALID', 'ports.__proto__: unknown key'],
  ['invalid-constructor-key.yml', 'CONFIG_INVALID', 'ports.imanager-ui.constructor: unknown key'],
  ['invalid-prototype-key.yml', 'CONFIG_INVALID', 'customPorts[0].prototype: unknown key'],
  // A NUL or an escape in a name makes a label that no longer names the node.
  [
    'invalid-nul-in-name.yml',
    'CONFIG_INVALID',
    'nodes[0].name: expected no control characters, got U+0000',
  ],
  [
    'invalid-control-in-name.yml',
    'CONFIG_INVALID',
    'nodes[0].name: expected no control characters, got U+001B',
  ],
  // The bytes C3 28: a decoder that replaces them would rename the node.
  ['invalid-utf8-in-name.yml', 'CONFIG_INVALID', 'not valid UTF-8 at byte 24'],
];

async function loadError(argv: readonly string[]): Promise<ConfigError> {
  try {
    await loadConfig(argv);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
    return error;
  }
  assert.fail(`loaded without error: ${argv.join(' ')}`);
}

function assertOneLine(message: string): void {
  assert.doesNotMatch(message, /[\r\n]/, 'message has a line break');
  assert.doesNotMatch(message, /\bat .*:\d+:\d+/, 'message has a stack frame');
  assert.doesNotMatch(message, /\bat [\w.<>]+ \(/, 'message has a stack frame');
}

describe('the size cap', () => {
  it('refuses a file past MAX_CONFIG_BYTES before parsing it, naming its size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-config-size-'));
    try {
      const path = join(dir, 'big.yml');
      await writeFile(path, `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
      const error = await loadError(['--config.file', path]);
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(
        error.message,
        `${path}: the file is ${MAX_CONFIG_BYTES + 3} bytes; a config file may be at most ${MAX_CONFIG_BYTES} bytes (4 MiB)`,
      );
      // Text from another reader is held to the same cap.
      const injected = await loadConfig(['--config.file', 'x.yml'], {
        readFile: async () => `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`,
      }).catch((err: Error) => err);
      assert.ok(injected instanceof ConfigError);
      assert.match(
        injected.message,
        /^x\.yml: the file is \d+ bytes; a config file may be at most/,
      );
      // Just under the cap is read.
      await writeFile(path, `# ${'x'.repeat(MAX_CONFIG_BYTES - 10)}\n`);
      const config = await loadConfig(['--config.file', path]);
      assert.equal(config.configFile, path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadConfig with a bad file', () => {
  for (const [file, code, message] of BAD_CONFIGS) {
    it(`${file}: ${message}`, async () => {
      const path = join(TESTDATA, file);
      const error = await loadError(['--config.file', path]);
      assert.equal(error.message, `${path}: ${message}`);
      assert.equal(error.code, code);
      assertOneLine(error.message);
    });
  }

  it('has a table entry for every invalid-* fixture, and a fixture for every entry it reads', async () => {
    const fixtures = (await readdir(TESTDATA)).filter((name) => name.startsWith('invalid-'));
    const tabled = BAD_CONFIGS.map(([file]) => file).filter(
      (file) => file !== 'invalid-missing.yml',
    );
    assert.deepEqual([...fixtures].sort(), [...tabled].sort());
  });

  it('keeps the reason as the cause', async () => {
    const syntax = await loadError(['--config.file', join(TESTDATA, 'invalid-yaml-syntax.yml')]);
    assert.ok(syntax.cause instanceof Error);
    const missing = await loadError(['--config.file', join(TESTDATA, 'invalid-missing.yml')]);
    assert.equal((missing.cause as NodeJS.ErrnoException).code, 'ENOENT');
  });
});

describe('--vantage=node', () => {
  it('takes the node name from NODE_NAME, as the downward API sets it', async () => {
    const config = await loadConfig(['--vantage=node'], { env: { NODE_NAME: 'k8s-worker-1' } });
    assert.equal(config.vantage, 'k8s-worker-1');
  });

  it('without NODE_NAME is one line naming what is missing', async () => {
    await assert.rejects(loadConfig(['--vantage=node'], { env: {} }), {
      code: 'FLAG_INVALID',
      message:
        '--vantage: "node" needs NODE_NAME set to this node\'s name (the downward API\'s spec.nodeName), got nothing',
    });
  });
});

describe('loadConfig with a good file', () => {
  it('loads the full example to the expected config', async () => {
    const path = join(TESTDATA, 'full.yml');
    const config = await loadConfig([`--config.file=${path}`, '--probe.interval', '30s']);
    const expected: ExporterConfig = {
      configFile: path,
      listen: { port: 19101 },
      web: { enableLifecycle: false },
      probe: {
        intervalMs: 30_000,
        timeoutMs: 2000,
        concurrency: 256,
        mainThreadRate: 2500,
        icmp: 'auto',
      },
      logLevel: 'info',
      vantage: 'central',
      meshPeers: 10,
      shard: { index: 0, count: 1 },
      discovery: {
        mode: 'auto',
        namespaces: [],
        kubernetes: {
          addressTypes: ['InternalIP', 'ExternalIP'],
          roleRules: [
            { selector: 'imanager.supermap.io/license-center=true', roles: ['license-center'] },
          ],
          groupRules: [
            { group: 'basic-service', namespaces: ['imanager'] },
            { group: 'gis-environment', namespacePattern: '^imanager-.+' },
          ],
          relistIntervalMs: 300_000,
          detect: ['pods', 'network'],
          facts: {
            calicoBackend: 'bird',
            calicoEncapsulation: 'ipip',
            kubeProxy: true,
            nfsVersion: 4,
          },
          namespaces: [],
        },
      },
      cluster: {
        calicoBackend: 'bird',
        calicoEncapsulation: 'ipip',
        kubeProxy: true,
        nfsVersion: 4,
      },
      nodes: [
        {
          name: 'master-1',
          addresses: ['10.0.0.1'],
          roles: ['control-plane', 'etcd', 'worker'],
          ready: true,
          kubeletVersion: '',
        },
        {
          name: 'worker-1',
          addresses: ['worker-1.cluster.example'],
          roles: ['worker', 'license-center'],
          ready: true,
          kubeletVersion: '',
        },
        {
          name: 'storage-1',
          addresses: ['fd00::10'],
          roles: ['nfs-server', 'registry'],
          ready: true,
          kubeletVersion: '',
        },
      ],
      ipFamilies: ['ipv4', 'ipv6'],
      kubernetesVersion: '1.28',
      nodePortRange: { min: 30000, max: 32767 },
      catalog: {
        overrides: {
          'imanager-ui': { port: 31200 },
          nfs: { required: false },
          'image-registry': { enabled: false },
        },
        custom: [
          {
            id: 'gis-gateway',
            port: 8443,
            roles: ['worker'],
            scope: 'external',
            required: true,
            component: 'gis-gateway',
            purpose: 'GIS gateway for clients outside the cluster',
          },
          {
            id: 'backup-agent',
            port: 7400,
            roles: 'all',
            scope: 'internal',
            required: false,
            component: 'backup-agent',
            purpose: '',
          },
        ],
      },
      embeddedDefault: false,
      showHelp: false,
      showVersion: false,
      checkConfig: false,
    };
    assert.deepEqual(config, expected);
  });

  it('freezes the whole config', async () => {
    const config = await loadConfig(['--config.file', join(TESTDATA, 'full.yml')]);
    const unfrozen: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (value === null || typeof value !== 'object') return;
      if (!Object.isFrozen(value)) unfrozen.push(path);
      for (const [key, child] of Object.entries(value)) walk(child, `${path}.${key}`);
    };
    walk(config, 'config');
    assert.deepEqual(unfrozen, []);
    assert.throws(() => {
      (config.nodes as unknown as unknown[]).push(EMBEDDED_DEFAULT_NODE);
    }, TypeError);
  });

  it('reads through the injected readFile', async () => {
    const read: string[] = [];
    const config = await loadConfig(['--config.file', 'cluster.yml'], {
      readFile: async (path) => {
        read.push(path);
        return 'nodes: [{name: n1, address: "::1", roles: [worker]}]\nnodePortRange: {min: 20000, max: 22767}\n';
      },
    });
    assert.deepEqual(read, ['cluster.yml']);
    assert.deepEqual(config.nodes, [
      { name: 'n1', addresses: ['::1'], roles: ['worker'], ready: true, kubeletVersion: '' },
    ]);
    assert.deepEqual(config.nodePortRange, { min: 20000, max: 22767 });
    assert.equal(config.embeddedDefault, false);
  });

  it('reports a failing readFile as unreadable, naming the path', async () => {
    await assert.rejects(
      loadConfig(['--config.file', 'cluster.yml'], {
        readFile: async () => {
          throw new Error('permission denied');
        },
      }),
      { code: 'CONFIG_UNREADABLE', message: 'cluster.yml: cannot read: permission denied' },
    );
  });
});

describe('loadConfig without a file', () => {
  it('probes this machine for every role', async () => {
    const config = await loadConfig([]);
    assert.equal(config.embeddedDefault, true);
    assert.deepEqual(config.nodes, [EMBEDDED_DEFAULT_NODE]);
    assert.deepEqual(EMBEDDED_DEFAULT_NODE, {
      name: 'localhost',
      addresses: ['127.0.0.1'],
      roles: [...ROLES],
      ready: true,
      kubeletVersion: '',
    });
    assert.deepEqual(config.nodePortRange, { min: 30000, max: 32767 });
    assert.deepEqual(config.catalog, { overrides: {}, custom: [] });
    assert.equal(config.configFile, undefined);
    assert.equal('kubernetesVersion' in config, false);
  });

  it('does not read the file for --help or --version', async () => {
    const readFile = async () => assert.fail('read the file');
    const help = await loadConfig(['--config.file', 'x.yml', '--help'], { readFile });
    assert.equal(help.showHelp, true);
    const version = await loadConfig(['--version', '--config.file=x.yml'], { readFile });
    assert.equal(version.showVersion, true);
  });

  it('passes flag errors through', async () => {
    const error = await loadError(['--probe.interval=fast']);
    assert.equal(error.code, 'FLAG_INVALID');
    assert.equal(
      error.message,
      '--probe.interval: expected a duration such as 15s, 1m30s or 500ms, got "fast"',
    );
  });
});

describe('parseConfigText', () => {
  const fails = (text: string) => {
    try {
      parseConfigText(text, 'config.yml');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CONFIG_INVALID');
      assertOneLine(error.message);
      return error.message;
    }
    return assert.fail('parsed without error');
  };

  it('takes an empty file or a file of comments as no changes', () => {
    for (const text of ['', '# nothing yet\n']) {
      assert.deepEqual(parseConfigText(text, 'config.yml'), {
        discovery: {},
        nodes: [],
        nodePortRange: { min: 30000, max: 32767 },
        catalog: { overrides: {}, custom: [] },
      });
    }
  });

  it('fills in custom port defaults and drops repeated roles', () => {
    const file = parseConfigText(
      'nodes: [{name: a, address: a.example, roles: [worker, worker]}]\ncustomPorts: [{id: x, port: 9000, roles: [etcd, etcd]}]',
      'config.yml',
    );
    assert.deepEqual(file.nodes[0]?.roles, ['worker']);
    assert.deepEqual(file.catalog.custom, [
      {
        id: 'x',
        port: 9000,
        roles: ['etcd'],
        scope: 'internal',
        required: true,
        component: 'x',
        purpose: '',
      },
    ]);
  });

  it('lets a port reuse the number of a disabled entry or of an entry on other roles', () => {
    const file = parseConfigText(
      [
        'ports: {image-registry: {enabled: false}}',
        'customPorts:',
        '  - {id: registry-mirror, port: 5000, roles: [registry]}',
        '  - {id: worker-db, port: 3307, roles: [worker]}',
      ].join('\n'),
      'config.yml',
    );
    assert.equal(file.catalog.custom.length, 2);
  });

  it('moves a default port', () => {
    const file = parseConfigText('ports: {image-registry: {port: 5001}}', 'config.yml');
    assert.deepEqual(file.catalog.overrides, { 'image-registry': { port: 5001 } });
  });

  it('names both custom ports when they collide', () => {
    assert.equal(
      fails(
        'customPorts:\n  - {id: a, port: 8443, roles: [worker]}\n  - {id: b, port: 8443, roles: all}',
      ),
      'config.yml: customPorts[1].port: expected a port no other entry uses on the same nodes, got 8443 (a uses it on worker nodes)',
    );
  });

  it('cuts long values and keeps them on one line', () => {
    const name = 'x'.repeat(100);
    const message = fails(`nodes: [{name: n, address: "${name}\\nmore", roles: [worker]}]`);
    assert.equal(
      message,
      `config.yml: nodes[0].address: expected an IPv4 or IPv6 address or a DNS host name, got "${'x'.repeat(56)}...`,
    );
  });

  it('rejects an alias to no anchor, and a second document', () => {
    assert.equal(
      fails('nodes: *missing'),
      'config.yml: unresolved alias (the anchor must be set before the alias): missing',
    );
    assert.equal(
      fails('nodes: []\n---\nnodes: []'),
      'config.yml: line 2, column 1: the file holds more than one YAML document',
    );
  });

  it('rejects a repeated key', () => {
    assert.equal(
      fails('nodes: []\nnodes: []'),
      'config.yml: line 2, column 1: map keys must be unique',
    );
  });
});

describe('buildConfig', () => {
  it('rebuilds a running config from new file text, keeping its flags', async () => {
    const running = await loadConfig(['--config.file=a.yml', '--log.level=debug'], {
      readFile: async () =>
        'kubernetesVersion: "1.22"\nnodes: [{name: a, address: a.example, roles: [etcd]}]',
    });
    const reloaded = buildConfig(running, parseConfigText('nodes: []', 'a.yml'));
    assert.equal(reloaded.logLevel, 'debug');
    assert.equal(reloaded.configFile, 'a.yml');
    assert.deepEqual(reloaded.nodes, []);
    assert.equal('kubernetesVersion' in reloaded, false);
    assert.ok(Object.isFrozen(reloaded.listen));
  });
});
