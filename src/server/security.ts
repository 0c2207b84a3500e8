/**
 * The locked-down HTTP surface: TLS and client certificates, basic auth and response
 * headers from the web config, and limits on what a request may cost the exporter.
 * The web config and its PEM files are checked for changes at every new connection
 * (a few stat calls) and re-read when they change, so a renewed certificate serves
 * the next handshake without a restart, as with the exporter-toolkit.
 */
import { statSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type ServerOptions as HttpServerOptions,
  type IncomingMessage,
  type RequestListener,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { type Logger, silentLogger } from '../util/log.js';
import { type BasicAuth, createBasicAuth } from './auth.js';
import { type ClientAuthType, type LoadedWebConfig, loadWebConfig } from './web-config.js';

export interface HttpLimits {
  /** Largest request line plus headers, in bytes; a larger one gets 431. */
  readonly maxHeaderBytes: number;
  /**
   * A client must send its whole request head within this, or is dropped (slowloris);
   * with TLS, it must also finish its handshake within this.
   */
  readonly headersTimeoutMs: number;
  /** A client must send its whole request within this. */
  readonly requestTimeoutMs: number;
  /**
   * How often the two timeouts above are enforced. Node's default, 30 s, lets a slow
   * client hold its socket up to 30 s past them.
   */
  readonly timeoutCheckIntervalMs: number;
  /** Largest request body, in bytes: no endpoint reads one, so more gets 413. */
  readonly maxBodyBytes: number;
  /**
   * Open connections at most; more are dropped at once, so clients cannot take the
   * file descriptors that the probes' connects need.
   */
  readonly maxConnections: number;
  /**
   * Open connections (TLS handshakes included) from one source address at most: 300
   * connections that trickled their headers from one address once left no room for
   * any other client. The exporter sets a quarter of maxConnections.
   */
  readonly maxConnectionsPerSource: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  timeoutCheckIntervalMs: 1000,
  maxBodyBytes: 1024,
  maxConnections: 256,
  maxConnectionsPerSource: 64,
});

/** What one source may hold: its own limit, never more than all. */
export function perSourceCap(limits: HttpLimits): number {
  return Math.max(1, Math.min(limits.maxConnectionsPerSource, limits.maxConnections));
}

/** The per-source share the exporter gives a connection cap: a quarter of it, at least 1. */
export function quarterOf(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 4));
}

/** What became of a read of the web config: in force now, or refused (the old one stays). */
export type WebConfigEvent =
  | { readonly ok: true; readonly loaded: LoadedWebConfig }
  | { readonly ok: false; readonly reason: string };

export interface ProtectedServerOptions {
  /** `--web.config.file`. Absent: plain HTTP without auth, limits still apply. */
  readonly webConfigFile?: string;
  /**
   * Called with the first load, and with every re-read since: the exporter's reload
   * status and certificate expiry follow the web config through it.
   */
  readonly onWebConfig?: (event: WebConfigEvent) => void;
  /** Replaces some of DEFAULT_HTTP_LIMITS (tests use short timeouts). */
  readonly limits?: Partial<HttpLimits>;
  /** Where reloads and refused reloads are reported. Default: silent. */
  readonly logger?: Logger;
}

export interface ProtectedServer {
  /** Not yet listening. */
  readonly server: HttpServer | HttpsServer;
  /** True when the server speaks TLS. */
  readonly tls: boolean;
  /** Re-reads the web config now if its files changed (SIGHUP); else a connection does. */
  refreshWebConfig(): void;
  /** Requests received and not yet answered (or their client gone). */
  requestsInFlight(): number;
}

/**
 * An HTTP or HTTPS server that serves `app` behind the web config's protections and
 * the limits. Throws ConfigError (CONFIG_UNREADABLE, CONFIG_INVALID) for a web config
 * or PEM file that cannot serve: the exporter refuses to start rather than run open.
 */
export function createProtectedServer(
  app: RequestListener,
  options: ProtectedServerOptions = {},
): ProtectedServer {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const logger = options.logger ?? silentLogger;
  const webConfig =
    options.webConfigFile === undefined
      ? undefined
      : new WebConfigWatch(options.webConfigFile, logger, options.onWebConfig);
  const serverOptions: HttpServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
  };
  const guarded = guard(app, limits, () => webConfig?.active ?? OPEN);
  let inFlight = 0;
  const handler: RequestListener = (req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
    guarded(req, res);
  };
  const tls = webConfig?.active.loaded.tls !== undefined;

  let server: HttpServer | HttpsServer;
  if (webConfig && tls) {
    const https = createHttpsServer(
      {
        ...serverOptions,
        // Node's default is 120 s, and headersTimeout only starts after the handshake.
        handshakeTimeout: limits.headersTimeoutMs,
        ...secureOptions(webConfig.active.loaded),
      },
      handler,
    );
    https.prependListener('secureConnection', (socket: TLSSocket) => {
      const clientAuthType = webConfig.active.loaded.config.tls?.clientAuthType ?? 'NoClientCert';
      const refusal = clientCertificateRefusal(socket, clientAuthType);
      if (refusal) {
        logger.debug('TLS client refused', { remote: socket.remoteAddress, reason: refusal });
        socket.destroy();
      }
    });
    https.on('tlsClientError', (err, socket) => {
      logger.debug('TLS handshake failed', { remote: socket.remoteAddress, err });
    });
    server = https;
  } else {
    server = createHttpServer(serverOptions, handler);
  }
  server.maxConnections = limits.maxConnections;
  limitPerSource(server, perSourceCap(limits), logger);

  const refreshWebConfig = () => {
    if (!webConfig?.refresh() || !tls) return;
    (server as HttpsServer).setSecureContext(secureOptions(webConfig.active.loaded));
  };
  if (webConfig) {
    // Before the TLS listener wraps the socket, so this very handshake uses a renewed certificate.
    server.prependListener('connection', refreshWebConfig);
  }
  return { server, tls, refreshWebConfig, requestsInFlight: () => inFlight };
}

/**
 * Drops a connection past `cap` from the same address at once, before TLS or HTTP
 * spend anything on it. First among the 'connection' listeners, so it counts the
 * handshake too. One debug line per source until its count falls back under the cap.
 */
function limitPerSource(server: HttpServer | HttpsServer, cap: number, logger: Logger): void {
  const open = new Map<string, number>();
  const warned = new Set<string>();
  server.prependListener('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? '';
    const count = open.get(source) ?? 0;
    if (count >= cap) {
      if (!warned.has(source)) {
        warned.add(source);
        logger.warn('connections from one address past its limit are dropped', {
          remote: source,
          limit: cap,
        });
      }
      socket.destroy();
      return;
    }
    open.set(source, count + 1);
    socket.once('close', () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left > 0) open.set(source, left);
      else {
        open.delete(source);
        warned.delete(source);
      }
    });
  });
}

/** What a request passes through, as of the latest good web config. */
interface Active {
  readonly loaded: LoadedWebConfig;
  /** Undefined: no basic auth. */
  readonly auth?: BasicAuth;
  readonly headers: readonly (readonly [string, string])[];
}

const OPEN: Active = {
  loaded: { config: { headers: {}, basicAuthUsers: {} }, files: [] },
  headers: [],
};

function activate(loaded: LoadedWebConfig): Active {
  const users = loaded.config.basicAuthUsers;
  return {
    loaded,
    ...(Object.keys(users).length > 0 && { auth: createBasicAuth(users) }),
    headers: Object.entries(loaded.config.headers),
  };
}

/** The web config in force, and what its files looked like when it was read. */
class WebConfigWatch {
  active: Active;
  readonly #path: string;
  readonly #logger: Logger;
  readonly #onEvent: (event: WebConfigEvent) => void;
  /** The files' stat when last read (or last refused), to notice any change. */
  #seen: string;

  constructor(path: string, logger: Logger, onEvent?: (event: WebConfigEvent) => void) {
    this.#path = path;
    this.#logger = logger;
    this.#onEvent = onEvent ?? (() => {});
    const loaded = loadWebConfig(path);
    this.#seen = fingerprint(loaded.files);
    this.active = activate(loaded);
    this.#onEvent({ ok: true, loaded });
  }

  /**
   * Re-reads the files when any changed; true when a new config took effect. A file
   * that fails (a key written before its certificate, a typo) leaves the old config in
   * force and is reported once, until the files change again.
   */
  refresh(): boolean {
    const now = fingerprint(this.active.loaded.files);
    if (now === this.#seen) return false;
    this.#seen = now;
    let loaded: LoadedWebConfig;
    try {
      loaded = loadWebConfig(this.#path);
    } catch (err) {
      this.#logger.warn('web config not reloaded; the previous one stays in force', { err });
      this.#onEvent({ ok: false, reason: err instanceof Error ? err.message : String(err) });
      return false;
    }
    const restart = needsRestart(this.active.loaded, loaded);
    if (restart) {
      this.#logger.warn(
        `web config not reloaded: ${restart} takes a restart; the previous one stays in force`,
        { file: this.#path },
      );
      this.#onEvent({ ok: false, reason: `${restart} takes a restart` });
      return false;
    }
    // The stat taken before reading, when the files are the same ones: a change made
    // while they were read is then seen at the next connection.
    const sameFiles = loaded.files.join('\u0000') === this.active.loaded.files.join('\u0000');
    this.#seen = sameFiles ? now : fingerprint(loaded.files);
    this.active = activate(loaded);
    this.#logger.info('web config reloaded', { file: this.#path });
    this.#onEvent({ ok: true, loaded });
    return true;
  }
}

/**
 * What a reload cannot change on a listening server: whether it speaks TLS, and whether
 * it asks for client certificates (Node fixes both when the server is made).
 */
function needsRestart(before: LoadedWebConfig, after: LoadedWebConfig): string | undefined {
  if ((before.tls === undefined) !== (after.tls === undefined)) return 'switching TLS on or off';
  const was = before.config.tls?.clientAuthType;
  const is = after.config.tls?.clientAuthType;
  if (was !== undefined && is !== undefined) {
    const asked = secureOptions(before);
    const asks = secureOptions(after);
    if (
      asked.requestCert !== asks.requestCert ||
      asked.rejectUnauthorized !== asks.rejectUnauthorized
    ) {
      return `changing client_auth_type from ${was} to ${is}`;
    }
  }
  return undefined;
}

// Inode, size and change time: a renamed-over file (Kubernetes secret volumes) changes the inode.
function fingerprint(files: readonly string[]): string {
  return files
    .map((file) => {
      const stat = statSync(file, { bigint: true, throwIfNoEntry: false });
      return stat ? `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}` : 'missing';
    })
    .join('|');
}

type SecureOptions = SecureContextOptions & {
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
};

/** Go's ClientAuthType in Node's terms; the rest is checked in clientCertificateRefusal. */
function secureOptions(loaded: LoadedWebConfig): SecureOptions {
  const tls = loaded.config.tls;
  const material = loaded.tls;
  if (!tls || !material) throw new Error('secureOptions needs a TLS web config');
  const type = tls.clientAuthType;
  return {
    cert: material.cert,
    key: material.key,
    ...(material.clientCa !== undefined && { ca: material.clientCa }),
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    requestCert: type !== 'NoClientCert',
    rejectUnauthorized: type === 'RequireAndVerifyClientCert',
  };
}

/** Why a client's certificate does not meet the policy, or undefined when it does. */
function clientCertificateRefusal(socket: TLSSocket, type: ClientAuthType): string | undefined {
  const presented = Object.keys(socket.getPeerCertificate()).length > 0;
  switch (type) {
    case 'NoClientCert':
    case 'RequestClientCert':
      return undefined;
    case 'RequireAnyClientCert':
      return presented ? undefined : 'no client certificate';
    case 'VerifyClientCertIfGiven':
      return !presented || socket.authorized ? undefined : String(socket.authorizationError);
    case 'RequireAndVerifyClientCert':
      if (!presented) return 'no client certificate';
      return socket.authorized ? undefined : String(socket.authorizationError);
  }
}

/** Headers, the body limit and basic auth, before `app` sees the request. */
function guard(app: RequestListener, limits: HttpLimits, current: () => Active): RequestListener {
  return (req, res) => {
    const active = current();
    for (const [name, value] of active.headers) res.setHeader(name, value);
    const tooLarge = bodyTooLarge(req, limits.maxBodyBytes);
    if (tooLarge) {
      // Close rather than read a body we do not want to the end.
      res.setHeader('Connection', 'close');
      reply(res, 413, `Payload Too Large: ${tooLarge}\n`);
      return;
    }
    const { auth } = active;
    if (!auth) {
      app(req, res);
      return;
    }
    // A client that leaves while its check waits is dropped from the queue unrun.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const source = req.socket.remoteAddress ?? '';
    auth.admit(req.headers.authorization, { source, signal: gone.signal }).then(
      (outcome) => {
        switch (outcome) {
          case 'ok':
            app(req, res);
            return;
          case 'gone':
            return;
          case 'throttled':
            res.setHeader('Retry-After', '60');
            res.setHeader('Connection', 'close');
            reply(res, 429, 'Too Many Requests: too many failed logins from this address\n');
            return;
          case 'denied':
            res.setHeader('WWW-Authenticate', 'Basic');
            reply(res, 401, 'Unauthorized\n');
        }
      },
      () => reply(res, 500, 'Internal Server Error\n'),
    );
  };
}

function bodyTooLarge(req: IncomingMessage, max: number): string | undefined {
  if (req.headers['transfer-encoding'] !== undefined) return 'chunked bodies are not accepted';
  const length = Number(req.headers['content-length'] ?? 0);
  return length > max ? `at most ${max} bytes` : undefined;
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
