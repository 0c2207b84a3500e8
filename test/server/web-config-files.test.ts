import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { loadWebConfig } from '../../src/server/web-config.js';
import { promtool } from '../alerts/tools.js';
import { runNode } from '../helpers/node-child.js';
import { makeCertificates, type TestCertificates } from './certs.js';

const MAIN = 'src/main.ts';

describe('loadWebConfig with real PEM files', () => {
  let certs: TestCertificates;
  let dir: string;

  before(async () => {
    certs = await makeCertificates();
    dir = join(certs.dir, 'conf');
    await mkdir(join(dir, 'tls'), { recursive: true });
    await copyFile(certs.server1.certFile, join(dir, 'tls', 'server.crt'));
    await copyFile(certs.server1.keyFile, join(dir, 'tls', 'server.key'));
    await copyFile(certs.ca.certFile, join(dir, 'tls', 'ca.crt'));
    await writeFile(join(dir, 'garbage.pem'), 'not a certificate\n');
  });
  after(() => certs.remove());

  async function webConfig(name: string, lines: readonly string[]): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `${lines.join('\n')}\n`);
    return path;
  }

  function loadError(path: string): ConfigError {
    try {
      loadWebConfig(path);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error;
    }
    assert.fail('expected a ConfigError');
  }

  it('reads the PEM files relative to the web config and lists every file it read', async () => {
    const path = await webConfig('good.yml', [
      'tls_server_config:',
      '  cert_file: tls/server.crt',
      '  key_file: tls/server.key',
      '  client_ca_file: tls/ca.crt',
      '  client_auth_type: RequireAndVerifyClientCert',
    ]);
    const loaded = loadWebConfig(path);
    assert.equal(loaded.tls?.cert, certs.server1.cert);
    assert.equal(loaded.tls?.key, certs.server1.key);
    assert.equal(loaded.tls?.clientCa, certs.ca.cert);
    assert.deepEqual(loaded.files, [
      path,
      join(dir, 'tls', 'server.crt'),
      join(dir, 'tls', 'server.key'),
      join(dir, 'tls', 'ca.crt'),
    ]);
  });

  it('takes inline PEM text and lists only the web config as a file', async () => {
    const indent = (pem: string) => pem.trimEnd().replaceAll('\n', '\n    ');
    const path = await webConfig('inline.yml', [
      'tls_server_config:',
      '  cert: |',
      `    ${indent(certs.server1.cert)}`,
      '  key: |',
      `    ${indent(certs.server1.key)}`,
    ]);
    const loaded = loadWebConfig(path);
    assert.equal(loaded.tls?.cert, certs.server1.cert);
    assert.deepEqual(loaded.files, [path]);
  });

  const cases: readonly (readonly [string, readonly string[], string, string])[] = [
    [
      'missing-cert.yml',
      ['tls_server_config:', '  cert_file: tls/nope.crt', '  key_file: tls/server.key'],
      'CONFIG_UNREADABLE',
      `tls_server_config.cert_file: ${'<dir>'}/tls/nope.crt: cannot read: ENOENT: no such file or directory`,
    ],
    [
      'garbage-cert.yml',
      ['tls_server_config:', '  cert_file: garbage.pem', '  key_file: tls/server.key'],
      'CONFIG_INVALID',
      'tls_server_config.cert_file: not a PEM certificate:',
    ],
    [
      'garbage-key.yml',
      ['tls_server_config:', '  cert_file: tls/server.crt', '  key_file: garbage.pem'],
      'CONFIG_INVALID',
      'tls_server_config.key_file: not a PEM private key:',
    ],
    [
      'mismatched-key.yml',
      ['tls_server_config:', '  cert_file: tls/server.crt', `  key_file: ${'<client-key>'}`],
      'CONFIG_INVALID',
      'tls_server_config.key_file: the key does not match the certificate in tls_server_config.cert_file',
    ],
    [
      'garbage-ca.yml',
      [
        'tls_server_config:',
        '  cert_file: tls/server.crt',
        '  key_file: tls/server.key',
        '  client_ca_file: garbage.pem',
        '  client_auth_type: RequireAndVerifyClientCert',
      ],
      'CONFIG_INVALID',
      'tls_server_config.client_ca_file: not PEM certificates:',
    ],
  ];
  for (const [name, lines, code, expected] of cases) {
    it(`refuses ${name} with one line naming the field`, async () => {
      const path = await webConfig(
        name,
        lines.map((line) => line.replace('<client-key>', certs.client.keyFile)),
      );
      const error = loadError(path);
      assert.equal(error.code, code);
      assert.ok(
        error.message.startsWith(`${path}: ${expected.replace('<dir>', dir)}`),
        error.message,
      );
      assert.doesNotMatch(error.message, /\n/);
    });
  }

  it('agrees with the exporter-toolkit itself (promtool check web-config) on these files', async () => {
    const verdict = (file: string) => promtool(['check', 'web-config', join(dir, file)]);
    const good = verdict('good.yml');
    assert.equal(good.status, 0, good.output);
    // inline.yml is left out: inline cert and key came to the toolkit after Debian's promtool.
    for (const [name] of cases) {
      // Debian's promtool takes a client CA file without certificates; later toolkits
      // refuse it (their web_config_auth_clientCAs_nocerts.bad.yml), as this exporter does.
      if (name === 'garbage-ca.yml') continue;
      assert.notEqual(verdict(name).status, 0, `promtool accepts ${name}`);
    }
  });

  it('says when the web config itself cannot be read', () => {
    const error = loadError(join(dir, 'absent.yml'));
    assert.equal(error.code, 'CONFIG_UNREADABLE');
    assert.equal(
      error.message,
      `${join(dir, 'absent.yml')}: cannot read: ENOENT: no such file or directory`,
    );
  });

  it('the program exits 2 with one line when the web config cannot serve', {
    timeout: 30_000,
  }, async () => {
    const path = await webConfig('cli-mismatch.yml', [
      'tls_server_config:',
      '  cert_file: tls/server.crt',
      `  key_file: ${certs.client.keyFile}`,
    ]);
    const result = await runNode(MAIN, [
      '--web.listen-address=127.0.0.1:0',
      `--web.config.file=${path}`,
      '--probe.icmp=off',
    ]);
    assert.equal(result.code, 2, result.stderr);
    // JSON log lines may come before it (discovery is chosen first); the verdict is one line.
    const lines = result.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('{'));
    assert.deepEqual(lines, [
      `imanager-port-exporter: ${path}: tls_server_config.key_file: the key does not match the certificate in tls_server_config.cert_file`,
    ]);
    assert.doesNotMatch(result.stderr, /"msg":"listening"/);
  });
});
