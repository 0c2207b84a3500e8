import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Metrics } from '../metrics/collector.js';
import { type Logger, silentLogger } from '../util/log.js';
import { createProtectedServer, type HttpLimits, type WebConfigEvent } from './security.js';
import {
  createSharedRender,
  type SendOutcome,
  type SharedRenderOptions,
  sendInflated,
  sendShared,
} from './shared-render.js';
import { createStatusPage, STATUS_PAGE_HEADERS, type StatusSource } from './status-page.js';

// Level 1: half the CPU of the default level for 15% more bytes, on a core the probes share.
const GZIP_LEVEL = 1;

/**
 * A /metrics response must be sent within this: three times Prometheus's default scrape
 * timeout, so a slow link still gets a 15 MB body, and a client that stopped reading
 * lets go of its render.
 */
export const DEFAULT_WRITE_DEADLINE_MS = 30_000;

export interface AppOptions {
  /** Renders /metrics at each scrape; into a lent buffer when it has renderLent. */
  readonly metrics: Pick<Metrics, 'render' | 'contentType'> & Partial<Pick<Metrics, 'renderLent'>>;
  /** /-/ready answers 200 once this is true, 503 before (e.g. before the first cycle). */
  readonly readiness: () => boolean;
  /** Shown on the status page. */
  readonly version: string;
  /** What the status page at / shows; absent, it shows an exporter with no targets. */
  readonly status?: StatusSource;
  /** Where a failed request is reported. Default: silent. */
  readonly logger?: Logger;
  /**
   * Reloads the configuration; rejects with the reason when the new one is refused.
   * When given, POST /-/reload calls it; when absent, /-/reload does not exist.
   */
  readonly reload?: () => Promise<void>;
  /** A /metrics response not sent within this is cut. Default DEFAULT_WRITE_DEADLINE_MS. */
  readonly writeDeadlineMs?: number;
  /** How far scrapes share held renders; the defaults are shared-render.ts's. */
  readonly sharing?: Pick<SharedRenderOptions, 'maxLiveBytes' | 'maxShareAgeMs'>;
}

type Handler = (req: Request, res: Response) => void | Promise<void>;

/** The HTTP app: /metrics, /, /-/healthy, /-/ready and, when enabled, /-/reload. */
export function createApp(options: AppOptions): Express {
  const logger = options.logger ?? silentLogger;
  const app = express();
  app.disable('x-powered-by');
  // Express would hash every response body for an ETag: megabytes per scrape for nothing.
  app.set('etag', false);

  const { metrics } = options;
  const writeDeadlineMs = options.writeDeadlineMs ?? DEFAULT_WRITE_DEADLINE_MS;
  const shared = createSharedRender(
    metrics.renderLent
      ? () => (metrics.renderLent as NonNullable<typeof metrics.renderLent>)()
      : async () => ({ body: await metrics.render(), release: () => {} }),
    { gzipLevel: GZIP_LEVEL, ...options.sharing },
  );
  route(app, '/metrics', {
    GET: async (req, res) => {
      const scrape = await shared();
      try {
        res.set('Content-Type', metrics.contentType);
        res.set('Vary', 'Accept-Encoding');
        const send = { writeDeadlineMs, signal: scrape.signal };
        // Written from the render's one gzip, with backpressure, cut at the deadline:
        // see shared-render.ts. A client without gzip has it inflated as it reads.
        let outcome: SendOutcome;
        if (acceptsGzip(req)) {
          res.set('Content-Encoding', 'gzip');
          res.set('Content-Length', String(scrape.gzipped.length));
          outcome = await sendShared(res, scrape.gzipped, send);
        } else {
          res.set('Content-Length', String(scrape.plainBytes));
          outcome = await sendInflated(res, scrape.gzipped, send);
        }
        // A cut scrape is the client's doing, but its operator sees only a failed scrape.
        if (outcome === 'deadline' || outcome === 'aborted') {
          logger.warn('/metrics response cut: the client was not reading', {
            remote: req.socket.remoteAddress,
            reason: outcome === 'deadline' ? 'write deadline' : 'render past its share age',
            writeDeadlineMs,
          });
        }
      } finally {
        scrape.done();
      }
    },
  });

  const statusPage = createStatusPage({
    version: options.version,
    ...(options.status && { source: options.status }),
  });
  route(app, '/', {
    GET: async (req, res) => {
      const page = await statusPage(req.query);
      res.status(page.status).set(STATUS_PAGE_HEADERS).type('html').send(page.body);
    },
  });

  route(app, '/-/healthy', { GET: (_req, res) => void res.type('text').send('OK\n') });

  route(app, '/-/ready', {
    GET: (_req, res) => {
      if (options.readiness()) res.type('text').send('OK\n');
      else res.status(503).type('text').send('Not ready\n');
    },
  });

  const { reload } = options;
  if (reload) {
    route(app, '/-/reload', {
      POST: async (_req, res) => {
        try {
          await reload();
          res.type('text').send('OK\n');
        } catch (err) {
          res
            .status(500)
            .type('text')
            .send(`Reload failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      },
    });
  }

  app.use((_req: Request, res: Response) => {
    res.status(404).type('text').send('Not Found\n');
  });

  // Express's default handler answers with an HTML stack trace; keep internals in the log.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error('request failed', { method: req.method, path: req.path, err });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(500).type('text').send('Internal Server Error\n');
  });

  return app;
}

/** One path, its methods; HEAD wherever GET is, 405 with Allow for the rest. */
function route(app: Express, path: string, handlers: Partial<Record<'GET' | 'POST', Handler>>) {
  const methods = Object.keys(handlers) as ('GET' | 'POST')[];
  const allow = (handlers.GET ? [...methods, 'HEAD'] : methods).join(', ');
  app.all(path, async (req: Request, res: Response) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const handler = handlers[method as 'GET' | 'POST'];
    if (!handler) {
      res.status(405).set('Allow', allow).type('text').send('Method Not Allowed\n');
      return;
    }
    await handler(req, res);
  });
}

/** True when the client asked for gzip and did not refuse it; no header means no gzip. */
function acceptsGzip(req: Request): boolean {
  if (req.get('accept-encoding') === undefined) return false;
  return req.acceptsEncodings('gzip', 'identity') === 'gzip';
}

export interface ListenOptions {
  /** Address to bind; `::` or `0.0.0.0` for all, `127.0.0.1` for loopback only. */
  /** Absent: every interface, IPv6 and IPv4 where the kernel has both (Node's own choice). */
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /**
   * `--web.config.file`: TLS, client certificates, basic auth, response headers, in the
   * exporter-toolkit's format; re-read when it or its PEM files change. Absent: plain HTTP.
   */
  readonly webConfigFile?: string;
  /** Request limits; what is left out takes DEFAULT_HTTP_LIMITS. */
  readonly limits?: Partial<HttpLimits>;
  /** Where web config reloads are reported. Default: silent. */
  readonly logger?: Logger;
  /** Every load and re-read of the web config, good or refused. */
  readonly onWebConfig?: (event: WebConfigEvent) => void;
}

export interface ServerHandle {
  /** Where the server actually listens (the real port when 0 was asked). */
  readonly address: AddressInfo;
  /** `http://host:port` (`https://` with TLS), IPv6 hosts in brackets. */
  readonly url: string;
  /** Re-reads the web config if its files changed (SIGHUP). */
  refreshWebConfig(): void;
  /** Requests received and not yet answered. */
  requestsInFlight(): number;
  /** Stops listening and drops every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

export class ServerError extends Error {
  readonly code = 'SERVER_LISTEN_FAILED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ServerError';
  }
}

/**
 * Listens with `app` and resolves once bound; rejects with a ServerError (cause: the
 * errno error), or a ConfigError for a web config that cannot serve.
 */
export async function startServer(
  app: RequestListener,
  options: ListenOptions,
): Promise<ServerHandle> {
  const { server, tls, refreshWebConfig, requestsInFlight } = createProtectedServer(app, {
    ...(options.webConfigFile !== undefined && { webConfigFile: options.webConfigFile }),
    ...(options.onWebConfig && { onWebConfig: options.onWebConfig }),
    ...(options.limits && { limits: options.limits }),
    ...(options.logger && { logger: options.logger }),
  });
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new ServerError(
          `cannot listen on ${options.host ?? '*'}:${options.port}: ${err.code ?? err.message}`,
          {
            cause: err,
          },
        ),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      let closing: Promise<void> | undefined;
      resolve({
        address,
        url: `${tls ? 'https' : 'http'}://${host}:${address.port}`,
        refreshWebConfig,
        requestsInFlight,
        close: () => {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
