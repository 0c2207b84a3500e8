/**
 * A probe pool's worker thread (see pool.ts): probes every request it is sent, and
 * sends the results back in batches, column by column.
 *
 * It connects on Node's TCP handle directly (handle-connect.ts) when that binding is
 * there, about half the CPU of tcpProbe; elsewhere it uses tcpProbe.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ConnectReport, connectOnHandle, tcpBinding } from './handle-connect.js';
import type { PoolWorkerData, RequestBatch, ResultBatch, WorkerHello } from './pool.js';
import { tcpProbe } from './tcp.js';
import { PROBE_STATES, type ProbeResult, type ProbeState } from './types.js';

// Every refused connect through net.Socket is an Error that Node formats a stack
// trace for when it destroys the socket; on this thread nothing ever reads one.
Error.stackTraceLimit = 0;

const STATE_INDEX: ReadonlyMap<string, number> = new Map(PROBE_STATES.map((s, i) => [s, i]));
const ERROR_INDEX = PROBE_STATES.indexOf('error');

const parent = parentPort;
if (parent === null) throw new Error('pool-worker.ts runs as a worker thread of the probe pool');

/**
 * Results wait this long for company before they are sent: at a few thousand probes a
 * second each would otherwise be a message of its own, and a message costs both
 * threads a wake-up. Connect times are measured here, so the wait adds nothing to them.
 */
const FLUSH_MS = 5;
/** A batch this big goes at the end of the loop turn, without waiting. */
const FULL_BATCH = 64;

let out: { -readonly [K in keyof ResultBatch]: ResultBatch[K] } | undefined;
let flushTimer: NodeJS.Timeout | undefined;
let flushSoon = false;

function send(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  flushSoon = false;
  const batch = out;
  out = undefined;
  if (batch) parent?.postMessage(batch);
}

function done(
  id: number,
  state: ProbeState,
  durationSeconds: number,
  error: string | undefined,
  local: boolean,
): void {
  if (out === undefined) {
    out = { ids: [], states: [], durationsSeconds: [], errors: [], locals: [] };
    flushTimer = setTimeout(send, FLUSH_MS);
  }
  out.ids.push(id);
  out.states.push(STATE_INDEX.get(state) ?? ERROR_INDEX);
  out.durationsSeconds.push(durationSeconds);
  out.errors.push(error ?? null);
  out.locals.push(local ? 1 : 0);
  if (out.ids.length >= FULL_BATCH && !flushSoon) {
    flushSoon = true;
    setImmediate(send);
  }
}

const data = workerData as PoolWorkerData | undefined;
const binding = data?.prober === 'net' ? undefined : tcpBinding();

/** Reports one probe of a batch into the outgoing batch. */
function reporter(id: number): ConnectReport {
  return (state, durationSeconds, error, local) => done(id, state, durationSeconds, error, local);
}

/**
 * How long one loop turn goes on starting connects. A probe's time runs from its
 * connect() to the callback that sees the answer, and no callback runs until the turn
 * ends: a turn that started 70 connects added the other 69 connects' cost (about 40 us
 * each) to the first one's time. A short turn keeps the time measured the network's;
 * a turn per connect would cost a loop turn a probe. At 0.5 ms, check's connect times
 * on the test bed's veths were p95 1.1-1.4 ms off a plain connect(); at 0.2 ms 0.6-0.7
 * ms, at the same probe rate (bench/connect-latency.ts, bench/probe-throughput.ts).
 */
const TURN_MS = 0.2;

/** Requests received and not yet started, oldest first. */
const waiting: RequestBatch[] = [];
let waitingAt = 0;
let draining = false;

function startSome(): void {
  const turnEnds = performance.now() + TURN_MS;
  while (waiting.length > 0 && performance.now() < turnEnds) {
    const batch = waiting[0] as RequestBatch;
    const i = waitingAt++;
    start(batch, i);
    if (waitingAt >= batch.ids.length) {
      waiting.shift();
      waitingAt = 0;
    }
  }
  if (waiting.length > 0) setImmediate(startSome);
  else draining = false;
}

function start(batch: RequestBatch, i: number): void {
  const id = batch.ids[i] as number;
  const ip = batch.ips[i] as string;
  const p = batch.ports[i] as number;
  const timeoutMs = batch.timeoutsMs[i] as number;
  if (binding) {
    connectOnHandle(binding, ip, p, timeoutMs, reporter(id), batch.lingersMs[i] ?? 0);
  } else {
    tcpProbe({ ip, port: p, timeoutMs }).then((r: ProbeResult) =>
      done(id, r.state, r.durationSeconds, r.error, r.local === true),
    );
  }
}

parent.on('message', (batch: RequestBatch) => {
  if (batch.ids.length === 0) return;
  waiting.push(batch);
  if (!draining) {
    draining = true;
    startSome();
  }
});

// Tells the pool which prober this thread runs.
parent.postMessage({ prober: binding ? 'lean' : 'net' } satisfies WorkerHello);
