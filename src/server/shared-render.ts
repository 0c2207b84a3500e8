/**
 * One /metrics render serves every scrape that arrives while it is being made, and one
 * gzip of it serves every scrape that asks for gzip. Without this, 50 scrapers at once
 * render 50 copies of a 15 MB body, interleaved on the one event loop that also times
 * the probes; with it, a burst of scrapes costs about one render.
 */
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
}

interface Render {
  readonly lent: LentBody;
  readers: number;
  finished: boolean;
  gzip?: Promise<Buffer>;
}

export function createSharedRender(
  render: () => Promise<LentBody>,
  options: SharedRenderOptions,
): () => Promise<SharedBody> {
  let pending: Promise<Render> | undefined;

  const release = (r: Render) => {
    if (r.finished && r.readers === 0) r.lent.release();
  };

  return async () => {
    if (!pending) {
      const started = render().then((lent): Render => ({ lent, readers: 0, finished: false }));
      pending = started;
      // A scrape that arrives after this render is done gets a fresh one: never stale
      // by more than one render.
      const clear = () => {
        if (pending === started) pending = undefined;
      };
      started.then(clear, clear);
      started.then(
        (r) => {
          // Every scrape waiting on it has counted itself in by now: their
          // continuations ran before this one, which was queued last.
          queueMicrotask(() => {
            r.finished = true;
            release(r);
          });
        },
        () => undefined,
      );
    }
    const r = await pending;
    r.readers++;
    let done = false;
    return {
      body: r.lent.body,
      gzipped() {
        r.gzip ??= gzipAsync(r.lent.body, { level: options.gzipLevel });
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
