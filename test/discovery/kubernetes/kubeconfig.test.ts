import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  chooseDiscovery,
  findKubeConfig,
  type KubeConfigLocation,
  loadKubeConfig,
  SERVICE_ACCOUNT_TOKEN_PATH,
} from '../../../src/discovery/kubernetes/kubeconfig.js';

describe('findKubeConfig', () => {
  const files = new Set([
    '/a/config',
    '/b/config',
    '/home/op/.kube/config',
    SERVICE_ACCOUNT_TOKEN_PATH,
  ]);
  const fileExists = (path: string) => files.has(path);
  const inCluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const cases: [
    what: string,
    flag: string | undefined,
    env: Record<string, string>,
    home: string | undefined,
    exists: (path: string) => boolean,
    found: KubeConfigLocation | undefined,
  ][] = [
    [
      'the flag wins, even for a missing file',
      '/missing',
      { KUBECONFIG: '/a/config', ...inCluster },
      '/home/op',
      fileExists,
      { kind: 'file', paths: ['/missing'], from: 'flag' },
    ],
    [
      'KUBECONFIG, only the files that exist, in order',
      undefined,
      { KUBECONFIG: ['/b/config', '/gone', '/a/config'].join(delimiter), ...inCluster },
      '/home/op',
      fileExists,
      { kind: 'file', paths: ['/b/config', '/a/config'], from: 'KUBECONFIG' },
    ],
    ['in-cluster', undefined, inCluster, '/home/op', fileExists, { kind: 'in-cluster' }],
    [
      'in-cluster needs the token file',
      undefined,
      inCluster,
      '/home/op',
      (p) => p !== SERVICE_ACCOUNT_TOKEN_PATH && fileExists(p),
      { kind: 'file', paths: ['/home/op/.kube/config'], from: 'home' },
    ],
    [
      'KUBECONFIG naming no existing file falls through',
      undefined,
      { KUBECONFIG: '/gone' },
      '/home/op',
      fileExists,
      { kind: 'file', paths: ['/home/op/.kube/config'], from: 'home' },
    ],
    ['nothing at all', undefined, {}, '/nobody', fileExists, undefined],
    ['no home directory', undefined, {}, undefined, fileExists, undefined],
  ];
  for (const [what, flag, env, homeDir, exists, found] of cases) {
    it(what, () => {
      assert.deepEqual(
        findKubeConfig(flag, { env, fileExists: exists, ...(homeDir && { homeDir }) }),
        found,
      );
    });
  }
});

describe('chooseDiscovery', () => {
  const found: KubeConfigLocation = { kind: 'in-cluster' };
  it('auto: Kubernetes when a config is found, else static', () => {
    assert.equal(chooseDiscovery('auto', found), 'kubernetes');
    assert.equal(chooseDiscovery('auto', undefined), 'static');
  });
  it('static even with a cluster at hand', () => {
    assert.equal(chooseDiscovery('static', found), 'static');
  });
  it('kubernetes without a config is an error, not a fallback', () => {
    assert.equal(chooseDiscovery('kubernetes', found), 'kubernetes');
    assert.throws(() => chooseDiscovery('kubernetes', undefined), {
      code: 'KUBECONFIG_NOT_FOUND',
      message:
        'Kubernetes discovery: no kubeconfig found (tried --kubeconfig, KUBECONFIG, the in-cluster service account and ~/.kube/config)',
    });
  });
});

describe('loadKubeConfig', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const config = (name: string, server: string, current = name) =>
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: ${name}, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
      `users: [{name: ${name}-user, user: {token: t}}]`,
      `contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}-user}}]`,
      `current-context: ${current}`,
    ].join('\n');

  it('loads one file and merges more, keeping the first current-context', async () => {
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    await writeFile(first, config('one', 'http://127.0.0.1:1'));
    await writeFile(second, config('two', 'http://127.0.0.1:2'));
    const kc = loadKubeConfig({ kind: 'file', paths: [first, second], from: 'KUBECONFIG' });
    assert.equal(kc.getCurrentCluster()?.server, 'http://127.0.0.1:1');
    assert.deepEqual(
      kc.getContexts().map((c) => c.name),
      ['one', 'two'],
    );
  });

  it('names a missing file', () => {
    const path = join(dir, 'nope');
    assert.throws(
      () => loadKubeConfig({ kind: 'file', paths: [path], from: 'flag' }),
      (error) => {
        assert.equal((error as { code?: string }).code, 'KUBECONFIG_INVALID');
        assert.match(
          (error as Error).message,
          new RegExp(`^cannot load kubeconfig ${path}: ENOENT`),
        );
        return true;
      },
    );
  });

  it('rejects a config whose current context names no cluster', async () => {
    const path = join(dir, 'dangling');
    await writeFile(path, config('one', 'http://127.0.0.1:1', 'elsewhere'));
    assert.throws(() => loadKubeConfig({ kind: 'file', paths: [path], from: 'flag' }), {
      code: 'KUBECONFIG_INVALID',
      message: `kubeconfig ${path}: no current context with a cluster server (current-context: "elsewhere")`,
    });
  });
});
