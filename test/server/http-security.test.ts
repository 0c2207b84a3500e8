/**
 * The HTTP surface as an attacker on the network meets it: real clients (node:http,
 * node:https, raw TCP) against a real server on loopback, with real certificates.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { Express } from 'express';
import { createMetrics } from '../../src/metrics/collector.js';
import {
  createApp,
  type ListenOptions,
  type ServerHandle,
  startServer,
} from '../../src/server/app.js';
import { createLogger } from '../../src/util/log.js';
import { newStore } from '../helpers/store.js';
import { catalogTarget } from '../results/targets.js';
import { makeCertificates, type TestCertificates } from './certs.js';

const METRICS = '# HELP x_total A test.\n# TYPE x_total counter\nx_total 1\n';
const PASSWORD = 'correct horse battery staple';
// What htpasswd writes; cost 4 keeps the real bcrypt fast in tests.
const HASH = bcrypt.hashSync(PASSWORD, 4).replace(/^\$2b\$/, '$2y$');

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** With TLS: the certificate the server presented. */
  readonly peer?: PeerCertificate;
}

interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** For https: the CA to trust, and the client certificate to present. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly body?: string;
}

/** One request on a new connection, so each one meets the server's current config. */
function send(base: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(path, base);
  const common = { method: options.method ?? 'GET', headers: options.headers, agent: false };
  return new Promise((resolve, reject) => {
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const peer =
        url.protocol === 'https:' ? (res.socket as TLSSocket).getPeerCertificate() : undefined;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          ...(peer && { peer }),
        }),
      );
      res.on('error', reject);
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(
            url,
            {
              ...common,
              ca: options.ca,
              cert: options.cert,
              key: options.key,
              rejectUnauthorized: true,
            },
            onResponse,
          )
        : httpRequest(url, common, onResponse);
    req.on('error', reject);
    req.end(options.body);
  });
}

const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

function testApp(reload = async () => {}): Express {
  return createApp({
    version: '1.2.3',
    readiness: () => true,
    metrics: { contentType: 'text/plain; version=0.0.4', render: async () => Buffer.from(METRICS) },
    reload,
  });
}

describe('HTTP security', () => {
  let certs: TestCertificates;
  let dir: string;
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logLines.push(line) });

  before(async () => {
    certs = await makeCertificates();
    dir = await mkdtemp(join(tmpdir(), 'imanager-web-'));
  });
  after(async () => {
    await certs.remove();
    await rm(dir, { recursive: true, force: true });
  });

  async function serve(
    webConfig: readonly string[] | undefined,
    extra: Partial<ListenOptions> = {},
    app: Express = testApp(),
  ): Promise<ServerHandle & { webConfigFile?: string }> {
    let webConfigFile: string | undefined;
    if (webConfig) {
      webConfigFile = join(dir, `web-${Math.random().toString(36).slice(2)}.yml`);
      await writeFile(webConfigFile, `${webConfig.join('\n')}\n`);
    }
    const server = await startServer(app, {
      host: '127.0.0.1',
      port: 0,
      logger,
      ...(webConfigFile !== undefined && { webConfigFile }),
      ...extra,
    });
    return Object.assign(server, webConfigFile === undefined ? {} : { webConfigFile });
  }

  describe('basic auth and headers over plain HTTP', () => {
    let server: ServerHandle;
    before(async () => {
      server = await serve([
        'http_server_config:',
        '  headers:',
        '    X-Frame-Options: deny',
        '    X-Content-Type-Options: nosniff',
        'basic_auth_users:',
        `  alice: ${HASH}`,
      ]);
    });
    after(() => server.close());

    it('answers /metrics without credentials with 401 and a Basic challenge', async () => {
      const res = await send(server.url, '/metrics');
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Basic');
      assert.doesNotMatch(res.body, /x_total/);
    });

    it('answers a wrong password, an unknown user and a malformed header with 401', async () => {
      for (const headers of [
        basic('alice', 'wrong'),
        basic('mallory', PASSWORD),
        { authorization: 'Bearer token' },
        { authorization: `Basic ${Buffer.from(PASSWORD).toString('base64')}` },
      ]) {
        const res = await send(server.url, '/metrics', { headers });
        assert.equal(res.status, 401, headers.authorization);
        assert.doesNotMatch(res.body, /x_total/);
      }
    });

    it('serves /metrics with the right credentials, again and again', async () => {
      for (let i = 0; i < 3; i += 1) {
        const res = await send(server.url, '/metrics', { headers: basic('alice', PASSWORD) });
        assert.equal(res.status, 200);
        assert.equal(res.body, METRICS);
      }
    });

    it('hides every path, known or not, behind the credentials', async () => {
      for (const path of ['/', '/-/healthy', '/-/ready', '/nope']) {
        assert.equal((await send(server.url, path)).status, 401, path);
      }
      assert.equal(
        (await send(server.url, '/nope', { headers: basic('alice', PASSWORD) })).status,
        404,
      );
    });

    it('adds the configured headers to every answer, refusals included', async () => {
      for (const res of [
        await send(server.url, '/metrics'),
        await send(server.url, '/metrics', { headers: basic('alice', PASSWORD) }),
        await send(server.url, '/nope', { headers: basic('alice', PASSWORD) }),
      ]) {
        assert.equal(res.headers['x-frame-options'], 'deny');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
      }
    });
  });

  describe('TLS requiring a client certificate from the client CA', () => {
    let server: ServerHandle;
    before(async () => {
      server = await serve([
        'tls_server_config:',
        `  cert_file: ${certs.server1.certFile}`,
        `  key_file: ${certs.server1.keyFile}`,
        `  client_ca_file: ${certs.ca.certFile}`,
        '  client_auth_type: RequireAndVerifyClientCert',
        'basic_auth_users:',
        `  alice: ${HASH}`,
      ]);
    });
    after(() => server.close());

    it('listens on an https URL with the server certificate for 127.0.0.1', async () => {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await send(server.url, '/metrics', {
        ca: certs.ca.cert,
        cert: certs.client.cert,
        key: certs.client.key,
        headers: basic('alice', PASSWORD),
      });
      assert.equal(res.status, 200);
      assert.equal(res.body, METRICS);
      assert.equal(res.peer?.subject.CN, 'server-1');
    });

    it('refuses a client without a certificate before any HTTP', async () => {
      await assert.rejects(
        send(server.url, '/metrics', { ca: certs.ca.cert, headers: basic('alice', PASSWORD) }),
        (err: NodeJS.ErrnoException) => {
          // TLS 1.3 reports the refusal as an alert after the client's side of the handshake.
          assert.match(String(err.code ?? err.message), /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);
          return true;
        },
      );
    });

    it('refuses a client certificate from another CA', async () => {
      await assert.rejects(
        send(server.url, '/metrics', {
          ca: certs.ca.cert,
          cert: certs.strangerClient.cert,
          key: certs.strangerClient.key,
          headers: basic('alice', PASSWORD),
        }),
        (err: NodeJS.ErrnoException) => {
          assert.match(String(err.code ?? err.message), /UNKNOWN_CA|ECONNRESET|EPIPE|ALERT/);
          return true;
        },
      );
    });

    it('still wants the password from a client with the right certificate', async () => {
      const res = await send(server.url, '/metrics', {
        ca: certs.ca.cert,
        cert: certs.client.cert,
        key: certs.client.key,
      });
      assert.equal(res.status, 401);
    });

    it('does not speak plain HTTP on the TLS port', async () => {
      const plain = server.url.replace('https:', 'http:');
      await assert.rejects(send(plain, '/metrics', { headers: basic('alice', PASSWORD) }));
    });
  });

  describe('the other client_auth_types', () => {
    const cases = [
      ['RequireAnyClientCert', { none: false, stranger: true, client: true }],
      ['VerifyClientCertIfGiven', { none: true, stranger: false, client: true }],
      ['RequestClientCert', { none: true, stranger: true, client: true }],
      ['NoClientCert', { none: true, stranger: true, client: true }],
    ] as const;
    for (const [type, accepts] of cases) {
      it(`${type}: no certificate ${accepts.none ? 'in' : 'out'}, another CA's ${accepts.stranger ? 'in' : 'out'}, the CA's in`, async () => {
        const withCa = type === 'VerifyClientCertIfGiven' || type === 'RequireAnyClientCert';
        const server = await serve([
          'tls_server_config:',
          `  cert_file: ${certs.server1.certFile}`,
          `  key_file: ${certs.server1.keyFile}`,
          ...(withCa ? [`  client_ca_file: ${certs.ca.certFile}`] : []),
          `  client_auth_type: ${type}`,
        ]);
        try {
          const attempt = async (pair?: { cert: string; key: string }) => {
            const res = await send(server.url, '/-/healthy', {
              ca: certs.ca.cert,
              ...(pair && { cert: pair.cert, key: pair.key }),
            }).catch(() => undefined);
            return res?.status === 200;
          };
          assert.equal(await attempt(), accepts.none, 'no certificate');
          assert.equal(await attempt(certs.strangerClient), accepts.stranger, "another CA's");
          assert.equal(await attempt(certs.client), accepts.client, "the CA's");
        } finally {
          await server.close();
        }
      });
    }
  });

  describe('re-reading the web config and its files', () => {
    it('a renewed certificate serves the next connection, without a restart', async () => {
      const tlsDir = await mkdtemp(join(dir, 'tls-'));
      const certFile = join(tlsDir, 'tls.crt');
      const keyFile = join(tlsDir, 'tls.key');
      await copyFile(certs.server1.certFile, certFile);
      await copyFile(certs.server1.keyFile, keyFile);
      // Relative names: the toolkit resolves them from the web config's directory.
      const webConfigFile = join(tlsDir, 'web.yml');
      await writeFile(
        webConfigFile,
        'tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n',
      );
      const server = await startServer(testApp(), {
        host: '127.0.0.1',
        port: 0,
        webConfigFile,
        logger,
      });
      const presented = async () =>
        (await send(server.url, '/-/healthy', { ca: certs.ca.cert })).peer?.subject.CN;
      try {
        assert.equal(await presented(), 'server-1');

        await copyFile(certs.server2.certFile, certFile);
        await copyFile(certs.server2.keyFile, keyFile);
        assert.equal(await presented(), 'server-2');

        // Half a renewal (a new key beside the old certificate) keeps the working pair.
        logLines.length = 0;
        await copyFile(certs.server1.keyFile, keyFile);
        assert.equal(await presented(), 'server-2');
        assert.equal(await presented(), 'server-2');
        const warnings = logLines
          .map((line) => JSON.parse(line))
          .filter((line) => line.msg.startsWith('web config not reloaded'));
        assert.equal(warnings.length, 1, 'reported once, not at every connection');
        assert.match(warnings[0].err.message, /the key does not match the certificate/);

        // The rest of the renewal lands.
        await copyFile(certs.server1.certFile, certFile);
        assert.equal(await presented(), 'server-1');
      } finally {
        await server.close();
      }
    });

    it('new basic auth users take effect at the next connection', async () => {
      const server = await serve(['basic_auth_users:', `  alice: ${HASH}`]);
      try {
        const bob = basic('bob', PASSWORD);
        assert.equal((await send(server.url, '/metrics', { headers: bob })).status, 401);
        await writeFile(server.webConfigFile ?? '', `basic_auth_users:\n  bob: ${HASH}\n`);
        assert.equal((await send(server.url, '/metrics', { headers: bob })).status, 200);
        const alice = basic('alice', PASSWORD);
        assert.equal((await send(server.url, '/metrics', { headers: alice })).status, 401);
      } finally {
        await server.close();
      }
    });

    it('refuses, and says so, a reload that would need a restart', async () => {
      const server = await serve(['basic_auth_users:', `  alice: ${HASH}`]);
      try {
        logLines.length = 0;
        await writeFile(
          server.webConfigFile ?? '',
          `tls_server_config:\n  cert_file: ${certs.server1.certFile}\n  key_file: ${certs.server1.keyFile}\n`,
        );
        const res = await send(server.url, '/metrics', { headers: basic('alice', PASSWORD) });
        assert.equal(res.status, 200, 'still plain HTTP, still the old users');
        assert.ok(
          logLines.some((line) => line.includes('switching TLS on or off takes a restart')),
          logLines.join(''),
        );
      } finally {
        await server.close();
      }
    });
  });

  describe('request limits', () => {
    let server: ServerHandle;
    before(async () => {
      server = await serve(undefined, {
        limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, timeoutCheckIntervalMs: 50 },
      });
    });
    after(() => server.close());

    it('answers a 64 KiB header with 431', async () => {
      const res = await send(server.url, '/metrics', {
        headers: { 'x-big': 'a'.repeat(64 * 1024) },
      });
      assert.equal(res.status, 431);
    });

    it('drops a client that never finishes its request head (slowloris)', {
      timeout: 10_000,
    }, async () => {
      const socket = connect(server.address.port, '127.0.0.1');
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', () => {});
      socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      await new Promise((resolve) => socket.once('close', resolve));
      assert.match(Buffer.concat(received).toString(), /^HTTP\/1\.1 408 /);
    });

    it('allows only GET and HEAD on the data endpoints', async () => {
      for (const path of ['/metrics', '/', '/-/healthy', '/-/ready']) {
        for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
          const res = await send(server.url, path, { method });
          assert.equal(res.status, 405, `${method} ${path}`);
          assert.equal(res.headers.allow, 'GET, HEAD', `${method} ${path}`);
        }
      }
    });

    it('answers a body over the limit with 413 before the route sees it', async () => {
      const big = await send(server.url, '/-/reload', { method: 'POST', body: 'x'.repeat(2000) });
      assert.equal(big.status, 413);
      assert.equal(big.headers.connection, 'close');
      const onMetrics = await send(server.url, '/metrics', {
        method: 'POST',
        body: 'x'.repeat(2000),
      });
      assert.equal(onMetrics.status, 413);
      assert.equal((await send(server.url, '/-/reload', { method: 'POST' })).status, 200);
    });

    it('answers a chunked body with 413: no endpoint reads a body', async () => {
      const res = await send(server.url, '/-/reload', {
        method: 'POST',
        headers: { 'transfer-encoding': 'chunked' },
        body: 'x',
      });
      assert.equal(res.status, 413);
    });

    it("drops connections past maxConnections, so clients cannot take the probes' sockets", async () => {
      const capped = await serve(undefined, { limits: { maxConnections: 2 } });
      const sockets: import('node:net').Socket[] = [];
      try {
        // Two clients hold keep-alive connections the server has accepted and answered.
        for (let i = 0; i < 2; i += 1) {
          const socket = connect(capped.address.port, '127.0.0.1');
          sockets.push(socket);
          socket.write('GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
          await new Promise((resolve) => socket.once('data', resolve));
        }
        const third = connect(capped.address.port, '127.0.0.1');
        sockets.push(third);
        const received: Buffer[] = [];
        third.on('data', (chunk: Buffer) => received.push(chunk));
        third.on('error', () => {});
        third.write('GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await new Promise((resolve) => third.once('close', resolve));
        assert.equal(Buffer.concat(received).length, 0, 'the third connection got no answer');
      } finally {
        for (const socket of sockets) socket.destroy();
        await capped.close();
      }
    });

    it('keeps the limits over TLS, and drops a client that never finishes its handshake', {
      timeout: 10_000,
    }, async () => {
      const tls = await serve(
        [
          'tls_server_config:',
          `  cert_file: ${certs.server1.certFile}`,
          `  key_file: ${certs.server1.keyFile}`,
        ],
        { limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, timeoutCheckIntervalMs: 50 } },
      );
      try {
        const res = await send(tls.url, '/metrics', {
          ca: certs.ca.cert,
          headers: { 'x-big': 'a'.repeat(64 * 1024) },
        });
        assert.equal(res.status, 431);
        const body = await send(tls.url, '/-/reload', {
          ca: certs.ca.cert,
          method: 'POST',
          body: 'x'.repeat(2000),
        });
        assert.equal(body.status, 413);

        const silent = connect(tls.address.port, '127.0.0.1');
        silent.on('error', () => {});
        silent.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, no more
        await new Promise((resolve) => silent.once('close', resolve));
      } finally {
        await tls.close();
      }
    });
  });

  describe('no open proxy', () => {
    const KNOWN_ROUTES = ['/metrics', '/', '/-/healthy', '/-/ready', '/-/reload'];
    let server: ServerHandle;
    let app: Express;
    let bait: TcpServer;
    let baitPort: number;
    let baitConnections = 0;

    before(async () => {
      // A listener a request could try to make the exporter reach.
      bait = createTcpServer((socket) => {
        baitConnections += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => bait.listen(0, '127.0.0.1', resolve));
      baitPort = (bait.address() as import('node:net').AddressInfo).port;

      const store = newStore();
      const target = catalogTarget();
      store.setTargets([target]);
      store.record(target, { state: 'open', durationSeconds: 0.001 }, 1_700_000_000_000);
      const metrics = createMetrics({ version: '0.0.1', store, processMetrics: false });
      app = createApp({ metrics, readiness: () => true, version: '0.0.1', reload: async () => {} });
      server = await startServer(app, { host: '127.0.0.1', port: 0 });
    });
    after(async () => {
      await server.close();
      await new Promise((resolve) => bait.close(resolve));
    });

    it('has only the known routes', () => {
      const stack = (app as unknown as { router: { stack: { route?: { path: string } }[] } }).router
        .stack;
      const paths = stack.flatMap((layer) => (layer.route ? [layer.route.path] : []));
      assert.deepEqual(paths.sort(), [...KNOWN_ROUTES].sort());
    });

    it('answers 404 where other exporters take a target', async () => {
      for (const path of ['/probe', '/scrape', '/metrics/probe', '/api/v1/probe', '/-/quit']) {
        const res = await send(
          server.url,
          `${path}?target=127.0.0.1:${baitPort}&module=tcp_connect`,
        );
        assert.equal(res.status, 404, path);
      }
      assert.equal(baitConnections, 0);
    });

    it('ignores target, module, address and port parameters on every route', async () => {
      const query = new URLSearchParams({
        target: `127.0.0.1:${baitPort}`,
        module: 'tcp_connect',
        address: '127.0.0.1',
        port: String(baitPort),
        host: '127.0.0.1',
        url: `http://127.0.0.1:${baitPort}/`,
      }).toString();
      const families = (text: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith('# TYPE '))
          .sort();
      for (const path of KNOWN_ROUTES) {
        const method = path === '/-/reload' ? 'POST' : 'GET';
        const plain = await send(server.url, path, { method });
        const baited = await send(server.url, `${path}?${query}`, { method });
        assert.equal(baited.status, plain.status, path);
        assert.equal(baited.headers['content-type'], plain.headers['content-type'], path);
        if (path === '/metrics') {
          assert.ok(families(plain.body).length > 0);
          assert.deepEqual(families(baited.body), families(plain.body));
          assert.doesNotMatch(baited.body, new RegExp(String(baitPort)));
        } else {
          assert.equal(baited.body, plain.body, path);
        }
      }
      // Every response is complete; a probe made on a request's behalf would have connected by now.
      assert.equal(baitConnections, 0);
    });
  });
});
