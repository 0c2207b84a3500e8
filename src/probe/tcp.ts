/**
 * The TCP prober: a bare connect. It sends nothing, so a probed service sees a
 * connection open and close and nothing else, and the result depends only on
 * whether the port accepts connections.
 *
 * This is the hot path (tens of thousands of probes per cycle), so one probe
 * allocates a socket, a timer, a promise with its executor, and the result: the
 * listeners are module-level functions that find their state on the socket
 * (`this`), and the deadline timer gets the socket as its argument, not a closure.
 */
import { isIP, Socket } from 'node:net';
import { stateOfErrno } from './states.js';
import type { ProbeRequest, ProbeResult, Prober, ProbeState } from './types.js';

type Settle = (result: ProbeResult) => void;

/** A socket that carries its own probe's state, so its listeners need no closures. */
class ProbeSocket extends Socket {
  // Prefixed so they cannot collide with fields a later Node adds to Socket.
  probeSettle: Settle | undefined;
  probeStartedAt = 0;
  probeDeadline: NodeJS.Timeout | undefined;
}

export const tcpProbe: Prober = (request: ProbeRequest): Promise<ProbeResult> =>
  new Promise<ProbeResult>((settle) => start(request, settle));

function start(request: ProbeRequest, settle: Settle): void {
  const startedAt = performance.now();
  // A host name here would cost a DNS lookup per probe; names are resolved once per cycle.
  if (isIP(request.ip) === 0) {
    settle({ state: 'error', durationSeconds: 0, error: 'not an IP literal', local: true });
    return;
  }
  let socket: ProbeSocket;
  try {
    socket = new ProbeSocket();
  } catch (err) {
    settle(failure(err, startedAt));
    return;
  }
  socket.probeSettle = settle;
  socket.probeStartedAt = startedAt;
  socket.once('connect', onConnect);
  // `on`, not `once`: a socket may emit a second error while being destroyed,
  // and an error with no listener would crash the process.
  socket.on('error', onError);
  try {
    socket.probeDeadline = setTimeout(onDeadline, request.timeoutMs, socket);
    // An IP literal skips dns.lookup inside net, so no resolver work happens here.
    socket.connect(request.port, request.ip);
  } catch (err) {
    // Bad arguments (a port out of range, a non-literal host type) throw synchronously.
    finish(socket, 'error', errorCode(err));
  }
}

function onConnect(this: ProbeSocket): void {
  finish(this, 'open', undefined);
}

function onError(this: ProbeSocket, err: Error): void {
  const code = errorCode(err);
  finish(this, stateOfErrno(code), code);
}

function onDeadline(socket: ProbeSocket): void {
  socket.probeDeadline = undefined;
  finish(socket, 'timeout', 'ETIMEDOUT');
}

function finish(socket: ProbeSocket, state: ProbeState, error: string | undefined): void {
  const settle = socket.probeSettle;
  if (settle === undefined) return;
  socket.probeSettle = undefined;
  if (socket.probeDeadline !== undefined) {
    clearTimeout(socket.probeDeadline);
    socket.probeDeadline = undefined;
  }
  // destroy(), not resetAndDestroy(): the probed side sees an ordinary FIN, as from
  // any client, instead of a reset that services log as an error on every probe.
  // The cost is a TIME_WAIT entry in our kernel per open probe: no fd, no handle, a
  // few hundred bytes, bounded by net.ipv4.tcp_max_tw_buckets. On a connect still in
  // progress (timeout) destroy() sends nothing: the kernel drops the half-open socket.
  socket.destroy();
  const durationSeconds = (performance.now() - socket.probeStartedAt) / 1000;
  settle(error === undefined ? { state, durationSeconds } : { state, durationSeconds, error });
}

function errorCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  return err instanceof Error ? err.message : String(err);
}

function failure(err: unknown, startedAt: number): ProbeResult {
  const durationSeconds = (performance.now() - startedAt) / 1000;
  return { state: 'error', durationSeconds, error: errorCode(err), local: true };
}
