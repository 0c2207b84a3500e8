/**
 * Reload truth, on the real program: every refused reload (the config file, the
 * kubeconfig, the web config) sets imanager_config_last_reload_successful to 0 and logs
 * one line, and imanager_config_last_reload_success_timestamp_seconds moves only with a
 * reload after which everything is in force. A served certificate that has expired, or
 * expires within 14 days, is a warning at start and at each reload, and its notAfter is
 * exported. `--config.check` loads every file and exits 0 or 2 without listening.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LogLine, parseLog } from '../faults/exporter.js';
import { nodeArgv, runNode } from '../helpers/node-child.js';
import { readUntil, until as waitUntil } from '../helpers/wait.js';
import { parseExposition, type Sample } from '../metrics/exposition.js';
import { makeCertificates, type TestCertificates } from '../server/certs.js';
import { type Daemon, startDaemon } from './daemon.js';

const ONE_NODE = 'nodes:\n  - { name: alpha, address: 127.0.0.1, roles: [worker] }\n';
const LISTENING = /"msg":"listening","url":"([^"]+)"/;
/** A kubeconfig whose API server refuses: discovery reports itself down and retries. */
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`;

const RELOAD_OK = 'imanager_config_last_reload_successful';
const RELOAD_TIME = 'imanager_config_last_reload_success_timestamp_seconds';
const EXPIRY = 'imanager_web_certificate_expiry_timestamp_seconds';
const REFUSED = 'configuration reload refused; the running configuration stays';

function metricValue(samples: readonly Sample[], name: string): number | undefined {
  const sample = samples.find((s) => s.name === name);
  return sample === undefined ? undefined : Number(sample.value);
}

/** GET over HTTPS that trusts `ca`, or plain fetch without it. */
function scrape(url: string, ca?: string): Promise<Sample[]> {
  if (ca === undefined) {
    return fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })
      .then((r) => r.text())
      .then((text) => [...parseExposition(text).samples]);
  }
  return new Promise((resolve, reject) => {
    const request = get(`${url}/metrics`, { ca, timeout: 10_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve([...parseExposition(Buffer.concat(chunks).toString()).samples]),
      );
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/** Scrapes until `done` (at most 100 times), returning the last scrape for the caller to judge. */
function until(url: string, done: (samples: Sample[]) => boolean, ca?: string): Promise<Sample[]> {
  return readUntil(() => scrape(url, ca), done, { intervalMs: 200, attempts: 100 });
}

/** Waits until the log satisfies `done`; bounded in count and time. */
function logged(daemon: Daemon, done: () => boolean): Promise<void> {
  return waitUntil(done, {
    what: 'the line in the log',
    intervalMs: 200,
    attempts: 151,
    detail: () => daemon.log().slice(-3000),
  });
}

const lines = (daemon: Daemon, msg: string): LogLine[] =>
  parseLog(daemon.log()).filter((l) => l.msg === msg);

async function start(args: readonly string[]): Promise<{ daemon: Daemon; url: string }> {
  const daemon = await startDaemon(
    nodeArgv('src/main.ts', [
      '--web.listen-address=127.0.0.1:0',
      '--probe.interval=1s',
      '--probe.timeout=200ms',
      '--probe.icmp=off',
      ...args,
    ]),
    { ready: LISTENING, readyTimeoutMs: 60_000 },
  );
  return { daemon, url: LISTENING.exec(daemon.log())?.[1] as string };
}

describe('reload truth', { timeout: 180_000 }, () => {
  let dir: string;
  let certs: TestCertificates;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipe-reload-truth-'));
    certs = await makeCertificates();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await certs?.remove();
  });

  it('a kubeconfig that breaks: refused, 0, one line; fixed: 1 and a later timestamp', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, KUBECONFIG);
    const { daemon, url } = await start(['--discovery=kubernetes', `--kubeconfig=${kubeconfig}`]);
    try {
      const first = await scrape(url);
      assert.equal(metricValue(first, RELOAD_OK), 1);
      const startedAt = metricValue(first, RELOAD_TIME) ?? 0;
      assert.ok(startedAt > 1.7e9, `a start time, got ${startedAt}`);

      await writeFile(kubeconfig, 'garbage: [\n');
      daemon.child.kill('SIGHUP');
      const refused = await until(url, (s) => metricValue(s, RELOAD_OK) === 0);
      assert.equal(metricValue(refused, RELOAD_OK), 0, daemon.log());
      assert.equal(metricValue(refused, RELOAD_TIME), startedAt, 'no success to date');
      const said = lines(daemon, REFUSED);
      assert.equal(said.length, 1, daemon.log());
      assert.match(String(said[0]?.reason), /cannot load kubeconfig .*: unexpected end/);
      assert.equal(daemon.child.exitCode, null, 'still running');

      await writeFile(kubeconfig, KUBECONFIG);
      daemon.child.kill('SIGHUP');
      const fixed = await until(url, (s) => metricValue(s, RELOAD_OK) === 1);
      assert.equal(metricValue(fixed, RELOAD_OK), 1);
      assert.ok((metricValue(fixed, RELOAD_TIME) ?? 0) > startedAt, 'the success moved the time');
      assert.equal(lines(daemon, REFUSED).length, 1);
    } finally {
      await daemon.stop();
    }
  });

  it('a web config that breaks: refused, 0, one line; a bad config file on top stays 0 until both are good', async () => {
    const config = join(dir, 'config.yml');
    const web = join(dir, 'web.yml');
    await writeFile(config, ONE_NODE);
    await writeFile(web, 'http_server_config:\n  headers:\n    X-Frame-Options: DENY\n');
    const { daemon, url } = await start([`--config.file=${config}`, `--web.config.file=${web}`]);
    try {
      assert.equal(metricValue(await scrape(url), RELOAD_OK), 1);
      assert.equal(metricValue(await scrape(url), EXPIRY), undefined, 'no certificate, no series');

      await writeFile(web, 'http_server_config: [\n');
      daemon.child.kill('SIGHUP');
      let samples = await until(url, (s) => metricValue(s, RELOAD_OK) === 0);
      assert.equal(metricValue(samples, RELOAD_OK), 0, daemon.log());
      const warned = lines(daemon, 'web config not reloaded; the previous one stays in force');
      assert.equal(warned.length, 1, daemon.log());

      // The config file reloads fine meanwhile: still 0, the web config is still refused.
      await writeFile(
        config,
        `${ONE_NODE}  - { name: beta, address: 127.0.0.2, roles: [worker] }\n`,
      );
      daemon.child.kill('SIGHUP');
      samples = await until(url, (s) => s.some((x) => x.labels.node === 'beta'));
      assert.ok(
        samples.some((x) => x.labels.node === 'beta'),
        'the good config file took effect',
      );
      assert.equal(metricValue(samples, RELOAD_OK), 0);

      await writeFile(web, 'http_server_config:\n  headers:\n    X-Frame-Options: SAMEORIGIN\n');
      daemon.child.kill('SIGHUP');
      samples = await until(url, (s) => metricValue(s, RELOAD_OK) === 1);
      assert.equal(metricValue(samples, RELOAD_OK), 1, daemon.log());
    } finally {
      await daemon.stop();
    }
  });

  it('an expired certificate: a warning at start and at each reload, its notAfter exported', async () => {
    const web = join(dir, 'web-tls.yml');
    const tlsConfig = (pair: { certFile: string; keyFile: string }) =>
      `tls_server_config:\n  cert_file: ${pair.certFile}\n  key_file: ${pair.keyFile}\n`;
    await writeFile(web, tlsConfig(certs.expiredServer));
    const { daemon, url } = await start([`--web.config.file=${web}`]);
    try {
      const expired = lines(daemon, 'the served TLS certificate has expired');
      assert.equal(expired.length, 1, daemon.log());
      assert.equal(expired[0]?.notAfter, '2020-01-01T00:00:00.000Z');
      // The client does not check dates here: a scrape of what is served, expired or not.
      const samples = await new Promise<Sample[]>((resolve, reject) => {
        const request = get(
          `${url}/metrics`,
          { ca: certs.ca.cert, timeout: 10_000, rejectUnauthorized: false },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () =>
              resolve([...parseExposition(Buffer.concat(chunks).toString()).samples]),
            );
          },
        );
        request.on('error', reject);
      });
      assert.equal(metricValue(samples, EXPIRY), Date.parse('2020-01-01T00:00:00Z') / 1000);

      daemon.child.kill('SIGHUP');
      await logged(
        daemon,
        () => lines(daemon, 'the served TLS certificate has expired').length === 2,
      );
      assert.equal(
        lines(daemon, 'the served TLS certificate has expired').length,
        2,
        'again at the reload',
      );

      // A renewed certificate (a year) takes over at the next connection: no warning, new notAfter.
      await writeFile(web, tlsConfig(certs.yearServer));
      const renewed = await until(
        url,
        (s) => metricValue(s, EXPIRY) !== Date.parse('2020-01-01T00:00:00Z') / 1000,
        certs.ca.cert,
      );
      const notAfter = Date.parse(new X509Certificate(certs.yearServer.cert).validTo) / 1000;
      assert.equal(metricValue(renewed, EXPIRY), notAfter);
      // A reload after it: the SIGHUP's config line says it ran; no warning came with it.
      const reloads = lines(daemon, 'configuration reloaded').length;
      daemon.child.kill('SIGHUP');
      await logged(daemon, () => lines(daemon, 'configuration reloaded').length > reloads);
      assert.equal(lines(daemon, 'the served TLS certificate has expired').length, 2);
      assert.equal(lines(daemon, 'the served TLS certificate expires within 14 days').length, 0);
    } finally {
      await daemon.stop();
    }
  });

  it('a certificate that expires within 14 days is a warning too', async () => {
    const web = join(dir, 'web-soon.yml');
    await writeFile(
      web,
      `tls_server_config:\n  cert_file: ${certs.server1.certFile}\n  key_file: ${certs.server1.keyFile}\n`,
    );
    const { daemon } = await start([`--web.config.file=${web}`]);
    try {
      const soon = lines(daemon, 'the served TLS certificate expires within 14 days');
      assert.equal(soon.length, 1, daemon.log());
      assert.ok(Number(soon[0]?.daysLeft) <= 2);
    } finally {
      await daemon.stop();
    }
  });
});

describe('--config.check', { timeout: 120_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipe-config-check-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 for good files, naming each, without listening', async () => {
    const config = join(dir, 'good.yml');
    const web = join(dir, 'web.yml');
    await writeFile(config, ONE_NODE);
    await writeFile(web, 'http_server_config:\n  headers:\n    X-Frame-Options: DENY\n');
    const result = await runNode(
      'src/main.ts',
      ['--config.check', `--config.file=${config}`, `--web.config.file=${web}`],
      { timeoutMs: 60_000 },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      `flags: OK\nconfig file ${config}: OK\nweb config file ${web}: OK\ndiscovery: static: OK\n`,
    );
    assert.doesNotMatch(result.stderr, /listening|probing/);
  });

  for (const [name, files, says] of [
    ['a bad config file', { config: 'nodes: 5\n' }, /good\.yml|bad\.yml: nodes: expected a list/],
    ['a bad web config', { web: 'tls_server_config: 5\n' }, /web\.yml: /],
    ['a bad kubeconfig', { kubeconfig: 'garbage: [\n' }, /cannot load kubeconfig/],
  ] as const) {
    it(`exits 2 with one line for ${name}`, async () => {
      const args = ['--config.check'];
      if ('config' in files) {
        await writeFile(join(dir, 'bad.yml'), files.config);
        args.push(`--config.file=${join(dir, 'bad.yml')}`);
      }
      if ('web' in files) {
        await writeFile(join(dir, 'web.yml'), files.web);
        args.push(`--web.config.file=${join(dir, 'web.yml')}`);
      }
      if ('kubeconfig' in files) {
        await writeFile(join(dir, 'kubeconfig'), files.kubeconfig);
        args.push('--discovery=kubernetes', `--kubeconfig=${join(dir, 'kubeconfig')}`);
      }
      const result = await runNode('src/main.ts', args, { timeoutMs: 60_000 });
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr.split('\n').length, 2, result.stderr);
      assert.match(result.stderr, says);
    });
  }

  it('exits 2 for a bad flag', async () => {
    const result = await runNode('src/main.ts', ['--config.check', '--probe.interval=soon'], {
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^imanager-port-exporter: --probe\.interval: /);
  });
});
