/**
 * A real Prometheus (Debian's, Go's TLS client) scrapes the exporter run as a user runs
 * it, with a web config that wants a client certificate from our CA and a password:
 * the job with both is up, the jobs missing either are down, and say why.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { requireTool } from '../alerts/tools.js';
import { nodeArgv, REPO_ROOT } from '../helpers/node-child.js';
import { eventually } from '../helpers/wait.js';
import { makeCertificates, type TestCertificates } from '../server/certs.js';
import { type Daemon, freePort, startDaemon } from './daemon.js';

const MAIN = join(REPO_ROOT, 'src/main.ts');
const PASSWORD = 'scrape-secret';

interface ScrapeTarget {
  readonly labels: { readonly job: string };
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
  readonly scrapeUrl: string;
}

async function targets(base: string): Promise<ScrapeTarget[]> {
  const response = await fetch(`${base}/api/v1/targets?state=active`);
  const json = (await response.json()) as { data: { activeTargets: ScrapeTarget[] } };
  return json.data.activeTargets;
}

describe('Prometheus scrapes the exporter over TLS with a client certificate and a password', () => {
  let certs: TestCertificates;
  const daemons: Daemon[] = [];
  let scraped: ReadonlyMap<string, ScrapeTarget>;

  before(async () => {
    const prometheus = requireTool('/usr/bin/prometheus', 'prometheus');
    certs = await makeCertificates();
    const { dir } = certs;
    const webConfig = join(dir, 'web.yml');
    writeFileSync(
      webConfig,
      stringify({
        tls_server_config: {
          cert_file: certs.server1.certFile,
          key_file: certs.server1.keyFile,
          client_ca_file: certs.ca.certFile,
          client_auth_type: 'RequireAndVerifyClientCert',
        },
        basic_auth_users: { prometheus: bcrypt.hashSync(PASSWORD, 4) },
      }),
    );
    const port = await freePort();
    const exporter = await startDaemon(
      nodeArgv(MAIN, [
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.config.file=${webConfig}`,
        '--probe.icmp=off',
      ]),
      { ready: /"msg":"listening"/ },
    );
    daemons.push(exporter);
    assert.match(exporter.log(), new RegExp(`"url":"https://127\\.0\\.0\\.1:${port}"`));

    const address = `127.0.0.1:${port}`;
    const job = (name: string, tls: object, auth?: object) => ({
      job_name: name,
      scheme: 'https',
      tls_config: { ca_file: certs.ca.certFile, ...tls },
      ...(auth && { basic_auth: auth }),
      static_configs: [{ targets: [address] }],
    });
    const clientCert = { cert_file: certs.client.certFile, key_file: certs.client.keyFile };
    const password = { username: 'prometheus', password: PASSWORD };
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '900ms' },
        scrape_configs: [
          job('certificate-and-password', clientCert, password),
          job('no-certificate', {}, password),
          job('wrong-password', clientCert, { username: 'prometheus', password: 'guess' }),
          job(
            'stranger-certificate',
            {
              cert_file: certs.strangerClient.certFile,
              key_file: certs.strangerClient.keyFile,
            },
            password,
          ),
        ],
      }),
    );
    mkdirSync(join(dir, 'data'));
    const webPort = await freePort();
    daemons.push(
      await startDaemon(
        [
          prometheus,
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${webPort}`,
        ],
        { ready: /Server is ready to receive web requests/ },
      ),
    );
    // Prometheus tells nothing when a scrape ends: polling its API is the only way.
    let all: Awaited<ReturnType<typeof targets>> = [];
    scraped = await eventually(
      async () => {
        all = await targets(`http://127.0.0.1:${webPort}`).catch(() => []);
        return all.length === 4 && all.every((t) => t.health !== 'unknown')
          ? new Map(all.map((t) => [t.labels.job, t]))
          : undefined;
      },
      {
        what: 'targets all scraped',
        timeoutMs: 30_000,
        intervalMs: 250,
        detail: () => JSON.stringify(all),
      },
    );
  });

  after(async () => {
    for (const daemon of daemons.reverse()) await daemon.stop();
    await certs?.remove();
  });

  it('the job with the client certificate and the password is up', () => {
    const target = scraped.get('certificate-and-password');
    assert.equal(target?.health, 'up', target?.lastError);
    assert.match(target?.scrapeUrl ?? '', /^https:\/\//);
  });

  it('the job without a client certificate is down: the handshake is refused', () => {
    const target = scraped.get('no-certificate');
    assert.equal(target?.health, 'down');
    assert.match(
      target?.lastError ?? '',
      /certificate required|bad certificate|remote error|reset/,
    );
  });

  it("the job with another CA's certificate is down: the handshake is refused", () => {
    const target = scraped.get('stranger-certificate');
    assert.equal(target?.health, 'down');
    assert.match(target?.lastError ?? '', /unknown certificate authority|remote error|reset|EOF/);
    assert.doesNotMatch(target?.lastError ?? '', /HTTP status/);
  });

  it('the job with a wrong password is down with 401', () => {
    const target = scraped.get('wrong-password');
    assert.equal(target?.health, 'down');
    assert.match(target?.lastError ?? '', /401 Unauthorized/);
  });
});
