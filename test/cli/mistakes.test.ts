/**
 * No silent mistakes: a vantage naming a node discovery did not find, and a KUBECONFIG
 * naming only files that are not there, are one line and exit 2, as a user runs it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runNode } from '../helpers/node-child.js';
import { writeConfig } from './commands/io.js';

test('check --vantage naming no node of the cluster: exit 2, one line naming the nodes', async () => {
  const config = await writeConfig(
    'nodes:\n' +
      '  - { name: master-1, address: 127.0.0.1, roles: [control-plane] }\n' +
      '  - { name: worker-1, address: 127.0.0.2, roles: [worker] }\n',
  );
  const result = await runNode('src/main.ts', [
    'check',
    `--config.file=${config}`,
    '--vantage=master-9',
    '--probe.icmp=off',
  ]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    'imanager-port-exporter: --vantage: expected central, external, or a node discovery found (master-1, worker-1), got "master-9"\n',
  );
});

test('KUBECONFIG naming a file that is not there: exit 2, one line; --discovery=static still runs', async () => {
  const config = await writeConfig(
    'nodes:\n  - { name: a, address: 127.0.0.1, roles: [worker] }\n',
  );
  const env = { KUBECONFIG: '/nonexistent/kubeconfig' };
  const result = await runNode('src/main.ts', ['check', `--config.file=${config}`], { env });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'imanager-port-exporter: KUBECONFIG: expected a kubeconfig file, got "/nonexistent/kubeconfig" (no such file); unset it, or pass --discovery=static\n',
  );
  const staticRun = await runNode(
    'src/main.ts',
    ['check', `--config.file=${config}`, '--discovery=static', '--probe.icmp=off', '--output=json'],
    { env },
  );
  assert.notEqual(staticRun.code, 2, staticRun.stderr);
  assert.equal(JSON.parse(staticRun.stdout).discovery.source, 'static');
});
