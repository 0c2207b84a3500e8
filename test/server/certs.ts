/**
 * Throwaway certificates for the TLS tests, made with the openssl command into a
 * temporary directory: a CA, server certificates for 127.0.0.1 it signs, a client
 * certificate it signs, and a client certificate from another CA.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestCertificates {
  readonly dir: string;
  /** The CA that signs the server and the accepted client. */
  readonly ca: KeyPair;
  /** Server certificates for IP 127.0.0.1, common names `server-1` and `server-2`. */
  readonly server1: KeyPair;
  readonly server2: KeyPair;
  /** Server certificates for 127.0.0.1 that expired in 2020, and that last a year. */
  readonly expiredServer: KeyPair;
  readonly yearServer: KeyPair;
  /** A client certificate the CA signed. */
  readonly client: KeyPair;
  /** A client certificate from another CA. */
  readonly strangerClient: KeyPair;
  remove(): Promise<void>;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new Error('the openssl command is missing: install the Debian package openssl', {
        cause: error,
      });
    }
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`, { cause: error });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function selfSignedCa(dir: string, name: string): Promise<KeyPair> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return pair(dir, name);
}

async function signed(dir: string, name: string, ca: string, extensions: string): Promise<KeyPair> {
  await openssl(
    ['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
    dir,
  );
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return pair(dir, name);
}

/**
 * A certificate with the exact validity given (openssl ca, since `x509 -days` cannot
 * make one that has already expired): `YYYYMMDDHHMMSSZ` dates.
 */
async function signedBetween(
  dir: string,
  name: string,
  ca: string,
  extensions: string,
  startDate: string,
  endDate: string,
): Promise<KeyPair> {
  await openssl(
    ['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
    dir,
  );
  await writeFile(join(dir, `${name}.ext`), extensions);
  const db = `${name}.index`;
  await writeFile(join(dir, db), '');
  await writeFile(join(dir, `${name}.serial`), '1000\n');
  await writeFile(
    join(dir, `${name}.cnf`),
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${db}\nnew_certs_dir = .\nserial = ${name}.serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n`,
  );
  await openssl(
    [
      'ca',
      '-batch',
      '-config',
      `${name}.cnf`,
      '-in',
      `${name}.csr`,
      '-out',
      `${name}.crt`,
      '-startdate',
      startDate,
      '-enddate',
      endDate,
      '-keyfile',
      `${ca}.key`,
      '-cert',
      `${ca}.crt`,
      '-notext',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  return pair(dir, name);
}

/** `YYYYMMDDHHMMSSZ`, as openssl ca takes dates. */
function opensslDate(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

async function pair(dir: string, name: string): Promise<KeyPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return {
    certFile,
    keyFile,
    cert: await readFile(certFile, 'utf8'),
    key: await readFile(keyFile, 'utf8'),
  };
}

const SERVER_EXT = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'imanager-tls-'));
  const ca = await selfSignedCa(dir, 'ca');
  await selfSignedCa(dir, 'stranger-ca');
  return {
    dir,
    ca,
    server1: await signed(dir, 'server-1', 'ca', SERVER_EXT),
    server2: await signed(dir, 'server-2', 'ca', SERVER_EXT),
    expiredServer: await signedBetween(
      dir,
      'server-expired',
      'ca',
      SERVER_EXT,
      '20190101000000Z',
      '20200101000000Z',
    ),
    yearServer: await signedBetween(
      dir,
      'server-year',
      'ca',
      SERVER_EXT,
      opensslDate(Date.now() - 86_400_000),
      opensslDate(Date.now() + 365 * 86_400_000),
    ),
    client: await signed(dir, 'client', 'ca', CLIENT_EXT),
    strangerClient: await signed(dir, 'stranger-client', 'stranger-ca', CLIENT_EXT),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
