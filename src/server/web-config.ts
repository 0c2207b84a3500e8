/**
 * The `--web.config.file`: TLS, client certificates, basic auth and response headers,
 * in the Prometheus exporter-toolkit's format, so one file serves this exporter and
 * the node exporter beside it. Parsing is pure (parseWebConfigText); reading the file
 * and the PEM files it names is loadWebConfig's job.
 *
 * Supported: tls_server_config.{cert_file, key_file, cert, key, client_ca_file,
 * client_ca, client_auth_type, min_version, max_version}, http_server_config.{headers,
 * http2}, basic_auth_users. The toolkit's other keys are refused by name, so a file
 * never silently means less than its author thinks.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { ConfigError, readFailure } from '../config/errors.js';
import { deepFreeze } from '../config/freeze.js';
import { type ConfigIssue, issueLine } from '../config/issues.js';
import {
  nonEmptyText,
  oneOfValues,
  parseWithSchema,
  section,
  trueOrFalse,
  yamlValue,
} from '../config/yaml-file.js';
import * as z from '../vendor/zod.js';

/** Go's crypto/tls ClientAuthType names, as the toolkit spells them. */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
} as const satisfies Record<string, SecureVersion>;
type TlsVersionName = keyof typeof TLS_VERSIONS;
const TLS_VERSION_NAMES = Object.keys(TLS_VERSIONS) as TlsVersionName[];

/**
 * The only response headers the file may set, as in the toolkit: security headers.
 * Anything else (Content-Type, Set-Cookie, Access-Control-*) would change what the
 * endpoints mean, so it is refused. Values: a fixed list where the header has one.
 */
export const SETTABLE_HEADERS: Readonly<Record<string, readonly string[] | undefined>> = {
  'Content-Security-Policy': undefined,
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-Content-Type-Options': ['nosniff'],
  'X-XSS-Protection': undefined,
  'Strict-Transport-Security': undefined,
};

/** Keys of the toolkit's format that this exporter does not implement, and why. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  'tls_server_config.client_allowed_sans':
    'not supported by this exporter; use a client CA that signs only the allowed clients',
  'tls_server_config.cipher_suites':
    "not supported by this exporter (Go's cipher suite names); Node.js's defaults apply",
  'tls_server_config.curve_preferences':
    "not supported by this exporter (Go's curve names); Node.js's defaults apply",
  'tls_server_config.prefer_server_cipher_suites':
    "not supported by this exporter; Node.js's defaults apply",
  rate_limit: 'not supported by this exporter; limit requests in front of it',
  auth_excluded_paths: 'not supported by this exporter; every path needs the same credentials',
};

/** A PEM text: from a file (re-read when it changes) or inline in the web config. */
export type PemSource = { readonly file: string } | { readonly inline: string };

export interface TlsSettings {
  readonly cert: PemSource;
  readonly key: PemSource;
  /** Signs the client certificates that are accepted; required when they are verified. */
  readonly clientCa?: PemSource;
  readonly clientAuthType: ClientAuthType;
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
}

export interface WebConfig {
  /** Absent: plain HTTP. */
  readonly tls?: TlsSettings;
  /** Added to every response; canonical header names. */
  readonly headers: Readonly<Record<string, string>>;
  /** User name -> bcrypt hash. Empty: no basic auth. */
  readonly basicAuthUsers: Readonly<Record<string, string>>;
}

/** The PEM texts a TLS config names, read and checked. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
  /** When the served (leaf) certificate expires, Unix ms: for the expiry warning and metric. */
  readonly certificateNotAfterMs?: number;
}

/** A web config with its PEM files read: what the server runs with. */
export interface LoadedWebConfig {
  readonly config: WebConfig;
  readonly tls?: TlsMaterial;
  /** Every file the config came from, the web config first: a change to any means a reload. */
  readonly files: readonly string[];
}

const BCRYPT_HASH = /^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const BCRYPT_EXPECTED = 'a bcrypt hash such as "$2y$10$..." (htpasswd -nBC 10 "" | tr -d \':\\n\')';
// Visible ASCII, spaces and tabs: what a header value may hold without being split or refused.
const HEADER_VALUE = /^[\x20-\x7e\t]*$/;

const tlsSchema = section({
  cert_file: nonEmptyText('a file name').optional(),
  key_file: nonEmptyText('a file name').optional(),
  cert: nonEmptyText('a PEM certificate').optional(),
  key: nonEmptyText('a PEM private key').optional(),
  client_ca_file: nonEmptyText('a file name').optional(),
  client_ca: nonEmptyText('PEM certificates').optional(),
  client_auth_type: oneOfValues(CLIENT_AUTH_TYPES).optional(),
  min_version: oneOfValues(TLS_VERSION_NAMES).optional(),
  max_version: oneOfValues(TLS_VERSION_NAMES).optional(),
});

const httpSchema = section({
  headers: z.record(z.string(), z.string({ error: 'a string' }), { error: 'a mapping' }).optional(),
  // The toolkit's switch for HTTP/2; this exporter serves HTTP/1.1 either way.
  http2: trueOrFalse.optional(),
});

const webConfigSchema = section({
  tls_server_config: tlsSchema.optional(),
  http_server_config: httpSchema.optional(),
  basic_auth_users: z
    .record(z.string(), z.string({ error: BCRYPT_EXPECTED }), { error: 'a mapping of users' })
    .optional(),
});

type WebConfigFile = z.infer<typeof webConfigSchema>;

type Problem = ConfigIssue;

/**
 * Parses and checks web config text. `sourceName` leads every message; `baseDir` is
 * where relative file names point (the web config file's directory, as in the toolkit).
 * Throws ConfigError CONFIG_INVALID.
 */
export function parseWebConfigText(text: string, sourceName: string, baseDir: string): WebConfig {
  const fail = (problem: Problem | string, cause?: unknown) => {
    const message = typeof problem === 'string' ? problem : issueLine(problem);
    return new ConfigError('CONFIG_INVALID', `${sourceName}: ${message}`, { cause });
  };

  // An empty file is an empty mapping: the toolkit reads it as "no TLS, no auth".
  const value = yamlValue(text, fail, { lowerCase: false });
  const unsupported = findUnsupported(value);
  if (unsupported) throw fail(unsupported);
  const parsed = parseWithSchema(webConfigSchema, value);
  if (!parsed.ok) throw fail(hideSecrets(parsed.issue), parsed.error);
  const problem = checkWebConfig(parsed.data);
  if (problem) throw fail(problem);
  return toWebConfig(parsed.data, baseDir);
}

function findUnsupported(value: unknown): Problem | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [path, message] of Object.entries(UNSUPPORTED)) {
    const keys = path.split('.');
    let at: unknown = value;
    for (const key of keys.slice(0, -1)) {
      at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
    }
    const last = keys[keys.length - 1] ?? '';
    if (typeof at === 'object' && at !== null && Object.hasOwn(at, last)) {
      return { path: keys, message };
    }
  }
  return undefined;
}

// A value under basic_auth_users may be a password typed where its hash belongs: never echo it.
function hideSecrets(problem: Problem): Problem {
  if (problem.path[0] === 'basic_auth_users' && problem.path.length > 1) {
    return { path: problem.path, message: `expected ${BCRYPT_EXPECTED}` };
  }
  if (problem.path[0] === 'tls_server_config' && problem.path[1] === 'key') {
    return { path: problem.path, message: 'expected a PEM private key' };
  }
  return problem;
}

function checkWebConfig(file: WebConfigFile): Problem | undefined {
  const tls = file.tls_server_config;
  if (tls) {
    const at = (key: string) => ['tls_server_config', key];
    for (const [fileKey, inlineKey] of [
      ['cert_file', 'cert'],
      ['key_file', 'key'],
      ['client_ca_file', 'client_ca'],
    ] as const) {
      if (tls[fileKey] !== undefined && tls[inlineKey] !== undefined) {
        return { path: at(fileKey), message: `give ${fileKey} or ${inlineKey}, not both` };
      }
    }
    if (tls.cert_file === undefined && tls.cert === undefined) {
      return { path: at('cert_file'), message: 'required with tls_server_config (or cert)' };
    }
    if (tls.key_file === undefined && tls.key === undefined) {
      return { path: at('key_file'), message: 'required with tls_server_config (or key)' };
    }
    const authType = tls.client_auth_type ?? 'NoClientCert';
    const hasCa = tls.client_ca_file !== undefined || tls.client_ca !== undefined;
    if (hasCa && authType === 'NoClientCert') {
      return {
        path: at('client_ca_file'),
        message:
          'a client CA with client_auth_type NoClientCert checks nothing; set RequireAndVerifyClientCert',
      };
    }
    if (
      !hasCa &&
      (authType === 'RequireAndVerifyClientCert' || authType === 'VerifyClientCertIfGiven')
    ) {
      // Without one, any certificate from a public CA would pass.
      return { path: at('client_ca_file'), message: `required with client_auth_type ${authType}` };
    }
    const min = TLS_VERSION_NAMES.indexOf(tls.min_version ?? 'TLS12');
    const max = TLS_VERSION_NAMES.indexOf(tls.max_version ?? 'TLS13');
    if (min > max) {
      return {
        path: at('min_version'),
        message: `expected at most max_version (${TLS_VERSION_NAMES[max]}), got "${TLS_VERSION_NAMES[min]}"`,
      };
    }
  }
  for (const [name, value] of Object.entries(file.http_server_config?.headers ?? {})) {
    const path = ['http_server_config', 'headers', name];
    const canonical = canonicalHeader(name);
    if (canonical === undefined) {
      return {
        path,
        message: `cannot be set; settable headers: ${Object.keys(SETTABLE_HEADERS).join(', ')}`,
      };
    }
    const allowed = SETTABLE_HEADERS[canonical];
    if (value !== '' && allowed && !allowed.includes(value.toLowerCase())) {
      return {
        path,
        message: `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
      };
    }
    if (!HEADER_VALUE.test(value)) {
      return { path, message: 'expected printable ASCII on one line' };
    }
  }
  for (const [user, hash] of Object.entries(file.basic_auth_users ?? {})) {
    const path = ['basic_auth_users', user];
    // Basic auth joins user and password with a colon; a user with one cannot log in.
    if (user === '' || user.includes(':')) {
      return { path, message: 'a user name must not be empty nor hold a colon' };
    }
    if (!BCRYPT_HASH.test(hash)) return { path, message: `expected ${BCRYPT_EXPECTED}` };
  }
  return undefined;
}

function canonicalHeader(name: string): string | undefined {
  return Object.keys(SETTABLE_HEADERS).find((known) => known.toLowerCase() === name.toLowerCase());
}

function toWebConfig(file: WebConfigFile, baseDir: string): WebConfig {
  const tls = file.tls_server_config;
  const pem = (path: string | undefined, inline: string | undefined): PemSource | undefined => {
    if (path !== undefined) return { file: resolve(baseDir, path) };
    if (inline !== undefined) return { inline };
    return undefined;
  };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(file.http_server_config?.headers ?? {})) {
    const canonical = canonicalHeader(name);
    // Blank means unset, as in the toolkit.
    if (canonical !== undefined && value !== '') headers[canonical] = value;
  }
  const config: WebConfig = {
    ...(tls && {
      tls: {
        cert: pem(tls.cert_file, tls.cert) as PemSource,
        key: pem(tls.key_file, tls.key) as PemSource,
        ...(pem(tls.client_ca_file, tls.client_ca) && {
          clientCa: pem(tls.client_ca_file, tls.client_ca) as PemSource,
        }),
        clientAuthType: tls.client_auth_type ?? 'NoClientCert',
        minVersion: TLS_VERSIONS[tls.min_version ?? 'TLS12'],
        maxVersion: TLS_VERSIONS[tls.max_version ?? 'TLS13'],
      },
    }),
    headers,
    basicAuthUsers: { ...file.basic_auth_users },
  };
  return deepFreeze(config);
}

/**
 * Reads the web config file and every PEM file it names, and checks that they make a
 * working TLS setup (a certificate, a key that matches it, a client CA that parses).
 * Synchronous so a new connection can pick up a renewed certificate before its
 * handshake. Throws ConfigError: CONFIG_UNREADABLE or CONFIG_INVALID.
 */
export function loadWebConfig(path: string): LoadedWebConfig {
  const config = parseWebConfigText(readText(path, path, undefined), path, dirname(path));
  const files = [path];
  if (!config.tls) return { config, files };
  const read = (source: PemSource, key: string) => {
    if ('inline' in source) return source.inline;
    files.push(source.file);
    return readText(source.file, path, `tls_server_config.${key}`);
  };
  const { tls } = config;
  const material: TlsMaterial = {
    cert: read(tls.cert, 'cert_file'),
    key: read(tls.key, 'key_file'),
    ...(tls.clientCa && { clientCa: read(tls.clientCa, 'client_ca_file') }),
  };
  const notAfterMs = checkMaterial(material, tls, path);
  return { config, tls: { ...material, certificateNotAfterMs: notAfterMs }, files };
}

/** Throws ConfigError unless the material can serve; returns the certificate's notAfter (Unix ms). */
function checkMaterial(material: TlsMaterial, tls: TlsSettings, sourceName: string): number {
  const name = (source: PemSource | undefined, fileKey: string, inlineKey: string) =>
    `tls_server_config.${source && 'inline' in source ? inlineKey : fileKey}`;
  const fail = (key: string, what: string, cause: unknown) =>
    new ConfigError('CONFIG_INVALID', `${sourceName}: ${key}: ${what}: ${readFailure(cause)}`, {
      cause,
    });
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(material.cert);
  } catch (error) {
    throw fail(name(tls.cert, 'cert_file', 'cert'), 'not a PEM certificate', error);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(material.key);
  } catch (error) {
    throw fail(name(tls.key, 'key_file', 'key'), 'not a PEM private key', error);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${sourceName}: ${name(tls.key, 'key_file', 'key')}: the key does not match the certificate in ${name(tls.cert, 'cert_file', 'cert')}`,
    );
  }
  if (material.clientCa !== undefined) {
    try {
      new X509Certificate(material.clientCa);
      createSecureContext({ ca: material.clientCa });
    } catch (error) {
      throw fail(name(tls.clientCa, 'client_ca_file', 'client_ca'), 'not PEM certificates', error);
    }
  }
  return Date.parse(cert.validTo);
}

function readText(file: string, sourceName: string, key: string | undefined): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const where = key === undefined ? sourceName : `${sourceName}: ${key}: ${file}`;
    throw new ConfigError('CONFIG_UNREADABLE', `${where}: cannot read: ${readFailure(error)}`, {
      cause: error,
    });
  }
}
