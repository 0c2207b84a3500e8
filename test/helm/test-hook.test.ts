/**
 * The `helm test` hook and the install notes, run for real: the hook pod's own command
 * against an exporter started from this repository on loopback (it must pass), and
 * against a port where nothing listens (it must fail); NOTES.txt rendered by
 * `helm install --dry-run=client` for every scenario.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { type Daemon, freePort, startDaemon } from '../e2e/daemon.js';
import { collect, nodeArgv, spawnWithDeadline } from '../helpers/node-child.js';
import { makeCertificates, type TestCertificates } from '../server/certs.js';
import {
  byKind,
  CHART_DIR,
  type Container,
  ciFile,
  ciScenarios,
  FULLNAME,
  helm,
  NAMESPACE,
  podSpec,
  RELEASE,
  type RenderOptions,
  render,
} from './chart.js';

async function hookContainer(options: RenderOptions = {}): Promise<Container> {
  const [pod] = byKind(await render(options), 'Pod');
  assert.ok(pod, 'a helm test pod');
  const [container] = podSpec(pod).containers;
  assert.ok(container);
  // Every file the hook is told to read lies in one of its mounts.
  for (const variable of container.env ?? []) {
    if (!variable.name.endsWith('_FILE')) continue;
    assert.ok(
      container.volumeMounts?.some((mount) => variable.value?.startsWith(`${mount.mountPath}/`)),
      `${variable.name}=${variable.value} is mounted`,
    );
  }
  return container;
}

/**
 * Runs the hook container's command with this machine's node, METRICS_URL pointed at
 * `url` and each file variable at the file that stands in for the mounted Secret key.
 */
async function runHook(
  container: Container,
  url: string,
  files: Readonly<Record<string, string | undefined>> = {},
) {
  const [command, ...rest] = [...(container.command ?? []), ...(container.args ?? [])];
  assert.equal(command, 'node', 'the hook runs the image node');
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (!variable.name.endsWith('_FILE')) env[variable.name] = variable.value ?? '';
    else if (files[variable.name] !== undefined)
      env[variable.name] = files[variable.name] as string;
  }
  assert.ok(env.METRICS_URL, 'the hook is told where /metrics is');
  return collect(
    spawnWithDeadline([process.execPath, ...rest], {
      env: { ...env, METRICS_URL: url },
      timeoutMs: 30_000,
    }),
  );
}

describe('the helm test hook', () => {
  let exporter: Daemon;
  let port: number;
  before(async () => {
    port = await freePort();
    exporter = await startDaemon(
      nodeArgv('src/main.ts', [
        `--web.listen-address=127.0.0.1:${port}`,
        '--discovery=static',
        '--probe.icmp=off',
      ]),
      { ready: /"msg":"listening"/ },
    );
  });
  after(async () => {
    await exporter?.stop();
  });

  it('passes against a running exporter', async () => {
    const result = await runHook(await hookContainer(), `http://127.0.0.1:${port}/metrics`);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /imanager_exporter_build_info present/);
  });

  it('fails where nothing answers', async () => {
    const closed = await freePort();
    const result = await runHook(await hookContainer(), `http://127.0.0.1:${closed}/metrics`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /fetch failed|ECONNREFUSED/);
  });

  it('fails on a page without the exporter metrics', async () => {
    const result = await runHook(await hookContainer(), `http://127.0.0.1:${port}/`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no imanager_exporter_build_info/);
  });
});

describe('the helm test hook with the web config: HTTPS, client certificates, basic auth', () => {
  let exporter: Daemon;
  let port: number;
  let certs: TestCertificates;
  let files: Record<string, string>;
  before(async () => {
    certs = await makeCertificates();
    const password = join(certs.dir, 'password');
    const username = join(certs.dir, 'username');
    await writeFile(username, 'prometheus');
    await writeFile(password, 'scrape-password');
    const webConfig = join(certs.dir, 'web.yml');
    await writeFile(
      webConfig,
      [
        'tls_server_config:',
        `  cert_file: ${certs.server1.certFile}`,
        `  key_file: ${certs.server1.keyFile}`,
        '  client_auth_type: RequireAndVerifyClientCert',
        `  client_ca_file: ${certs.ca.certFile}`,
        'basic_auth_users:',
        `  prometheus: ${bcrypt.hashSync('scrape-password', 4)}`,
        '',
      ].join('\n'),
    );
    files = {
      CA_FILE: certs.ca.certFile,
      CERT_FILE: certs.client.certFile,
      KEY_FILE: certs.client.keyFile,
      USERNAME_FILE: username,
      PASSWORD_FILE: password,
    };
    port = await freePort();
    exporter = await startDaemon(
      nodeArgv('src/main.ts', [
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.config.file=${webConfig}`,
        '--discovery=static',
        '--probe.icmp=off',
      ]),
      { ready: /"msg":"listening"/ },
    );
  });
  after(async () => {
    await exporter?.stop();
    await certs?.remove();
  });

  const webConfigHook = () => hookContainer({ valuesFiles: [ciFile('web-config')] });

  it('speaks HTTPS to the Service name, with the CA, the client certificate and the credentials', async () => {
    const container = await webConfigHook();
    assert.equal(
      container.env?.find((env) => env.name === 'METRICS_URL')?.value,
      `https://${FULLNAME}.${NAMESPACE}.svc:19101/metrics`,
    );
    const result = await runHook(container, `https://127.0.0.1:${port}/metrics`, files);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /imanager_exporter_build_info present/);
  });

  it('fails without the credentials: the exporter answers 401', async () => {
    const { USERNAME_FILE: _user, PASSWORD_FILE: _password, ...tlsOnly } = files;
    const result = await runHook(
      await webConfigHook(),
      `https://127.0.0.1:${port}/metrics`,
      tlsOnly,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /HTTP 401/);
  });

  it('fails without the client certificate, and with a CA that did not sign the exporter', async () => {
    const { CERT_FILE: _cert, KEY_FILE: _key, ...noClient } = files;
    const url = `https://127.0.0.1:${port}/metrics`;
    const anonymous = await runHook(await webConfigHook(), url, noClient);
    assert.equal(anonymous.code, 1);
    const stranger = await runHook(await webConfigHook(), url, {
      ...files,
      CA_FILE: certs.strangerClient.certFile,
    });
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /certificate/);
  });
});

describe('NOTES.txt', () => {
  for (const scenario of ciScenarios()) {
    it(`renders for ${scenario.name}`, async () => {
      const run = await helm([
        'install',
        RELEASE,
        CHART_DIR,
        '--namespace',
        NAMESPACE,
        '--dry-run=client',
        '-f',
        scenario.file,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const notes = run.stdout.slice(run.stdout.indexOf('NOTES:'));
      assert.match(
        notes,
        /^NOTES:\nimanager-port-exporter \S+ is installed in namespace monitoring/,
      );
      assert.match(notes, /helm test ipe -n monitoring/);
      assert.doesNotMatch(notes, /<no value>|%!/, 'no missing value in the notes');
    });
  }
});
