import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createMetrics } from '../../src/metrics/collector.js';
import { createApp, type ServerHandle, startServer } from '../../src/server/app.js';
import { createLogger } from '../../src/util/log.js';
import { newStore } from '../helpers/store.js';
import { catalogTarget } from '../results/targets.js';

const METRICS_TEXT = '# HELP x_total A test.\n# TYPE x_total counter\nx_total 1\n'.repeat(50);
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One raw HTTP exchange: no automatic decompression, so gzip is checked as sent. */
function send(
  base: string,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    agent?: Agent;
    signal?: AbortSignal;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent,
        ...(options.signal && { signal: options.signal }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP server', () => {
  let server: ServerHandle;
  let ready = false;
  let failRender = false;
  let reloadError: Error | undefined;
  const logLines: string[] = [];

  before(async () => {
    const app = createApp({
      version: '9.8.7<b>',
      readiness: () => ready,
      logger: createLogger({ write: (line) => logLines.push(line) }),
      metrics: {
        contentType: CONTENT_TYPE,
        render: async () => {
          if (failRender) throw new Error('render exploded at /secret/path');
          return Buffer.from(METRICS_TEXT);
        },
      },
      reload: async () => {
        if (reloadError) throw reloadError;
      },
    });
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  it('listens where it says', () => {
    assert.equal(server.address.address, '127.0.0.1');
    assert.ok(server.address.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.address.port}`);
  });

  it('serves /metrics as text format 0.0.4, without gzip when not asked', async () => {
    const res = await send(server.url, '/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], CONTENT_TYPE);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, 'Accept-Encoding');
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers.etag, undefined);
    assert.equal(res.body.toString(), METRICS_TEXT);
  });

  it('gzips /metrics when the client accepts it, and it decodes to the same text', async () => {
    const res = await send(server.url, '/metrics', {
      headers: { 'accept-encoding': 'gzip, deflate' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['content-type'], CONTENT_TYPE);
    assert.equal(Number(res.headers['content-length']), res.body.length);
    assert.ok(res.body.length < METRICS_TEXT.length);
    assert.equal(gunzipSync(res.body).toString(), METRICS_TEXT);
  });

  it('does not gzip when the client refuses it', async () => {
    for (const header of ['identity', 'gzip;q=0', 'br']) {
      const res = await send(server.url, '/metrics', { headers: { 'accept-encoding': header } });
      assert.equal(res.headers['content-encoding'], undefined, header);
      assert.equal(res.body.toString(), METRICS_TEXT, header);
    }
  });

  it('answers HEAD wherever it answers GET, with headers and no body', async () => {
    for (const path of ['/metrics', '/', '/-/healthy', '/-/ready']) {
      const get = await send(server.url, path);
      const head = await send(server.url, path, { method: 'HEAD' });
      assert.equal(head.status, get.status, path);
      assert.equal(head.headers['content-type'], get.headers['content-type'], path);
      assert.equal(head.body.length, 0, path);
    }
  });

  it('shows a landing page that names the exporter and version and links /metrics', async () => {
    const res = await send(server.url, '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    const html = res.body.toString();
    assert.match(html, /iManager port exporter/);
    assert.match(html, /9\.8\.7&lt;b&gt;/);
    assert.match(html, /href="metrics"/);
  });

  it('is healthy as soon as it serves', async () => {
    const res = await send(server.url, '/-/healthy');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'OK\n');
    assert.match(String(res.headers['content-type']), /^text\/plain/);
  });

  it('is ready only once readiness() says so', async () => {
    ready = false;
    assert.equal((await send(server.url, '/-/ready')).status, 503);
    ready = true;
    const res = await send(server.url, '/-/ready');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'OK\n');
  });

  it('answers 405 with Allow for other methods on known paths', async () => {
    for (const [method, path, allow] of [
      ['POST', '/metrics', 'GET, HEAD'],
      ['PUT', '/', 'GET, HEAD'],
      ['DELETE', '/-/ready', 'GET, HEAD'],
      ['POST', '/-/healthy', 'GET, HEAD'],
      ['GET', '/-/reload', 'POST'],
    ] as const) {
      const res = await send(server.url, path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.allow, allow, `${method} ${path}`);
    }
  });

  it('answers 404 for unknown paths', async () => {
    for (const path of ['/nope', '/metrics/extra', '/-/', '/favicon.ico']) {
      const res = await send(server.url, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.toString(), 'Not Found\n');
    }
  });

  it('reloads on POST /-/reload and says why a reload was refused', async () => {
    reloadError = undefined;
    assert.equal((await send(server.url, '/-/reload', { method: 'POST' })).status, 200);
    reloadError = new Error('targets[3].port: expected an integer 1-65535, got "80a"');
    const res = await send(server.url, '/-/reload', { method: 'POST' });
    assert.equal(res.status, 500);
    assert.equal(
      res.body.toString(),
      'Reload failed: targets[3].port: expected an integer 1-65535, got "80a"\n',
    );
    reloadError = undefined;
  });

  it('answers 500 without internals when rendering fails, and logs it', async () => {
    failRender = true;
    try {
      const res = await send(server.url, '/metrics');
      assert.equal(res.status, 500);
      assert.equal(res.body.toString(), 'Internal Server Error\n');
    } finally {
      failRender = false;
    }
    const logged = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed');
    assert.equal(logged?.path, '/metrics');
    assert.equal(logged?.err?.message, 'render exploded at /secret/path');
  });
});

describe('createApp with the real metrics', () => {
  it('serves the exporter families; without a reload function /-/reload does not exist', async () => {
    const store = newStore();
    const t = catalogTarget();
    store.setTargets([t]);
    store.record(t, { state: 'open', durationSeconds: 0.001 }, 1_700_000_000_000);
    const metrics = createMetrics({ version: '0.0.1', store });
    const server = await startServer(
      createApp({ metrics, readiness: () => true, version: '0.0.1' }),
      {
        host: '127.0.0.1',
        port: 0,
      },
    );
    try {
      const res = await send(server.url, '/metrics', { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(res.status, 200);
      const text = gunzipSync(res.body).toString();
      assert.match(text, /^imanager_port_up\{vantage="central",node="node-1",.*\} 1$/m);
      assert.match(text, /^imanager_exporter_build_info\{version="0.0.1",/m);
      assert.match(text, /^process_cpu_seconds_total /m);
      assert.equal((await send(server.url, '/-/reload', { method: 'POST' })).status, 404);
    } finally {
      await server.close();
    }
  });
});

describe('createApp with a lending renderer', () => {
  it('gives a lent /metrics body back once gzip has read it, or once it is sent', async () => {
    let lent = 0;
    const released: (() => void)[] = [];
    const nextRelease = () => new Promise<void>((resolve) => released.push(resolve));
    const metrics = {
      contentType: CONTENT_TYPE,
      render: async () => Buffer.from(METRICS_TEXT),
      renderLent: async () => {
        lent++;
        let done = false;
        return {
          body: Buffer.from(METRICS_TEXT),
          release: () => {
            assert.equal(done, false, 'released twice');
            done = true;
            released.shift()?.();
          },
        };
      },
    };
    const server = await startServer(createApp({ metrics, readiness: () => true, version: '1' }), {
      host: '127.0.0.1',
      port: 0,
    });
    try {
      for (const headers of [{ 'accept-encoding': 'gzip' }, {}] as Record<string, string>[]) {
        const release = nextRelease();
        const res = await send(server.url, '/metrics', { headers });
        assert.equal(res.status, 200);
        const text = res.headers['content-encoding'] === 'gzip' ? gunzipSync(res.body) : res.body;
        assert.equal(text.toString(), METRICS_TEXT);
        await release;
      }
      assert.equal(lent, 2);
    } finally {
      await server.close();
    }
  });
});

/** A server whose /metrics render waits until finishRender; `started` when it began. */
async function serverWithHeldRender(): Promise<{
  server: ServerHandle;
  started: Promise<void>;
  finishRender: (body: Buffer) => void;
}> {
  let renderStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    renderStarted = resolve;
  });
  let finish: (body: Buffer) => void = () => {};
  const server = await startServer(
    createApp({
      version: '1',
      readiness: () => true,
      metrics: {
        contentType: CONTENT_TYPE,
        render: () =>
          new Promise<Buffer>((resolve) => {
            finish = resolve;
            renderStarted();
          }),
      },
    }),
    { host: '127.0.0.1', port: 0 },
  );
  return { server, started, finishRender: (body) => finish(body) };
}

describe('startServer', () => {
  it('close() ends idle keep-alive connections instead of waiting for them', {
    timeout: 10_000,
  }, async () => {
    const server = await startServer(
      createApp({
        version: '1',
        readiness: () => true,
        metrics: { contentType: CONTENT_TYPE, render: async () => Buffer.from('') },
      }),
      { host: '127.0.0.1', port: 0 },
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const res = await send(server.url, '/-/healthy', { agent });
      assert.equal(res.status, 200);
      const [socket] = Object.values(agent.freeSockets).flat();
      assert.ok(socket, 'the agent keeps the connection open');
      // The agent unrefs idle sockets; ref it so the test waits for its close.
      socket.ref();
      const socketClosed = new Promise((resolve) => socket.once('close', resolve));
      await server.close();
      await socketClosed;
      await assert.rejects(send(server.url, '/-/healthy'), { code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });

  it('close() drops a request still in flight instead of waiting for it', {
    timeout: 10_000,
  }, async () => {
    const { server, started, finishRender } = await serverWithHeldRender();
    const scrape = send(server.url, '/metrics');
    await started;
    // server.close() alone would wait for this request, which never ends; the test's
    // timeout turns such a hang into a failure.
    await server.close();
    await assert.rejects(scrape, { code: 'ECONNRESET' });
    finishRender(Buffer.from(''));
  });

  it('counts the requests in flight, until answered or their client is gone', {
    timeout: 10_000,
  }, async () => {
    const { server, finishRender } = await serverWithHeldRender();
    const inFlight = async (count: number) => {
      for (let i = 0; i < 200 && server.requestsInFlight() !== count; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return server.requestsInFlight();
    };
    try {
      assert.equal(server.requestsInFlight(), 0);
      // Two scrapes waiting on one render (concurrent scrapes share it).
      const answered = send(server.url, '/metrics');
      const abandoned = new AbortController();
      const leaving = send(server.url, '/metrics', { signal: abandoned.signal }).catch(
        () => 'gone',
      );
      assert.equal(await inFlight(2), 2);
      abandoned.abort();
      assert.equal(await leaving, 'gone');
      assert.equal(await inFlight(1), 1);
      finishRender(Buffer.from('a 1\n'));
      assert.equal((await answered).status, 200);
      assert.equal(await inFlight(0), 0);
    } finally {
      await server.close();
    }
  });

  it('close() twice is harmless', async () => {
    const server = await startServer(
      createApp({
        version: '1',
        readiness: () => true,
        metrics: { contentType: CONTENT_TYPE, render: async () => Buffer.from('') },
      }),
      { host: '127.0.0.1', port: 0 },
    );
    await server.close();
    await server.close();
  });

  it('rejects with a coded error when the port is taken', async () => {
    const app = createApp({
      version: '1',
      readiness: () => true,
      metrics: { contentType: CONTENT_TYPE, render: async () => Buffer.from('') },
    });
    const first = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      await assert.rejects(
        startServer(app, { host: '127.0.0.1', port: first.address.port }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal((err as Error & { code: string }).code, 'SERVER_LISTEN_FAILED');
          assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
          assert.match(err.message, /^cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE$/);
          return true;
        },
      );
    } finally {
      await first.close();
    }
  });
});
