import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/config/errors.js';
import { parseWebConfigText } from '../../src/server/web-config.js';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const CLIENT_AUTH_TYPES =
  'NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert';
const BCRYPT = 'expected a bcrypt hash such as "$2y$10$..." (htpasswd -nBC 10 "" | tr -d \':\\n\')';

/** Each bad file and the one line it must produce, after `<file>: `. */
const INVALID: readonly (readonly [string, string])[] = [
  [
    'invalid-client-auth-type.yml',
    `tls_server_config.client_auth_type: expected one of ${CLIENT_AUTH_TYPES}, got "RequireClientCert"`,
  ],
  [
    'invalid-unknown-key.yml',
    'basic_auth_user: unknown key, expected one of tls_server_config, http_server_config, basic_auth_users',
  ],
  [
    'invalid-tls-unknown-key.yml',
    'tls_server_config.certfile: unknown key, expected one of cert_file, key_file, cert, key, client_ca_file, client_ca, client_auth_type, min_version, max_version',
  ],
  [
    'invalid-missing-key-file.yml',
    'tls_server_config.key_file: required with tls_server_config (or key)',
  ],
  [
    'invalid-cert-and-cert-file.yml',
    'tls_server_config.cert_file: give cert_file or cert, not both',
  ],
  [
    'invalid-ca-without-client-auth.yml',
    'tls_server_config.client_ca_file: a client CA with client_auth_type NoClientCert checks nothing; set RequireAndVerifyClientCert',
  ],
  [
    'invalid-verify-without-ca.yml',
    'tls_server_config.client_ca_file: required with client_auth_type RequireAndVerifyClientCert',
  ],
  [
    'invalid-min-version.yml',
    'tls_server_config.min_version: expected one of TLS10, TLS11, TLS12, TLS13, got "TLS14"',
  ],
  [
    'invalid-min-above-max.yml',
    'tls_server_config.min_version: expected at most max_version (TLS12), got "TLS13"',
  ],
  [
    'invalid-header-name.yml',
    'http_server_config.headers.Content-Type: cannot be set; settable headers: Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, Strict-Transport-Security',
  ],
  [
    'invalid-header-value.yml',
    'http_server_config.headers.X-Frame-Options: expected one of deny, sameorigin, got "allow-from https://example.com"',
  ],
  ['invalid-http2.yml', 'http_server_config.http2: expected true or false, got "yes"'],
  ['invalid-plaintext-password.yml', `basic_auth_users.alice: ${BCRYPT}`],
  ['invalid-numeric-password.yml', `basic_auth_users.alice: ${BCRYPT}`],
  [
    'invalid-user-with-colon.yml',
    'basic_auth_users["alice:admin"]: a user name must not be empty nor hold a colon',
  ],
  [
    'invalid-rate-limit.yml',
    'rate_limit: not supported by this exporter; limit requests in front of it',
  ],
  [
    'invalid-cipher-suites.yml',
    "tls_server_config.cipher_suites: not supported by this exporter (Go's cipher suite names); Node.js's defaults apply",
  ],
  [
    'invalid-not-a-mapping.yml',
    'expected a mapping with keys tls_server_config, http_server_config, basic_auth_users, got ["tls_server_config"]',
  ],
  [
    'invalid-yaml-syntax.yml',
    'line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
];

function parseError(text: string, sourceName = 'web.yml'): ConfigError {
  try {
    parseWebConfigText(text, sourceName, '/etc/exporter');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('parseWebConfigText', () => {
  for (const [file, expected] of INVALID) {
    it(`refuses ${file} with one line naming the field`, async () => {
      const text = await readFile(join(TESTDATA, file), 'utf8');
      const error = parseError(text, file);
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(error.message, `${file}: ${expected}`);
      assert.doesNotMatch(error.message, /\n/);
    });
  }

  it('has a table entry for every invalid-* fixture', async () => {
    const fixtures = (await readdir(TESTDATA)).filter((name) => name.startsWith('invalid-'));
    assert.deepEqual(fixtures.sort(), INVALID.map(([file]) => file).sort());
  });

  it('never shows a value typed where a password hash belongs', async () => {
    for (const file of ['invalid-plaintext-password.yml', 'invalid-numeric-password.yml']) {
      const message = parseError(await readFile(join(TESTDATA, file), 'utf8')).message;
      assert.doesNotMatch(message, /hunter2|24681357/);
    }
  });

  it("reads the toolkit's example, files relative to the web config's directory", async () => {
    const text = await readFile(join(TESTDATA, 'valid-toolkit-example.yml'), 'utf8');
    const config = parseWebConfigText(text, 'web.yml', '/etc/exporter');
    assert.deepEqual(config, {
      tls: {
        cert: { file: '/etc/exporter/server.crt' },
        key: { file: '/etc/exporter/server.key' },
        clientAuthType: 'NoClientCert',
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.3',
      },
      headers: {},
      basicAuthUsers: {
        alice: '$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze',
        bob: '$2y$10$hLqFl9jSjoAAy95Z/zw8Ye8wkdMBM8c5Bn1ptYqP/AXyV0.oy0S8m',
      },
    });
    assert.ok(Object.isFrozen(config.tls));
  });

  it('keeps absolute paths, inline PEM, client CA and versions as given', () => {
    const config = parseWebConfigText(
      [
        'tls_server_config:',
        '  cert: "-----BEGIN CERTIFICATE-----"',
        '  key_file: /run/secrets/tls.key',
        '  client_ca_file: ../ca/clients.pem',
        '  client_auth_type: RequireAndVerifyClientCert',
        '  min_version: TLS13',
      ].join('\n'),
      'web.yml',
      '/etc/exporter',
    );
    assert.deepEqual(config.tls, {
      cert: { inline: '-----BEGIN CERTIFICATE-----' },
      key: { file: '/run/secrets/tls.key' },
      clientCa: { file: '/etc/ca/clients.pem' },
      clientAuthType: 'RequireAndVerifyClientCert',
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    });
  });

  it('takes an empty file as plain HTTP without auth, as the toolkit does', () => {
    for (const text of ['', '# nothing here\n', '{}']) {
      assert.deepEqual(parseWebConfigText(text, 'web.yml', '/'), {
        headers: {},
        basicAuthUsers: {},
      });
    }
  });

  it('canonicalizes header names, drops blank ones, accepts the fixed values in any case', () => {
    const config = parseWebConfigText(
      [
        'http_server_config:',
        '  http2: false',
        '  headers:',
        '    x-frame-options: DENY',
        '    X-Content-Type-Options: nosniff',
        '    Strict-Transport-Security: max-age=31536000',
        '    Content-Security-Policy: ""',
      ].join('\n'),
      'web.yml',
      '/',
    );
    assert.deepEqual(config.headers, {
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      'Strict-Transport-Security': 'max-age=31536000',
    });
  });

  it('refuses a header value that would break the response head', () => {
    const error = parseError(
      'http_server_config:\n  headers:\n    Content-Security-Policy: "a\\r\\nSet-Cookie: x=1"\n',
    );
    assert.equal(
      error.message,
      'web.yml: http_server_config.headers.Content-Security-Policy: expected printable ASCII on one line',
    );
  });

  it('does not echo an inline private key that is not text', () => {
    const error = parseError('tls_server_config:\n  key: [secret-material]\n  cert_file: a\n');
    assert.equal(error.message, 'web.yml: tls_server_config.key: expected a PEM private key');
  });
});
