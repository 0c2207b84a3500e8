/**
 * A probe pool's worker thread (see pool.ts): probes every request it is sent, and
 * sends the results back in batches, column by column.
 *
 * It connects with Node's TCP handle directly (the `tcp_wrap` binding that net.Socket
 * itself wraps) when that binding is there: a probe is then a handle, a connect
 * request and a timer, with no stream machinery and no Error object for a refused
 * port, about half the CPU of tcpProbe. The probed side sees the same thing: a
 * connect, then an ordinary close (FIN), or nothing on timeout. Where the binding is
 * missing or unlike what is expected (process.binding is deprecated, documentation
 * only, since Node.js 10), the worker uses tcpProbe.
 */
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import type { PoolWorkerData, RequestBatch, ResultBatch, WorkerHello } from './pool.js';
import { stateOfErrno } from './states.js';
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

function done(id: number, state: ProbeState, durationSeconds: number, error?: string): void {
  if (out === undefined) {
    out = { ids: [], states: [], durationsSeconds: [], errors: [] };
    flushTimer = setTimeout(send, FLUSH_MS);
  }
  out.ids.push(id);
  out.states.push(STATE_INDEX.get(state) ?? ERROR_INDEX);
  out.durationsSeconds.push(durationSeconds);
  out.errors.push(error ?? null);
  if (out.ids.length >= FULL_BATCH && !flushSoon) {
    flushSoon = true;
    setImmediate(send);
  }
}

/** The parts of the tcp_wrap binding a probe uses, as net.js uses them. */
interface TcpBinding {
  readonly TCP: new (type: number) => TcpHandle;
  readonly TCPConnectWrap: new () => ConnectRequest;
  readonly constants: { readonly SOCKET: number };
}
interface TcpHandle {
  /** 0, or a negative errno when the connect could not start. */
  connect(req: ConnectRequest, ip: string, port: number): number;
  connect6(req: ConnectRequest, ip: string, port: number): number;
  close(): void;
}
interface ConnectRequest {
  /** Called once with 0 or a negative errno (UV_ECANCELED when closed first). */
  oncomplete: (status: number) => void;
}

function tcpBinding(): TcpBinding | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding(
      'tcp_wrap',
    ) as Partial<TcpBinding> | undefined;
    if (
      typeof binding?.TCP === 'function' &&
      typeof binding.TCPConnectWrap === 'function' &&
      typeof binding.constants?.SOCKET === 'number'
    ) {
      return binding as TcpBinding;
    }
  } catch {
    // Removed or refused: tcpProbe it is.
  }
  return undefined;
}

/** One probe on a bare TCP handle; reports exactly once. */
function leanProbe(b: TcpBinding, id: number, ip: string, port: number, timeoutMs: number): void {
  const family = isIP(ip);
  // A host name here would cost a DNS lookup per probe; names are resolved once per cycle.
  if (family === 0) {
    done(id, 'error', 0, 'not an IP literal');
    return;
  }
  // net checks this before it connects (the binding would wrap the number around).
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    done(id, 'error', 0, 'ERR_SOCKET_BAD_PORT');
    return;
  }
  const startedAt = performance.now();
  const handle = new b.TCP(b.constants.SOCKET);
  const req = new b.TCPConnectWrap();
  let settled = false;
  const finish = (state: ProbeState, error: string | undefined) => {
    if (settled) return;
    settled = true;
    clearTimeout(deadline);
    // On an open connection an ordinary close (FIN); on one still connecting, the
    // kernel drops it and sends nothing.
    handle.close();
    done(id, state, (performance.now() - startedAt) / 1000, error);
  };
  const failed = (status: number) => {
    const code = getSystemErrorName(status);
    finish(stateOfErrno(code), code);
  };
  req.oncomplete = (status) => (status === 0 ? finish('open', undefined) : failed(status));
  const deadline = setTimeout(() => finish('timeout', 'ETIMEDOUT'), timeoutMs);
  let status: number;
  try {
    status = family === 4 ? handle.connect(req, ip, port) : handle.connect6(req, ip, port);
  } catch (err) {
    // A port out of range throws, as it does in net.
    finish('error', (err as NodeJS.ErrnoException).code ?? String(err));
    return;
  }
  if (status !== 0) failed(status);
}

const data = workerData as PoolWorkerData | undefined;
const binding = data?.prober === 'net' ? undefined : tcpBinding();

parent.on('message', (batch: RequestBatch) => {
  const { ids, ips, ports, timeoutsMs } = batch;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    const ip = ips[i] as string;
    const p = ports[i] as number;
    const timeoutMs = timeoutsMs[i] as number;
    if (binding) {
      leanProbe(binding, id, ip, p, timeoutMs);
    } else {
      tcpProbe({ ip, port: p, timeoutMs }).then((r: ProbeResult) =>
        done(id, r.state, r.durationSeconds, r.error),
      );
    }
  }
});

// Tells the pool which prober this thread runs.
parent.postMessage({ prober: binding ? 'lean' : 'net' } satisfies WorkerHello);
