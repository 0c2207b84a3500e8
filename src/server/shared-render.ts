/**
 * One /metrics render serves every scrape that arrives while it is being made, and one
 * gzip of it serves every scrape that asks for gzip. Without this, 50 scrapers at once
 * render 50 copies of a 15 MB body, interleaved on the one event loop that also times
 * the probes; with it, a burst of scrapes costs about one render.
 *
 * Memory is bounded by design, not by the clients' good will:
 * - at most `maxLiveRenders` renders are alive (held by a reader) at once; past that a
 *   scrape shares the newest instead of pinning yet another 15 MB body (8 clients that
 *   never read took 56 MB, 30 took 460 MB, when each pinned its own);
 * - every response is written from the shared body in views of `chunkBytes`, the next
 *   only once the socket has drained the last: a connection buffers one chunk in user
 *   space, never a copy of the body;
 * - a response not sent within `writeDeadlineMs` is cut, and its render let go.
 */
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
  gzipped(): Promise<Buffer>;
  done(): void;
}

export interface SharedRenderOptions {
  /** zlib level; 1 costs half the CPU of the default for about 15% more bytes. */
  readonly gzipLevel: number;
  /** Renders alive at once, at most; past it scrapes share the newest. Default 2. */
  readonly maxLiveRenders?: number;
}

interface Render {
  readonly lent: LentBody;
  readers: number;
  finished: boolean;
  gzip?: Promise<Buffer>;
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
  let pending: Promise<Render> | undefined;
  /** Finished renders that a reader still holds, oldest first. */
  const live: Render[] = [];

  const release = (r: Render) => {
    if (!r.finished || r.readers > 0) return;
    const at = live.indexOf(r);
    if (at >= 0) live.splice(at, 1);
    r.lent.release();
  };

  const startRender = (): Promise<Render> => {
    const started = render().then((lent): Render => ({ lent, readers: 0, finished: false }));
    pending = started;
    // A scrape that arrives after this render is done gets a fresh one: never stale
    // by more than one render, unless the cap on live renders is reached.
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

  return async () => {
    const newest = live.at(-1);
    const r =
      pending === undefined && live.length >= maxLive && newest
        ? newest
        : await (pending ?? startRender());
    r.readers++;
    let done = false;
    return {
      body: r.lent.body,
      gzipped() {
        r.gzip ??= gzipAsync(r.lent.body, {
          level: options.gzipLevel,
          chunkSize: GZIP_CHUNK_BYTES,
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
}

/** How a send ended: all written, the client gone, or cut at the deadline. */
export type SendOutcome = 'sent' | 'closed' | 'deadline';

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
