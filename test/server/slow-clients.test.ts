/**
 * Clients that never read, on real sockets: the memory they can pin is bounded by
 * design. A render's plain body goes back once it is compressed, so such clients hold
 * gzips, and those stay at the cap however many clients come one after another; each
 * connection holds about one chunk of user-space buffer, not a copy, with gzip or
 * without; and a response not sent by the write deadline is cut, and logged.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createApp, type ServerHandle, startServer } from '../../src/server/app.js';
import {
  type LentBody,
  type SendOptions,
  type SendOutcome,
  sendInflated,
  sendShared,
} from '../../src/server/shared-render.js';
import { createLogger } from '../../src/util/log.js';
import { until } from '../helpers/wait.js';

/** 8 MB of text: far more than a loopback socket buffers, so a client that never reads stalls it. */
const BODY = Buffer.from('imanager_port_up{node="n"} 1\n'.repeat(300_000));

/** Renders counted: made, and released. `alive` is what pins memory. */
function countingRenderer() {
  const state = { renders: 0, released: 0, maxAlive: 0 };
  const renderLent = async (): Promise<LentBody> => {
    state.renders++;
    state.maxAlive = Math.max(state.maxAlive, state.renders - state.released);
    // A body of its own per render, as the collector's arenas are.
    const body = Buffer.from(BODY);
    return { body, release: () => void state.released++ };
  };
  return { state, renderLent };
}

/**
 * Sends a GET, and resolves once the answer starts (the server has taken it up) with a
 * socket that reads no more: the rest stays in the kernel's buffers, then ours.
 */
function stalledScrape(port: number, gzip = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `GET /metrics HTTP/1.1\r\nHost: x\r\n${gzip ? 'Accept-Encoding: gzip\r\n' : ''}\r\n`,
      );
    });
    socket.once('data', () => {
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** Waits (bounded: 500 pauses) until `done`, checking every 20 ms. */
function waitFor(done: () => boolean, what: string): Promise<void> {
  return until(done, { what, intervalMs: 20, attempts: 501 });
}

describe('clients that never read', () => {
  const { state, renderLent } = countingRenderer();
  let server: ServerHandle;
  const sockets: Socket[] = [];

  before(async () => {
    const app = createApp({
      version: 'test',
      readiness: () => true,
      metrics: {
        contentType: 'text/plain',
        render: async () => Buffer.from(BODY),
        renderLent,
      },
      writeDeadlineMs: 60_000,
    });
    server = await startServer(app, { host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await server?.close();
  });

  it('30 of them, one after another, hold no plain body', async () => {
    for (let i = 0; i < 30; i++) {
      sockets.push(await stalledScrape(server.address.port, i % 2 === 1));
    }
    // Those the kernel could not take whole are held by their gzip, at most 2 renders'.
    assert.ok(state.renders < 30, `${state.renders} renders for 30 stalled scrapes`);
    // Every body went back once compressed, while its 30 readers are still stalled.
    await waitFor(() => state.released === state.renders, 'bodies let go while clients stall');
    assert.equal(state.maxAlive, 1, 'one plain body at a time, ever');
  });
});

describe('clients that never read, at a size where one body fills the budget', () => {
  /** An exporter whose budget holds one body, as 64 MiB holds one at 100,000 targets. */
  async function oneBodyBudget(maxShareAgeMs: number) {
    const { state, renderLent } = countingRenderer();
    // Room for one gzip of BODY, not two.
    const oneGzip = Math.ceil(gzipSync(BODY, { level: 1 }).length * 1.5);
    const app = createApp({
      version: 'test',
      readiness: () => true,
      metrics: { contentType: 'text/plain', render: async () => Buffer.from(BODY), renderLent },
      writeDeadlineMs: 60_000,
      sharing: { maxLiveBytes: oneGzip, maxShareAgeMs },
    });
    return { state, server: await startServer(app, { host: '127.0.0.1', port: 0 }) };
  }

  it('30 of them pin one render, which a 31st that reads shares', async () => {
    const { state, server } = await oneBodyBudget(60_000);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        sockets.push(await stalledScrape(server.address.port, i % 2 === 1));
      }
      // Each is taken up by the shared render; a 31st that reads gets it too.
      const body = await readScrape(server.address.port);
      assert.equal(state.renders, 1, 'one render for 31 scrapes');
      assert.equal(state.maxAlive, 1);
      assert.ok(body.equals(BODY), 'the reader without gzip got the body, inflated');
    } finally {
      for (const s of sockets) s.destroy();
      await server.close();
    }
  });

  it('cuts the readers of a render past the share age, then renders afresh', async () => {
    const { state, server } = await oneBodyBudget(200);
    const stalled = await stalledScrape(server.address.port);
    stalled.on('error', () => undefined);
    try {
      await waitFor(() => state.renders === 1, 'the stalled scrape was not served');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const body = await readScrape(server.address.port);
      assert.equal(body.length, BODY.length, 'the fresh scrape got a whole body');
      assert.equal(state.renders, 2, 'a fresh render, not the stale one');
      assert.equal(state.maxAlive, 1, 'one plain body at a time');
      const closed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      stalled.resume();
      await closed;
      assert.ok(
        stalled.bytesRead < BODY.length,
        `${stalled.bytesRead} bytes: the stalled one was cut`,
      );
    } finally {
      stalled.destroy();
      await server.close();
    }
  });
});

/** GETs /metrics and reads the whole answer; resolves with its body. */
function readScrape(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      resolve(all.subarray(all.indexOf('\r\n\r\n') + 4));
    });
    socket.on('error', reject);
  });
}

describe('the write deadline', () => {
  it('cuts a response that is not sent in time, and says so in the log', async () => {
    const { state, renderLent } = countingRenderer();
    const lines: string[] = [];
    const app = createApp({
      version: 'test',
      readiness: () => true,
      metrics: { contentType: 'text/plain', render: async () => Buffer.from(BODY), renderLent },
      writeDeadlineMs: 300,
      logger: createLogger({ write: (line) => void lines.push(line) }),
    });
    const server = await startServer(app, { host: '127.0.0.1', port: 0 });
    try {
      const socket = await stalledScrape(server.address.port);
      socket.on('error', () => undefined);
      await waitFor(() => lines.some((l) => l.includes('write deadline')), 'the cut was logged');
      const logged = JSON.parse(lines.find((l) => l.includes('write deadline')) ?? '{}');
      assert.equal(logged.level, 'warn');
      assert.equal(logged.writeDeadlineMs, 300);
      // Then what the client gets, once it reads, stops short of the body.
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.resume();
      await closed;
      assert.ok(socket.bytesRead < BODY.length, `${socket.bytesRead} bytes: the response was cut`);
      assert.equal(state.renders, 1);
    } finally {
      await server.close();
    }
  });
});

/** The two ways a response leaves the shared gzip: as it is, and inflated. */
const ZIPPED = gzipSync(BODY, { level: 1 });
const SENDERS = [
  {
    name: 'sendShared',
    send: (res: ServerResponse, options: SendOptions) => sendShared(res, BODY, options),
  },
  {
    name: 'sendInflated',
    send: (res: ServerResponse, options: SendOptions) => sendInflated(res, ZIPPED, options),
  },
];

for (const { name, send } of SENDERS) {
  describe(name, () => {
    let server: ReturnType<typeof createServer>;
    let port = 0;
    let response: ServerResponse | undefined;
    let outcome: Promise<SendOutcome> | undefined;
    let writeDeadlineMs = 60_000;

    before(async () => {
      server = createServer((_req, res) => {
        response = res;
        res.setHeader('Content-Length', BODY.length);
        outcome = send(res, { writeDeadlineMs, chunkBytes: 64 * 1024 });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.address() as { port: number }).port;
    });

    after(() => {
      server.closeAllConnections();
      server.close();
    });

    it('holds about a chunk per stalled connection in user space, not the body', async () => {
      const socket = await stalledScrape(port);
      try {
        // The kernel's buffers fill first; then Node's own queue starts to hold bytes.
        await waitFor(() => (response?.socket?.writableLength ?? 0) > 0, 'the socket backed up');
        // Give the writer every chance to run ahead, were it not held back.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const queued = (response?.socket?.writableLength ?? 0) + (response?.writableLength ?? 0);
        assert.ok(queued <= 4 * 64 * 1024, `${queued} bytes queued in user space`);
        assert.ok(queued < BODY.length / 10);
      } finally {
        socket.destroy();
      }
      assert.equal(await outcome, 'closed');
    });

    it('sends every byte of the body to a client that reads', async () => {
      const body = await readScrape(port);
      assert.ok(body.equals(BODY), `${body.length} bytes of ${BODY.length}, equal to the body`);
      assert.equal(await outcome, 'sent');
    });

    it('cuts a client that reads too slowly at the deadline', async () => {
      writeDeadlineMs = 200;
      outcome = undefined;
      const socket = await stalledScrape(port);
      socket.on('error', () => undefined);
      try {
        assert.equal(await outcome, 'deadline');
      } finally {
        socket.destroy();
        writeDeadlineMs = 60_000;
      }
    });
  });
}
