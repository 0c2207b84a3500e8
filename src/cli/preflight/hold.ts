/**
 * `preflight --listen`: hold the free ports open for a while, accepting and closing
 * every connection, so `check` run from another node proves the path between nodes
 * before anything is installed. Who connected is counted, per port.
 */
import type { Server, Socket } from 'node:net';
import { type Clock, systemClock } from '../../util/clock.js';
import { closeServer, listenEverywhere } from './bind.js';

export interface HeldPort {
  readonly port: number;
  readonly connections: number;
  /** Distinct peer addresses, in the order they first connected. */
  readonly peers: readonly string[];
}

export interface HoldResult {
  readonly held: readonly HeldPort[];
  /** Ports that could not be held (taken since the bind test): errno code each. */
  readonly failed: readonly { readonly port: number; readonly error: string }[];
  /** How long the ports were held; less than asked when stopped by a signal. */
  readonly heldMs: number;
}

export interface HoldOptions {
  readonly ports: readonly number[];
  readonly durationMs: number;
  /** Releases the ports early (SIGINT, SIGTERM). */
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Called once every port is listening (or has failed), before the wait. */
  readonly onListening?: (held: readonly number[]) => void;
  /** Called for every connection as it is accepted, so the user sees them arrive. */
  readonly onConnection?: (port: number, peer: string) => void;
}

interface Counter {
  connections: number;
  readonly peers: string[];
}

/** The peer of a connection reset before Node read its address (getpeername: ENOTCONN). */
export const UNKNOWN_PEER = 'unknown';

/** An IPv4 peer of a dual-stack socket reads `::ffff:10.0.0.2`; show `10.0.0.2`. */
function peerAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? UNKNOWN_PEER;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export async function holdPorts(options: HoldOptions): Promise<HoldResult> {
  const clock = options.clock ?? systemClock;
  const servers: { port: number; server: Server; counter: Counter }[] = [];
  const failed: { port: number; error: string }[] = [];
  try {
    for (const port of options.ports) {
      try {
        const server = await listenEverywhere(port);
        const counter: Counter = { connections: 0, peers: [] };
        server.on('connection', (socket) => {
          counter.connections += 1;
          const peer = peerAddress(socket);
          if (!counter.peers.includes(peer)) counter.peers.push(peer);
          options.onConnection?.(port, peer);
          // Accepting proves the path; nothing is said on it.
          socket.destroy();
        });
        servers.push({ port, server, counter });
      } catch (error) {
        failed.push({ port, error: (error as NodeJS.ErrnoException).code ?? String(error) });
      }
    }
    options.onListening?.(servers.map((s) => s.port));
    const started = clock.monotonic();
    if (servers.length > 0 && !options.signal?.aborted) {
      await clock.sleep(options.durationMs, options.signal);
    }
    return {
      held: servers.map(({ port, counter }) => ({
        port,
        connections: counter.connections,
        peers: [...counter.peers],
      })),
      failed,
      heldMs: clock.monotonic() - started,
    };
  } finally {
    await Promise.all(servers.map(({ server }) => closeServer(server)));
  }
}
