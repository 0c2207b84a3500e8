/**
 * `catalog`: the catalog after the config file's changes, as a table, JSON and
 * Markdown, and narrowed to roles.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { effectiveCatalog } from '../../../src/catalog/overrides.js';
import { CATALOG } from '../../../src/catalog/ports.js';
import { runNode } from '../../helpers/node-child.js';
import { runInProcess, writeConfig } from './io.js';

const CHANGES =
  'ports:\n' +
  '  imanager-ui: { port: 31200 }\n' +
  '  nfs: { enabled: false }\n' +
  '  image-registry: { required: false }\n' +
  'nodePortRange: 30000-31999\n' +
  'customPorts:\n' +
  '  - { id: gis-gateway, port: 8443, roles: [worker], scope: external, purpose: "GIS gateway" }\n';

async function catalog(...args: string[]) {
  const result = await runInProcess(['catalog', ...args]);
  assert.equal(result.status, 0);
  assert.equal(result.stderr, '');
  return result.stdout;
}

describe('catalog', () => {
  test('JSON: the catalog after overrides, with the default port of a moved entry', async () => {
    const config = await writeConfig(CHANGES);
    const json = JSON.parse(await catalog('--output=json', `--config.file=${config}`));
    const ids = json.entries.map((e: { id: string }) => e.id);
    assert.deepEqual(ids, [
      ...CATALOG.filter((e) => e.id !== 'nfs').map((e) => e.id),
      'gis-gateway',
    ]);
    const byId = new Map(json.entries.map((e: { id: string }) => [e.id, e]));
    assert.deepEqual(byId.get('imanager-ui'), {
      ...CATALOG.find((e) => e.id === 'imanager-ui'),
      port: 31200,
      defaultPort: 31100,
    });
    assert.equal((byId.get('image-registry') as { required: boolean }).required, false);
    assert.deepEqual(byId.get('gis-gateway'), {
      id: 'gis-gateway',
      port: 8443,
      protocol: 'tcp',
      category: 'custom',
      component: 'gis-gateway',
      purpose: 'GIS gateway',
      scope: 'external',
      roles: ['worker'],
      required: true,
    });
    assert.deepEqual(json.nodePortRange, { min: 30000, max: 31999 });
    assert.equal(json.roles, 'all');
  });

  test('the table: one row per entry and the NodePort range, aligned', async () => {
    const config = await writeConfig(CHANGES);
    const lines = (await catalog(`--config.file=${config}`)).trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^ +PORT +ID +COMPONENT +CATEGORY +SCOPE +ROLES +REQUIRED +KUBERNETES +PURPOSE$/,
    );
    assert.equal(lines.length, 1 + CATALOG.length - 1 + 1 + 1);
    assert.match(
      lines.find((l) => / imanager-ui /.test(l)) ?? '',
      /^31200 \(default 31100\) +imanager-ui +imanager-dashboard-ui +default +external +all +yes +iManager web UI/,
    );
    assert.match(
      lines.find((l) => /^ +10259 /.test(l)) ?? '',
      /internal, localhost +control-plane +yes +>= 1\.17 +/,
    );
    assert.match(
      lines.at(-1) ?? '',
      /^ +30000-31999 +nodeports +kube-proxy +nodeport +external +all +yes +NodePorts/,
    );
    // Aligned: every row's ID column starts where the header's does.
    const idColumn = (lines[0] ?? '').indexOf('ID');
    for (const line of lines.slice(1))
      assert.match(line.slice(idColumn - 2, idColumn), /^ {2}$/, line);
  });

  test('Markdown: a table with the same rows', async () => {
    const lines = (await catalog('--output=markdown')).trimEnd().split('\n');
    assert.equal(
      lines[0],
      '| port | id | component | category | scope | roles | required | kubernetes | purpose |',
    );
    assert.equal(lines.length, 2 + CATALOG.length + 1);
    for (const line of lines) assert.equal(line.split(' | ').length, 9, line);
  });

  test('--roles narrows it to the ports those roles listen on', async () => {
    const json = JSON.parse(await catalog('--output=json', '--roles=nfs-server'));
    const expected = effectiveCatalog({ overrides: {}, custom: [] })
      .filter((e) => e.roles === 'all' || e.roles.includes('nfs-server'))
      .map((e) => e.port);
    assert.deepEqual(
      json.entries.map((e: { port: number }) => e.port),
      expected,
    );
    assert.ok(expected.includes(2049) && !expected.includes(6443));
    assert.deepEqual(json.roles, ['nfs-server']);
  });

  test('as a user runs it: exit 0, and bad input exit 2 with one line', async () => {
    const ok = await runNode('src/main.ts', ['catalog', '--output=json']);
    assert.equal(ok.code, 0);
    assert.equal(JSON.parse(ok.stdout).entries.length, CATALOG.length);
    const bad = await runNode('src/main.ts', ['catalog', '--roles=master']);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^imanager-port-exporter: --roles: expected all, or a comma-separated list of roles, .*got "master"\n$/,
    );
  });
});
