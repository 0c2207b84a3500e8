/**
 * One /metrics render serves every scrape that arrives while it is being made, and its
 * one gzip is what every scrape is written from. Without this, 50 scrapers at once
 * render 50 copies of a 15 MB body, interleaved on the one event loop that also times
 * the probes; with it, a burst of scrapes costs about one render.
 *
 * Memory is bounded by design, not by the clients' good will:
 * - a render is done once it is compressed, and its plain body goes back to its owner
 *   then, before any byte is sent: a client that never reads holds the gzip (3 MB at
 *   100,000 targets), never the 82 MB body. A scrape without gzip gets the body
 *   inflated from the shared gzip on its own connection, a chunk at a time;
 * - renders held by a reader are at most `maxLiveRenders` and, past the first, at most
 *   `maxLiveBytes` of gzip in all; past that a scrape shares the newest instead of
 *   pinning another (8 clients that never read took 56 MB, 30 took 460 MB, when each
 *   pinned a body of its own);
 * - every response is written in chunks of `chunkBytes`, the next only once the socket
 *   has drained the last: a connection buffers about one chunk in user space;
 * - a response not sent within `writeDeadlineMs` is cut, and its render let go.
 *
 * Sharing must not freeze the figures either: a held render older than `maxShareAgeMs`
 * serves no new scrape. Its readers are cut (a client still reading a body after
 * Prometheus's own scrape timeout has been given up on) and, once they have let go,
 * the next scrape gets a fresh render in its place.
 */
import { setMaxListeners } from 'node:events';
import type { ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** A rendered body in memory that goes back to its owner once it has been compressed. */
export interface LentBody {
  readonly body: Buffer;
  readonly release: () => void;
}

/** What a scrape holds: the render's gzip, and `done` when it has sent it. */
export interface SharedBody {
  /** The one gzip of the render, shared by every reader. */
  readonly gzipped: Buffer;
  /** Bytes of the plain body that `gzipped` inflates to: its Content-Length. */
  readonly plainBytes: number;
  /** Aborted when the render is too old to keep: stop sending and call `done`. */
  readonly signal: AbortSignal;
  done(): void;
}

export interface SharedRenderOptions {
  /** zlib level; 1 costs half the CPU of the default for about 15% more bytes. */
  readonly gzipLevel: number;
  /** Renders alive at once, at most; past it scrapes share the newest. Default 2. */
  readonly maxLiveRenders?: number;
  /**
   * Bytes of gzip that held renders may take before a scrape shares the newest rather
   * than making one more; the first render is always made. Default DEFAULT_MAX_LIVE_BYTES.
   */
  readonly maxLiveBytes?: number;
  /** A held render older than this is cut rather than shared. Default DEFAULT_MAX_SHARE_AGE_MS. */
  readonly maxShareAgeMs?: number;
  /** Milliseconds on a monotonic clock; for tests. */
  readonly now?: () => number;
}

/** Gzips: 3 MB at 100,000 targets, so the render count is what binds; a cap all the same. */
export const DEFAULT_MAX_LIVE_BYTES = 64 * 1024 * 1024;

/** Prometheus's default scrape timeout: a reader still at it by then has been given up on. */
export const DEFAULT_MAX_SHARE_AGE_MS = 10_000;

interface Render {
  readonly gzipped: Buffer;
  readonly plainBytes: number;
  readonly finishedAt: number;
  readonly abort: AbortController;
  /** Resolves once no reader holds it. */
  readonly released: Promise<void>;
  readonly onReleased: () => void;
  readers: number;
  finished: boolean;
}

/**
 * zlib's default output chunk is 16 KB, and each chunk is a round trip between its
 * thread and a busy event loop (a 92 MB body waited seconds on them); 1 MiB makes the
 * gzip of a scrape a handful of trips.
 */
const GZIP_CHUNK_BYTES = 1 << 20;

/** Renders, compresses and gives the body back; the gzip is what is kept. */
async function compressed(
  render: () => Promise<LentBody>,
  level: number,
): Promise<{ gzipped: Buffer; plainBytes: number }> {
  const lent = await render();
  try {
    const gzipped = await gzipAsync(lent.body, { level, chunkSize: GZIP_CHUNK_BYTES });
    return { gzipped, plainBytes: lent.body.length };
  } finally {
    // Only now: the gzip read the body on zlib's thread until it resolved.
    lent.release();
  }
}

export function createSharedRender(
  render: () => Promise<LentBody>,
  options: SharedRenderOptions,
): () => Promise<SharedBody> {
  const maxLive = Math.max(1, options.maxLiveRenders ?? 2);
  const maxLiveBytes = options.maxLiveBytes ?? DEFAULT_MAX_LIVE_BYTES;
  const maxAgeMs = options.maxShareAgeMs ?? DEFAULT_MAX_SHARE_AGE_MS;
  const now = options.now ?? (() => performance.now());
  let pending: Promise<Render> | undefined;
  /** Finished renders that a reader still holds, oldest first. */
  const live: Render[] = [];

  const release = (r: Render) => {
    if (!r.finished || r.readers > 0) return;
    const at = live.indexOf(r);
    if (at < 0) return;
    live.splice(at, 1);
    r.onReleased();
  };

  const liveBytes = () => live.reduce((sum, r) => sum + r.gzipped.length, 0);

  /** True when one more held render would pass a cap: share the newest instead. */
  const atCap = (newest: Render) =>
    live.length >= maxLive || liveBytes() + newest.gzipped.length > maxLiveBytes;

  const startRender = (before?: Promise<unknown>): Promise<Render> => {
    const made = () => compressed(render, options.gzipLevel);
    const started = (before ? before.then(made) : made()).then(
      ({ gzipped, plainBytes }): Render => {
        let onReleased = () => {};
        const released = new Promise<void>((resolve) => {
          onReleased = resolve;
        });
        const abort = new AbortController();
        // One listener per reader, and 50 readers are ordinary: not a leak to warn of.
        setMaxListeners(0, abort.signal);
        return {
          gzipped,
          plainBytes,
          finishedAt: now(),
          abort,
          released,
          onReleased,
          readers: 0,
          finished: false,
        };
      },
    );
    pending = started;
    // A scrape that arrives after this render is done gets a fresh one: never stale
    // by more than one render, unless a cap on held renders is reached.
    const clear = () => {
      if (pending === started) pending = undefined;
    };
    started.then(clear, clear);
    started.then(
      (r) => {
        live.push(r);
        // Every scrape waiting on it has counted itself in by now: their
        // continuations ran before this one, which was queued last.
        queueMicrotask(() => {
          r.finished = true;
          release(r);
        });
      },
      () => undefined,
    );
    return started;
  };

  /** The render a scrape arriving now gets: the one being made, the newest, or a new one. */
  const current = (): Promise<Render> => {
    if (pending) return pending;
    const newest = live.at(-1);
    if (!newest || !atCap(newest)) return startRender();
    if (now() - newest.finishedAt <= maxAgeMs) return Promise.resolve(newest);
    // Every held render is at least this old: cut their readers, render once they let go.
    const stale = live.slice();
    for (const r of stale) r.abort.abort();
    return startRender(Promise.all(stale.map((r) => r.released)));
  };

  return async () => {
    const r = await current();
    r.readers++;
    let done = false;
    return {
      gzipped: r.gzipped,
      plainBytes: r.plainBytes,
      signal: r.abort.signal,
      done() {
        if (done) return;
        done = true;
        r.readers--;
        release(r);
      },
    };
  };
}

export interface SendOptions {
  /** The whole response must be sent within this, or the connection is cut. */
  readonly writeDeadlineMs: number;
  /** Bytes handed to the socket at a time. Default 64 KiB. */
  readonly chunkBytes?: number;
  /** Aborted: the connection is cut, as at the deadline. */
  readonly signal?: AbortSignal;
}

/** How a send ended: all written, the client gone, cut at the deadline, or aborted. */
export type SendOutcome = 'sent' | 'closed' | 'deadline' | 'aborted';

/**
 * Runs `write` (which starts writing the response and returns how to stop it) until the
 * response is finished, the client is gone, the deadline passes or `options.signal`
 * aborts; the last two cut the connection. `cut` lets `write` end it early too.
 */
function guardedSend(
  res: ServerResponse,
  options: SendOptions,
  write: (cut: (outcome: SendOutcome) => void) => () => void,
): Promise<SendOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let stop = () => {};
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      res.off('close', onClose);
      res.off('finish', onFinish);
      stop();
      resolve(outcome);
    };
    const cut = (outcome: SendOutcome) => {
      res.destroy();
      finish(outcome);
    };
    const onClose = () => finish(res.writableFinished ? 'sent' : 'closed');
    const onFinish = () => finish('sent');
    const onAbort = () => cut('aborted');
    // A client that stopped reading: its socket would hold the body for ever.
    const deadline = setTimeout(() => cut('deadline'), options.writeDeadlineMs);
    deadline.unref();
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    res.once('close', onClose);
    res.once('finish', onFinish);
    stop = write(cut);
    // Ended before `write` returned (a cut of its own): stop what it started now.
    if (settled) stop();
  });
}

/**
 * Writes `body` (headers already set) in views of it, each after the socket drained
 * the last, and ends the response; cuts it at the deadline. Resolves once the body is
 * no longer needed: every byte is with the kernel, or the connection is gone.
 */
export function sendShared(
  res: ServerResponse,
  body: Buffer,
  options: SendOptions,
): Promise<SendOutcome> {
  const chunk = options.chunkBytes ?? 64 * 1024;
  return guardedSend(res, options, () => {
    let offset = 0;
    function pump() {
      while (offset < body.length) {
        const end = Math.min(body.length, offset + chunk);
        const view = body.subarray(offset, end);
        offset = end;
        if (offset >= body.length) {
          res.end(view);
          return;
        }
        if (!res.write(view)) return; // 'drain' calls pump again
      }
      res.end();
    }
    res.on('drain', pump);
    pump();
    return () => res.off('drain', pump);
  });
}

/** Bytes of plain body a client without gzip is inflated at a time. */
const INFLATE_CHUNK_BYTES = 64 * 1024;

/**
 * Writes the body that `zipped` inflates to (headers already set), a chunk at a time as
 * the socket drains, and ends the response; cuts it at the deadline. For a client
 * without gzip: its connection holds about a chunk of plain body, never the body.
 * Resolves once `zipped` is no longer read: all sent, the client gone, or cut.
 */
export function sendInflated(
  res: ServerResponse,
  zipped: Buffer,
  options: SendOptions,
): Promise<SendOutcome> {
  const chunkSize = options.chunkBytes ?? INFLATE_CHUNK_BYTES;
  return guardedSend(res, options, (cut) => {
    const source = createGunzip({ chunkSize });
    // Our own gzip cannot be corrupt; were it, the client must not get a cut body that
    // looks whole (Content-Length is already sent).
    source.once('error', () => cut('closed'));
    source.pipe(res);
    source.end(zipped);
    return () => {
      source.unpipe(res);
      source.destroy();
    };
  });
}
