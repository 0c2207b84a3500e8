/**
 * `firewall`: the scripts for each firewall open exactly a role's ports, one comment
 * per port, and can run twice. The nftables and iptables scripts are applied twice for
 * real in a namespace: each rule is there once and traffic still passes; the shell
 * formats run under a shell with the firewall programs stubbed, so quoting is tested,
 * not eyed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { firewallPlan, NFT_TABLE, renderFirewall } from '../../../src/cli/firewall.js';
import { loadConfig } from '../../../src/config/index.js';
import { listenInNetns, stopChild } from '../../e2e/in-netns.js';
import * as cluster from '../../fixtures/kube/cluster.js';
import { KubeApiServer } from '../../helpers/kube-api-server.js';
import { createNetns, type Netns } from '../../helpers/netns.js';
import { runNode } from '../../helpers/node-child.js';
import { runInProcess, writeConfig } from './io.js';

// Without a Kubernetes version, 10251/10252 (gone since 1.19) are not opened.
const CONTROL_PLANE_OPEN = [31234, 6443, 2379, 2380, 10250, 9101, 179, 31100, 10256];

async function firewall(...args: string[]): Promise<string> {
  const result = await runInProcess(['firewall', ...args]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  return result.stdout;
}

/** The lines that are commands, not comments (nor `set -e`). */
function commands(script: string): string[] {
  return script
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#') && line !== 'set -e');
}

describe('firewall output', () => {
  test('firewalld, control plane: every port once, checked before added, then reload', async () => {
    const script = await firewall('--roles=control-plane', '--format=firewalld');
    assert.equal(script.split('\n')[0], '#!/bin/sh');
    const lines = commands(script);
    assert.equal(lines.at(-1), 'firewall-cmd --reload');
    const opened = lines.slice(0, -1).map((line) => {
      const match =
        /^firewall-cmd --permanent --query-(port|protocol)=(\S+) >\/dev\/null \|\| firewall-cmd --permanent --add-\1=\2 {2}# ([a-z-]+): \S.*$/.exec(
          line,
        );
      assert.ok(match, line);
      return match[2];
    });
    assert.deepEqual(opened, [
      ...CONTROL_PLANE_OPEN.map((port) => `${port}/tcp`),
      '4789/udp',
      'ipencap',
      '30000-32767/tcp',
    ]);
    assert.match(
      script,
      /^# Not opened: 10259 \(kube-scheduler\): bound to localhost on the node\.$/m,
    );
    assert.match(
      script,
      /^# Not opened: 10251 \(kube-scheduler-legacy\): only some Kubernetes versions/m,
    );
    assert.match(script, /^# Not opened: 10255 \(kubelet-readonly\): must stay closed\.$/m);
    assert.match(script, /^# Opens: 31234\/tcp, 6443\/tcp, /m);
  });

  test("the config's cluster: section leaves out what its mode does not use", async () => {
    const config = await writeConfig('cluster:\n  calicoBackend: vxlan\n');
    const script = await firewall('--roles=worker', '--format=ufw', `--config.file=${config}`);
    assert.ok(!commands(script).some((line) => /\b179\b/.test(line)), script);
    assert.match(
      script,
      /^# Not opened: 179 \(calico-bgp\): needed only when Calico runs BGP \(backend bird\)\.$/m,
    );
  });

  test('the Kubernetes version, from the flag or the config, decides the version-bound ports', async () => {
    const legacy = commands(
      await firewall('--roles=control-plane', '--format=ufw', '--kubernetes-version=v1.18.4'),
    );
    assert.ok(legacy.some((line) => /^ufw allow 10251\/tcp /.test(line)));
    const config = await writeConfig('kubernetesVersion: "1.28"\n');
    const current = await firewall(
      '--roles=control-plane',
      '--format=ufw',
      `--config.file=${config}`,
    );
    assert.ok(!commands(current).some((line) => /\b1025[12]\b/.test(line)));
    assert.match(
      current,
      /^# Not opened: 10251 \(kube-scheduler-legacy\): not in Kubernetes 1\.28\.$/m,
    );
  });

  test('iptables, ufw and nftables: one rule per port and protocol, each with its comment', async () => {
    const shapes = {
      iptables:
        /^iptables -C INPUT -p (tcp|udp) --dport (\d+(?::\d+)?) -m comment --comment '[a-z-]+: [^']+(?:'\\''[^']+)*' -j ACCEPT 2>\/dev\/null \|\| iptables -I INPUT /,
      ufw: /^ufw allow (\d+(?::\d+)?)\/(tcp|udp) comment '[a-z-]+: [^']+(?:'\\''[^']+)*'$/,
      nftables: /^\t\t(tcp|udp) dport (\d+(?:-\d+)?) accept comment "[a-z-]+: [^"]+"$/,
    } as const;
    for (const [format, shape] of Object.entries(shapes)) {
      const script = await firewall('--roles=worker', `--format=${format}`);
      const rules = script.split('\n').filter((line) => shape.test(line));
      const ports = rules.map((line) => {
        const match = shape.exec(line);
        const [protocol, port] =
          format === 'ufw' ? [match?.[2], match?.[1]] : [match?.[1], match?.[2]];
        return `${port?.replace(':', '-')}/${protocol}`;
      });
      assert.deepEqual(
        ports,
        [
          '31234/tcp',
          '10250/tcp',
          '9101/tcp',
          '179/tcp',
          '31100/tcp',
          '10256/tcp',
          '4789/udp',
          '30000-32767/tcp',
        ],
        format,
      );
    }
  });

  test('--source: internal ports only to those networks, each family from its own list', async () => {
    const internal = ['10250', '9101', '179', '10256'];
    const script = await firewall(
      '--roles=worker',
      '--format=iptables',
      '--source=198.18.0.0/24,198.19.0.0/24,fd00::/64',
    );
    for (const port of internal) {
      for (const [program, source] of [
        ['iptables', '198.18.0.0/24'],
        ['iptables', '198.19.0.0/24'],
        ['ip6tables', 'fd00::/64'],
      ] as const) {
        const pattern = new RegExp(
          `^${program} -C INPUT -s ${source.replace(/[./]/g, '\\$&')} -p tcp --dport ${port} `,
          'm',
        );
        assert.match(script, pattern, `${program} ${source} ${port}`);
      }
    }
    // External ports are open to everyone, in both families.
    assert.match(script, /^iptables -C INPUT -p tcp --dport 31100 /m);
    assert.match(script, /^ip6tables -C INPUT -p tcp --dport 31100 /m);
    // IPv4 alone: no IPv6 rule opens an internal port.
    const v4 = await firewall('--roles=worker', '--format=nftables', '--source=198.18.0.0/24');
    assert.match(v4, /^\t\tip saddr 198\.18\.0\.0\/24 tcp dport 10250 accept /m);
    assert.doesNotMatch(v4, /ip6 saddr/);
    assert.match(v4, /^\t\ttcp dport 31100 accept /m);
  });

  test("--roles=all opens every role's ports", async () => {
    const script = await firewall('--roles=all', '--format=ufw', '--kubernetes-version=1.28');
    for (const port of ['6443', '2379', '3307', '2049', '5000']) {
      assert.ok(
        commands(script).some((line) => line.startsWith(`ufw allow ${port}/`)),
        port,
      );
    }
  });

  test('--per-node writes one script per node of the config, each for its own roles', async () => {
    const config = await writeConfig(
      'nodes:\n' +
        '  - { name: master-1, address: 198.18.0.1, roles: [control-plane, etcd] }\n' +
        '  - { name: worker-1, address: 198.18.0.2, roles: [worker] }\n',
    );
    const dir = await mkdtemp(join(tmpdir(), 'ipe-per-node-'));
    const out = join(dir, 'rules');
    const printed = await firewall(
      `--per-node=${out}`,
      '--format=nftables',
      `--config.file=${config}`,
    );
    assert.deepEqual(printed.trim().split('\n'), [
      join(out, 'master-1.nft'),
      join(out, 'worker-1.nft'),
    ]);
    assert.deepEqual((await readdir(out)).sort(), ['master-1.nft', 'worker-1.nft']);
    const master = await readFile(join(out, 'master-1.nft'), 'utf8');
    const worker = await readFile(join(out, 'worker-1.nft'), 'utf8');
    assert.match(master, /tcp dport 6443 accept/);
    assert.doesNotMatch(worker, /tcp dport 6443 accept/);
    assert.match(worker, /roles worker needs/);
  });

  test("--per-node without nodes in the config: the cluster's nodes, each with its roles", async (t) => {
    const api = await KubeApiServer.start();
    t.after(() => api.close());
    for (const node of cluster.allNodes) api.create('nodes', structuredClone(node));
    const kubeconfig = await api.writeKubeconfig();
    const out = join(await mkdtemp(join(tmpdir(), 'ipe-per-node-')), 'rules');
    const printed = await firewall(
      `--per-node=${out}`,
      '--format=iptables',
      `--kubeconfig=${kubeconfig}`,
      '--kubernetes-version=1.28',
    );
    const names = ['k8s-master-1', 'k8s-worker-1', 'k8s-worker-2'];
    assert.deepEqual(
      printed.trim().split('\n'),
      names.map((name) => join(out, `${name}.sh`)),
    );
    const master = await readFile(join(out, 'k8s-master-1.sh'), 'utf8');
    assert.match(master, /--dport 6443 /);
    assert.doesNotMatch(await readFile(join(out, 'k8s-worker-1.sh'), 'utf8'), /--dport 6443 /);
  });

  test('bad input exits 2 with one line', async () => {
    const cases: [string[], string][] = [
      [
        ['--roles=worker', '--format=pf'],
        '--format: expected one of firewalld, iptables, nftables, ufw, got "pf"',
      ],
      [
        ['--format=ufw'],
        "--roles: expected the node's roles, such as --roles=worker (or --per-node=DIR), got nothing",
      ],
      [
        ['--roles=worker', '--format=ufw', '--source=198.18.0.0/33'],
        '--source: expected networks such as 10.0.0.0/16 or fd00::/64, comma-separated, got "198.18.0.0/33"',
      ],
      [
        ['--roles=worker', '--format=ufw', '--kubernetes-version=latest'],
        '--kubernetes-version: expected a Kubernetes version such as 1.28, got "latest"',
      ],
      [
        ['--per-node=x', '--format=ufw'],
        '--per-node: expected --config.file with nodes, or a cluster to list them from, got neither',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runNode('src/main.ts', ['firewall', ...args]);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stderr, `imanager-port-exporter: ${message}\n`);
    }
  });
});

describe('firewall output in a shell', () => {
  const purpose = `it's "quoted" $(touch MARK) \`touch MARK\`; touch MARK \\ end`;

  test('a comment reaches the firewall program as one argument, exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-firewall-'));
    const mark = join(dir, 'pwned');
    const text = purpose.replaceAll('MARK', mark);
    const config = await loadConfig([]).then((base) => ({
      ...base,
      catalog: {
        overrides: {},
        custom: [
          {
            id: 'odd',
            port: 7400,
            roles: 'all' as const,
            scope: 'internal' as const,
            required: true,
            component: 'odd',
            purpose: text,
          },
        ],
      },
    }));
    for (const format of ['ufw', 'iptables', 'firewalld'] as const) {
      const script = renderFirewall(firewallPlan(config, { roles: ['worker'] }), format);
      // Each program prints its arguments between markers. POSIX sh function names
      // hold no hyphen, hence firewall_cmd.
      // A check (-C, --query-*) fails, so the add runs.
      const stubs = ['ufw', 'iptables', 'ip6tables', 'firewall_cmd']
        .map(
          (name) =>
            `${name}() { case "$1$2" in -C*|*--query-*) return 1;; esac; printf '<%s>\\n' "$@"; }`,
        )
        .join('\n');
      const ran = await sh(`${stubs}\n${script.replaceAll('firewall-cmd ', 'firewall_cmd ')}`);
      assert.ok(!existsSync(mark), `${format}: the comment ran a command`);
      const args = [...ran.matchAll(/<([^>]*)>/g)].map((m) => m[1]);
      if (format === 'firewalld') {
        // firewalld has no rule comments: the comment is the shell comment after the command.
        assert.ok(script.includes(`--add-port=7400/tcp  # odd: ${text}\n`), script);
        assert.ok(args.includes('--add-port=7400/tcp'));
      } else {
        assert.ok(args.includes(`odd: ${text}`), `${format}: ${ran}`);
      }
    }
  });

  function sh(script: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('sh', ['-c', script], { timeout: 10_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`sh failed: ${stderr}`, { cause: error })) : resolve(stdout),
      );
    });
  }
});

describe('the scripts, applied twice in a namespace', () => {
  async function scriptFile(...args: string[]): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-fw-'));
    const path = join(dir, 'rules');
    await writeFile(path, await firewall(...args));
    return path;
  }

  async function probe(ns: Netns, ...targets: string[]): Promise<string[]> {
    const args = targets.flatMap((target) => ['--target', target]);
    const result = await ns.runNode('test/fixtures/probe-once.ts', [
      ...args,
      '--timeout-ms',
      '300',
    ]);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { results: { state: string }[] }).results.map(
      (r) => r.state,
    );
  }

  async function withNetns(name: string, body: (ns: Netns) => Promise<void>): Promise<void> {
    const ns = await createNetns(name);
    try {
      await body(ns);
    } finally {
      await ns.close();
    }
  }

  function count(text: string, pattern: RegExp): number {
    return [...text.matchAll(new RegExp(pattern.source, 'gm'))].length;
  }

  test('nftables: nft -c accepts it; twice leaves each rule once, and traffic passes', async () => {
    const path = await scriptFile(
      '--roles=control-plane,etcd,worker',
      '--format=nftables',
      '--source=198.18.0.0/15,fd00::/8',
      '--kubernetes-version=1.28',
    );
    await withNetns('cli-nft-twice', async (ns) => {
      const listeners = await listenInNetns(ns, ['127.0.0.1:6443', '127.0.0.1:31100']);
      try {
        await ns.exec('nft', ['-c', '-f', path]);
        await ns.exec('nft', ['-f', path]);
        const first = (await ns.exec('nft', ['list', 'table', 'inet', NFT_TABLE])).stdout;
        await ns.exec('nft', ['-f', path]);
        const second = (await ns.exec('nft', ['list', 'table', 'inet', NFT_TABLE])).stdout;
        assert.equal(second, first);
        assert.equal(count(second, /ip saddr 198\.18\.0\.0\/15 tcp dport 6443 accept/), 1, second);
        assert.equal(count(second, /ip6 saddr fd00::\/8 tcp dport 6443 accept/), 1, second);
        assert.equal(count(second, /tcp dport 31100 accept/), 1, second);
        assert.equal(count(second, /udp dport 4789 accept/), 2, second);
        assert.equal(count(second, /meta l4proto 4 accept|meta l4proto ipencap accept/), 2, second);
        assert.deepEqual(await probe(ns, '127.0.0.1:6443', '127.0.0.1:31100'), ['open', 'open']);
      } finally {
        await stopChild(listeners);
      }
    });
  });

  test('iptables: twice leaves each rule once in each family, and traffic passes', async () => {
    const path = await scriptFile(
      '--roles=control-plane',
      '--format=iptables',
      '--source=127.0.0.0/8,fd00::/8',
      '--kubernetes-version=1.28',
    );
    await withNetns('cli-ipt-twice', async (ns) => {
      const listeners = await listenInNetns(ns, ['127.0.0.1:6443']);
      try {
        await ns.exec('sh', [path]);
        const first = (await ns.exec('iptables', ['-S', 'INPUT'])).stdout;
        await ns.exec('sh', [path]);
        const v4 = (await ns.exec('iptables', ['-S', 'INPUT'])).stdout;
        const v6 = (await ns.exec('ip6tables', ['-S', 'INPUT'])).stdout;
        assert.equal(v4, first);
        assert.equal(count(v4, /^-A INPUT -s 127\.0\.0\.0\/8 -p tcp -m tcp --dport 6443 /), 1, v4);
        assert.equal(count(v6, /^-A INPUT -s fd00::\/8 -p tcp -m tcp --dport 6443 /), 1, v6);
        assert.equal(count(v4, /--dport 31100 /), 1, v4);
        assert.equal(count(v6, /--dport 31100 /), 1, v6);
        assert.deepEqual(await probe(ns, '127.0.0.1:6443'), ['open']);
      } finally {
        await stopChild(listeners);
      }
    });
  });
});
