/**
 * The render thread: one worker per process that writes the per-target families of
 * each /metrics render, so that 100,000 rows (80 MB of text) cost the event loop a
 * message, not hundreds of milliseconds of slices between the probes' callbacks.
 *
 * A render shares its inputs with the thread (the store's label columns and the
 * scrape's copy of the values are SharedArrayBuffers): the loop copies the values
 * (17 bytes a row), posts views, and is free until the thread answers. The output is
 * the thread's (render-output.ts): it comes over by transfer with the answer, and goes
 * back by transfer once every scrape has sent it, its pages returned to the kernel.
 * Should the thread fail, the failure is logged once and the caller renders in the
 * loop, in slices, as it did before the thread existed.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import { startModuleWorker } from '../util/worker.js';
import type { ResizableArrayBuffer } from './render-output.js';
import type { LabelColumns, TargetValues } from './target-families.js';

export interface RenderRequest {
  readonly kind: 'render';
  readonly id: number;
  /** The output's length: what the families can take, and room the caller writes after. */
  readonly capacity: number;
  readonly labels: LabelColumns;
  readonly values: TargetValues;
}

/** An output no scrape reads any more, back to the thread that made it. */
export interface GiveBack {
  readonly kind: 'give-back';
  readonly out: ResizableArrayBuffer;
}

export type ToRenderWorker = RenderRequest | GiveBack;

export type RenderReply =
  | { readonly id: number; readonly bytes: number; readonly out: ResizableArrayBuffer }
  | { readonly id: number; readonly error: string };

/** A render on the thread: `capacity` bytes of output, the first `bytes` of them written. */
export interface ThreadOutput {
  readonly out: Buffer;
  readonly bytes: number;
}

/** Thrown (as a rejection) when the thread is not there; the caller renders in the loop. */
export class RenderThreadError extends Error {
  override readonly name = 'RenderThreadError';
}

interface Waiting {
  resolve(output: ThreadOutput): void;
  reject(err: Error): void;
}

/** A render writes a few bytes per label byte; a small young generation is enough. */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

export class RenderThread {
  readonly #startWorker: () => Worker;
  #worker: Worker | undefined;
  #written = 0;
  #nextId = 0;
  readonly #waiting = new Map<number, Waiting>();
  /** Why the thread is gone for good, once it has failed. */
  #failed: string | undefined;
  #logger: Logger | undefined;

  /** `startWorker` is for tests, to stand in a thread that fails. */
  constructor(startWorker?: () => Worker) {
    this.#startWorker =
      startWorker ??
      (() =>
        startModuleWorker(import.meta.url, 'render-worker', { resourceLimits: WORKER_LIMITS }));
  }

  /** Renders the thread has written since the process started. */
  get written(): number {
    return this.#written;
  }

  /** Where the one line about a failed thread goes; the latest caller's logger wins. */
  useLogger(logger: Logger): void {
    this.#logger = logger;
  }

  /** False once the thread has failed: renders then run in the loop. */
  get usable(): boolean {
    return this.#failed === undefined;
  }

  /**
   * Writes the per-target families into an output of `capacity` bytes that the thread
   * provides; the caller owns it, and hands it back with giveBack() when it may go.
   */
  render(capacity: number, labels: LabelColumns, values: TargetValues): Promise<ThreadOutput> {
    if (this.#failed !== undefined) return Promise.reject(new RenderThreadError(this.#failed));
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    // Only the views: a table carries its targets too, which a message would copy.
    const request: RenderRequest = {
      kind: 'render',
      id,
      capacity,
      labels: {
        size: labels.size,
        labelBytes: labels.labelBytes,
        labelStart: labels.labelStart,
        identifyingEnd: labels.identifyingEnd,
      },
      values: {
        state: values.state,
        durationSeconds: values.durationSeconds,
        lastChangeMs: values.lastChangeMs,
      },
    };
    return new Promise<ThreadOutput>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      if (this.#waiting.size === 1) worker.ref();
      worker.postMessage(request);
    });
  }

  /**
   * `out` (from render()) is read no more: it goes back to the thread, which returns
   * its pages to the kernel. Every view of it is empty from here on. A thread that is
   * gone leaves it to the garbage collector.
   */
  giveBack(out: Buffer): void {
    const worker = this.#worker;
    const memory = out.buffer as ResizableArrayBuffer;
    if (!worker || !memory.resizable || memory.maxByteLength === 0) return;
    const message: GiveBack = { kind: 'give-back', out: memory };
    worker.postMessage(message, [memory]);
  }

  /** Stops the thread; a later render starts a new one. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  #start(): Worker {
    const worker = this.#startWorker();
    // Idle, the thread must not keep the process alive; a render in flight does.
    worker.unref();
    worker.on('message', (reply: RenderReply) => {
      const waiting = this.#waiting.get(reply.id);
      if (!waiting) return;
      this.#waiting.delete(reply.id);
      if (this.#waiting.size === 0) worker.unref();
      if ('error' in reply) waiting.reject(new Error(reply.error));
      else {
        this.#written++;
        waiting.resolve({ out: Buffer.from(reply.out), bytes: reply.bytes });
      }
    });
    worker.on('error', (err) => this.#fail(worker, err.message));
    worker.on('exit', (code) => {
      // terminate() from stop() is not a failure; anything else with renders owed is.
      if (this.#worker === worker) this.#fail(worker, `exited with code ${code}`);
    });
    this.#worker = worker;
    return worker;
  }

  #fail(worker: Worker, why: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#failed = why;
    this.#logger?.warn(
      'the /metrics render thread failed; rendering in the event loop from now on',
      {
        why,
      },
    );
    const err = new RenderThreadError(why);
    for (const waiting of this.#waiting.values()) waiting.reject(err);
    this.#waiting.clear();
    void worker.terminate();
  }
}

/** The process's render thread: renders are one at a time anyway, and a thread costs MBs. */
export const renderThread = new RenderThread();
