/**
 * One /metrics render serves every scrape that arrives while it is being made, and one
 * gzip of it serves every scrape that asks for gzip. Without this, 50 scrapers at once
 * render 50 copies of a 15 MB body, interleaved on the one event loop that also times
 * the probes; with it, a burst of scrapes costs about one render.
 *
 * Memory is bounded by design, not by the clients' good will:
 * - renders held by a reader are at most `maxLiveRenders` and, past the first, at most
 *   `maxLiveBytes` in all; past that a scrape shares the newest instead of pinning
 *   another body (8 clients that never read took 56 MB, 30 took 460 MB, when each pinned
 *   its own; at 100,000 targets a body is 82 MB, so there a second one is never made);
 * - every response is written from the shared body in views of `chunkBytes`, the next
 *   only once the socket has drained the last: a connection buffers one chunk in user
 *   space, never a copy of the body;
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
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** A rendered body in memory that goes back to its owner once every reader is done. */
export interface LentBody {
  readonly body: Buffer;
  readonly release: () => void;
}

/** What a scrape holds: the body, its gzip on demand, and `done` when it has sent it. */
export interface SharedBody {
  readonly body: Buffer;
  /** Aborted when the render is too old to keep: stop sending and call `done`. */
  readonly signal: AbortSignal;
  gzipped(): Promise<Buffer>;
  done(): void;
}

export interface SharedRenderOptions {
  /** zlib level; 1 costs half the CPU of the default for about 15% more bytes. */
  readonly gzipLevel: number;
  /** Renders alive at once, at most; past it scrapes share the newest. Default 2. */
  readonly maxLiveRenders?: number;
  /**
   * Bytes (bodies and their gzips) that held renders may take before a scrape shares
   * the newest rather than making one more; the first render is always made.
   * Default DEFAULT_MAX_LIVE_BYTES.
   */
  readonly maxLiveBytes?: number;
  /** A held render older than this is cut rather than shared. Default DEFAULT_MAX_SHARE_AGE_MS. */
  readonly maxShareAgeMs?: number;
  /** Milliseconds on a monotonic clock; for tests. */
  readonly now?: () => number;
}

/** Two bodies at 20,000 targets (16 MB each) fit; at 100,000 (82 MB) one does. */
export const DEFAULT_MAX_LIVE_BYTES = 64 * 1024 * 1024;

/** Prometheus's default scrape timeout: a reader still at it by then has been given up on. */
export const DEFAULT_MAX_SHARE_AGE_MS = 10_000;

interface Render {
  readonly lent: LentBody;
  readonly finishedAt: number;
  readonly abort: AbortController;
  /** Resolves once the body went back to its owner. */
  readonly released: Promise<void>;
  readonly onReleased: () => void;
  readers: number;
  finished: boolean;
  gzip?: Promise<Buffer>;
  gzipBytes: number;
}

/**
 * zlib's default output chunk is 16 KB, and each chunk is a round trip between its
 * thread and a busy event loop (a 92 MB body waited seconds on them); 1 MiB makes the
 * gzip of a scrape a handful of trips.
 */
const GZIP_CHUNK_BYTES = 1 << 20;

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
    r.lent.release();
    r.onReleased();
  };

  const liveBytes = () => live.reduce((sum, r) => sum + r.lent.body.length + r.gzipBytes, 0);

  /** True when one more held render would pass a cap: share the newest instead. */
  const atCap = (newest: Render) =>
    live.length >= maxLive || liveBytes() + newest.lent.body.length > maxLiveBytes;

  const startRender = (before?: Promise<unknown>): Promise<Render> => {
    const started = (before ? before.then(render) : render()).then((lent): Render => {
      let onReleased = () => {};
      const released = new Promise<void>((resolve) => {
        onReleased = resolve;
      });
      const abort = new AbortController();
      // One listener per reader, and 50 readers are ordinary: not a leak to warn of.
      setMaxListeners(0, abort.signal);
      return {
        lent,
        finishedAt: now(),
        abort,
        released,
        onReleased,
        readers: 0,
        finished: false,
        gzipBytes: 0,
      };
    });
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
      body: r.lent.body,
      signal: r.abort.signal,
      gzipped() {
        r.gzip ??= gzipAsync(r.lent.body, {
          level: options.gzipLevel,
          chunkSize: GZIP_CHUNK_BYTES,
        }).then((zipped) => {
          r.gzipBytes = zipped.length;
          return zipped;
        });
        return r.gzip;
      },
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
  return new Promise((resolve) => {
    let offset = 0;
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      res.off('drain', pump);
      res.off('close', onClose);
      res.off('finish', onFinish);
      resolve(outcome);
    };
    const onClose = () => finish(res.writableFinished ? 'sent' : 'closed');
    const onFinish = () => finish('sent');
    const deadline = setTimeout(() => {
      // A client that stopped reading: its socket would hold the body for ever.
      res.destroy();
      finish('deadline');
    }, options.writeDeadlineMs);
    deadline.unref();
    const onAbort = () => {
      res.destroy();
      finish('aborted');
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
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
    res.once('close', onClose);
    res.once('finish', onFinish);
    pump();
  });
}
