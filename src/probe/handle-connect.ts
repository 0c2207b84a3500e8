/**
 * A TCP connect on Node's TCP handle directly (the `tcp_wrap` binding that net.Socket
 * itself wraps): a handle, a connect request and a timer per probe, no stream
 * machinery and no Error object for a refused port. The main thread and the pool's
 * worker threads both probe through it.
 *
 * It also tells where a failure came from, which net.Socket hides: a connect that
 * fails at once, before any packet left (no route, a prohibit route, no descriptor),
 * is `local`; one that fails later was answered by the network (an ICMP error, a
 * reset) or by our own neighbour resolution giving up. evidence.ts needs the
 * difference to tell "no route from here" from a firewall's reject.
 *
 * An open probe is closed with a reset (SO_LINGER 0, as nmap does), not a FIN: a FIN
 * leaves a TIME_WAIT entry in our kernel per open port and cycle, and at 100,000
 * targets the kernel's connect cost grew with them. The probed side sees a connection
 * open and reset, which is what every port scanner does.
 *
 * Where the binding is missing or unlike what is expected (process.binding is
 * deprecated, documentation only, since Node.js 10), `tcpBinding()` returns undefined
 * and callers use tcpProbe (tcp.ts), which cannot tell local failures apart.
 */
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { HOST_DEPENDENT_ERRNOS, stateOfErrno } from './states.js';
import type { ProbeResult, Prober, ProbeState } from './types.js';

/** The parts of the tcp_wrap binding a probe uses, as net.js uses them. */
export interface TcpBinding {
  readonly TCP: new (type: number) => TcpHandle;
  readonly TCPConnectWrap: new () => ConnectRequest;
  readonly constants: { readonly SOCKET: number };
}
interface TcpHandle {
  /** 0, or a negative errno when the connect could not start. */
  connect(req: ConnectRequest, ip: string, port: number): number;
  connect6(req: ConnectRequest, ip: string, port: number): number;
  /** Closes with a reset (uv_tcp_close_reset); 0 or a negative errno. */
  reset?(callback: () => void): number;
  close(): void;
}
interface ConnectRequest {
  /** Called once with 0 or a negative errno (UV_ECANCELED when closed first). */
  oncomplete: (status: number) => void;
}

let cached: TcpBinding | null | undefined;

/** The binding, or undefined where this Node.js does not have it as expected. */
export function tcpBinding(): TcpBinding | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding(
      'tcp_wrap',
    ) as Partial<TcpBinding> | undefined;
    if (
      typeof binding?.TCP === 'function' &&
      typeof binding.TCPConnectWrap === 'function' &&
      typeof binding.constants?.SOCKET === 'number'
    ) {
      cached = binding as TcpBinding;
    }
  } catch {
    // Removed or refused: tcpProbe it is.
  }
  return cached ?? undefined;
}

/** How a probe ended, reported once. `local`: failed before anything was sent. */
export type ConnectReport = (
  state: ProbeState,
  durationSeconds: number,
  error: string | undefined,
  local: boolean,
) => void;

const noop = () => {};

/**
 * How long a connect to an IP not known to be up stays open past its timeout, waiting
 * for the EHOSTUNREACH of a neighbour that never answers (about 3 s after the first SYN).
 */
export const UNREACHABLE_LINGER_MS = 1500;

/** One connect on a bare TCP handle; calls `report` exactly once. */
export function connectOnHandle(
  b: TcpBinding,
  ip: string,
  port: number,
  timeoutMs: number,
  report: ConnectReport,
  lingerMs = 0,
): void {
  const family = isIP(ip);
  // A host name here would cost a DNS lookup per probe; names are resolved beside probing.
  if (family === 0) {
    report('error', 0, 'not an IP literal', true);
    return;
  }
  // net checks this before it connects (the binding would wrap the number around).
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    report('error', 0, 'ERR_SOCKET_BAD_PORT', true);
    return;
  }
  const handle = new b.TCP(b.constants.SOCKET);
  const req = new b.TCPConnectWrap();
  let settled = false;
  let deadline: NodeJS.Timeout | undefined;
  /** Set at the timeout while lingering: only an unreachable error may still end it otherwise. */
  let timedOutAfter: number | undefined;
  const startedAt = performance.now();
  const finish = (state: ProbeState, error: string | undefined, local: boolean) => {
    if (settled) return;
    settled = true;
    const durationSeconds = (performance.now() - startedAt) / 1000;
    if (deadline !== undefined) clearTimeout(deadline);
    // A reset for an open connection (no TIME_WAIT); on one still connecting or failed,
    // a plain close, which sends nothing.
    if (state === 'open' && typeof handle.reset === 'function') {
      if (handle.reset(noop) !== 0) handle.close();
    } else {
      handle.close();
    }
    report(state, durationSeconds, error, local);
  };
  req.oncomplete = (status) => {
    const code = status === 0 ? undefined : getSystemErrorName(status);
    if (timedOutAfter !== undefined) {
      // Past the timeout it stays a timeout, unless the neighbour gave up.
      if (code !== undefined && HOST_DEPENDENT_ERRNOS.has(code)) finish('unreachable', code, false);
      else timedOut();
      return;
    }
    if (code === undefined) finish('open', undefined, false);
    else finish(stateOfErrno(code), code, false);
  };
  const timedOut = () => {
    if (settled) return;
    settled = true;
    if (deadline !== undefined) clearTimeout(deadline);
    handle.close();
    report('timeout', timedOutAfter ?? (performance.now() - startedAt) / 1000, 'ETIMEDOUT', false);
  };
  let status: number;
  try {
    status = family === 4 ? handle.connect(req, ip, port) : handle.connect6(req, ip, port);
  } catch (err) {
    finish('error', (err as NodeJS.ErrnoException).code ?? String(err), true);
    return;
  }
  if (status !== 0) {
    const code = getSystemErrorName(status);
    finish(stateOfErrno(code), code, true);
    return;
  }
  deadline = setTimeout(() => {
    if (lingerMs <= 0) {
      timedOut();
      return;
    }
    timedOutAfter = (performance.now() - startedAt) / 1000;
    deadline = setTimeout(timedOut, lingerMs);
  }, timeoutMs);
}

/** The prober on the handle: one promise per probe, the result as data. */
export function handleProber(b: TcpBinding): Prober {
  return (request) =>
    new Promise<ProbeResult>((resolve) =>
      connectOnHandle(
        b,
        request.ip,
        request.port,
        request.timeoutMs,
        (state, durationSeconds, error, local) =>
          resolve(
            error === undefined
              ? { state, durationSeconds }
              : local
                ? { state, durationSeconds, error, local }
                : { state, durationSeconds, error },
          ),
        request.lingerMs,
      ),
    );
}
