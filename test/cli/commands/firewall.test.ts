/**
 * `firewall`: the commands for each firewall open exactly a role's ports, one comment
 * per port. The nftables script is loaded for real into a namespace whose input policy
 * drops everything, and a connect that timed out then succeeds; the shell formats run
 * under a shell with the firewall programs stubbed, so quoting is tested, not eyed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { firewallPlan, renderFirewall } from '../../../src/cli/firewall.js';
import { FIREWALL_FORMATS } from '../../../src/cli/formats.js';
import { loadConfig } from '../../../src/config/index.js';
import { listenInNetns, stopChild } from '../../e2e/in-netns.js';
import { createNetns, type Netns } from '../../helpers/netns.js';
import { runNode } from '../../helpers/node-child.js';
import { runInProcess, writeConfig } from './io.js';

const CONTROL_PLANE_OPEN = [31234, 6443, 2379, 2380, 10250, 10251, 10252, 9101, 179, 31100, 10256];

async function firewall(...args: string[]): Promise<string> {
  const result = await runInProcess(['firewall', ...args]);
  assert.equal(result.status, 0);
  assert.equal(result.stderr, '');
  return result.stdout;
}

/** The lines that are commands, not comments. */
function commands(script: string): string[] {
  return script.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('firewall output', () => {
  test('firewalld, control plane: every port once with a comment, the NodePort range, then reload', async () => {
    const script = await firewall('--roles=control-plane', '--format=firewalld');
    const lines = commands(script);
    assert.equal(lines.at(-1), 'firewall-cmd --reload');
    const opened = lines.slice(0, -1).map((line) => {
      const match =
        /^firewall-cmd --permanent --add-port=(\d+(?:-\d+)?)\/tcp {2}# ([a-z-]+): \S.*$/.exec(line);
      assert.ok(match, line);
      return match[1];
    });
    assert.deepEqual(opened, [...CONTROL_PLANE_OPEN.map(String), '30000-32767']);
    for (const port of ['6443', '2379', '2380', '10250']) assert.ok(opened.includes(port), port);
    // Bound to the node's loopback: opening them would change nothing.
    assert.match(
      script,
      /^# Not opened: 10259 \(kube-scheduler\): bound to localhost on the node\.$/m,
    );
    assert.match(script, /^# Not opened: 10257 \(kube-controller-manager\): bound to localhost/m);
    // The kubelet's unauthenticated read-only port is an exposure when open.
    assert.match(script, /^# Not opened: 10255 \(kubelet-readonly\): must stay closed\.$/m);
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

  test('a known Kubernetes version leaves out the ports of other versions', async () => {
    const config = await writeConfig('kubernetesVersion: "1.28"\n');
    const lines = commands(
      await firewall('--roles=control-plane', '--format=ufw', `--config.file=${config}`),
    );
    assert.equal(lines.length, CONTROL_PLANE_OPEN.length - 2 + 1);
    assert.ok(!lines.some((line) => /\b1025[12]\b/.test(line)));
  });

  test('iptables, ufw and nftables: one rule per port, each with its comment', async () => {
    const shapes = {
      iptables:
        /^iptables -I INPUT -p tcp --dport (\d+(?::\d+)?) -m comment --comment '[a-z-]+: [^']+(?:'\\''[^']+)*' -j ACCEPT$/,
      ufw: /^ufw allow (\d+(?::\d+)?)\/tcp comment '[a-z-]+: [^']+(?:'\\''[^']+)*'$/,
      nftables: /^\t\ttcp dport (\d+(?:-\d+)?) accept comment "[a-z-]+: [^"]+"$/,
    } as const;
    for (const [format, shape] of Object.entries(shapes)) {
      const script = await firewall('--roles=worker', `--format=${format}`);
      const rules = script.split('\n').filter((line) => /dport|allow/.test(line));
      const ports = rules.map((line) => shape.exec(line)?.[1] ?? `no match: ${line}`);
      assert.deepEqual(
        ports.map((p) => p.replace(':', '-')),
        ['31234', '10250', '9101', '179', '31100', '10256', '30000-32767'],
        format,
      );
    }
  });

  test('--source limits the internal ports to the network, never the external ones', async () => {
    const internal = ['10250', '9101', '179', '10256'];
    const external = ['31234', '31100', '30000'];
    const sourced: Record<string, RegExp> = {
      firewalld: /source address="10\.1\.0\.0\/16" port port="(\d+)"/,
      iptables: /-s 10\.1\.0\.0\/16 --dport (\d+)/,
      ufw: /^ufw allow from 10\.1\.0\.0\/16 to any port (\d+) proto tcp/,
      nftables: /ip saddr 10\.1\.0\.0\/16 tcp dport (\d+)/,
    };
    for (const format of FIREWALL_FORMATS) {
      const script = await firewall('--roles=worker', `--format=${format}`, '--source=10.1.0.0/16');
      const limited = script.split('\n').flatMap((line) => sourced[format]?.exec(line)?.[1] ?? []);
      assert.deepEqual(limited, internal, format);
      for (const port of external) {
        const line = script.split('\n').find((l) => !l.startsWith('#') && l.includes(port));
        assert.ok(line && !line.includes('10.1.0.0/16'), `${format} ${port}: ${line}`);
      }
    }
    const v6 = await firewall('--roles=worker', '--format=iptables', '--source=fd00::/64');
    assert.ok(commands(v6).every((line) => line.startsWith('ip6tables -I INPUT')));
    assert.match(v6, /^ip6tables -I INPUT -p tcp -s fd00::\/64 --dport 10250 /m);
  });

  test('bad input exits 2 with one line', async () => {
    const result = await runNode('src/main.ts', ['firewall', '--roles=worker', '--format=pf']);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      'imanager-port-exporter: --format: expected one of firewalld, iptables, nftables, ufw, got "pf"\n',
    );
  });
});

describe('firewall output in a shell', () => {
  const purpose = `it's "quoted" $(touch MARK) \`touch MARK\`; touch MARK \\ end`;

  test('a comment reaches the firewall program as one argument, exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-firewall-'));
    const mark = join(dir, 'pwned');
    const text = purpose.replaceAll('MARK', mark);
    const config = await loadConfig(['firewall', '--roles=worker', '--format=ufw']).then(
      (base) => ({
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
      }),
    );
    for (const format of ['ufw', 'iptables', 'firewalld'] as const) {
      const script = renderFirewall(firewallPlan(config, { roles: ['worker'] }), format);
      // Each program prints its arguments between markers. POSIX sh function names
      // hold no hyphen, hence firewall_cmd.
      const stubs = ['ufw', 'iptables', 'firewall_cmd']
        .map((name) => `${name}() { printf '<%s>\\n' "$@"; }`)
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

describe('the nftables script, loaded into a namespace', () => {
  // As a hardened /etc/nftables.conf has it: replies pass, everything new is dropped.
  const DROP_ALL =
    'table inet filter {\n' +
    '  chain input {\n' +
    '    type filter hook input priority 0; policy drop;\n' +
    '    ct state established,related accept\n' +
    '  }\n' +
    '}\n';

  async function dropAll(ns: Netns): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-nft-'));
    const path = join(dir, 'drop.nft');
    await writeFile(path, DROP_ALL);
    await ns.exec('nft', ['-f', path]);
  }

  async function scriptFile(...args: string[]): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'ipe-nft-'));
    const path = join(dir, 'rules.nft');
    await writeFile(path, await firewall('--format=nftables', ...args));
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

  test('nft -c accepts it with no ruleset and with a drop-policy chain', async () => {
    const path = await scriptFile('--roles=control-plane,etcd,worker', '--source=10.0.0.0/8');
    await withNetns('cli-nft-check', async (ns) => {
      await ns.exec('nft', ['-c', '-f', path]);
      await dropAll(ns);
      await ns.exec('nft', ['-c', '-f', path]);
    });
  });

  test('loaded behind a drop policy, it lets the ports through and keeps the policy', async () => {
    const path = await scriptFile('--roles=control-plane');
    await withNetns('cli-nft-open', async (ns) => {
      const listeners = await listenInNetns(ns, [
        '127.0.0.1:6443',
        '127.0.0.1:10250',
        '127.0.0.1:8080',
      ]);
      try {
        await dropAll(ns);
        assert.deepEqual(await probe(ns, '127.0.0.1:6443', '127.0.0.1:8080'), [
          'timeout',
          'timeout',
        ]);
        await ns.exec('nft', ['-f', path]);
        // 8080 is no catalog port: it stays closed.
        assert.deepEqual(await probe(ns, '127.0.0.1:6443', '127.0.0.1:10250', '127.0.0.1:8080'), [
          'open',
          'open',
          'timeout',
        ]);
        const { stdout } = await ns.exec('nft', ['list', 'chain', 'inet', 'filter', 'input']);
        assert.match(stdout, /policy drop;/);
        assert.match(stdout, /tcp dport 6443 accept comment "kube-apiserver: /);
      } finally {
        await stopChild(listeners);
      }
    });
  });

  test('with --source, internal ports answer only that network; external ones everyone', async () => {
    const path = await scriptFile('--roles=control-plane', '--source=10.9.0.0/16');
    await withNetns('cli-nft-source', async (ns) => {
      const listeners = await listenInNetns(ns, ['127.0.0.1:6443', '127.0.0.1:31234']);
      try {
        await dropAll(ns);
        await ns.exec('nft', ['-f', path]);
        // The probe comes from 127.0.0.1, outside 10.9.0.0/16.
        assert.deepEqual(await probe(ns, '127.0.0.1:6443', '127.0.0.1:31234'), ['timeout', 'open']);
      } finally {
        await stopChild(listeners);
      }
    });
  });
});
